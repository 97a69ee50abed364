// CPU backend ops against straightforward double-precision references written here from the
// definitions (matmul over dequantized weights, rms norm, rope, paged causal/windowed/soft-capped
// GQA attention over scattered blocks, GLU). Random inputs from a fixed seed.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>

#include "../quant/simd_levels.h"
#include "backend/backend.h"
#include "quant/kernels.h"
#include "quant/quant.h"
#include "util/half.h"

namespace paddock::backend {
namespace {

std::vector<float> randv(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-scale, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

struct Fixture {
  std::unique_ptr<Backend> be = make_cpu_backend({2});
  std::vector<std::shared_ptr<Buffer>> keep;
  Tensor make(int64_t rows, int64_t cols, const std::vector<float>& data = {}, DType dt = DType::kF32) {
    auto b = be->alloc(dt, rows, cols);
    EXPECT_TRUE(b.ok());
    keep.push_back(*b);
    Tensor t = (*b)->tensor();
    if (!data.empty()) std::memcpy(t.data, data.data(), data.size() * 4);
    return t;
  }
  std::vector<float> read(const Tensor& t) {
    std::vector<float> out(static_cast<size_t>(t.rows * t.cols));
    be->read_rows(t, t.rows, out.data());
    return out;
  }
};

Batch one_seq(int32_t n, int32_t start = 0, std::vector<int32_t> blocks = {0, 1, 2, 3, 4, 5, 6, 7}) {
  Batch b;
  for (int32_t i = 0; i < n; ++i) {
    b.tokens.push_back(i % 7);
    b.positions.push_back(start + i);
  }
  b.seq_start = {0, n};
  b.seq_kv_len = {start + n};
  b.max_blocks = static_cast<int32_t>(blocks.size());
  b.block_tables = blocks;
  b.logit_rows = {n - 1};
  return b;
}

class MatmulTypes : public ::testing::TestWithParam<quant::Type> {};

TEST_P(MatmulTypes, MatchesDequantizedReference) {
  const quant::Type type = GetParam();
  const quant::TypeInfo* ti = quant::type_info(type);
  ASSERT_NE(ti, nullptr);
  if (!ti->can_quantize) GTEST_SKIP() << "no quantizer yet for " << ti->name;
  Fixture f;
  const int64_t k = 512, rows = 72;
  for (int64_t n : {1, 5, 70}) {
    auto wf = randv(static_cast<size_t>(rows * k), 1);
    auto rb = quant::row_size(type, k);
    ASSERT_TRUE(rb.ok());
    std::vector<uint8_t> wq(static_cast<size_t>(*rb * rows));
    for (int64_t r = 0; r < rows; ++r) quant::quantize_row(type, wf.data() + r * k, wq.data() + r * *rb, k);
    std::vector<float> wd(static_cast<size_t>(rows * k));
    for (int64_t r = 0; r < rows; ++r) quant::dequantize_row(type, wq.data() + r * *rb, wd.data() + r * k, k);
    auto w = f.be->upload_weight(type, rows, k, wq.data());
    ASSERT_TRUE(w.ok()) << w.error().message();
    auto xv = randv(static_cast<size_t>(n * k), 2);
    Tensor x = f.make(n, k, xv), out = f.make(n, rows);
    f.be->matmul(x, *w, nullptr, out);
    auto got = f.read(out);
    double err = 0, norm = 0;
    for (int64_t t = 0; t < n; ++t)
      for (int64_t r = 0; r < rows; ++r) {
        double ref = 0;
        for (int64_t c = 0; c < k; ++c) ref += static_cast<double>(wd[r * k + c]) * xv[t * k + c];
        err += (got[t * rows + r] - ref) * (got[t * rows + r] - ref);
        norm += ref * ref;
      }
    // F32: exact up to summation order. F16/BF16: activations are rounded to the weight type
    // (as ggml does). Quantized: activations are int8-quantized too.
    const double bound = type == quant::Type::F32 ? 1e-5 : type == quant::Type::F16 ? 1e-3 : type == quant::Type::BF16 ? 5e-3 : 2e-2;
    EXPECT_LT(std::sqrt(err / norm), bound) << ti->name << " n=" << n;
  }
}

// Every SIMD level (scalar, AVX2, AVX-512 with its packed int8 GEMM for many tokens) gives the
// same matmul up to float summation order: the integer block sums are exact at every level.
TEST_P(MatmulTypes, SimdLevelsAgree) {
  const quant::Type type = GetParam();
  const quant::TypeInfo* ti = quant::type_info(type);
  ASSERT_NE(ti, nullptr);
  Fixture f;
  const int64_t k = 1024, rows = 88;
  auto wf = randv(static_cast<size_t>(rows * k), 3);
  const uint64_t rb = *quant::row_size(type, k);
  std::vector<uint8_t> wq(static_cast<size_t>(rb * rows));
  for (int64_t r = 0; r < rows; ++r) quant::quantize_row(type, wf.data() + r * k, wq.data() + r * rb, k);
  auto w = f.be->upload_weight(type, rows, k, wq.data());
  ASSERT_TRUE(w.ok()) << w.error().message();
  const std::string best = quant::simd_level();
  for (int64_t n : {1, 19, 45}) {
    auto xv = randv(static_cast<size_t>(n * k), 4);
    Tensor x = f.make(n, k, xv);
    std::vector<std::vector<float>> outs;
    std::vector<std::string> levels;
    for (const char* level : {"scalar", "avx2", "avx512"}) {
      if (!quant::testing::use_simd_level(level)) continue;
      Tensor out = f.make(n, rows);
      f.be->matmul(x, *w, nullptr, out);
      outs.push_back(f.read(out));
      levels.emplace_back(level);
    }
    for (size_t l = 1; l < outs.size(); ++l)
      for (int64_t t = 0; t < n; ++t)
        for (int64_t r = 0; r < rows; ++r) {
          double mag = 0;
          for (int64_t c = 0; c < k; ++c) mag += std::fabs(static_cast<double>(wf[r * k + c]) * xv[t * k + c]);
          ASSERT_NEAR(outs[l][t * rows + r], outs[0][t * rows + r], 1e-5 * mag + 1e-6)
              << ti->name << " " << levels[l] << " vs scalar, n=" << n << " token " << t << " row " << r;
        }
  }
  ASSERT_TRUE(quant::set_simd_level_for_testing(best.c_str()));
}

// One SIMD switch for the whole CPU side: forcing a level in quant moves the backend's own
// kernels (attention's dot/axpy, F16 conversions) with it, so the scalar and AVX2 runs of the
// oracle tests run what they name.
TEST(CpuBackendSimd, FollowsTheQuantLevel) {
  Fixture f;
  const std::string best = quant::simd_level();
  for (const char* level : {"scalar", "avx2", "avx512"}) {
    if (!quant::testing::use_simd_level(level)) continue;
    EXPECT_EQ(f.be->name(), std::string("cpu/") + level);
  }
  ASSERT_TRUE(quant::set_simd_level_for_testing(best.c_str()));
  EXPECT_EQ(f.be->name(), "cpu/" + best);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, MatmulTypes,
                         ::testing::Values(quant::Type::F32, quant::Type::F16, quant::Type::BF16, quant::Type::Q8_0,
                                           quant::Type::Q4_0, quant::Type::Q4_1, quant::Type::Q5_0, quant::Type::Q5_1,
                                           quant::Type::Q2_K, quant::Type::Q3_K, quant::Type::Q4_K, quant::Type::Q5_K,
                                           quant::Type::Q6_K),
                         [](const auto& info) { return std::string(quant::type_info(info.param)->name); });

TEST(BackendOps, RmsNormGroupsAndWeight) {
  Fixture f;
  const int64_t n = 3, c = 64;
  auto xv = randv(n * c, 3), wv = randv(16, 4);
  Tensor x = f.make(n, c, xv), out = f.make(n, c);
  Weight w{wv.data(), quant::Type::F32, 1, 16, 64};
  f.be->rms_norm(x, &w, 1e-6f, out, 16);
  auto got = f.read(out);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t g = 0; g < c; g += 16) {
      double ss = 0;
      for (int64_t i = 0; i < 16; ++i) ss += xv[r * c + g + i] * xv[r * c + g + i];
      const double s = 1.0 / std::sqrt(ss / 16 + 1e-6);
      for (int64_t i = 0; i < 16; ++i) EXPECT_NEAR(got[r * c + g + i], xv[r * c + g + i] * s * wv[i], 1e-5);
    }
}

TEST(BackendOps, RopeNormalAndNeox) {
  for (bool neox : {false, true}) {
    Fixture f;
    const int32_t n_head = 2, hd = 8;
    auto xv = randv(3 * n_head * hd, 5);
    Tensor x = f.make(3, n_head * hd, xv);
    Batch b = one_seq(3, 5);
    ASSERT_TRUE(f.be->set_step(b).ok());
    RopeParams p;
    p.n_dims = 6;  // partial rotation: the last 2 dims pass through
    p.neox = neox;
    p.freq_base = 100.0f;
    f.be->rope(x, n_head, hd, p);
    auto got = f.read(x);
    for (int t = 0; t < 3; ++t)
      for (int h = 0; h < n_head; ++h) {
        const float* in = xv.data() + (t * n_head + h) * hd;
        const float* o = got.data() + (t * n_head + h) * hd;
        for (int i = 0; i < 3; ++i) {
          const double th = (5 + t) * std::pow(100.0, -2.0 * i / 6);
          const int a = neox ? i : 2 * i, c2 = neox ? i + 3 : 2 * i + 1;
          EXPECT_NEAR(o[a], in[a] * std::cos(th) - in[c2] * std::sin(th), 1e-4);
          EXPECT_NEAR(o[c2], in[a] * std::sin(th) + in[c2] * std::cos(th), 1e-4);
        }
        EXPECT_EQ(o[6], in[6]);
        EXPECT_EQ(o[7], in[7]);
      }
  }
}

// Reference attention over the full K/V history of one sequence.
std::vector<double> ref_attention(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                                  int n_tok, int start, int nh, int nkv, int hd, float scale, float cap, int window) {
  std::vector<double> out(static_cast<size_t>(n_tok * nh * hd));
  for (int t = 0; t < n_tok; ++t) {
    const int pos = start + t;
    for (int h = 0; h < nh; ++h) {
      const int kh = h / (nh / nkv);
      std::vector<double> s;
      for (int j = 0; j <= pos; ++j) {
        if (window > 0 && pos - j >= window) {
          s.push_back(-INFINITY);
          continue;
        }
        double d = 0;
        for (int i = 0; i < hd; ++i) d += q[(t * nh + h) * hd + i] * static_cast<double>(k[(j * nkv + kh) * hd + i]);
        d *= scale;
        if (cap > 0) d = cap * std::tanh(d / cap);
        s.push_back(d);
      }
      double mx = -INFINITY, sum = 0;
      for (double x : s) mx = std::max(mx, x);
      for (double& x : s) sum += (x = std::exp(x - mx));
      for (int j = 0; j <= pos; ++j)
        for (int i = 0; i < hd; ++i) out[(t * nh + h) * hd + i] += s[j] / sum * v[(j * nkv + kh) * hd + i];
    }
  }
  return out;
}

TEST(BackendOps, PagedAttentionCausalWindowSoftcapGqa) {
  for (int window : {0, 5}) {
    for (float cap : {0.0f, 3.0f}) {
      Fixture f;
      const int nh = 4, nkv = 2, hd = 16, bs = 4, total = 19;
      // KV history in F32 so the reference sees exactly what is stored.
      Tensor kc = f.make(8 * bs, nkv * hd), vc = f.make(8 * bs, nkv * hd);
      KvLayer kv{kc, vc};
      auto qa = randv(total * nh * hd, 10, 2.0f), ka = randv(total * nkv * hd, 11, 2.0f), va = randv(total * nkv * hd, 12);
      AttnParams p{nh, nkv, hd, 0.3f, cap, window};
      const std::vector<int32_t> blocks = {6, 1, 4, 0, 7};  // scattered physical blocks
      // Step 1: 11 tokens (prefill), step 2: 1 token, step 3: 7 tokens.
      int start = 0;
      for (int n : {11, 1, 7}) {
        Batch b = one_seq(n, start, blocks);
        ASSERT_TRUE(f.be->set_step(b).ok());
        auto slice = [&](const std::vector<float>& a, int w) {
          return std::vector<float>(a.begin() + start * w, a.begin() + (start + n) * w);
        };
        Tensor q = f.make(n, nh * hd, slice(qa, nh * hd)), k = f.make(n, nkv * hd, slice(ka, nkv * hd)),
               v = f.make(n, nkv * hd, slice(va, nkv * hd)), out = f.make(n, nh * hd);
        f.be->attention(q, k, v, kv, bs, p, out);
        auto got = f.read(out);
        auto ref = ref_attention(slice(qa, nh * hd), ka, va, n, start, nh, nkv, hd, 0.3f, cap, window);
        // q and the probabilities are rounded to fp16 on the way (as in llama.cpp).
        for (size_t i = 0; i < ref.size(); ++i) ASSERT_NEAR(got[i], ref[i], 3e-3) << "window " << window << " i " << i;
        start += n;
      }
    }
  }
}

TEST(BackendOps, AttentionF16AndQ8CacheClose) {
  for (DType dt : {DType::kF16, DType::kQ8_0}) {
    Fixture f;
    const int nh = 2, nkv = 1, hd = 32, bs = 16, n = 20;
    Tensor kc = f.make(2 * bs, nkv * hd, {}, dt), vc = f.make(2 * bs, nkv * hd, {}, dt);
    auto qa = randv(n * nh * hd, 20), ka = randv(n * nkv * hd, 21), va = randv(n * nkv * hd, 22);
    Batch b = one_seq(n, 0, {1, 0});
    ASSERT_TRUE(f.be->set_step(b).ok());
    Tensor q = f.make(n, nh * hd, qa), k = f.make(n, nkv * hd, ka), v = f.make(n, nkv * hd, va), out = f.make(n, nh * hd);
    f.be->attention(q, k, v, KvLayer{kc, vc}, bs, AttnParams{nh, nkv, hd, 0.2f, 0, 0}, out);
    auto got = f.read(out);
    auto ref = ref_attention(qa, ka, va, n, 0, nh, nkv, hd, 0.2f, 0, 0);
    const double tol = dt == DType::kF16 ? 2e-3 : 3e-2;
    for (size_t i = 0; i < ref.size(); ++i) ASSERT_NEAR(got[i], ref[i], tol);
  }
}

TEST(BackendOps, GluAddScaleSoftcap) {
  Fixture f;
  auto g = randv(40, 30, 3.0f), u = randv(40, 31);
  Tensor tg = f.make(4, 10, g), tu = f.make(4, 10, u), out = f.make(4, 10);
  f.be->glu(tg, tu, Act::kSilu, out);
  auto s = f.read(out);
  f.be->glu(tg, tu, Act::kGeluTanh, out);
  auto gl = f.read(out);
  for (int i = 0; i < 40; ++i) {
    EXPECT_NEAR(s[i], g[i] / (1 + std::exp(-g[i])) * u[i], 1e-5);
    const double x = g[i];
    // GELU goes through fp16 like ggml's table: relative error up to ~1e-3.
    EXPECT_NEAR(gl[i], 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))) * u[i],
                2e-3 * std::fabs(x) + 1e-4);
  }
  f.be->softcap(tg, 2.0f);
  auto c = f.read(tg);
  for (int i = 0; i < 40; ++i) EXPECT_NEAR(c[i], 2.0 * std::tanh(g[i] / 2.0), 1e-6);
}

