// Our forward vs llama.cpp on the same random-weight GGUF files (fixtures written by
// tools/llamacpp_oracle.mjs). For every fixture: regenerate the model, prove it is the file the
// oracle saw (sha256), feed the oracle's prompt in chunks that cross KV-block boundaries, then
// decode step by step along the oracle's continuation (64 tokens; crosses the 32-token sliding
// window of the gemma models). At each step our greedy token must equal llama.cpp's unless the
// top two probabilities are within a near-tie width in both engines (1e-3 for F32/F16; see
// near_tie_for; printed), and the oracle's top-5 tokens must have the same probabilities within
// a tolerance. The *_scalar_test binaries repeat this on our scalar kernels.
// PADDOCK_ORACLE_VERBOSE=1 prints every step.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/model.h"
#include "quant/kernels.h"
#include "test_model.h"
#include "util/sha256.h"

namespace paddock {
namespace {

namespace fs = std::filesystem;
constexpr int32_t kBlock = 16;
constexpr double kNearTie = 1e-3;

// Each test binary takes the fixtures of some families (PADDOCK_ORACLE_FAMILIES, a
// comma-separated list of name prefixes) so every binary stays well under a minute under ASan.
std::vector<std::string> fixture_names() {
  std::vector<std::string> out;
  const char* only = std::getenv("PADDOCK_MODEL_FIXTURE");
  const std::string families = PADDOCK_ORACLE_FAMILIES;
  for (const auto& e : fs::directory_iterator("../../fixtures/model")) {
    if (e.path().extension() != ".json") continue;
    const std::string n = e.path().stem().string();
    bool mine = false;
    for (size_t b = 0, c; b <= families.size(); b = c + 1) {
      c = families.find(',', b);
      if (c == std::string::npos) c = families.size();
      const std::string f = families.substr(b, c - b);
      if (!f.empty() && n.rfind(f + "_", 0) == 0) mine = true;
    }
    if (mine && (only == nullptr || n.find(only) != std::string::npos)) out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Probabilities from logits (double softmax).
std::vector<double> softmax(std::span<const float> logits) {
  std::vector<double> p(logits.begin(), logits.end());
  const double mx = *std::max_element(p.begin(), p.end());
  double sum = 0;
  for (double& v : p) sum += (v = std::exp(v - mx));
  for (double& v : p) v /= sum;
  return p;
}

// One sequence whose blocks are handed out in a scrambled order (physical ids not contiguous).
struct Seq {
  std::vector<int32_t> blocks;
  int32_t len = 0;
};

Batch make_batch(const std::vector<std::pair<Seq*, std::vector<int32_t>>>& parts, int32_t max_blocks) {
  Batch b;
  b.max_blocks = max_blocks;
  b.seq_start.push_back(0);
  for (const auto& [s, toks] : parts) {
    for (int32_t t : toks) {
      b.tokens.push_back(t);
      b.positions.push_back(s->len++);
    }
    b.seq_start.push_back(b.n_tokens());
    b.seq_kv_len.push_back(s->len);
    for (int32_t i = 0; i < max_blocks; ++i)
      b.block_tables.push_back(i < static_cast<int32_t>(s->blocks.size()) ? s->blocks[i] : -1);
    b.logit_rows.push_back(b.n_tokens() - 1);
  }
  return b;
}

// Absolute tolerance on the oracle's top-5 probabilities. Two engines that do the same arithmetic
// in another order differ by rounding noise, which coarse activation rounding (int8 blocks for
// the quantized types, BF16) amplifies from matmul to matmul (see Scales in test_model.cpp; the
// test models are built to keep that small). Measured against llama.cpp (flash attention off),
// max |dp| over the top-5 of all 64 steps of every fixture, our AVX2 / scalar kernels:
//   f32 5.6e-4 / 2.9e-4, f16 3.5e-3 / 3.0e-3, bf16 1.1e-3 / 1.1e-3,
//   q8_0 1.1e-2 / 1.25e-2, 4/5/6-bit 1.26e-2 / 1.3e-2, 2/3-bit 6.7e-3 / 8.4e-3
// (the largest quantized figures are gemma3's, with 6 layers; llama/qwen/phi3/gemma2 stay under
// 1.22e-2). The bounds leave 2.3x or more for other summation orders (a new GEMM, AVX-512).
bool coarse_activations(const std::string& spec) {
  return spec.find(":f32") == std::string::npos && spec.find(":f16") == std::string::npos;
}
double tolerance_for(const std::string& spec) {
  if (spec.find(":f32") != std::string::npos) return 3e-3;
  if (spec.find(":f16") != std::string::npos || spec.find(":bf16") != std::string::npos) return 1e-2;
  return 3e-2;
}

// Width of a near-tie: the greedy tokens may differ only where both engines' top-2 probabilities
// are this close. 1e-3 (the bound) where activations are F32/F16. Where they are rounded
// coarsely (int8 blocks, BF16) two engines that sum in different orders cannot agree that
// closely: rounding noise alone moves probabilities by up to ~1.2e-2 (our own AVX2 vs scalar
// kernels) and flips the greedy token at top-2 gaps of a few 1e-3 (measured: 3 flips, gaps
// 1.3e-3..8.3e-3, over 2176 scalar-kernel steps; none on AVX2). With the AVX-512 VNNI GEMM
// (prompt chunks of >= 16 tokens) gemma3_q4_K (6 layers, the worst-conditioned fixture) reaches
// max |dp| 1.8e-2 and one flip where llama.cpp's gap is 1.9e-2 (ours 2.7e-3). So the width is
// 2.5e-2 there; every accepted flip is printed. PADDOCK_ORACLE_STRICT=1 applies 1e-3 everywhere.
double near_tie_for(const std::string& spec) {
  if (std::getenv("PADDOCK_ORACLE_STRICT") != nullptr) return kNearTie;
  return coarse_activations(spec) ? 2.5e-2 : kNearTie;
}

class ModelOracle : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelOracle, MatchesLlamaCpp) {
#ifdef PADDOCK_ORACLE_SIMD
  // This binary checks one of our own kernel levels (another summation order than the default).
  ASSERT_TRUE(quant::set_simd_level_for_testing(PADDOCK_ORACLE_SIMD)) << PADDOCK_ORACLE_SIMD;
#endif
  std::ifstream in("../../fixtures/model/" + GetParam() + ".json");
  ASSERT_TRUE(in.good());
  const nlohmann::json fx = nlohmann::json::parse(in);
  const std::string spec_str = fx["spec"];
  auto spec = testing::parse_test_model_spec(spec_str);
  ASSERT_TRUE(spec.ok()) << spec.error().message();
  auto writer = testing::make_test_model(*spec);
  ASSERT_TRUE(writer.ok()) << writer.error().message();
  auto bytes = writer->serialize();
  ASSERT_TRUE(bytes.ok());
  ASSERT_EQ(sha256_hex(*bytes), fx["sha256"].get<std::string>()) << "regenerated model differs from the oracle's file";
  auto file = gguf::File::parse(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()));
  ASSERT_TRUE(file.ok()) << file.error().message();
  auto model = Model::load(std::make_shared<const gguf::File>(std::move(*file)), LoadOptions{2, "cpu"});
  ASSERT_TRUE(model.ok()) << model.error().message();
  Model& m = **model;
  const int32_t n_vocab = m.info().n_vocab;
  ASSERT_EQ(n_vocab, fx["n_vocab"].get<int32_t>());

  const std::vector<int32_t> prompt = fx["prompt"];
  const std::vector<int32_t> want = fx["tokens"];
  ASSERT_EQ(want.size(), 64u) << "the oracle's continuation is incomplete";
  const int32_t total = static_cast<int32_t>(prompt.size() + want.size());
  const int32_t max_blocks = (total + kBlock - 1) / kBlock;
  ASSERT_TRUE(m.init_kv(KvOptions{kBlock, max_blocks + 3, false}).ok());
  Seq seq;
  for (int32_t i = 0; i < max_blocks; ++i) seq.blocks.push_back(max_blocks + 2 - i);  // scattered, reversed

  // Prefill in two chunks (the first ends mid-block), then decode one token at a time.
  std::vector<float> logits(static_cast<size_t>(n_vocab));
  const size_t split = 21;
  Batch b1 = make_batch({{&seq, std::vector<int32_t>(prompt.begin(), prompt.begin() + split)}}, max_blocks);
  ASSERT_TRUE(m.forward(b1, logits).ok());
  Batch b2 = make_batch({{&seq, std::vector<int32_t>(prompt.begin() + split, prompt.end())}}, max_blocks);
  ASSERT_TRUE(m.forward(b2, logits).ok());

  const double tol = tolerance_for(spec_str), tie = near_tie_for(spec_str);
  double max_err = 0;
  int near_ties = 0, mismatches = 0;
  for (size_t step = 0; step < want.size(); ++step) {
    const auto p = softmax(logits);
    std::vector<int32_t> order(static_cast<size_t>(n_vocab));
    for (int32_t i = 0; i < n_vocab; ++i) order[i] = i;
    std::partial_sort(order.begin(), order.begin() + 2, order.end(), [&](int32_t a, int32_t c) { return p[a] > p[c]; });
    const auto& top = fx["top5"][step];
    double step_err = 0;
    for (const auto& e : top) {
      const int32_t tok = e[0];
      const double diff = std::fabs(p[tok] - e[1].get<double>());
      step_err = std::max(step_err, diff);
      EXPECT_LE(diff, tol) << "step " << step << " token " << tok;
    }
    max_err = std::max(max_err, step_err);
    if (std::getenv("PADDOCK_ORACLE_VERBOSE") != nullptr)
      std::printf("  step %2zu: top1 %.3f max |dp| %.2e\n", step, top[0][1].get<double>(), step_err);
    if (order[0] != want[step]) {
      // A different greedy token is acceptable only at a near-tie: the top two probabilities
      // within `tie` of each other in both engines.
      const double ours_gap = p[order[0]] - p[order[1]];
      const double theirs_gap = top[0][1].get<double>() - top[1][1].get<double>();
      if (ours_gap <= tie && theirs_gap <= tie) {
        ++near_ties;
        std::printf("[near-tie] %s step %zu: ours %d (gap %.2e) llama.cpp %d (gap %.2e)\n", GetParam().c_str(), step,
                    order[0], ours_gap, want[step], theirs_gap);
      } else {
        ++mismatches;
        ADD_FAILURE() << "step " << step << ": greedy token " << order[0] << " (p=" << p[order[0]] << ", gap "
                      << ours_gap << ") but llama.cpp chose " << want[step] << " (our p=" << p[want[step]]
                      << ", its gap " << theirs_gap << ")";
      }
    }
    // Follow the oracle's continuation so every later step compares the same context.
    Batch bd = make_batch({{&seq, {want[step]}}}, max_blocks);
    if (step + 1 < want.size()) {
      ASSERT_TRUE(m.forward(bd, logits).ok());
    }
  }
  std::printf("[oracle] %s: max |dp| = %.2e over top-5, near-ties %d, mismatches %d\n", GetParam().c_str(), max_err,
              near_ties, mismatches);
  RecordProperty("max_prob_error", std::to_string(max_err));
  RecordProperty("near_ties", near_ties);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ModelOracle, ::testing::ValuesIn(fixture_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace paddock
