// quant: the type table, row sizes, file types, and round trips of the reference quantizers on
// Gaussian data (relative RMS error bounds per type; exactness where the format is exact).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <string>
#include <cstring>
#include <random>
#include <vector>

#include "quant/quant.h"
#include "util/half.h"

namespace paddock::quant {
namespace {

std::vector<float> gaussian(int64_t n, uint32_t seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(rng);
  return v;
}

std::vector<uint8_t> quantize(Type t, const std::vector<float>& x, const float* imatrix = nullptr) {
  std::vector<uint8_t> q(*row_size(t, static_cast<int64_t>(x.size())));
  quantize_row(t, x.data(), q.data(), static_cast<int64_t>(x.size()), imatrix);
  return q;
}

std::vector<float> dequantize(Type t, const std::vector<uint8_t>& q, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n));
  dequantize_row(t, q.data(), y.data(), n);
  return y;
}

double rel_rms(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(a[i]) * a[i];
  }
  return std::sqrt(num / den);
}

TEST(QuantTable, BlockSizesMatchGgml) {
  // {id, block elements, block bytes} from ggml-common.h's block structs.
  struct Row { Type t; int64_t bs, bytes; };
  const Row rows[] = {
      {Type::F32, 1, 4},        {Type::F16, 1, 2},       {Type::BF16, 1, 2},      {Type::Q4_0, 32, 18},
      {Type::Q4_1, 32, 20},     {Type::Q5_0, 32, 22},    {Type::Q5_1, 32, 24},    {Type::Q8_0, 32, 34},
      {Type::Q8_1, 32, 36},     {Type::Q2_K, 256, 84},   {Type::Q3_K, 256, 110},  {Type::Q4_K, 256, 144},
      {Type::Q5_K, 256, 176},   {Type::Q6_K, 256, 210},  {Type::Q8_K, 256, 292},  {Type::IQ2_XXS, 256, 66},
      {Type::IQ2_XS, 256, 74},  {Type::IQ3_XXS, 256, 98}, {Type::IQ1_S, 256, 50}, {Type::IQ4_NL, 32, 18},
      {Type::IQ3_S, 256, 110},  {Type::IQ2_S, 256, 82},  {Type::IQ4_XS, 256, 136}, {Type::I8, 1, 1},
      {Type::I16, 1, 2},        {Type::I32, 1, 4},       {Type::I64, 1, 8},       {Type::F64, 1, 8},
      {Type::IQ1_M, 256, 56},   {Type::TQ1_0, 256, 54},  {Type::TQ2_0, 256, 66},  {Type::MXFP4, 32, 17},
  };
  for (const auto& r : rows) {
    const TypeInfo* info = type_info(r.t);
    ASSERT_NE(info, nullptr) << static_cast<int>(r.t);
    EXPECT_EQ(info->block_size, r.bs) << info->name;
    EXPECT_EQ(info->type_size, r.bytes) << info->name;
  }
  for (uint32_t removed : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u, 40u, 1000u}) EXPECT_EQ(type_info(removed), nullptr);
}

TEST(QuantTable, CapabilitiesAndNames) {
  for (Type t : {Type::F32, Type::F16, Type::BF16, Type::Q8_0, Type::Q4_0, Type::Q4_1, Type::Q5_0, Type::Q5_1,
                 Type::Q8_K, Type::Q2_K, Type::Q3_K, Type::Q4_K, Type::Q5_K, Type::Q6_K, Type::IQ4_NL}) {
    EXPECT_TRUE(type_info(t)->can_dequantize) << type_info(t)->name;
    EXPECT_TRUE(type_info(t)->can_quantize) << type_info(t)->name;
  }
  for (Type t : {Type::IQ4_XS, Type::MXFP4, Type::Q8_1}) {
    EXPECT_TRUE(type_info(t)->can_dequantize);
    EXPECT_FALSE(type_info(t)->can_quantize);
  }
  for (Type t : {Type::IQ2_XXS, Type::IQ1_M, Type::TQ1_0, Type::I8}) EXPECT_FALSE(type_info(t)->can_dequantize);
  EXPECT_EQ(type_from_name("Q4_K"), Type::Q4_K);
  EXPECT_EQ(type_from_name("q8_0"), Type::Q8_0);
  EXPECT_EQ(type_from_name("BF16"), Type::BF16);
  EXPECT_EQ(type_from_name("q4_k_m"), std::nullopt);
}

