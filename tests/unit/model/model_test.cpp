// Model loading checks (SECURITY.md items 12 and 13: bad hyper-parameters, wrong or missing
// tensors, unsupported architectures and types fail at load with a message naming the problem)
// and engine-facing forward properties: batched == solo, shared-prefix blocks copied with
// copy_kv_block, the Q8_0 KV cache close to F16, forward_hidden, and step validation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>

#include "model/model.h"
#include "quant/quant.h"
#include "test_model.h"
#include "util/half.h"

namespace paddock {
namespace {

struct Loaded {
  std::string bytes;
  std::unique_ptr<Model> model;
};

Result<Loaded> load_bytes(std::string bytes, int threads = 2) {
  Loaded l;
  l.bytes = std::move(bytes);
  auto f = gguf::File::parse(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(l.bytes.data()), l.bytes.size()));
  if (!f.ok()) return f.error();
  auto m = Model::load(std::make_shared<const gguf::File>(std::move(*f)), LoadOptions{threads, "cpu"});
  if (!m.ok()) return m.error();
  l.model = std::move(*m);
  return l;
}

std::string build(const std::string& spec, const std::function<void(gguf::Writer&)>& edit = {}) {
  auto s = testing::parse_test_model_spec(spec);
  EXPECT_TRUE(s.ok());
  auto w = testing::make_test_model(*s);
  EXPECT_TRUE(w.ok());
  if (edit) edit(*w);
  auto bytes = w->serialize();
  EXPECT_TRUE(bytes.ok());
  return *bytes;
}

// Rewrites a model keeping every tensor except those `drop` names, adding `extra`.
std::string rewrite(const std::string& bytes, const std::function<bool(const std::string&)>& drop,
                    const std::function<void(gguf::Writer&)>& extra = {}) {
  auto f = gguf::File::parse(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  EXPECT_TRUE(f.ok());
  gguf::Writer w;
  w.copy_metadata(*f);
  for (const auto& t : f->tensors()) {
    if (drop(t.name)) continue;
    std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
    EXPECT_TRUE(w.add_tensor(t.name, t.type, ne, std::span<const uint8_t>(t.data, t.nbytes)).ok());
  }
  if (extra) extra(w);
  auto out = w.serialize();
  EXPECT_TRUE(out.ok());
  return *out;
}

void expect_load_error(const std::string& bytes, ErrorCode code, const std::string& needle) {
  auto l = load_bytes(bytes);
  ASSERT_FALSE(l.ok()) << "expected a load error mentioning '" << needle << "'";
  EXPECT_EQ(l.error().code(), code) << l.error().message();
  EXPECT_NE(l.error().message().find(needle), std::string::npos) << l.error().message();
}

TEST(ModelLoad, EveryArchitectureLoads) {
  for (const char* spec : {"llama:f16", "qwen2:f16", "qwen3:f16", "phi3:f16", "gemma2:f16", "gemma3:f16:n_layer=6"}) {
    auto l = load_bytes(build(spec));
    ASSERT_TRUE(l.ok()) << spec << ": " << l.error().message();
    EXPECT_EQ(l->model->info().n_embd, 256);
    EXPECT_EQ(l->model->info().head_dim, 64);
  }
}

TEST(ModelLoad, RejectsBadHyperParameters) {
  using gguf::Value;
  expect_load_error(build("llama:f32", [](auto& w) { w.set("llama.block_count", Value::u32(0)); }), ErrorCode::kCorrupt,
                    "llama.block_count is 0");
  expect_load_error(build("llama:f32", [](auto& w) { w.set("llama.attention.head_count", Value::u32(0)); }),
                    ErrorCode::kCorrupt, "head_count is 0");
  expect_load_error(build("llama:f32", [](auto& w) { w.set("llama.embedding_length", Value::u32(0)); }),
                    ErrorCode::kCorrupt, "embedding_length is 0");
  expect_load_error(build("llama:f32", [](auto& w) { w.set("llama.context_length", Value::u32(0)); }),
                    ErrorCode::kCorrupt, "context_length is 0");
  expect_load_error(build("llama:f32", [](auto& w) { w.set("llama.attention.head_count_kv", Value::u32(3)); }),
                    ErrorCode::kCorrupt, "does not divide");
  expect_load_error(build("llama:f32", [](auto& w) { w.set("llama.rope.dimension_count", Value::u32(128)); }),
                    ErrorCode::kCorrupt, "rope dimension 128");
  expect_load_error(build("llama:f32", [](auto& w) { w.set("llama.block_count", Value::str("two")); }),
                    ErrorCode::kCorrupt, "llama.block_count");
  expect_load_error(build("llama:f32", [](auto& w) { w.set("llama.attention.head_count", Value::u64(1ull << 40)); }),
                    ErrorCode::kCorrupt, "larger than");
  expect_load_error(build("llama:f32", [](auto& w) { w.erase("llama.feed_forward_length"); }), ErrorCode::kCorrupt,
                    "missing metadata key llama.feed_forward_length");
  expect_load_error(build("llama:f32", [](auto& w) { w.set("llama.rope.scaling.type", Value::str("longrope2")); }),
                    ErrorCode::kUnsupported, "longrope2");
  expect_load_error(
      build("llama:f32",
            [](auto& w) { w.set("llama.attention.head_count", Value::array(gguf::ValueType::kUint32, {Value::u32(4), Value::u32(4)})); }),
      ErrorCode::kUnsupported, "per-layer");
}

TEST(ModelLoad, RejectsUnsupportedArchitecture) {
  expect_load_error(build("llama:f32", [](auto& w) { w.set("general.architecture", gguf::Value::str("mamba")); }),
                    ErrorCode::kUnsupported, "unsupported model architecture 'mamba'");
}

TEST(ModelLoad, RejectsMissingAndMisshapenTensors) {
  const std::string good = build("llama:f32");
  expect_load_error(rewrite(good, [](const std::string& n) { return n == "blk.1.ffn_up.weight"; }), ErrorCode::kCorrupt,
                    "missing tensor blk.1.ffn_up.weight");
  // Replace attn_k with a tensor of the wrong shape.
  std::vector<float> zeros(256 * 64, 0.0f);
  expect_load_error(rewrite(good, [](const std::string& n) { return n == "blk.0.attn_k.weight"; },
                            [&](gguf::Writer& w) {
                              ASSERT_TRUE(w.add_tensor("blk.0.attn_k.weight", 0, {256, 64},
                                                       std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(zeros.data()),
                                                                                zeros.size() * 4))
                                              .ok());
                            }),
                    ErrorCode::kCorrupt, "tensor blk.0.attn_k.weight has shape [256, 64], expected [256, 128]");
  // A norm vector stored as f16 is not supported (named in the message).
  std::vector<uint16_t> h(256, 0x3c00);
  expect_load_error(rewrite(good, [](const std::string& n) { return n == "blk.0.attn_norm.weight"; },
                            [&](gguf::Writer& w) {
                              ASSERT_TRUE(w.add_tensor("blk.0.attn_norm.weight", 1, {256},
                                                       std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(h.data()), 512))
                                              .ok());
                            }),
                    ErrorCode::kUnsupported, "blk.0.attn_norm.weight: type f16");
  // qwen2 needs its biases.
  expect_load_error(rewrite(build("qwen2:f32"), [](const std::string& n) { return n == "blk.0.attn_v.bias"; }),
                    ErrorCode::kCorrupt, "missing tensor blk.0.attn_v.bias");
}

