// Model::load and the model object shared by every family: architecture lookup, binding,
// the paged KV pool, step validation and the forward → logits / hidden-state plumbing.
#include <algorithm>
#include <cstring>

#include "model/model_impl.h"

namespace paddock {

uint64_t ModelInfo::kv_bytes_per_token(bool q8_0) const {
  const int64_t row = int64_t{n_head_kv} * head_dim;
  return 2ull * static_cast<uint64_t>(n_layer) *
         backend::dtype_row_bytes(q8_0 ? backend::DType::kQ8_0 : backend::DType::kF16, row);
}

namespace model {

const ArchDef* find_arch(std::string_view name) {
  static const ArchDef* const kTable[] = {&kLlamaArch, &kQwen2Arch, &kQwen3Arch, &kPhi3Arch, &kGemma2Arch, &kGemma3Arch};
  for (const ArchDef* a : kTable)
    if (name == a->name) return a;
  return nullptr;
}

std::string supported_arch_names() { return "llama, qwen2, qwen3, phi3, gemma2, gemma3"; }

namespace {

class ModelImpl final : public Model {
 public:
  ModelImpl(std::shared_ptr<const gguf::File> file, const ArchDef* arch, std::unique_ptr<backend::Backend> be)
      : file_(std::move(file)), arch_(arch), be_(std::move(be)) {}

  Status init(const LoadOptions&) {
    Meta meta(*file_, arch_->name);
    hp_.arch = arch_->name;
    RETURN_IF_ERROR(arch_->read_hparams(meta, hp_));
    Binder binder(*file_, *be_, &info_.weight_bytes);
    RETURN_IF_ERROR(arch_->bind(binder, hp_, w_));
    info_.architecture = hp_.arch;
    info_.n_vocab = hp_.n_vocab;
    info_.n_embd = hp_.n_embd;
    info_.n_layer = hp_.n_layer;
    info_.n_head = hp_.n_head;
    info_.n_head_kv = hp_.n_head_kv;
    info_.head_dim = hp_.head_dim;
    info_.n_ctx_train = hp_.n_ctx_train;
    info_.sliding_window = hp_.sliding_window;
    if (file_->find(hp_.arch + ".pooling_type") != nullptr) {
      auto p = file_->get_int(hp_.arch + ".pooling_type");
      if (!p.ok() || *p < 0 || *p > 4)
        return make_error(ErrorCode::kInvalidArgument, "{}.pooling_type: expected an integer 0..4 (none, mean, cls, last, rank)",
                          hp_.arch);
      info_.pooling = static_cast<Pooling>(*p);
    }
    return Status::Ok();
  }

  const ModelInfo& info() const override { return info_; }

  Status init_kv(const KvOptions& o) override {
    if (!kv_.empty()) return make_error(ErrorCode::kInvalidArgument, "KV pool already initialised");
    if (o.block_size <= 0 || o.block_size > 4096 || o.n_blocks <= 0)
      return make_error(ErrorCode::kInvalidArgument, "KV pool: block_size {} / n_blocks {} out of range", o.block_size,
                        o.n_blocks);
    const int64_t rows = int64_t{o.block_size} * o.n_blocks, cols = int64_t{hp_.n_head_kv} * hp_.head_dim;
    if (o.q8_0 && cols % 32 != 0)
      return make_error(ErrorCode::kInvalidArgument, "Q8_0 KV cache needs n_head_kv*head_dim ({}) divisible by 32", cols);
    const auto dt = o.q8_0 ? backend::DType::kQ8_0 : backend::DType::kF16;
    for (int il = 0; il < hp_.n_layer; ++il) {
      ASSIGN_OR_RETURN(auto kb, be_->alloc(dt, rows, cols));
      ASSIGN_OR_RETURN(auto vb, be_->alloc(dt, rows, cols));
      allocations_ += 2;
      kv_.push_back(backend::KvLayer{kb->tensor(), vb->tensor()});
      kv_bufs_.push_back(std::move(kb));
      kv_bufs_.push_back(std::move(vb));
    }
    kv_opts_ = o;
    // The plan: every activation for the largest step, allocated now.
    const int64_t pool_tokens = int64_t{o.block_size} * o.n_blocks;
    plan_tokens_ = o.max_step_tokens > 0 ? o.max_step_tokens : std::min<int64_t>(pool_tokens, 512);
    plan_rows_ = o.max_logit_rows > 0 ? o.max_logit_rows : std::min<int64_t>(plan_tokens_, 64);
    if (o.max_step_tokens < 0 || o.max_logit_rows < 0 || plan_rows_ > plan_tokens_)
      return make_error(ErrorCode::kInvalidArgument, "step plan: {} logit rows for steps of {} tokens", plan_rows_,
                        plan_tokens_);
    if (plan_tokens_ > pool_tokens)
      return make_error(ErrorCode::kInvalidArgument,
                        "step plan: steps of {} tokens cannot fit a KV pool of {} tokens ({} blocks of {})", plan_tokens_,
                        pool_tokens, o.n_blocks, o.block_size);
    if (auto st = plan(); !st.ok())
      return st.error().wrap(fmt::format("planning steps of {} tokens and {} logit rows ({} x {} floats of logits)",
                                         plan_tokens_, plan_rows_, plan_rows_, hp_.n_vocab));
    return Status::Ok();
  }

