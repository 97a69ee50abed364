// Shared pieces of the architecture families: checked metadata reads, tensor binding with shape
// checks, the usual hyper-parameters and tensors, and the attention / FFN blocks over backend ops.
#include <cmath>

#include "model/model_impl.h"

namespace paddock::model {

Result<int32_t> Meta::count(std::string_view suffix, int64_t max) const {
  const std::string k = key(suffix);
  const gguf::Value* v = f_.find(k);
  if (v == nullptr) return make_error(ErrorCode::kCorrupt, "missing metadata key {}", k);
  if (v->type == gguf::ValueType::kArray)
    return make_error(ErrorCode::kUnsupported, "{}: per-layer values (arrays) are not supported", k);
  auto r = f_.get_uint(k);
  if (!r.ok()) return r.error();
  if (*r == 0) return make_error(ErrorCode::kCorrupt, "{} is 0", k);
  if (static_cast<int64_t>(std::min<uint64_t>(*r, uint64_t{1} << 62)) > max)
    return make_error(ErrorCode::kCorrupt, "{} = {} is larger than {}", k, *r, max);
  return static_cast<int32_t>(*r);
}

Result<int32_t> Meta::count_or(std::string_view suffix, int32_t dflt, int64_t max) const {
  if (f_.find(key(suffix)) == nullptr) return dflt;
  return count(suffix, max);
}

Result<float> Meta::real_or(std::string_view suffix, float dflt) const {
  const std::string k = key(suffix);
  if (f_.find(k) == nullptr) return dflt;
  auto r = f_.get_float(k);
  if (!r.ok()) return r.error();
  if (!std::isfinite(*r)) return make_error(ErrorCode::kCorrupt, "{} is not finite", k);
  return static_cast<float>(*r);
}

Result<std::string> Meta::string_or(std::string_view suffix, std::string dflt) const {
  const std::string k = key(suffix);
  if (f_.find(k) == nullptr) return dflt;
  return f_.get_string(k);
}

namespace {
std::string shape_str(const int64_t* ne, size_t n) {
  std::string s = "[";
  for (size_t i = 0; i < n; ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}
}  // namespace

Status Binder::req(const std::string& name, std::initializer_list<int64_t> shape, Weight& out) {
  const gguf::TensorInfo* t = f_.tensor(name);
  if (t == nullptr) return make_error(ErrorCode::kCorrupt, "missing tensor {}", name);
  const std::vector<int64_t> want(shape);
  bool ok = t->n_dims >= 1 && t->n_dims <= 4;
  for (size_t i = 0; i < 4 && ok; ++i) ok = t->ne[i] == (i < want.size() ? want[i] : 1);
  if (!ok)
    return make_error(ErrorCode::kCorrupt, "tensor {} has shape {}, expected {}", name, shape_str(t->ne, t->n_dims),
                      shape_str(want.data(), want.size()));
  const auto type = static_cast<quant::Type>(t->type);
  if (want.size() == 1 && type != quant::Type::F32) {
    const quant::TypeInfo* ti = quant::type_info(t->type);
    return make_error(ErrorCode::kUnsupported, "tensor {}: type {} for a vector (only f32 supported)", name,
                      ti ? ti->name : std::string_view("unknown"));
  }
  auto w = be_.upload_weight(type, want.size() > 1 ? want[1] : 1, want[0], t->data);
  if (!w.ok()) return w.error().wrap("tensor " + name);
  if (t->data == nullptr) return make_error(ErrorCode::kCorrupt, "tensor {} has no data", name);
  out = *w;
  if (bytes_ != nullptr) *bytes_ += t->nbytes;
  return Status::Ok();
}

Status Binder::opt(const std::string& name, std::initializer_list<int64_t> shape, Weight& out) {
  if (f_.tensor(name) == nullptr) return Status::Ok();
  return req(name, shape, out);
}

Status read_common_hparams(const Meta& m, HParams& hp) {
  constexpr int64_t kMaxDim = 1 << 20;
  ASSIGN_OR_RETURN(hp.n_embd, m.count("embedding_length", kMaxDim));
  ASSIGN_OR_RETURN(hp.n_layer, m.count("block_count", 4096));
  ASSIGN_OR_RETURN(hp.n_head, m.count("attention.head_count", 4096));
  ASSIGN_OR_RETURN(hp.n_head_kv, m.count_or("attention.head_count_kv", hp.n_head, 4096));
  ASSIGN_OR_RETURN(hp.n_ff, m.count("feed_forward_length", kMaxDim));
  ASSIGN_OR_RETURN(hp.n_ctx_train, m.count("context_length", int64_t{1} << 31));
  if (hp.n_head % hp.n_head_kv != 0)
    return make_error(ErrorCode::kCorrupt, "{} ({}) does not divide {} ({})", m.key("attention.head_count_kv"),
                      hp.n_head_kv, m.key("attention.head_count"), hp.n_head);
  const int32_t dflt_hd = hp.n_embd % hp.n_head == 0 ? hp.n_embd / hp.n_head : 0;
  ASSIGN_OR_RETURN(hp.head_dim, m.count_or("attention.key_length", dflt_hd, 4096));
  if (hp.head_dim == 0)
    return make_error(ErrorCode::kCorrupt, "head_count {} does not divide embedding_length {}", hp.n_head, hp.n_embd);
  ASSIGN_OR_RETURN(int32_t vlen, m.count_or("attention.value_length", hp.head_dim, 4096));
  if (vlen != hp.head_dim)
    return make_error(ErrorCode::kUnsupported, "value_length {} != key_length {} is not supported", vlen, hp.head_dim);
  if (hp.head_dim % 2 != 0) return make_error(ErrorCode::kCorrupt, "head dimension {} is odd", hp.head_dim);
  ASSIGN_OR_RETURN(hp.norm_eps, m.real_or("attention.layer_norm_rms_epsilon", 1e-5f));
  if (!(hp.norm_eps > 0.0f)) return make_error(ErrorCode::kCorrupt, "rms epsilon must be positive");

  ASSIGN_OR_RETURN(hp.rope.n_dims, m.count_or("rope.dimension_count", hp.head_dim, 4096));
  if (hp.rope.n_dims > hp.head_dim || hp.rope.n_dims % 2 != 0)
    return make_error(ErrorCode::kCorrupt, "rope dimension {} is larger than the head dimension {} or odd",
                      hp.rope.n_dims, hp.head_dim);
  ASSIGN_OR_RETURN(hp.rope.freq_base, m.real_or("rope.freq_base", 10000.0f));
  if (!(hp.rope.freq_base > 1.0f)) return make_error(ErrorCode::kCorrupt, "rope.freq_base must be > 1");
  ASSIGN_OR_RETURN(std::string scaling, m.string_or("rope.scaling.type", "none"));
  ASSIGN_OR_RETURN(float factor, m.real_or("rope.scaling.factor", 0.0f));
  if (factor < 0.0f) return make_error(ErrorCode::kCorrupt, "rope.scaling.factor is negative");
  if (scaling == "linear" || scaling == "yarn") {
    if (factor > 0.0f) hp.rope.freq_scale = 1.0f / factor;
  } else if (scaling != "none" && scaling != "llama3" && !scaling.empty()) {
    return make_error(ErrorCode::kUnsupported, "rope scaling type '{}' is not supported", scaling);
  }
  if (scaling == "yarn") {
    ASSIGN_OR_RETURN(hp.rope.n_ctx_orig, m.count_or("rope.scaling.original_context_length", hp.n_ctx_train));
    hp.rope.ext_factor = 1.0f;
    ASSIGN_OR_RETURN(hp.rope.attn_factor, m.real_or("rope.scaling.attn_factor", 1.0f));
    ASSIGN_OR_RETURN(hp.rope.beta_fast, m.real_or("rope.scaling.yarn_beta_fast", 32.0f));
    ASSIGN_OR_RETURN(hp.rope.beta_slow, m.real_or("rope.scaling.yarn_beta_slow", 1.0f));
  }
  hp.rope_swa = hp.rope;
  hp.swa_layer.assign(static_cast<size_t>(hp.n_layer), 0);
  hp.attn_scale = 1.0f / std::sqrt(static_cast<float>(hp.head_dim));

  // The vocabulary size is the embedding table's row count.
  const gguf::TensorInfo* emb = m.file().tensor("token_embd.weight");
  if (emb == nullptr) return make_error(ErrorCode::kCorrupt, "missing tensor token_embd.weight");
  if (emb->ne[1] <= 0 || emb->ne[1] > (int64_t{1} << 24))
    return make_error(ErrorCode::kCorrupt, "token_embd.weight has {} rows", emb->ne[1]);
  hp.n_vocab = static_cast<int32_t>(emb->ne[1]);
  return Status::Ok();
}

Status read_neox_hparams(const Meta& m, HParams& hp) {
  RETURN_IF_ERROR(read_common_hparams(m, hp));
  hp.rope.neox = true;
  hp.rope_swa = hp.rope;
  return Status::Ok();
}

Status bind_common(Binder& b, const HParams& hp, Weights& w) {
  RETURN_IF_ERROR(b.req("token_embd.weight", {hp.n_embd, hp.n_vocab}, w.tok_embd));
  RETURN_IF_ERROR(b.req("output_norm.weight", {hp.n_embd}, w.output_norm));
  RETURN_IF_ERROR(b.opt("output.weight", {hp.n_embd, hp.n_vocab}, w.output));
  if (!w.output) w.output = w.tok_embd;  // tied
  RETURN_IF_ERROR(b.opt("rope_freqs.weight", {hp.rope.n_dims / 2}, w.rope_freqs));
  w.layers.resize(static_cast<size_t>(hp.n_layer));
  return Status::Ok();
}

Status bind_layer_standard(Binder& b, const HParams& hp, int il, LayerWeights& l) {
  const int64_t e = hp.n_embd, q = int64_t{hp.n_head} * hp.head_dim, kv = int64_t{hp.n_head_kv} * hp.head_dim;
  RETURN_IF_ERROR(b.req(Binder::blk(il, "attn_norm.weight"), {e}, l.attn_norm));
  RETURN_IF_ERROR(b.req(Binder::blk(il, "attn_q.weight"), {e, q}, l.wq));
  RETURN_IF_ERROR(b.req(Binder::blk(il, "attn_k.weight"), {e, kv}, l.wk));
  RETURN_IF_ERROR(b.req(Binder::blk(il, "attn_v.weight"), {e, kv}, l.wv));
  RETURN_IF_ERROR(b.req(Binder::blk(il, "attn_output.weight"), {q, e}, l.wo));
  RETURN_IF_ERROR(b.req(Binder::blk(il, "ffn_norm.weight"), {e}, l.ffn_norm));
  RETURN_IF_ERROR(b.req(Binder::blk(il, "ffn_gate.weight"), {e, hp.n_ff}, l.ffn_gate));
  RETURN_IF_ERROR(b.req(Binder::blk(il, "ffn_up.weight"), {e, hp.n_ff}, l.ffn_up));
  RETURN_IF_ERROR(b.req(Binder::blk(il, "ffn_down.weight"), {hp.n_ff, e}, l.ffn_down));
  return Status::Ok();
}

Tensor Ctx::t(const std::shared_ptr<backend::Buffer>& b, int64_t cols) const {
  Tensor whole = b->tensor();
  return Tensor{whole.data, whole.dtype, n, cols, cols};
}

void attention_block(Ctx& c, int il, const Tensor& in, const Tensor& out) {
  const HParams& hp = c.hp;
  const LayerWeights& l = c.w.layers[static_cast<size_t>(il)];
  const int64_t hd = hp.head_dim, nq = hp.n_head * hd, nkv = hp.n_head_kv * hd;
  Tensor q = c.q, k = c.k, v = c.v;
  if (l.wqkv) {
    c.be.matmul(in, l.wqkv, nullptr, c.qkv);
    q = c.qkv.cols_view(0, nq);
    k = c.qkv.cols_view(nq, nkv);
    v = c.qkv.cols_view(nq + nkv, nkv);
  } else {
    const backend::Backend::MatmulJob jobs[3] = {
        {&l.wq, l.bq ? &l.bq : nullptr, q}, {&l.wk, l.bk ? &l.bk : nullptr, k}, {&l.wv, l.bv ? &l.bv : nullptr, v}};
    c.be.matmul_multi(in, jobs);
  }
  if (l.q_norm) c.be.rms_norm(q, &l.q_norm, hp.norm_eps, q, hd);
  if (l.k_norm) c.be.rms_norm(k, &l.k_norm, hp.norm_eps, k, hd);
  const bool swa = hp.swa_layer[static_cast<size_t>(il)] != 0;
  backend::RopeParams rp = swa ? hp.rope_swa : hp.rope;
  rp.freq_factors = c.w.rope_freqs ? &c.w.rope_freqs : nullptr;
  c.be.rope(q, hp.n_head, hp.head_dim, rp);
  c.be.rope(k, hp.n_head_kv, hp.head_dim, rp);
  backend::AttnParams ap;
  ap.n_head = hp.n_head;
  ap.n_head_kv = hp.n_head_kv;
  ap.head_dim = hp.head_dim;
  ap.scale = hp.attn_scale;
  ap.softcap = hp.attn_softcap;
  ap.sliding_window = swa ? hp.sliding_window : 0;
  c.be.attention(q, k, v, c.kv[static_cast<size_t>(il)], c.block_size, ap, c.attn);
  c.be.matmul(c.attn, l.wo, nullptr, out);
}

void ffn_block(Ctx& c, int il, const Tensor& in, const Tensor& out) {
  const LayerWeights& l = c.w.layers[static_cast<size_t>(il)];
  if (l.ffn_gate) {
    const backend::Backend::MatmulJob jobs[2] = {{&l.ffn_gate, nullptr, c.gate}, {&l.ffn_up, nullptr, c.up}};
    c.be.matmul_multi(in, jobs);
    c.be.glu(c.gate, c.up, c.hp.act, c.gate);
    c.be.matmul(c.gate, l.ffn_down, nullptr, out);
  } else {  // fused gate|up
    c.be.matmul(in, l.ffn_up, nullptr, c.up);
    const Tensor g = c.up.cols_view(0, c.hp.n_ff), u = c.up.cols_view(c.hp.n_ff, c.hp.n_ff);
    c.be.glu(g, u, c.hp.act, c.gate);
    c.be.matmul(c.gate, l.ffn_down, nullptr, out);
  }
}

}  // namespace paddock::model