TEST(ModelLoad, RejectsTensorTypeWithoutKernel) {
  // An I32 matrix in place of a weight: a valid GGUF type the CPU backend cannot multiply.
  const std::string good = build("llama:f32");
  std::vector<int32_t> ints(256 * 256, 0);
  expect_load_error(rewrite(good, [](const std::string& n) { return n == "blk.0.attn_q.weight"; },
                            [&](gguf::Writer& w) {
                              ASSERT_TRUE(w.add_tensor("blk.0.attn_q.weight", 26, {256, 256},
                                                       std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(ints.data()),
                                                                                ints.size() * 4))
                                              .ok());
                            }),
                    ErrorCode::kUnsupported, "tensor blk.0.attn_q.weight: tensor type i32");
}

// ---- forward properties ----

struct SeqState {
  std::vector<int32_t> blocks;
  int32_t len = 0;
};

void append(Batch& b, SeqState& s, const std::vector<int32_t>& toks, int32_t max_blocks) {
  if (b.seq_start.empty()) b.seq_start.push_back(0);
  b.max_blocks = max_blocks;
  for (int32_t t : toks) {
    b.tokens.push_back(t);
    b.positions.push_back(s.len++);
  }
  b.seq_start.push_back(b.n_tokens());
  b.seq_kv_len.push_back(s.len);
  for (int32_t i = 0; i < max_blocks; ++i)
    b.block_tables.push_back(i < static_cast<int32_t>(s.blocks.size()) ? s.blocks[i] : -1);
  b.logit_rows.push_back(b.n_tokens() - 1);
}

std::vector<int32_t> tokens(int n, int seed) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; ++i) t.push_back(3 + (seed * 31 + i * 17) % 300);
  return t;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b, size_t off_a = 0, size_t off_b = 0,
                    size_t n = 0) {
  if (n == 0) n = a.size();
  double m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, static_cast<double>(std::fabs(a[off_a + i] - b[off_b + i])));
  return m;
}

