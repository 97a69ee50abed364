// Our forward vs llama.cpp on the same random-weight GGUF files (fixtures written by
// tools/llamacpp_oracle.mjs). For every fixture: regenerate the model, prove it is the file the
// oracle saw (sha256), feed the oracle's prompt in chunks that cross KV-block boundaries, then
// decode step by step along the oracle's continuation (64 tokens; crosses the 32-token sliding
// window of the gemma models). At each step our greedy token must equal llama.cpp's unless the
// step is a near-tie, and the oracle's top-5 tokens must have the same probabilities within a
// tolerance — both derived from how far llama.cpp's own CPU builds disagree on the same files
// (see oracle_noise; every accepted near-tie is printed). The *_scalar_test binaries repeat this
// on our scalar kernels.
// PADDOCK_ORACLE_VERBOSE=1 prints every step.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
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
#ifndef PADDOCK_ORACLE_DEVICE
#define PADDOCK_ORACLE_DEVICE "cpu"  // model_oracle_cuda_test: "cuda", the same rule on the GPU
#endif

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

// How far llama.cpp disagrees with itself. The same files run by two other CPU builds of the same
// llama.cpp (fixtures/model/cpu_haswell: AVX2, cpu_x64: no AVX; the default fixtures come from the
// build ggml picks here, AVX-512) differ from the default fixtures because each build sums in
// another order and the rounding of activations (int8 blocks for the quantized types, F16/BF16 for
// the half types, F16 for attention) amplifies last-bit differences from matmul to matmul. That
// disagreement is the oracle's own noise; we are held to it:
//  - top-5 probabilities within 2x the largest |dp| between llama.cpp's builds for that
//    activation class (f32 / half / int8), over all fixtures of the class;
//  - a different greedy token only at a near-tie: top-2 probabilities within 1e-3 in both engines
//    (the rule), or a flip llama.cpp's own builds can produce: if two engines' probabilities
//    differ by at most d, the top-2 margin moves by at most 2d, so the flip needs
//    gap_ours + gap_theirs <= 2 d with d = llama.cpp's own largest |dp| for the class.
// Measured (2026-11-30, llama.cpp from node-llama-cpp 3.21.1): f32 4.3e-4, half 3.0e-3, int8 1.5e-2,
// and one flip of its own (qwen2_q8_0 step 48, gaps 3.3e-3 / 6.8e-3: beyond 1e-3, so the literal
// rule cannot hold even between llama.cpp's own builds). PADDOCK_ORACLE_STRICT=1 applies only the
// literal 1e-3 rule.
enum class Act { kF32, kHalf, kInt8 };
Act act_class(const std::string& spec) {
  if (spec.find(":f32") != std::string::npos) return Act::kF32;
  if (spec.find(":f16") != std::string::npos || spec.find(":bf16") != std::string::npos) return Act::kHalf;
  return Act::kInt8;
}
const char* act_name(Act a) { return a == Act::kF32 ? "f32" : a == Act::kHalf ? "half" : "int8"; }

struct SelfFlip {
  std::string where, spec;
  double gap_a, gap_b;
};
struct OracleNoise {
  std::map<Act, double> max_dp;     // largest |dp| over shared top-5 tokens, per class
  std::vector<SelfFlip> flips;      // greedy divergences between llama.cpp's own builds
  std::vector<std::string> errors;  // fixtures that do not pair up
  int pairs = 0;
};

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