  uint64_t buffer_allocations() const override { return allocations_; }

  Status forward(const Batch& batch, std::span<float> logits) override {
    const size_t need = batch.logit_rows.size() * static_cast<size_t>(hp_.n_vocab);
    if (logits.size() < need)
      return make_error(ErrorCode::kInvalidArgument, "logits span holds {} floats, need {}", logits.size(), need);
    RETURN_IF_ERROR(run(batch));
    const int64_t nr = static_cast<int64_t>(batch.logit_rows.size());
    if (nr == 0) return be_->end_step();
    const Tensor rows = rows_tensor(nr);
    const Tensor lg{logits_buf_->tensor().data, backend::DType::kF32, nr, hp_.n_vocab, hp_.n_vocab};
    be_->matmul(rows, w_.output, nullptr, lg);
    if (hp_.final_softcap > 0.0f) be_->softcap(lg, hp_.final_softcap);
    be_->read_rows(lg, nr, logits.data());
    return be_->end_step();
  }

  Status forward_hidden(const Batch& batch, std::span<float> hidden) override {
    const size_t need = batch.logit_rows.size() * static_cast<size_t>(hp_.n_embd);
    if (hidden.size() < need)
      return make_error(ErrorCode::kInvalidArgument, "hidden span holds {} floats, need {}", hidden.size(), need);
    hidden_ = true;
    const Status st = run(batch);
    hidden_ = false;
    RETURN_IF_ERROR(st);
    const int64_t nr = static_cast<int64_t>(batch.logit_rows.size());
    if (nr > 0) be_->read_rows(rows_tensor(nr), nr, hidden.data());
    return be_->end_step();
  }

  void copy_kv_block(int32_t src, int32_t dst) override {
    assert(src >= 0 && src < kv_opts_.n_blocks && dst >= 0 && dst < kv_opts_.n_blocks);
    be_->copy_kv_block(kv_, kv_opts_.block_size, src, dst);
  }

 private:
  Tensor rows_tensor(int64_t nr) const {
    return Tensor{rows_buf_->tensor().data, backend::DType::kF32, nr, hp_.n_embd, hp_.n_embd};
  }

  // One planned activation buffer of plan rows x cols.
  Status planned(std::shared_ptr<backend::Buffer>& buf, int64_t rows, int64_t cols) {
    ASSIGN_OR_RETURN(buf, be_->alloc(backend::DType::kF32, rows, cols));
    ++allocations_;
    return Status::Ok();
  }

  Status plan() {
    const int64_t q = int64_t{hp_.n_head} * hp_.head_dim, kv = int64_t{hp_.n_head_kv} * hp_.head_dim;
    const int64_t n = plan_tokens_;
    RETURN_IF_ERROR(planned(st_.x, n, hp_.n_embd));
    RETURN_IF_ERROR(planned(st_.xn, n, hp_.n_embd));
    RETURN_IF_ERROR(planned(st_.out, n, hp_.n_embd));
    RETURN_IF_ERROR(planned(st_.attn, n, q));
    RETURN_IF_ERROR(planned(st_.q, n, q));
    RETURN_IF_ERROR(planned(st_.k, n, kv));
    RETURN_IF_ERROR(planned(st_.v, n, kv));
    RETURN_IF_ERROR(planned(st_.qkv, n, q + 2 * kv));
    RETURN_IF_ERROR(planned(st_.gate, n, hp_.n_ff));
    RETURN_IF_ERROR(planned(st_.up, n, 2 * int64_t{hp_.n_ff}));
    st_.cap = n;
    // Hidden rows: an embedding may pool every token of the step; logits only for plan_rows_.
    RETURN_IF_ERROR(planned(rows_buf_, n, hp_.n_embd));
    RETURN_IF_ERROR(planned(logits_buf_, plan_rows_, hp_.n_vocab));
    return Status::Ok();
  }