TEST(QuantTable, RowSize) {
  EXPECT_EQ(*row_size(Type::Q4_K, 4096), 16u * 144);
  EXPECT_EQ(*row_size(Type::F16, 3), 6u);
  EXPECT_FALSE(row_size(Type::Q4_K, 100).ok());
  EXPECT_FALSE(row_size(Type::Q8_0, -32).ok());
  EXPECT_FALSE(row_size(static_cast<Type>(5), 32).ok());
  EXPECT_FALSE(row_size(Type::F64, int64_t{1} << 62).ok());  // overflow
}

TEST(QuantFileType, NamesAndBases) {
  struct Row { uint32_t id; const char* name; std::optional<Type> base; };
  const Row rows[] = {{0, "F32", Type::F32},     {1, "F16", Type::F16},     {2, "Q4_0", Type::Q4_0},
                      {3, "Q4_1", Type::Q4_1},   {7, "Q8_0", Type::Q8_0},   {8, "Q5_0", Type::Q5_0},
                      {9, "Q5_1", Type::Q5_1},   {10, "Q2_K", Type::Q2_K},  {11, "Q3_K_S", Type::Q3_K},
                      {12, "Q3_K_M", Type::Q3_K}, {13, "Q3_K_L", Type::Q3_K}, {14, "Q4_K_S", Type::Q4_K},
                      {15, "Q4_K_M", Type::Q4_K}, {16, "Q5_K_S", Type::Q5_K}, {17, "Q5_K_M", Type::Q5_K},
                      {18, "Q6_K", Type::Q6_K},  {32, "BF16", Type::BF16},  {30, "IQ4_XS", std::nullopt}};
  for (const auto& r : rows) {
    EXPECT_EQ(file_type_name(r.id), r.name);
    EXPECT_EQ(file_type_base(r.id), r.base) << r.name;
    EXPECT_EQ(file_type_from_name(r.name), r.id);
  }
  EXPECT_EQ(file_type_name(4), "unknown");
  EXPECT_EQ(file_type_name(9999), "unknown");
  EXPECT_EQ(file_type_from_name("q4_k_m"), 15u);
  EXPECT_EQ(file_type_from_name("Q4_K_X"), std::nullopt);
}

TEST(QuantFileType, Q4KMMix) {
  // Llama-3.2-1B shape: 16 layers, GQA 4, tied embeddings.
  MixOptions o;
  o.n_cols = 2048;
  o.n_gqa = 4;
  o.tied_embeddings = true;
  const int n = 16;
  EXPECT_EQ(tensor_type_for(15, "token_embd.weight", -1, n, o), Type::Q6_K);
  EXPECT_EQ(tensor_type_for(15, "blk.0.attn_q.weight", 0, n, o), Type::Q4_K);
  EXPECT_EQ(tensor_type_for(15, "blk.0.ffn_gate.weight", 0, n, o), Type::Q4_K);
  // use-more-bits layers of 16: 0, 1 (first eighth), 14, 15 (last eighth), and 4, 7, 10, 13.
  const std::vector<int> more = {0, 1, 4, 7, 10, 13, 14, 15};
  for (int l = 0; l < n; ++l) {
    const bool m = std::find(more.begin(), more.end(), l) != more.end();
    const std::string v = "blk." + std::to_string(l) + ".attn_v.weight";
    const std::string d = "blk." + std::to_string(l) + ".ffn_down.weight";
    EXPECT_EQ(tensor_type_for(15, v, l, n, o), m ? Type::Q6_K : Type::Q4_K) << v;
    MixOptions od = o;
    od.n_cols = 8192;
    EXPECT_EQ(tensor_type_for(15, d, l, n, od), m ? Type::Q6_K : Type::Q4_K) << d;
    EXPECT_EQ(tensor_type_for(14, d, l, n, od), l < 2 ? Type::Q5_K : Type::Q4_K) << d;  // Q4_K_S
  }
  MixOptions norm = o;
  norm.n_dims = 1;
  EXPECT_EQ(tensor_type_for(15, "blk.0.attn_norm.weight", 0, n, norm), Type::F32);
  EXPECT_EQ(tensor_type_for(7, "output.weight", -1, n, o), Type::Q8_0);
  EXPECT_EQ(tensor_type_for(2, "output.weight", -1, n, o), Type::Q6_K);
  EXPECT_EQ(tensor_type_for(1, "blk.3.ffn_up.weight", 3, n, o), Type::F16);
  EXPECT_EQ(tensor_type_for(10, "blk.3.attn_v.weight", 3, n, o), Type::Q4_K);  // Q2_K, GQA >= 4
  EXPECT_EQ(tensor_type_for(10, "blk.3.ffn_down.weight", 3, n, o), Type::Q3_K);
  // Rows that a 256-block does not divide fall back.
  MixOptions odd = o;
  odd.n_cols = 96;
  EXPECT_EQ(tensor_type_for(15, "blk.3.attn_q.weight", 3, n, odd), Type::Q5_0);
  EXPECT_EQ(tensor_type_for(18, "blk.3.attn_q.weight", 3, n, odd), Type::Q8_0);
  odd.n_cols = 100;
  EXPECT_EQ(tensor_type_for(15, "blk.3.attn_q.weight", 3, n, odd), Type::F16);
}