TEST(ModelForward, BatchedEqualsSolo) {
  for (const char* spec : {"llama:q8_0", "gemma2:f16:swa=8"}) {
    auto solo = load_bytes(build(spec));
    auto batched = load_bytes(build(spec));
    ASSERT_TRUE(solo.ok() && batched.ok());
    const int32_t nv = solo->model->info().n_vocab, mb = 4;
    ASSERT_TRUE(solo->model->init_kv({16, 16, false}).ok());
    ASSERT_TRUE(batched->model->init_kv({16, 16, false}).ok());
    // Three sequences of different lengths: solo runs one at a time, batched runs all together
    // (prefill in one step, then decode steps with all three).
    std::vector<std::vector<int32_t>> prompts = {tokens(21, 1), tokens(5, 2), tokens(33, 3)};
    std::vector<SeqState> s1(3), s2(3);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < mb; ++j) {
        s1[i].blocks.push_back(i * mb + j);
        s2[i].blocks.push_back(15 - (i * mb + j));
      }
    std::vector<std::vector<float>> want(3, std::vector<float>(static_cast<size_t>(nv)));
    Batch bb;
    for (int i = 0; i < 3; ++i) {
      Batch b;
      append(b, s1[i], prompts[i], mb);
      ASSERT_TRUE(solo->model->forward(b, want[i]).ok());
      append(bb, s2[i], prompts[i], mb);
    }
    std::vector<float> got(3 * static_cast<size_t>(nv));
    ASSERT_TRUE(batched->model->forward(bb, got).ok());
    for (int i = 0; i < 3; ++i) EXPECT_LT(max_abs_diff(want[i], got, 0, static_cast<size_t>(i) * nv, nv), 1e-3) << spec;
    for (int step = 0; step < 12; ++step) {
      Batch d;
      for (int i = 0; i < 3; ++i) {
        const int32_t tok = 3 + (step * 7 + i) % 200;
        Batch b;
        append(b, s1[i], {tok}, mb);
        ASSERT_TRUE(solo->model->forward(b, want[i]).ok());
        append(d, s2[i], {tok}, mb);
      }
      ASSERT_TRUE(batched->model->forward(d, got).ok());
      for (int i = 0; i < 3; ++i)
        EXPECT_LT(max_abs_diff(want[i], got, 0, static_cast<size_t>(i) * nv, nv), 1e-3) << spec << " step " << step;
    }
  }
}

TEST(ModelForward, CopiedPartialBlockContinuesLikeTheOriginal) {
  auto l = load_bytes(build("qwen3:f16"));
  ASSERT_TRUE(l.ok());
  Model& m = *l->model;
  const int32_t nv = m.info().n_vocab;
  ASSERT_TRUE(m.init_kv({16, 8, false}).ok());
  SeqState a{{0, 1}, 0};
  Batch b;
  append(b, a, tokens(20, 5), 2);  // block 0 full, block 1 holds 4 tokens
  std::vector<float> la(static_cast<size_t>(nv)), lb(static_cast<size_t>(nv));
  ASSERT_TRUE(m.forward(b, la).ok());
  // Sequence b shares the full block 0 and gets a copy of the partial block 1 (copy-on-write).
  m.copy_kv_block(1, 5);
  SeqState bs{{0, 5}, 20};
  Batch ba, bb;
  append(ba, a, {42}, 2);
  append(bb, bs, {42}, 2);
  ASSERT_TRUE(m.forward(ba, la).ok());
  ASSERT_TRUE(m.forward(bb, lb).ok());
  EXPECT_LT(max_abs_diff(la, lb), 1e-6);
}

TEST(ModelForward, Q8KvCacheCloseToF16) {
  auto f16 = load_bytes(build("llama:f32"));
  auto q8 = load_bytes(build("llama:f32"));
  ASSERT_TRUE(f16.ok() && q8.ok());
  ASSERT_TRUE(f16->model->init_kv({16, 4, false}).ok());
  ASSERT_TRUE(q8->model->init_kv({16, 4, true}).ok());
  const int32_t nv = f16->model->info().n_vocab;
  SeqState s1{{0, 1, 2, 3}, 0}, s2{{0, 1, 2, 3}, 0};
  Batch b1, b2;
  append(b1, s1, tokens(40, 9), 4);
  append(b2, s2, tokens(40, 9), 4);
  std::vector<float> a(static_cast<size_t>(nv)), c(static_cast<size_t>(nv));
  ASSERT_TRUE(f16->model->forward(b1, a).ok());
  ASSERT_TRUE(q8->model->forward(b2, c).ok());
  auto probs = [](const std::vector<float>& l) {
    std::vector<double> p(l.begin(), l.end());
    double mx = *std::max_element(p.begin(), p.end()), s = 0;
    for (double& v : p) s += (v = std::exp(v - mx));
    for (double& v : p) v /= s;
    return p;
  };
  auto pa = probs(a), pc = probs(c);
  double m = 0;
  for (size_t i = 0; i < pa.size(); ++i) m = std::max(m, std::fabs(pa[i] - pc[i]));
  EXPECT_LT(m, 0.05);
  EXPECT_GT(max_abs_diff(a, c), 0.0);  // it really is a different cache
}