// Compares every cpu_<build>/ fixture with the default one of the same name, step by step up to the
// first divergence (free-running generations share no context after it).
const OracleNoise& oracle_noise() {
  static const OracleNoise noise = [] {
    OracleNoise n;
    for (const auto& dir : fs::directory_iterator("../../fixtures/model")) {
      if (!dir.is_directory() || dir.path().filename().string().rfind("cpu_", 0) != 0) continue;
      for (const auto& e : fs::directory_iterator(dir.path())) {
        if (e.path().extension() != ".json") continue;
        const fs::path base = fs::path("../../fixtures/model") / e.path().filename();
        const std::string where = dir.path().filename().string() + "/" + e.path().stem().string();
        if (!fs::exists(base)) {
          n.errors.push_back(where + ": no default fixture");
          continue;
        }
        const auto a = read_json(base), b = read_json(e.path());
        if (a["sha256"] != b["sha256"] || a["prompt"] != b["prompt"]) {
          n.errors.push_back(where + ": another file or prompt than the default fixture");
          continue;
        }
        ++n.pairs;
        double& worst = n.max_dp[act_class(a["spec"])];
        for (size_t s = 0; s < a["tokens"].size() && s < b["tokens"].size(); ++s) {
          std::map<int32_t, double> pb;
          for (const auto& t : b["top5"][s]) pb[t[0].get<int32_t>()] = t[1].get<double>();
          for (const auto& t : a["top5"][s]) {
            auto it = pb.find(t[0].get<int32_t>());
            if (it != pb.end()) worst = std::max(worst, std::fabs(it->second - t[1].get<double>()));
          }
          if (a["tokens"][s] != b["tokens"][s]) {
            const auto gap = [&](const nlohmann::json& f) {
              return f["top5"][s][0][1].get<double>() - f["top5"][s][1][1].get<double>();
            };
            n.flips.push_back({where + " step " + std::to_string(s), a["spec"], gap(a), gap(b)});
            break;
          }
        }
      }
    }
    return n;
  }();
  return noise;
}

double oracle_dp(const std::string& spec) {
  const auto& m = oracle_noise().max_dp;
  auto it = m.find(act_class(spec));
  return it == m.end() ? 0.0 : it->second;
}

TEST(LlamaCppBuilds, DisagreeByTheNoiseTheModelTestsAllow) {
  const OracleNoise& n = oracle_noise();
  for (const auto& e : n.errors) ADD_FAILURE() << e;
  ASSERT_GE(n.pairs, 34) << "the cpu_<build>/ fixtures are missing (tools/llamacpp_oracle.mjs)";
  for (Act a : {Act::kF32, Act::kHalf, Act::kInt8}) {
    ASSERT_TRUE(n.max_dp.count(a)) << act_name(a);
    std::printf("[llama.cpp builds] %s: max |dp| %.2e\n", act_name(a), n.max_dp.at(a));
    // Different builds do differ: a zero here would mean the variants were not really run.
    EXPECT_GT(n.max_dp.at(a), 1e-5) << act_name(a);
  }
  // The flip rule must accept llama.cpp against itself.
  for (const auto& f : n.flips) {
    const double d = oracle_dp(f.spec);
    std::printf("[llama.cpp builds] flip at %s: gaps %.2e / %.2e\n", f.where.c_str(), f.gap_a, f.gap_b);
    EXPECT_LE(f.gap_a + f.gap_b, 2 * d) << f.where;
  }
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
  auto model = Model::load(std::make_shared<const gguf::File>(std::move(*file)), LoadOptions{2, PADDOCK_ORACLE_DEVICE});
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

  const bool strict = std::getenv("PADDOCK_ORACLE_STRICT") != nullptr;
  const double noise = oracle_dp(spec_str), tol = 2 * noise;
  ASSERT_GT(noise, 0.0) << "no llama.cpp build noise measured for " << spec_str;
  double max_err = 0;
  int near_ties = 0, mismatches = 0;
  for (size_t step = 0; step < want.size(); ++step) {
    const auto p = testing::softmax(logits);
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
      // A different greedy token is acceptable only at a near-tie (see oracle_noise above).
      const double ours_gap = p[order[0]] - p[order[1]];
      const double theirs_gap = top[0][1].get<double>() - top[1][1].get<double>();
      const bool literal = ours_gap <= kNearTie && theirs_gap <= kNearTie;
      if (literal || (!strict && ours_gap + theirs_gap <= 2 * noise)) {
        ++near_ties;
        std::printf("[near-tie%s] %s step %zu: ours %d (gap %.2e) llama.cpp %d (gap %.2e)\n",
                    literal ? "" : ", within llama.cpp's own build noise", GetParam().c_str(), step, order[0],
                    ours_gap, want[step], theirs_gap);
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
  std::printf("[oracle] %s: max |dp| = %.2e over top-5 (%.2fx llama.cpp's own builds), near-ties %d, mismatches %d\n",
              GetParam().c_str(), max_err, max_err / noise, near_ties, mismatches);
  RecordProperty("max_prob_error", std::to_string(max_err));
  RecordProperty("near_ties", near_ties);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ModelOracle, ::testing::ValuesIn(fixture_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace paddock