struct RoundTrip {
  Type type;
  double max_rel_rms;  // bound on ||x - deq(q(x))|| / ||x|| for N(0,1) data
};

class QuantRoundTrip : public ::testing::TestWithParam<RoundTrip> {};

TEST_P(QuantRoundTrip, ErrorWithinBound) {
  const auto p = GetParam();
  const int64_t n = 256 * 64;
  auto x = gaussian(n, 1234);
  auto y = dequantize(p.type, quantize(p.type, x), n);
  const double err = rel_rms(x, y);
  EXPECT_LT(err, p.max_rel_rms) << type_info(p.type)->name;
  if (std::getenv("PADDOCK_QUANT_VERBOSE")) std::printf("%s rel_rms %.5f\n", type_info(p.type)->name.data(), err);
  // Scale invariance: the same data scaled by 1e-3 and 1e3 quantizes as well.
  for (float s : {1e-3f, 1e3f}) {
    auto xs = x;
    for (auto& v : xs) v *= s;
    EXPECT_LT(rel_rms(xs, dequantize(p.type, quantize(p.type, xs), n)), p.max_rel_rms * 1.05) << s;
  }
}

// Bounds: our measured error (PADDOCK_QUANT_VERBOSE=1 prints it) plus ~10%. For scale, the usual
// figures for these formats on Gaussian data: Q8_0 ~0.5%, Q6_K ~2%, Q5 ~4%, Q4 ~7-9%, Q3_K ~15%,
// Q2_K ~27%; a layout or scale bug is off by far more than the margin.
INSTANTIATE_TEST_SUITE_P(
    Types, QuantRoundTrip,
    ::testing::Values(RoundTrip{Type::F16, 3e-4}, RoundTrip{Type::BF16, 2e-3}, RoundTrip{Type::Q8_0, 0.006},
                      RoundTrip{Type::Q8_K, 0.008}, RoundTrip{Type::Q6_K, 0.019}, RoundTrip{Type::Q5_K, 0.04},
                      RoundTrip{Type::Q5_1, 0.042}, RoundTrip{Type::Q5_0, 0.047}, RoundTrip{Type::Q4_K, 0.079},
                      RoundTrip{Type::Q4_1, 0.086}, RoundTrip{Type::Q4_0, 0.095}, RoundTrip{Type::IQ4_NL, 0.083},
                      RoundTrip{Type::Q3_K, 0.16}, RoundTrip{Type::Q2_K, 0.30}),
    [](const auto& info) { return std::string(type_info(info.param.type)->name); });

TEST(QuantRoundTrip, F32Exact) {
  auto x = gaussian(1000, 7);
  EXPECT_EQ(dequantize(Type::F32, quantize(Type::F32, x), 1000), x);
}

TEST(QuantRoundTrip, HalfMatchesUtil) {
  auto x = gaussian(4096, 8, 300.0f);
  x[0] = 0;
  x[1] = -0.0f;
  x[2] = 65504;
  x[3] = 1e-7f;  // fp16 subnormal
  x[4] = 1e9f;   // overflows fp16
  auto h = quantize(Type::F16, x);
  auto b = quantize(Type::BF16, x);
  auto hy = dequantize(Type::F16, h, 4096);
  auto by = dequantize(Type::BF16, b, 4096);
  for (size_t i = 0; i < x.size(); ++i) {
    uint16_t hv, bv;
    std::memcpy(&hv, h.data() + 2 * i, 2);
    std::memcpy(&bv, b.data() + 2 * i, 2);
    ASSERT_EQ(hv, fp32_to_fp16(x[i])) << i;
    ASSERT_EQ(bv, fp32_to_bf16(x[i])) << i;
    ASSERT_EQ(fp32_to_bits(hy[i]), fp32_to_bits(fp16_to_fp32(hv))) << i;
    ASSERT_EQ(fp32_to_bits(by[i]), fp32_to_bits(bf16_to_fp32(bv))) << i;
  }
}