TEST(ModelForward, HiddenStatesAndValidation) {
  auto l = load_bytes(build("phi3:f16"));
  ASSERT_TRUE(l.ok());
  Model& m = *l->model;
  std::vector<float> out(static_cast<size_t>(m.info().n_vocab));
  Batch early;
  SeqState s0{{0}, 0};
  append(early, s0, {5}, 1);
  EXPECT_FALSE(m.forward(early, out).ok());  // before init_kv
  ASSERT_TRUE(m.init_kv({16, 4, false}).ok());
  SeqState s{{2, 3}, 0};
  Batch b;
  append(b, s, tokens(18, 4), 2);
  std::vector<float> hidden(256);
  ASSERT_TRUE(m.forward_hidden(b, hidden).ok());
  // They are the hidden states the logits come from: the same batch through forward on a second
  // copy of the model gives logits = output.weight (F16, [n_vocab, n_embd]) x hidden.
  auto l2 = load_bytes(build("phi3:f16"));
  ASSERT_TRUE(l2.ok());
  ASSERT_TRUE(l2->model->init_kv({16, 4, false}).ok());
  SeqState s2{{2, 3}, 0};
  Batch b2;
  append(b2, s2, tokens(18, 4), 2);
  ASSERT_TRUE(l2->model->forward(b2, out).ok());
  auto file =
      gguf::File::parse(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(l->bytes.data()), l->bytes.size()));
  ASSERT_TRUE(file.ok());
  const gguf::TensorInfo* w = file->tensor("output.weight");
  ASSERT_TRUE(w != nullptr);
  ASSERT_EQ(w->type, static_cast<uint32_t>(quant::Type::F16));
  ASSERT_EQ(w->ne[0], 256);
  ASSERT_EQ(w->ne[1], m.info().n_vocab);
  double max_logit = 0, max_err = 0;
  for (int64_t v = 0; v < w->ne[1]; ++v) {
    double dot = 0;
    for (int64_t j = 0; j < 256; ++j) {
      uint16_t h;
      std::memcpy(&h, w->data + (v * 256 + j) * 2, 2);
      dot += double(fp16_to_fp32(h)) * hidden[static_cast<size_t>(j)];
    }
    max_logit = std::max(max_logit, std::fabs(double(out[static_cast<size_t>(v)])));
    max_err = std::max(max_err, std::fabs(dot - out[static_cast<size_t>(v)]));
  }
  EXPECT_GT(max_logit, 0.1);
  EXPECT_LT(max_err, 2e-3 * max_logit) << "forward_hidden is not what forward projects to logits";
  // Out-of-range token, block id, short logits span, block table too small for the KV length.
  Batch bad = early;
  bad.tokens[0] = m.info().n_vocab;
  EXPECT_EQ(m.forward(bad, out).error().code(), ErrorCode::kInvalidArgument);
  bad = early;
  bad.block_tables[0] = 4;
  EXPECT_FALSE(m.forward(bad, out).ok());
  std::vector<float> small(3);
  EXPECT_FALSE(m.forward(early, small).ok());
  bad = early;
  bad.positions[0] = 16;
  bad.seq_kv_len[0] = 17;
  EXPECT_FALSE(m.forward(bad, out).ok());
  EXPECT_FALSE(m.init_kv({16, 4, false}).ok());  // only once
}

TEST(ModelForward, ThreadCountDoesNotChangeResults) {
  auto one = load_bytes(build("gemma3:q8_0:n_layer=6"), 1);
  auto two = load_bytes(build("gemma3:q8_0:n_layer=6"), 3);
  ASSERT_TRUE(one.ok() && two.ok());
  ASSERT_TRUE(one->model->init_kv({16, 4, false}).ok());
  ASSERT_TRUE(two->model->init_kv({16, 4, false}).ok());
  const int32_t nv = one->model->info().n_vocab;
  SeqState a{{0, 1, 2, 3}, 0}, c{{0, 1, 2, 3}, 0};
  Batch b1, b2;
  append(b1, a, tokens(50, 7), 4);
  append(b2, c, tokens(50, 7), 4);
  std::vector<float> x(static_cast<size_t>(nv)), y(static_cast<size_t>(nv));
  ASSERT_TRUE(one->model->forward(b1, x).ok());
  ASSERT_TRUE(two->model->forward(b2, y).ok());
  EXPECT_LT(max_abs_diff(x, y), 1e-4);
}

}  // namespace
}  // namespace paddock