  Status run(const Batch& b) {
    if (kv_.empty()) return make_error(ErrorCode::kInvalidArgument, "forward before init_kv");
    RETURN_IF_ERROR(backend::validate_step(b, {hp_.n_vocab, kv_opts_.n_blocks, kv_opts_.block_size}));
    const int64_t n = b.n_tokens();
    if (n > plan_tokens_)
      return make_error(ErrorCode::kInvalidArgument, "a step of {} tokens is larger than the {} planned at load", n,
                        plan_tokens_);
    if (static_cast<int64_t>(b.logit_rows.size()) > plan_rows_ && !hidden_)
      return make_error(ErrorCode::kInvalidArgument, "a step asking for {} logit rows is larger than the {} planned at load",
                        b.logit_rows.size(), plan_rows_);
    RETURN_IF_ERROR(be_->set_step(b));
    Ctx c{*be_, hp_, w_, kv_, kv_opts_.block_size, n, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}};
    const int64_t q = int64_t{hp_.n_head} * hp_.head_dim, kv = int64_t{hp_.n_head_kv} * hp_.head_dim;
    c.x = c.t(st_.x, hp_.n_embd);
    c.xn = c.t(st_.xn, hp_.n_embd);
    c.out = c.t(st_.out, hp_.n_embd);
    c.attn = c.t(st_.attn, q);
    c.q = c.t(st_.q, q);
    c.k = c.t(st_.k, kv);
    c.v = c.t(st_.v, kv);
    c.qkv = c.t(st_.qkv, q + 2 * kv);
    c.gate = c.t(st_.gate, hp_.n_ff);
    c.up = c.t(st_.up, 2 * int64_t{hp_.n_ff});
    arch_->forward(c);
    const int64_t nr = static_cast<int64_t>(b.logit_rows.size());
    if (nr > 0) be_->gather_logit_rows(c.x, rows_tensor(nr));
    return Status::Ok();
  }

  std::shared_ptr<const gguf::File> file_;  // keeps the mapping (and so every CPU weight) alive
  const ArchDef* arch_;
  std::unique_ptr<backend::Backend> be_;
  HParams hp_;
  Weights w_;
  ModelInfo info_;
  KvOptions kv_opts_;
  std::vector<backend::KvLayer> kv_;
  std::vector<std::shared_ptr<backend::Buffer>> kv_bufs_;
  RunState st_;
  int64_t plan_tokens_ = 0, plan_rows_ = 0;  // the step plan (KvOptions)
  uint64_t allocations_ = 0;
  bool hidden_ = false;                      // forward_hidden: rows are hidden states, not logits
  std::shared_ptr<backend::Buffer> rows_buf_, logits_buf_;
};

}  // namespace
}  // namespace model

Result<std::unique_ptr<Model>> Model::load(std::shared_ptr<const gguf::File> file, const LoadOptions& opts) {
  if (!file) return make_error(ErrorCode::kInvalidArgument, "no model file");
  const std::string arch = file->architecture();
  const model::ArchDef* def = model::find_arch(arch);
  if (def == nullptr)
    return make_error(ErrorCode::kUnsupported, "unsupported model architecture '{}' (supported: {})", arch,
                      model::supported_arch_names());
  ASSIGN_OR_RETURN(backend::DeviceSpec dev, backend::parse_device(opts.backend));
  ASSIGN_OR_RETURN(auto be, backend::make_backend({dev, {opts.n_threads}}));
  auto impl = std::make_unique<model::ModelImpl>(file, def, std::move(be));
  RETURN_IF_ERROR(impl->init(opts));
  return std::unique_ptr<Model>(std::move(impl));
}

}  // namespace paddock
