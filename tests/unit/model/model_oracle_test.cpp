// Our forward vs llama.cpp on the same random-weight GGUF files (fixtures written by
// tools/llamacpp_oracle.mjs). For every fixture: regenerate the model, prove it is the file the
// oracle saw (sha256), feed the oracle's prompt in chunks that cross KV-block boundaries, then
// decode step by step along the oracle's continuation (64 tokens; crosses the 32-token sliding
// window of the gemma models). At each step our greedy token must equal llama.cpp's unless the
// step is a near-tie, and the oracle's top-5 tokens must have the same probabilities within a
// tolerance — both derived from how far llama.cpp's own CPU builds disagree on the same files,
// per architecture, and never above the committed figures (see oracle_noise; every accepted
// near-tie is printed, and a fixture may have at most kMaxNearTies). The *_scalar_test binaries
// repeat this on our scalar kernels. OracleSensitivity shows the comparison fails on a model
// with one layer's weights nudged or its rope base changed.
// PADDOCK_ORACLE_VERBOSE=1 prints every step.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "model/model.h"
#include "quant/kernels.h"
#include "quant/quant.h"
#include "test_model.h"
#include "util/sha256.h"

namespace paddock {
namespace {

namespace fs = std::filesystem;
constexpr int32_t kBlock = 16;
constexpr double kNearTie = 1e-3;
// Accepted near-tie flips per fixture (64 steps). llama.cpp's own builds flip 3 times in 68 pairs.
constexpr int kMaxNearTies = 2;
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
// disagreement is the oracle's own noise; we are held to it, per architecture and activation class
// (f32 / half / int8: the rounding sets the noise, the architecture how much it grows):
//  - top-5 probabilities within 2x the largest |dp| between llama.cpp's builds over that
//    architecture's fixtures of the class;
//  - a different greedy token only at a near-tie: top-2 probabilities within 1e-3 in both engines
//    (the rule), or a flip llama.cpp's own builds can produce: if two engines' probabilities
//    differ by at most d, the top-2 margin moves by at most 2d, so the flip needs
//    gap_ours + gap_theirs <= 2 d with d = that noise; at most kMaxNearTies such steps a fixture.
// The noise is measured at run time from the fixtures but capped by kCommittedNoise, the figures
// measured when the variants were committed: variants regenerated with a noisier build fail
// LlamaCppBuilds.* instead of loosening every comparison. Measured (llama.cpp from node-llama-cpp
// 3.21.1): see kCommittedNoise; three flips of llama.cpp's own (qwen2_q8_0 step 48, gaps 3.3e-3 /
// 6.8e-3: beyond 1e-3, so the literal rule cannot hold even between llama.cpp's own builds;
// cpu_x64 gemma2_q6_K step 10 and gemma2_q8_0 step 18).
// PADDOCK_ORACLE_STRICT=1 applies only the literal 1e-3 rule.
enum class Act { kF32, kHalf, kInt8 };
Act act_class(const std::string& spec) {
  if (spec.find(":f32") != std::string::npos) return Act::kF32;
  if (spec.find(":f16") != std::string::npos || spec.find(":bf16") != std::string::npos) return Act::kHalf;
  return Act::kInt8;
}
const char* act_name(Act a) { return a == Act::kF32 ? "f32" : a == Act::kHalf ? "half" : "int8"; }
std::string arch_of(const std::string& spec) { return spec.substr(0, spec.find(':')); }

using NoiseKey = std::pair<std::string, Act>;  // architecture, activation class
std::string key_name(const NoiseKey& k) { return k.first + "/" + act_name(k.second); }
NoiseKey noise_key(const std::string& spec) { return {arch_of(spec), act_class(spec)}; }

// Largest |dp| between llama.cpp's builds when the variant fixtures were committed (rounded up at
// the third digit). The ceiling of the run-time figure.
const std::map<NoiseKey, double> kCommittedNoise = {
    {{"llama", Act::kF32}, 4.33e-4},   {{"llama", Act::kHalf}, 2.93e-3},  {{"llama", Act::kInt8}, 7.82e-3},
    {{"qwen2", Act::kHalf}, 2.05e-3},  {{"qwen2", Act::kInt8}, 1.16e-2},  {{"qwen3", Act::kHalf}, 2.51e-3},
    {{"qwen3", Act::kInt8}, 1.13e-2},  {{"phi3", Act::kHalf}, 1.95e-3},   {{"phi3", Act::kInt8}, 8.15e-3},
    {{"gemma2", Act::kHalf}, 1.34e-3}, {{"gemma2", Act::kInt8}, 5.61e-3}, {{"gemma3", Act::kHalf}, 3.04e-3},
    {{"gemma3", Act::kInt8}, 3.97e-3},
};

struct SelfFlip {
  std::string where, spec;
  double gap_a, gap_b;
};
struct OracleNoise {
  std::map<NoiseKey, double> max_dp;  // largest |dp| over shared top-5 tokens
  std::vector<SelfFlip> flips;        // greedy divergences between llama.cpp's own builds
  std::vector<std::string> errors;    // fixtures that do not pair up
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
        double& worst = n.max_dp[noise_key(a["spec"])];
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

// The noise a fixture is held to: its architecture's, never above the committed figure; 0 when
// there is none (the caller fails).
double oracle_dp(const std::string& spec) {
  const NoiseKey k = noise_key(spec);
  const auto& m = oracle_noise().max_dp;
  auto it = m.find(k);
  auto c = kCommittedNoise.find(k);
  if (it == m.end() || c == kCommittedNoise.end()) return 0.0;
  return std::min(it->second, c->second);
}

TEST(LlamaCppBuilds, DisagreeByTheNoiseTheModelTestsAllow) {
  const OracleNoise& n = oracle_noise();
  for (const auto& e : n.errors) ADD_FAILURE() << e;
  ASSERT_GE(n.pairs, 34) << "the cpu_<build>/ fixtures are missing (tools/llamacpp_oracle.mjs)";
  for (const auto& [k, ceiling] : kCommittedNoise) {
    ASSERT_TRUE(n.max_dp.count(k)) << key_name(k) << ": no variant fixtures";
    const double dp = n.max_dp.at(k);
    std::printf("[llama.cpp builds] %s: max |dp| %.2e (ceiling %.2e)\n", key_name(k).c_str(), dp, ceiling);
    // Different builds do differ: a zero here would mean the variants were not really run.
    EXPECT_GT(dp, 1e-5) << key_name(k);
    EXPECT_LE(dp, ceiling) << key_name(k) << ": llama.cpp's builds disagree more than when the variants were "
                           << "committed; a noisier build must not loosen the model tests";
  }
  for (const auto& [k, dp] : n.max_dp) EXPECT_TRUE(kCommittedNoise.count(k)) << key_name(k) << ": no committed figure";
  // The flip rule must accept llama.cpp against itself.
  for (const auto& f : n.flips) {
    const double d = oracle_dp(f.spec);
    std::printf("[llama.cpp builds] flip at %s: gaps %.2e / %.2e\n", f.where.c_str(), f.gap_a, f.gap_b);
    EXPECT_LE(f.gap_a + f.gap_b, 2 * d) << f.where;
  }
}

// A model built from a fixture's spec (bytes kept alive beside it), optionally edited.
struct Built {
  std::string bytes;
  std::unique_ptr<Model> model;
};

// Rewrites a GGUF: `meta` may change metadata, `tensor` may change a tensor's floats (given
// dequantized, requantized to its type afterwards).
using MetaEdit = std::function<void(gguf::Writer&)>;
using TensorEdit = std::function<bool(const std::string& name, std::vector<float>& values)>;
Result<std::string> rewrite(const std::string& bytes, const MetaEdit& meta, const TensorEdit& tensor) {
  ASSIGN_OR_RETURN(auto f, gguf::File::parse(
                               std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())));
  gguf::Writer w;
  w.copy_metadata(f);
  if (meta) meta(w);
  for (const auto& t : f.tensors()) {
    std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
    std::span<const uint8_t> data(t.data, t.nbytes);
    std::vector<float> v(static_cast<size_t>(t.n_elements()));
    std::vector<uint8_t> edited;
    const auto type = static_cast<quant::Type>(t.type);
    ASSIGN_OR_RETURN(uint64_t rb, quant::row_size(type, t.ne[0]));
    const int64_t rows = t.n_elements() / t.ne[0];
    for (int64_t r = 0; r < rows; ++r) quant::dequantize_row(type, t.data + r * rb, v.data() + r * t.ne[0], t.ne[0]);
    if (tensor && tensor(t.name, v)) {
      edited.resize(t.nbytes);
      quant::quantize_rows(type, v.data(), edited.data(), rows, t.ne[0], nullptr, nullptr);
      data = edited;
    }
    RETURN_IF_ERROR(w.add_tensor(t.name, t.type, ne, data));
  }
  return w.serialize();
}

Result<Built> build_model(const std::string& spec_str, const MetaEdit& meta = {}, const TensorEdit& tensor = {}) {
  ASSIGN_OR_RETURN(auto spec, testing::parse_test_model_spec(spec_str));
  ASSIGN_OR_RETURN(auto writer, testing::make_test_model(spec));
  Built b;
  ASSIGN_OR_RETURN(b.bytes, writer.serialize());
  if (meta || tensor) {
    ASSIGN_OR_RETURN(b.bytes, rewrite(b.bytes, meta, tensor));
  }
  ASSIGN_OR_RETURN(auto file, gguf::File::parse(std::span<const uint8_t>(
                                  reinterpret_cast<const uint8_t*>(b.bytes.data()), b.bytes.size())));
  ASSIGN_OR_RETURN(b.model, Model::load(std::make_shared<const gguf::File>(std::move(file)), LoadOptions{2, PADDOCK_ORACLE_DEVICE}));
  return b;
}

nlohmann::json read_fixture(const std::string& name) {
  std::ifstream in("../../fixtures/model/" + name + ".json");
  if (!in.good()) return nullptr;
  return nlohmann::json::parse(in);
}

// What one comparison with a fixture found; `violations` empty means it passes.
struct Comparison {
  double max_err = 0;
  int near_ties = 0;
  std::vector<std::string> violations;
};

// Feeds the oracle's prompt in chunks that cross KV-block boundaries, then follows its
// continuation step by step, comparing as described at oracle_noise.
Comparison compare_with_oracle(Model& m, const nlohmann::json& fx, const std::string& name, double noise, bool strict) {
  Comparison c;
  auto fail = [&](std::string msg) { c.violations.push_back(std::move(msg)); };
  const int32_t n_vocab = m.info().n_vocab;
  const std::vector<int32_t> prompt = fx["prompt"];
  const std::vector<int32_t> want = fx["tokens"];
  const int32_t total = static_cast<int32_t>(prompt.size() + want.size());
  const int32_t max_blocks = (total + kBlock - 1) / kBlock;
  if (!m.init_kv(KvOptions{kBlock, max_blocks + 3, false}).ok()) {
    fail("init_kv failed");
    return c;
  }
  Seq seq;
  for (int32_t i = 0; i < max_blocks; ++i) seq.blocks.push_back(max_blocks + 2 - i);  // scattered, reversed

  // Prefill in two chunks (the first ends mid-block), then decode one token at a time.
  std::vector<float> logits(static_cast<size_t>(n_vocab));
  const size_t split = 21;
  Batch b1 = make_batch({{&seq, std::vector<int32_t>(prompt.begin(), prompt.begin() + split)}}, max_blocks);
  if (!m.forward(b1, logits).ok()) {
    fail("prefill failed");
    return c;
  }
  Batch b2 = make_batch({{&seq, std::vector<int32_t>(prompt.begin() + split, prompt.end())}}, max_blocks);
  if (!m.forward(b2, logits).ok()) {
    fail("prefill failed");
    return c;
  }

  const double tol = 2 * noise;
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
      if (diff > tol)
        fail("step " + std::to_string(step) + " token " + std::to_string(tok) + ": |dp| " + std::to_string(diff) +
             " > " + std::to_string(tol));
    }
    c.max_err = std::max(c.max_err, step_err);
    if (std::getenv("PADDOCK_ORACLE_VERBOSE") != nullptr)
      std::printf("  step %2zu: top1 %.3f max |dp| %.2e\n", step, top[0][1].get<double>(), step_err);
    if (order[0] != want[step]) {
      // A different greedy token is acceptable only at a near-tie (see oracle_noise above).
      const double ours_gap = p[order[0]] - p[order[1]];
      const double theirs_gap = top[0][1].get<double>() - top[1][1].get<double>();
      const bool literal = ours_gap <= kNearTie && theirs_gap <= kNearTie;
      if (literal || (!strict && ours_gap + theirs_gap <= 2 * noise)) {
        ++c.near_ties;
        std::printf("[near-tie%s] %s step %zu: ours %d (gap %.2e) llama.cpp %d (gap %.2e)\n",
                    literal ? "" : ", within llama.cpp's own build noise", name.c_str(), step, order[0], ours_gap,
                    want[step], theirs_gap);
      } else {
        fail("step " + std::to_string(step) + ": greedy token " + std::to_string(order[0]) +
             " (p=" + std::to_string(p[order[0]]) + ", gap " + std::to_string(ours_gap) + ") but llama.cpp chose " +
             std::to_string(want[step]) + " (our p=" + std::to_string(p[want[step]]) + ", its gap " +
             std::to_string(theirs_gap) + ")");
      }
    }
    // Follow the oracle's continuation so every later step compares the same context.
    Batch bd = make_batch({{&seq, {want[step]}}}, max_blocks);
    if (step + 1 < want.size() && !m.forward(bd, logits).ok()) {
      fail("decode failed");
      return c;
    }
  }
  if (c.near_ties > kMaxNearTies)
    fail(std::to_string(c.near_ties) + " near-tie flips, more than the " + std::to_string(kMaxNearTies) +
         " a fixture may have");
  return c;
}

