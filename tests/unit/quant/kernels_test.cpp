// quant kernels: every SIMD level against the scalar kernels, and the scalar kernels against the
// reference dequantizers (a float dot of dequantized weights and dequantized activations).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "quant/kernels.h"
#include "quant/quant.h"
#include "simd_levels.h"
#include "util/half.h"

namespace paddock::quant {
namespace {

using testing::use_simd_level;

const Type kDotTypes[] = {Type::F32,  Type::F16,  Type::BF16, Type::Q8_0, Type::Q4_0, Type::Q4_1,
                          Type::Q5_0, Type::Q5_1, Type::Q2_K, Type::Q3_K, Type::Q4_K, Type::Q5_K,
                          Type::Q6_K, Type::Q8_K, Type::IQ4_NL, Type::IQ4_XS, Type::MXFP4};

std::vector<float> gaussian(int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(rng);
  return v;
}

// n_rows weight rows of type t, quantized from Gaussian data (random valid blocks for the types
// we only read: IQ4_XS and MXFP4).
std::vector<uint8_t> make_weights(Type t, int64_t n_rows, int64_t k, std::mt19937& rng) {
  const uint64_t rs = *row_size(t, k);
  std::vector<uint8_t> w(rs * static_cast<uint64_t>(n_rows));
  if (type_info(t)->can_quantize) {
    for (int64_t r = 0; r < n_rows; ++r) {
      auto x = gaussian(k, rng);
      quantize_row(t, x.data(), w.data() + r * rs, k);
    }
    return w;
  }
  for (auto& b : w) b = static_cast<uint8_t>(rng());
  const int64_t bs = type_info(t)->type_size;
  for (size_t off = 0; off < w.size(); off += static_cast<size_t>(bs)) {
    if (t == Type::IQ4_XS) {
      const uint16_t d = fp32_to_fp16(0.01f * static_cast<float>(rng() % 100 + 1) / 100.0f);
      std::memcpy(&w[off], &d, 2);
    } else if (t == Type::MXFP4) {
      w[off] = static_cast<uint8_t>(120 + rng() % 8);
    }
  }
  return w;
}

struct Case {
  Type type;
  std::vector<uint8_t> w;
  std::vector<std::vector<uint8_t>> act;
  uint64_t w_stride;
  int64_t n_rows, k;
};

Case make_case(Type t, int64_t n_rows, int64_t k, int n_act, uint32_t seed) {
  std::mt19937 rng(seed);
  Case c{t, make_weights(t, n_rows, k, rng), {}, *row_size(t, k), n_rows, k};
  for (int a = 0; a < n_act; ++a) {
    auto x = gaussian(k, rng);
    std::vector<uint8_t> q(act_row_size(t, k));
    quantize_act_row(t, x.data(), q.data(), k);
    c.act.push_back(std::move(q));
  }
  return c;
}

std::vector<float> run(const Case& c, int a) {
  std::vector<float> out(static_cast<size_t>(c.n_rows));
  dot_rows(c.type, c.w.data(), c.w_stride, c.n_rows, c.act[static_cast<size_t>(a)].data(), c.k, out.data());
  return out;
}

// A bound on |dot| used to scale tolerances: sum |w_i| |x_i| from the dequantized values.
std::vector<double> reference(const Case& c, int a, std::vector<double>* abs_sum) {
  std::vector<float> wf(static_cast<size_t>(c.k)), xf(static_cast<size_t>(c.k));
  dequantize_row(act_type(c.type), c.act[static_cast<size_t>(a)].data(), xf.data(), c.k);
  std::vector<double> out;
  abs_sum->clear();
  for (int64_t r = 0; r < c.n_rows; ++r) {
    dequantize_row(c.type, c.w.data() + r * c.w_stride, wf.data(), c.k);
    double s = 0, sa = 0;
    for (int64_t i = 0; i < c.k; ++i) {
      s += double(wf[i]) * xf[i];
      sa += std::fabs(double(wf[i]) * xf[i]);
    }
    out.push_back(s);
    abs_sum->push_back(sa);
  }
  return out;
}

class Kernels : public ::testing::TestWithParam<Type> {
 protected:
  void TearDown() override { set_simd_level_for_testing("avx512") || set_simd_level_for_testing("avx2"); }
};

TEST_P(Kernels, ScalarMatchesReferenceDequantize) {
  const Type t = GetParam();
  ASSERT_TRUE(set_simd_level_for_testing("scalar"));
  ASSERT_TRUE(has_dot(t));
  for (int64_t k : {256, 2048}) {
    Case c = make_case(t, 7, k, 2, 42 + static_cast<uint32_t>(k));
    for (int a = 0; a < 2; ++a) {
      std::vector<double> abs_sum;
      auto ref = reference(c, a, &abs_sum);
      auto got = run(c, a);
      // Q8_1 stores d * sum(q) as fp16, so the min term of Q4_1/Q5_1 carries fp16 rounding.
      const double rel = act_type(t) == Type::Q8_1 ? 1e-3 : 2e-5;
      for (int64_t r = 0; r < c.n_rows; ++r)
        EXPECT_NEAR(got[r], ref[r], rel * abs_sum[r] + 1e-6) << type_info(t)->name << " k=" << k << " row " << r;
    }
  }
}

TEST_P(Kernels, EverySimdLevelMatchesScalar) {
  const Type t = GetParam();
  const int64_t n_rows = 37, k = 4096;
  Case c = make_case(t, n_rows, k, 11, 7);
  ASSERT_TRUE(set_simd_level_for_testing("scalar"));
  std::vector<std::vector<float>> want;
  for (int a = 0; a < 11; ++a) want.push_back(run(c, a));
  std::vector<double> abs_sum;
  (void)reference(c, 0, &abs_sum);
  int levels_run = 0;
  for (const char* level : {"avx2", "avx512"}) {
    if (!use_simd_level(level)) continue;
    ++levels_run;
    ASSERT_STREQ(simd_level(), level);
    // activation quantization must agree too (SIMD levels may have their own quantizers)
    std::mt19937 rng(3);
    auto x = gaussian(k, rng);
    std::vector<uint8_t> qa(act_row_size(t, k)), qb(act_row_size(t, k));
    quantize_act_row(t, x.data(), qa.data(), k);
    for (int a = 0; a < 5; ++a) {
      auto got = run(c, a);
      for (int64_t r = 0; r < n_rows; ++r)
        EXPECT_NEAR(got[r], want[a][r], 1e-5 * abs_sum[r] + 1e-5) << level << " " << type_info(t)->name << " row " << r;
    }
    // multi-activation variant == single rows, with odd counts and strides; from 16 rows on the
    // AVX-512 level takes its packed int8 GEMM (partial 16-row panels and 8-row tiles included)
    for (int n_act : {1, 3, 4, 5, 8, 11, 16, 29}) {
      std::vector<uint8_t> acts;
      const uint64_t as = act_row_size(t, k) + 64;
      acts.resize(as * static_cast<uint64_t>(n_act));
      for (int a = 0; a < n_act; ++a) std::memcpy(&acts[a * as], c.act[a % 11].data(), c.act[a % 11].size());
      const int64_t os = n_rows + 3;
      std::vector<float> out(static_cast<size_t>(os * n_act), -12345.0f);
      dot_rows_multi(t, c.w.data(), c.w_stride, n_rows, acts.data(), as, n_act, k, out.data(), os);
      for (int a = 0; a < n_act; ++a)
        for (int64_t r = 0; r < n_rows; ++r)
          EXPECT_NEAR(out[a * os + r], want[a % 11][r], 1e-5 * abs_sum[r] + 1e-5)
              << level << " multi " << n_act << " " << type_info(t)->name;
      EXPECT_EQ(out[os - 1], -12345.0f);  // padding untouched
    }
    ASSERT_TRUE(set_simd_level_for_testing("scalar"));
    quantize_act_row(t, x.data(), qb.data(), k);
    ASSERT_TRUE(set_simd_level_for_testing(level));
    if (act_type(t) != Type::F32) {
      std::vector<float> da(static_cast<size_t>(k)), db(static_cast<size_t>(k));
      dequantize_row(act_type(t), qa.data(), da.data(), k);
      dequantize_row(act_type(t), qb.data(), db.data(), k);
      for (int64_t i = 0; i < k; ++i) ASSERT_NEAR(da[i], db[i], 0.02f) << level << " act " << i;
    }
  }
  RecordProperty("levels", levels_run);
}

TEST_P(Kernels, StridedRowsAndOddCounts) {
  // Rows that are not packed (stride > row size) and row counts that leave SIMD remainders.
  const Type t = GetParam();
  const int64_t k = 512;
  for (int64_t n_rows : {1, 2, 3, 5, 9, 17}) {
    Case c = make_case(t, n_rows, k, 1, 11);
    const uint64_t stride = c.w_stride + 48;
    std::vector<uint8_t> wide(stride * static_cast<uint64_t>(n_rows), 0xEE);
    for (int64_t r = 0; r < n_rows; ++r) std::memcpy(&wide[r * stride], &c.w[r * c.w_stride], c.w_stride);
    auto packed = run(c, 0);
    std::vector<float> out(static_cast<size_t>(n_rows) + 1, -7.0f);
    dot_rows(t, wide.data(), stride, n_rows, c.act[0].data(), k, out.data());
    for (int64_t r = 0; r < n_rows; ++r) EXPECT_EQ(out[r], packed[r]) << type_info(t)->name;
    EXPECT_EQ(out[n_rows], -7.0f);
  }
}

TEST_P(Kernels, ArbitraryBytesAreSafe) {
  // Weight bytes straight from a (possibly hostile) file: every bit pattern, NaN/inf scales
  // included, must dequantize and dot without traps or sanitizer reports at every level.
  const Type t = GetParam();
  const int64_t k = 512, n_rows = 8;
  std::mt19937 rng(77);
  std::vector<uint8_t> w(*row_size(t, k) * n_rows);
  for (auto& b : w) b = static_cast<uint8_t>(rng());
  std::vector<float> deq(static_cast<size_t>(k));
  for (int64_t r = 0; r < n_rows; ++r) dequantize_row(t, w.data() + r * *row_size(t, k), deq.data(), k);
  std::vector<float> x = gaussian(k, rng);
  x[3] = NAN;
  x[9] = INFINITY;
  for (const char* level : {"scalar", "avx2", "avx512"}) {
    if (!use_simd_level(level)) continue;
    std::vector<uint8_t> act(act_row_size(t, k));
    quantize_act_row(t, x.data(), act.data(), k);
    std::vector<float> out(static_cast<size_t>(n_rows));
    dot_rows(t, w.data(), *row_size(t, k), n_rows, act.data(), k, out.data());
    dot_rows_multi(t, w.data(), *row_size(t, k), n_rows, act.data(), 0, 2, k, out.data(), 0);
    std::vector<float> out_many(static_cast<size_t>(n_rows * 20));
    dot_rows_multi(t, w.data(), *row_size(t, k), n_rows, act.data(), 0, 20, k, out_many.data(), n_rows);
  }
}

INSTANTIATE_TEST_SUITE_P(Types, Kernels, ::testing::ValuesIn(kDotTypes),
                         [](const auto& info) { return std::string(type_info(info.param)->name); });

TEST(KernelsBatch, CompositionDoesNotChangeResults) {
  // A row's result must not depend on how many activation rows share the call (batched decoding
  // == solo, bit for bit): dot_rows_multi at any count equals dot_rows, at every level. (Float
  // weights are exempt: their tiles keep more FMA chains for small counts.)
  for (Type t : kDotTypes) {
    if (act_type(t) == Type::F32) continue;
    const int64_t n_rows = 35, k = 1024;
    Case c = make_case(t, n_rows, k, 11, 21);
    for (const char* level : {"scalar", "avx2", "avx512"}) {
      if (!use_simd_level(level)) continue;
      std::vector<std::vector<float>> solo;
      for (int a = 0; a < 11; ++a) solo.push_back(run(c, a));
      for (int n_act : {2, 7, 16, 24, 33}) {
        const uint64_t as = act_row_size(t, k);
        std::vector<uint8_t> acts(as * static_cast<uint64_t>(n_act));
        for (int a = 0; a < n_act; ++a) std::memcpy(&acts[a * as], c.act[a % 11].data(), as);
        std::vector<float> out(static_cast<size_t>(n_rows * n_act));
        dot_rows_multi(t, c.w.data(), c.w_stride, n_rows, acts.data(), as, n_act, k, out.data(), n_rows);
        for (int a = 0; a < n_act; ++a)
          for (int64_t r = 0; r < n_rows; ++r)
            ASSERT_EQ(out[a * n_rows + r], solo[a % 11][r]) << level << " " << type_info(t)->name << " n_act " << n_act;
      }
    }
    }
  set_simd_level_for_testing("avx512") || set_simd_level_for_testing("avx2");
}

TEST(KernelsDispatch, VeryLongRows) {
  // Rows longer than the kernels' stack buffers for activation scales (16384 elements).
  for (Type t : {Type::Q8_0, Type::Q4_0, Type::Q4_1}) {
    const int64_t k = 32 * 600, n_rows = 3;
    Case c = make_case(t, n_rows, k, 5, 21);
    ASSERT_TRUE(set_simd_level_for_testing("scalar"));
    std::vector<std::vector<float>> want;
    for (int a = 0; a < 5; ++a) want.push_back(run(c, a));
    for (const char* level : {"avx2", "avx512"}) {
      if (!use_simd_level(level)) continue;
      std::vector<uint8_t> acts;
      const uint64_t as = act_row_size(t, k);
      for (int a = 0; a < 5; ++a) acts.insert(acts.end(), c.act[a].begin(), c.act[a].end());
      std::vector<float> out(static_cast<size_t>(n_rows * 5));
      dot_rows_multi(t, c.w.data(), c.w_stride, n_rows, acts.data(), as, 5, k, out.data(), n_rows);
      for (int a = 0; a < 5; ++a) {
        auto single = run(c, a);
        for (int64_t r = 0; r < n_rows; ++r) {
          EXPECT_NEAR(out[a * n_rows + r], want[a][r], 1e-4 * (std::fabs(want[a][r]) + 10)) << level;
          EXPECT_NEAR(single[r], want[a][r], 1e-4 * (std::fabs(want[a][r]) + 10)) << level;
        }
      }
    }
  }
  set_simd_level_for_testing("avx512") || set_simd_level_for_testing("avx2");
}

// Every level the CPU has (by /proc/cpuinfo) is one the tests above really run; a level it lacks
// shows as a skipped test here. On an AVX-512 host the AVX-512 kernels can never be left untested.
class KernelsLevel : public ::testing::TestWithParam<const char*> {};

TEST_P(KernelsLevel, RunWhereverTheCpuHasIt) {
  const char* level = GetParam();
  if (testing::cpuinfo_flags().empty()) GTEST_SKIP() << "no /proc/cpuinfo flags to tell which levels this CPU has";
  if (!testing::cpu_has_level(level)) GTEST_SKIP() << "this CPU lacks " << level << ": its kernels are not tested here";
  EXPECT_TRUE(set_simd_level_for_testing(level)) << "this CPU has " << level << " but the dispatcher refuses it";
  EXPECT_STREQ(simd_level(), level);
  set_simd_level_for_testing("avx512") || set_simd_level_for_testing("avx2");
}

INSTANTIATE_TEST_SUITE_P(Levels, KernelsLevel, ::testing::Values("avx2", "avx512"),
                         [](const auto& info) { return std::string(info.param); });

TEST(KernelsDispatch, LevelsAndActTypes) {
  const std::string best = simd_level();
  EXPECT_TRUE(best == "avx512" || best == "avx2" || best == "scalar");
  EXPECT_TRUE(set_simd_level_for_testing("scalar"));
  EXPECT_STREQ(simd_level(), "scalar");
  EXPECT_FALSE(set_simd_level_for_testing("neon"));
  EXPECT_TRUE(set_simd_level_for_testing(best.c_str()));
  EXPECT_EQ(act_type(Type::Q4_K), Type::Q8_K);
  EXPECT_EQ(act_type(Type::Q6_K), Type::Q8_K);
  EXPECT_EQ(act_type(Type::Q8_0), Type::Q8_0);
  EXPECT_EQ(act_type(Type::Q4_1), Type::Q8_1);
  EXPECT_EQ(act_type(Type::F16), Type::F32);
  EXPECT_EQ(act_row_size(Type::Q4_K, 2048), 8u * 292);
  EXPECT_EQ(act_row_size(Type::Q8_0, 64), 68u);
  EXPECT_FALSE(has_dot(Type::IQ2_XXS));
  EXPECT_FALSE(has_dot(Type::Q8_1));
}

TEST(KernelsDispatch, ActivationQuantizationError) {
  std::mt19937 rng(1);
  const int64_t k = 4096;
  auto x = gaussian(k, rng);
  for (Type w : {Type::Q8_0, Type::Q4_1, Type::Q4_K}) {
    std::vector<uint8_t> q(act_row_size(w, k));
    quantize_act_row(w, x.data(), q.data(), k);
    std::vector<float> y(static_cast<size_t>(k));
    dequantize_row(act_type(w), q.data(), y.data(), k);
    double num = 0, den = 0;
    for (int64_t i = 0; i < k; ++i) {
      num += (x[i] - y[i]) * (x[i] - y[i]);
      den += x[i] * x[i];
    }
    EXPECT_LT(std::sqrt(num / den), 0.01) << type_info(w)->name;
  }
}

// ggml's activation rounding (what llama.cpp does, so only summation order separates us): ties to
// even, the Q8_K scale signed by the largest-magnitude value, NaN to 0, F16/BF16 weights meeting
// activations rounded to their own type. Values chosen so x * scale lands exactly on halves.
TEST(KernelsDispatch, ActivationRoundingIsGgmls) {
  std::vector<float> x(256, 0.0f);
  x[0] = 127.0f;  // amax: scale exactly 1
  x[1] = 2.5f, x[2] = 3.5f, x[3] = -2.5f, x[4] = -0.5f, x[5] = std::nanf("");
  std::vector<uint8_t> q(act_row_size(Type::Q8_0, 256));
  quantize_act_row(Type::Q8_0, x.data(), q.data(), 256);
  const auto* b0 = reinterpret_cast<const int8_t*>(q.data() + 2);
  EXPECT_EQ(int{b0[0]}, 127);
  EXPECT_EQ(int{b0[1]}, 2);
  EXPECT_EQ(int{b0[2]}, 4);
  EXPECT_EQ(int{b0[3]}, -2);
  EXPECT_EQ(int{b0[4]}, 0);
  EXPECT_EQ(int{b0[5]}, 0);
  EXPECT_EQ(fp16_to_fp32(*reinterpret_cast<const uint16_t*>(q.data())), 1.0f);

  std::vector<uint8_t> qk(act_row_size(Type::Q4_K, 256));
  quantize_act_row(Type::Q4_K, x.data(), qk.data(), 256);
  float d;
  std::memcpy(&d, qk.data(), 4);
  const auto* k8 = reinterpret_cast<const int8_t*>(qk.data() + 4);
  EXPECT_EQ(d, -1.0f);  // -max/127, max = +127
  EXPECT_EQ(int{k8[0]}, -127);
  EXPECT_EQ(int{k8[1]}, -2);
  EXPECT_EQ(int{k8[2]}, -4);
  EXPECT_EQ(int{k8[3]}, 2);
  EXPECT_EQ(int{k8[5]}, 0);
  int16_t bsum0;
  std::memcpy(&bsum0, qk.data() + 4 + 256, 2);
  EXPECT_EQ(bsum0, -127 - 2 - 4 + 2 + 0 + 0);
  // A value as large as the first maximum but of the other sign: the first one sets the sign.
  x[1] = -127.0f;
  quantize_act_row(Type::Q4_K, x.data(), qk.data(), 256);
  EXPECT_EQ(int{k8[1]}, 127);

  const float h[2] = {1.0f + 1.0f / 4096, 1.0f + 3.0f / 4096};  // F16 halfway cases: to even
  float r[2];
  quantize_act_row(Type::F16, h, r, 2);
  EXPECT_EQ(r[0], 1.0f);
  EXPECT_EQ(r[1], 1.0f + 4.0f / 4096);
  quantize_act_row(Type::BF16, h, r, 2);
  EXPECT_EQ(r[0], 1.0f);
  quantize_act_row(Type::F32, h, r, 2);
  EXPECT_EQ(r[0], h[0]);
}

}  // namespace
}  // namespace paddock::quant