// Quantizing already-quantized values must reproduce them: the grid the first pass chose fits
// them exactly. Exact for the closed-form formats; the searching K-quants may pick a different
// but equally good grid, so there the second pass must add (almost) no error.
TEST(QuantRoundTrip, Idempotent) {
  const int64_t n = 256 * 16;
  auto x = gaussian(n, 99);
  for (Type t : {Type::Q8_0, Type::Q4_0, Type::Q4_1, Type::Q5_0, Type::Q5_1, Type::Q8_K}) {
    auto y1 = dequantize(t, quantize(t, x), n);
    auto y2 = dequantize(t, quantize(t, y1), n);
    EXPECT_LT(rel_rms(y1, y2), 1e-3) << type_info(t)->name;
  }
  for (Type t : {Type::Q2_K, Type::Q3_K, Type::Q4_K, Type::Q5_K, Type::Q6_K, Type::IQ4_NL}) {
    auto y1 = dequantize(t, quantize(t, x), n);
    auto y2 = dequantize(t, quantize(t, y1), n);
    EXPECT_LT(rel_rms(y1, y2), 0.25 * rel_rms(x, y1)) << type_info(t)->name;
  }
}

TEST(QuantRoundTrip, ImportanceWeightsHelpWhereTheyPoint) {
  // Errors on heavily weighted elements shrink when an importance matrix says they matter.
  const int64_t n = 256 * 32;
  auto x = gaussian(n, 5);
  std::vector<float> imat(static_cast<size_t>(n), 1.0f);
  for (int64_t i = 0; i < n; i += 7) imat[static_cast<size_t>(i)] = 50.0f;
  for (Type t : {Type::Q3_K, Type::Q4_K, Type::Q6_K}) {
    auto plain = dequantize(t, quantize(t, x), n);
    auto weighted = dequantize(t, quantize(t, x, imat.data()), n);
    double e_plain = 0, e_weighted = 0;
    for (int64_t i = 0; i < n; i += 7) {
      e_plain += std::pow(plain[i] - x[i], 2);
      e_weighted += std::pow(weighted[i] - x[i], 2);
    }
    EXPECT_LT(e_weighted, e_plain) << type_info(t)->name;
  }
}

TEST(QuantRoundTrip, ConstantZeroAndNonFinite) {
  const int64_t n = 256;
  for (Type t : {Type::Q8_0, Type::Q4_0, Type::Q4_1, Type::Q5_0, Type::Q5_1, Type::Q2_K, Type::Q3_K, Type::Q4_K,
                 Type::Q5_K, Type::Q6_K, Type::Q8_K, Type::IQ4_NL}) {
    std::vector<float> zero(n, 0.0f);
    for (float v : dequantize(t, quantize(t, zero), n)) EXPECT_EQ(v, 0.0f) << type_info(t)->name;
    std::vector<float> c(n, 0.75f);
    for (float v : dequantize(t, quantize(t, c), n)) EXPECT_NEAR(v, 0.75f, 0.75f * 0.02f) << type_info(t)->name;
    // NaN / inf inputs must not crash or trip the sanitizers; output content is unspecified.
    std::vector<float> bad = gaussian(n, 3);
    bad[5] = NAN;
    bad[77] = INFINITY;
    bad[200] = -INFINITY;
    auto q = quantize(t, bad);
    (void)dequantize(t, q, n);
  }
}

// An all-zero super-block stores d = dmin = +0 (bit pattern 0), as llama.cpp does, in every build:
// a zero group's min is -0.0, and taking the max with fmax used to keep either sign depending on
// the compiler's code (release wrote 0x8000, sanitizer builds 0x0000).
TEST(QuantRoundTrip, ZeroSuperBlockScalesArePositiveZero) {
  const std::vector<float> zero(512, 0.0f);
  struct Off {
    Type t;
    size_t d, dmin;
  };
  for (Off o : {Off{Type::Q2_K, 80, 82}, Off{Type::Q4_K, 0, 2}, Off{Type::Q5_K, 0, 2}}) {
    const auto q = quantize(o.t, zero);
    const size_t bs = static_cast<size_t>(type_info(o.t)->type_size);
    ASSERT_EQ(q.size(), 2 * bs);
    for (size_t b = 0; b < 2; ++b) {
      uint16_t d, dmin;
      std::memcpy(&d, q.data() + b * bs + o.d, 2);
      std::memcpy(&dmin, q.data() + b * bs + o.dmin, 2);
      EXPECT_EQ(d, 0u) << type_info(o.t)->name;
      EXPECT_EQ(dmin, 0u) << type_info(o.t)->name;
    }
  }
}

}  // namespace
}  // namespace paddock::quant