class ModelOracle : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelOracle, MatchesLlamaCpp) {
#ifdef PADDOCK_ORACLE_SIMD
  // This binary checks one of our own kernel levels (another summation order than the default).
  ASSERT_TRUE(quant::set_simd_level_for_testing(PADDOCK_ORACLE_SIMD)) << PADDOCK_ORACLE_SIMD;
#endif
  const nlohmann::json fx = read_fixture(GetParam());
  ASSERT_FALSE(fx.is_null()) << GetParam();
  const std::string spec_str = fx["spec"];
  auto built = build_model(spec_str);
  ASSERT_TRUE(built.ok()) << built.error().message();
  ASSERT_EQ(sha256_hex(built->bytes), fx["sha256"].get<std::string>())
      << "regenerated model differs from the oracle's file";
  Model& m = *built->model;
  ASSERT_EQ(m.info().n_vocab, fx["n_vocab"].get<int32_t>());
  ASSERT_EQ(fx["tokens"].size(), 64u) << "the oracle's continuation is incomplete";

  const bool strict = std::getenv("PADDOCK_ORACLE_STRICT") != nullptr;
  const double noise = oracle_dp(spec_str);
  ASSERT_GT(noise, 0.0) << "no llama.cpp build noise measured for " << spec_str;
  const Comparison c = compare_with_oracle(m, fx, GetParam(), noise, strict);
  for (const auto& v : c.violations) ADD_FAILURE() << v;
  std::printf(
      "[oracle] %s: max |dp| = %.2e over top-5 (%.2fx llama.cpp's own builds, %s), near-ties %d, "
      "violations %zu\n",
      GetParam().c_str(), c.max_err, c.max_err / noise, key_name(noise_key(spec_str)).c_str(), c.near_ties,
      c.violations.size());
  RecordProperty("max_prob_error", std::to_string(c.max_err));
  RecordProperty("near_ties", c.near_ties);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ModelOracle, ::testing::ValuesIn(fixture_names()),
                         [](const auto& info) { return info.param; });