// validate_step is the one check of a step (the model runs it before any backend sees the batch).
TEST(BackendOps, ValidateStepRejectsMalformedBatches) {
  const StepBounds bounds{10, 8, 16};  // vocabulary 10, 8 KV blocks of 16
  ASSERT_TRUE(validate_step(one_seq(3), bounds).ok());
  auto bad = [&](auto&& mutate, const char* what) {
    Batch b = one_seq(3);
    mutate(b);
    EXPECT_FALSE(validate_step(b, bounds).ok()) << what;
  };
  bad([](Batch& b) { b.positions[1] = 7; }, "positions not contiguous");
  bad([](Batch& b) { b.logit_rows = {3}; }, "logit row past the step");
  bad([](Batch& b) { b.seq_start = {0, 2}; }, "seq_start not covering the tokens");
  bad([](Batch& b) { b.block_tables.pop_back(); }, "block table of the wrong size");
  bad([](Batch& b) { b.tokens[0] = 10; }, "token outside the vocabulary");
  bad([](Batch& b) { b.block_tables[0] = 8; }, "block outside the pool");
  bad([](Batch& b) { b.seq_kv_len = {200}; }, "KV length past the block table");
  bad([](Batch& b) { b.tokens.clear(); b.positions.clear(); b.seq_start = {0, 0}; }, "empty step");
}

}  // namespace
}  // namespace paddock::backend