#ifdef PADDOCK_ORACLE_NEGATIVE
// A fixture whose continuation falls into a short cycle compares the same few contexts over and
// over (the sliding window and most of the vocabulary never come into play): every fixture, and
// its llama.cpp-build variants, must show at least kMinDistinct different tokens in its 64 steps
// and kMinDistinctEarly in its first 16.
// kKnownDegenerate: fixtures reported instead of failed (none now; the quantized gemma fixtures
// fell into a 2-4 token cycle from step 0 until their models split the residual stream, see
// GemmaSplit in test_model.cpp). One listed that stops being degenerate fails the test so that it
// leaves this list.
constexpr size_t kMinDistinct = 12, kMinDistinctEarly = 6;
const std::set<std::string> kKnownDegenerate = {};

TEST(OracleFixtures, ContinuationsAreNotDegenerate) {
  int checked = 0, known = 0;
  for (const auto& dir : {fs::path("../../fixtures/model"), fs::path("../../fixtures/model/cpu_haswell"),
                          fs::path("../../fixtures/model/cpu_x64")}) {
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.path().extension() != ".json") continue;
      const auto fx = read_json(e.path());
      const std::vector<int32_t> toks = fx["tokens"];
      const std::set<int32_t> all(toks.begin(), toks.end());
      const std::set<int32_t> early(toks.begin(),
                                    toks.begin() + static_cast<std::ptrdiff_t>(std::min<size_t>(16, toks.size())));
      const bool degenerate = all.size() < kMinDistinct || early.size() < kMinDistinctEarly;
      ++checked;
      if (kKnownDegenerate.count(e.path().stem().string())) {
        ++known;
        std::printf("[ KNOWN DEGENERATE ] %s: %zu distinct tokens (%zu in the first 16)\n", e.path().c_str(),
                    all.size(), early.size());
        EXPECT_TRUE(degenerate) << e.path() << " is no longer degenerate: remove it from kKnownDegenerate";
        continue;
      }
      EXPECT_FALSE(degenerate) << e.path() << ": " << all.size() << " distinct tokens, " << early.size()
                               << " in the first 16: " << nlohmann::json(toks).dump();
    }
  }
  EXPECT_EQ(checked, 3 * 34);
  EXPECT_EQ(known, 3 * static_cast<int>(kKnownDegenerate.size()));
}

// The comparison can fail: models a little off the oracle's are caught at the tolerances above.
// One layer's weights nudged (blk.1.attn_output scaled by 1+kNudge) and the rope base changed
// (x kRopeFactor), each on an F32 model (the tightest tolerance) and a Q8_0 one (int8 activations,
// the loosest llama tolerance); and the same on quantized gemma models, whose post-attention norm
// would undo a uniform scale: there the nudge alternates in sign (x 1 +/- kNudge by element).
constexpr float kNudge = 0.02f;
constexpr float kRopeFactor = 1.1f;

void expect_oracle_fails(const std::string& fixture, const MetaEdit& meta, const TensorEdit& tensor, const char* what) {
  const nlohmann::json fx = read_fixture(fixture);
  ASSERT_FALSE(fx.is_null()) << fixture;
  auto built = build_model(fx["spec"], meta, tensor);
  ASSERT_TRUE(built.ok()) << built.error().message();
  ASSERT_NE(sha256_hex(built->bytes), fx["sha256"].get<std::string>()) << "the edit changed nothing";
  const double noise = oracle_dp(fx["spec"]);
  ASSERT_GT(noise, 0.0);
  const Comparison c = compare_with_oracle(*built->model, fx, fixture, noise, false);
  std::printf("[sensitivity] %s, %s: max |dp| %.2e (tolerance %.2e), %zu violations%s%s\n", fixture.c_str(), what,
              c.max_err, 2 * noise, c.violations.size(),
              c.violations.empty() ? "" : ", first: ", c.violations.empty() ? "" : c.violations[0].c_str());
  EXPECT_FALSE(c.violations.empty()) << fixture << " with " << what << " still passes the oracle comparison";
}

TEST(OracleSensitivity, OneLayerNudgedFails) {
  const TensorEdit nudge = [](const std::string& name, std::vector<float>& v) {
    if (name != "blk.1.attn_output.weight") return false;
    for (float& x : v) x *= 1.0f + kNudge;
    return true;
  };
  for (const char* f : {"llama_f32", "llama_q8_0"}) expect_oracle_fails(f, {}, nudge, "blk.1.attn_output x1.02");
  const TensorEdit alternate = [](const std::string& name, std::vector<float>& v) {
    if (name != "blk.1.attn_output.weight") return false;
    for (size_t i = 0; i < v.size(); ++i) v[i] *= 1.0f + (i % 2 ? kNudge : -kNudge);
    return true;
  };
  for (const char* f : {"gemma2_q4_K", "gemma3_q8_0_n_layer_6"})
    expect_oracle_fails(f, {}, alternate, "blk.1.attn_output x1.02 / x0.98 alternating");
}

TEST(OracleSensitivity, RopeBaseChangedFails) {
  const MetaEdit rope = [](gguf::Writer& w) {
    w.set("llama.rope.freq_base", gguf::Value::f32(10000.0f * kRopeFactor));
  };
  for (const char* f : {"llama_f32", "llama_q8_0"}) expect_oracle_fails(f, rope, {}, "rope.freq_base 11000");
  const MetaEdit gemma_rope = [](gguf::Writer& w) {
    w.set("gemma2.rope.freq_base", gguf::Value::f32(10000.0f * kRopeFactor));
  };
  expect_oracle_fails("gemma2_q8_0", gemma_rope, {}, "rope.freq_base 11000");
}

TEST(OracleSensitivity, UneditedRewritePasses) {
  // The rewrite itself (dequantize, requantize untouched tensors as they were) changes nothing.
  const nlohmann::json fx = read_fixture("llama_q8_0");
  ASSERT_FALSE(fx.is_null());
  auto built = build_model(fx["spec"], [](gguf::Writer&) {}, {});
  ASSERT_TRUE(built.ok()) << built.error().message();
  EXPECT_EQ(sha256_hex(built->bytes), fx["sha256"].get<std::string>());
}
#endif

}  // namespace
}  // namespace paddock
