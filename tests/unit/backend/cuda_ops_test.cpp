// CUDA backend ops against the CPU backend (the reference) on fresh random data, and matmul
// against a double-precision product over the reference dequantizer, for every weight type the
// CUDA backend runs and every shape class (one row, the fused kernel's batch limit, past it into
// the cuBLAS path, strided views). Runs on a GPU machine only (ctest label "gpu"); CI builds it.
// PADDOCK_CUDA_OPS_SEED picks the random seed (default: a new one each run, printed).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>

#include "backend/backend.h"
#include "quant/quant.h"

namespace paddock::backend {
namespace {

uint32_t seed() {
  static const uint32_t s = [] {
    const char* e = std::getenv("PADDOCK_CUDA_OPS_SEED");
    const uint32_t v = e != nullptr ? static_cast<uint32_t>(std::stoul(e)) : std::random_device{}();
    std::printf("[cuda ops] seed %u (PADDOCK_CUDA_OPS_SEED to repeat)\n", v);
    return v;
  }();
  return s;
}

std::vector<float> randv(size_t n, uint32_t salt, float scale = 1.0f) {
  std::mt19937 rng(seed() * 2654435761u + salt);
  std::uniform_real_distribution<float> d(-scale, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

double rel_err(const std::vector<float>& a, const std::vector<float>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    num += (static_cast<double>(a[i]) - ref[i]) * (static_cast<double>(a[i]) - ref[i]);
    den += static_cast<double>(ref[i]) * ref[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

// One backend plus the buffers it allocated.
struct Side {
  std::unique_ptr<Backend> be;
  std::vector<std::shared_ptr<Buffer>> keep;
  Tensor make(int64_t rows, int64_t cols, const std::vector<float>& data = {}, DType dt = DType::kF32) {
    auto b = be->alloc(dt, rows, cols);
    EXPECT_TRUE(b.ok()) << (b.ok() ? "" : b.error().message());
    keep.push_back(*b);
    Tensor t = (*b)->tensor();
    if (!data.empty()) be->write_rows(t, rows, data.data());
    return t;
  }
  std::vector<float> read(const Tensor& t) {
    std::vector<float> out(static_cast<size_t>(t.rows * t.cols));
    be->read_rows(t, t.rows, out.data());
    return out;
  }
  Weight weight(quant::Type type, int64_t rows, int64_t cols, const void* host) {
    auto w = be->upload_weight(type, rows, cols, host);
    EXPECT_TRUE(w.ok()) << (w.ok() ? "" : w.error().message());
    return w.ok() ? *w : Weight{};
  }
};

struct Pair {
  Side cpu{make_cpu_backend({2}), {}};
  Side gpu{nullptr, {}};
  Pair() {
    auto g = make_backend({{DeviceKind::kCuda, 0}, {}});
    if (!g.ok()) {
      ADD_FAILURE() << "no CUDA backend: " << g.error().message();
      return;
    }
    gpu.be = std::move(*g);
  }
  void step(const Batch& b) {
    ASSERT_TRUE(validate_step(b, {1 << 20, 1 << 20, 16}).ok());
    ASSERT_TRUE(cpu.be->set_step(b).ok());
    ASSERT_TRUE(gpu.be->set_step(b).ok());
  }
  void done() {
    auto st = gpu.be->end_step();
    EXPECT_TRUE(st.ok()) << st.error().message();
  }
};

// Two sequences, the second's blocks scattered; `n0` + `n1` new tokens after `past` cached ones each.
Batch two_seqs(int32_t n0, int32_t n1, int32_t past, int32_t max_blocks = 16) {
  Batch b;
  b.max_blocks = max_blocks;
  b.seq_start = {0};
  const int32_t ns[2] = {n0, n1};
  for (int s = 0; s < 2; ++s) {
    for (int32_t i = 0; i < ns[s]; ++i) {
      b.tokens.push_back((7 * i + 3 * s) % 50);
      b.positions.push_back(past + i);
    }
    b.seq_start.push_back(b.n_tokens());
    b.seq_kv_len.push_back(past + ns[s]);
    for (int32_t j = 0; j < max_blocks; ++j) b.block_tables.push_back(s == 0 ? j : 2 * max_blocks - 1 - j);
  }
  b.logit_rows = {n0 - 1, n0 + n1 - 1};
  return b;
}

std::vector<quant::Type> weight_types() {
  using T = quant::Type;
  std::vector<T> out;
  for (T t : {T::F32, T::F16, T::BF16, T::Q8_0, T::Q4_0, T::Q4_1, T::Q5_0, T::Q5_1, T::IQ4_NL, T::MXFP4, T::Q2_K,
              T::Q3_K, T::Q4_K, T::Q5_K, T::Q6_K, T::IQ4_XS})
    out.push_back(t);
  return out;
}

// A random weight of `type` (quantized by the reference quantizer) and its exact dequantized values.
struct HostWeight {
  std::vector<uint8_t> bytes;
  std::vector<float> deq;
};
HostWeight make_weight(quant::Type type, int64_t rows, int64_t cols, uint32_t salt) {
  HostWeight w;
  const auto f = randv(static_cast<size_t>(rows * cols), salt, 0.5f);
  const uint64_t rb = *quant::row_size(type, cols);
  w.bytes.resize(rb * static_cast<uint64_t>(rows));
  w.deq.resize(f.size());
  const quant::TypeInfo* ti = quant::type_info(type);
  if (!ti->can_quantize) {
    // No reference quantizer (IQ4_XS, MXFP4): random blocks with their scale fields set sane.
    std::mt19937 rng(seed() + salt);
    for (auto& byte : w.bytes) byte = static_cast<uint8_t>(rng());
    for (uint64_t off = 0; off < w.bytes.size(); off += static_cast<uint64_t>(ti->type_size)) {
      if (type == quant::Type::IQ4_XS) {
        w.bytes[off] = 0x1F;  // d = fp16 0x211F, about 0.01
        w.bytes[off + 1] = 0x21;
      } else {
        w.bytes[off] = static_cast<uint8_t>(118 + rng() % 8);  // e8m0 exponent near 2^-8
      }
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* dst = w.bytes.data() + rb * static_cast<uint64_t>(r);
    if (ti->can_quantize) quant::quantize_row(type, f.data() + r * cols, dst, cols);
    quant::dequantize_row(type, dst, w.deq.data() + r * cols, cols);
  }
  return w;
}

class CudaMatmul : public ::testing::TestWithParam<quant::Type> {};

TEST_P(CudaMatmul, MatchesDoubleReferenceInEveryShapeClass) {
  const quant::Type type = GetParam();
  const quant::TypeInfo* ti = quant::type_info(type);
  ASSERT_TRUE(ti->can_dequantize) << ti->name << ": no reference dequantizer";
  constexpr int64_t K = 512, R = 70;  // R not a multiple of the rows per block
  Pair p;
  if (!p.gpu.be) return;
  const HostWeight hw = make_weight(type, R, K, 1);
  const Weight wg = p.gpu.weight(type, R, K, hw.bytes.data()), wc = p.cpu.weight(type, R, K, hw.bytes.data());
  const auto bias_v = randv(R, 2);
  const Weight bg = p.gpu.weight(quant::Type::F32, 1, R, bias_v.data());
  const Weight bc = p.cpu.weight(quant::Type::F32, 1, R, bias_v.data());
  for (int64_t n : {1, 2, 3, 5, 8, 9, 40, 65, 100}) {
    for (bool strided : {false, true}) {
      // Strided: x is a column view of a wider buffer (like q inside qkv), out has a row stride.
      const int64_t xw = strided ? K + 36 : K, ow = strided ? R + 10 : R;
      const auto xv = randv(static_cast<size_t>(n * xw), 3 + static_cast<uint32_t>(n));
      Tensor xb = p.gpu.make(n, xw, xv), ob = p.gpu.make(n, ow);
      Tensor xbc = p.cpu.make(n, xw, xv), obc = p.cpu.make(n, ow);
      auto view = [&](Tensor t, int64_t c0, int64_t cols) { return strided ? t.cols_view(c0, cols) : t; };
      p.gpu.be->matmul(view(xb, 4, K), wg, strided ? &bg : nullptr, view(ob, 3, R));
      p.cpu.be->matmul(view(xbc, 4, K), wc, strided ? &bc : nullptr, view(obc, 3, R));
      p.done();
      const std::vector<float> all = p.gpu.read(ob), all_cpu = p.cpu.read(obc);
      std::vector<float> got, cpu, ref;
      for (int64_t t = 0; t < n; ++t)
        for (int64_t r = 0; r < R; ++r) {
          double s = strided ? bias_v[r] : 0.0;
          for (int64_t k = 0; k < K; ++k) s += static_cast<double>(xv[t * xw + (strided ? 4 : 0) + k]) * hw.deq[r * K + k];
          ref.push_back(static_cast<float>(s));
          got.push_back(all[t * ow + (strided ? 3 : 0) + r]);
          cpu.push_back(all_cpu[t * ow + (strided ? 3 : 0) + r]);
        }
      const std::string where = std::string(ti->name) + " n=" + std::to_string(n) + (strided ? " strided" : "");
      if (n <= 64) {
        // The fused kernel (in groups of 8 rows up to 64) rounds the activations as the CPU's dot kernels do (F16/BF16, Q8_0, Q8_K
        // blocks): the same function up to summation order (Q4_1/Q5_1: the CPU keeps sum(q)·d in F16).
        const bool f16_sum = type == quant::Type::Q4_1 || type == quant::Type::Q5_1;
        EXPECT_LE(rel_err(got, cpu), f16_sum ? 2e-3 : 1e-4) << where << " vs the CPU backend";
        EXPECT_LE(rel_err(got, ref), type == quant::Type::F32 ? 1e-5 : 2e-2) << where << " vs the exact product";
      } else {
        // cuBLAS path: quantized weights see the CPU's Q8 activation rounding, then F16 activations
        // and F16 weights with F32 accumulation: close to the CPU backend, and to the exact
        // product within the rounding. Float weights: F16 (BF16) activations as they are.
        const bool quantized = type != quant::Type::F32 && type != quant::Type::F16 && type != quant::Type::BF16;
        const double tol = type == quant::Type::F32 ? 1e-5 : type == quant::Type::BF16 ? 8e-3 : 2e-3;
        if (quantized) {
          EXPECT_LE(rel_err(got, cpu), tol) << where << " vs the CPU backend";
          EXPECT_LE(rel_err(got, ref), 2e-2) << where << " vs the exact product";
        } else {
          EXPECT_LE(rel_err(got, ref), tol) << where << " vs the exact product";
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, CudaMatmul, ::testing::ValuesIn(weight_types()),
                         [](const auto& info) { return std::string(quant::type_info(info.param)->name); });

// matmul_multi quantizes the shared activations once per format (Q8_K for the K-quants, Q8_0
// for the others) and reuses them across its jobs: every job equals its own matmul, whatever
// the order of formats.
TEST(CudaOps, MatmulMultiEqualsSeparateMatmuls) {
  using T = quant::Type;
  constexpr int64_t K = 512;
  Pair p;
  if (!p.gpu.be) return;
  const T types[] = {T::Q4_K, T::Q8_0, T::Q6_K, T::F16, T::Q4_0, T::Q5_K};
  const int64_t rows[] = {70, 33, 64, 20, 96, 8};
  std::vector<Weight> ws;
  for (size_t i = 0; i < std::size(types); ++i) {
    const HostWeight hw = make_weight(types[i], rows[i], K, 40 + static_cast<uint32_t>(i));
    ws.push_back(p.gpu.weight(types[i], rows[i], K, hw.bytes.data()));
  }
  for (int64_t n : {1, 5, 40}) {
    const auto xv = randv(static_cast<size_t>(n * K), 50 + static_cast<uint32_t>(n));
    const Tensor x = p.gpu.make(n, K, xv);
    std::vector<Tensor> multi, single;
    std::vector<Backend::MatmulJob> jobs;
    for (size_t i = 0; i < ws.size(); ++i) {
      multi.push_back(p.gpu.make(n, rows[i]));
      single.push_back(p.gpu.make(n, rows[i]));
      jobs.push_back({&ws[i], nullptr, multi.back()});
    }
    p.gpu.be->matmul_multi(x, jobs);
    for (size_t i = 0; i < ws.size(); ++i) p.gpu.be->matmul(x, ws[i], nullptr, single[i]);
    p.done();
    for (size_t i = 0; i < ws.size(); ++i)
      EXPECT_EQ(p.gpu.read(multi[i]), p.gpu.read(single[i]))
          << quant::type_info(types[i])->name << " job " << i << " n=" << n;
  }
}

class CudaEmbed : public ::testing::TestWithParam<quant::Type> {};

TEST_P(CudaEmbed, EqualsTheCpuGather) {
  const quant::Type type = GetParam();
  constexpr int64_t K = 256, V = 50;
  Pair p;
  if (!p.gpu.be) return;
  const HostWeight hw = make_weight(type, V, K, 11);
  const Weight wc = p.cpu.weight(type, V, K, hw.bytes.data()), wg = p.gpu.weight(type, V, K, hw.bytes.data());
  const Batch b = two_seqs(7, 5, 0);
  p.step(b);
  Tensor oc = p.cpu.make(b.n_tokens(), K), og = p.gpu.make(b.n_tokens(), K);
  p.cpu.be->embed(wc, 0.75f, oc);
  p.gpu.be->embed(wg, 0.75f, og);
  p.done();
  EXPECT_LE(rel_err(p.gpu.read(og), p.cpu.read(oc)), 1e-6) << quant::type_info(type)->name;
}

INSTANTIATE_TEST_SUITE_P(Types, CudaEmbed, ::testing::ValuesIn(weight_types()),
                         [](const auto& info) { return std::string(quant::type_info(info.param)->name); });

TEST(CudaOps, NormsAndElementwiseEqualTheCpu) {
  Pair p;
  if (!p.gpu.be) return;
  const Batch b = two_seqs(6, 4, 3);
  p.step(b);
  const int64_t n = b.n_tokens(), C = 384;
  const auto xa = randv(static_cast<size_t>(n * C), 21, 3.0f), xb = randv(static_cast<size_t>(n * C), 22, 3.0f);
  const auto wv = randv(C, 23), bv = randv(C, 24);
  const Weight wc = p.cpu.weight(quant::Type::F32, 1, C, wv.data()), wg = p.gpu.weight(quant::Type::F32, 1, C, wv.data());
  const Weight bc = p.cpu.weight(quant::Type::F32, 1, C, bv.data()), bg = p.gpu.weight(quant::Type::F32, 1, C, bv.data());
  auto both = [&](const char* what, double tol, auto&& op) {
    Tensor ac = p.cpu.make(n, C, xa), bc2 = p.cpu.make(n, C, xb), oc = p.cpu.make(n, C);
    Tensor ag = p.gpu.make(n, C, xa), bg2 = p.gpu.make(n, C, xb), og = p.gpu.make(n, C);
    op(*p.cpu.be, ac, bc2, oc, false);
    op(*p.gpu.be, ag, bg2, og, true);
    p.done();
    EXPECT_LE(rel_err(p.gpu.read(og), p.cpu.read(oc)), tol) << what;
    EXPECT_LE(rel_err(p.gpu.read(ag), p.cpu.read(ac)), tol) << what << " (in place)";
  };
  both("rms_norm", 1e-5, [&](Backend& be, Tensor a, Tensor, Tensor o, bool g) { be.rms_norm(a, g ? &wg : &wc, 1e-6f, o); });
  both("rms_norm per head", 1e-5, [&](Backend& be, Tensor a, Tensor, Tensor o, bool g) {
    be.rms_norm(a, g ? &wg : &wc, 1e-6f, o, 64);
  });
  both("rms_norm no weight, in place", 1e-5, [&](Backend& be, Tensor a, Tensor, Tensor, bool) { be.rms_norm(a, nullptr, 1e-5f, a); });
  both("layer_norm", 1e-5, [&](Backend& be, Tensor a, Tensor, Tensor o, bool g) {
    be.layer_norm(a, g ? &wg : &wc, g ? &bg : &bc, 1e-5f, o);
  });
  both("glu silu", 1e-5, [&](Backend& be, Tensor a, Tensor b2, Tensor o, bool) { be.glu(a, b2, Act::kSilu, o); });
  both("glu gelu", 1e-5, [&](Backend& be, Tensor a, Tensor b2, Tensor o, bool) { be.glu(a, b2, Act::kGeluTanh, o); });
  both("add", 1e-6, [&](Backend& be, Tensor a, Tensor b2, Tensor o, bool) { be.add(a, b2, o); });
  both("add_rms_norm", 1e-5, [&](Backend& be, Tensor a, Tensor b2, Tensor o, bool g) {
    be.add_rms_norm(a, b2, g ? &wg : &wc, 1e-6f, o);
  });
  both("add_rms_norm into x", 1e-5, [&](Backend& be, Tensor a, Tensor b2, Tensor, bool g) {
    be.add_rms_norm(a, b2, g ? &wg : &wc, 1e-6f, a);
  });
  both("scale", 1e-6, [&](Backend& be, Tensor a, Tensor, Tensor, bool) { be.scale(a, -0.3f); });
  both("softcap", 1e-6, [&](Backend& be, Tensor a, Tensor, Tensor, bool) { be.softcap(a, 2.5f); });
  both("add_bias", 1e-6, [&](Backend& be, Tensor a, Tensor, Tensor, bool g) { be.add_bias(a, g ? bg : bc); });
  both("gather_logit_rows", 0.0, [&](Backend& be, Tensor a, Tensor, Tensor o, bool) {
    be.gather_logit_rows(a, o.first_rows(2));
  });
}

struct RopeCase {
  const char* name;
  bool neox;
  int32_t n_dims;
  bool factors;
  float ext_factor;
};

TEST(CudaOps, RopeEqualsTheCpuInEveryVariant) {
  const RopeCase cases[] = {{"normal", false, 64, false, 0}, {"neox", true, 64, false, 0},
                            {"partial neox", true, 32, false, 0}, {"freq factors", false, 64, true, 0},
                            {"yarn", true, 64, false, 1.0f}};
  for (const RopeCase& rc : cases) {
    Pair p;
    if (!p.gpu.be) return;
    Batch b = two_seqs(9, 3, 1000, 80);
    p.step(b);
    const int64_t n = b.n_tokens(), H = 4, D = 64;
    const auto xv = randv(static_cast<size_t>(n * H * D), 31);
    std::vector<float> ff(static_cast<size_t>(rc.n_dims / 2));
    for (size_t i = 0; i < ff.size(); ++i) ff[i] = 1.0f + static_cast<float>(i % 5);
    const Weight fc = p.cpu.weight(quant::Type::F32, 1, static_cast<int64_t>(ff.size()), ff.data());
    const Weight fg = p.gpu.weight(quant::Type::F32, 1, static_cast<int64_t>(ff.size()), ff.data());
    RopeParams rp;
    rp.n_dims = rc.n_dims;
    rp.neox = rc.neox;
    rp.freq_base = 500000.0f;
    if (rc.ext_factor != 0.0f) {
      rp.ext_factor = rc.ext_factor;
      rp.freq_scale = 0.25f;
      rp.n_ctx_orig = 4096;
    }
    Tensor xc = p.cpu.make(n, H * D, xv), xg = p.gpu.make(n, H * D, xv);
    rp.freq_factors = rc.factors ? &fc : nullptr;
    p.cpu.be->rope(xc, static_cast<int32_t>(H), static_cast<int32_t>(D), rp);
    rp.freq_factors = rc.factors ? &fg : nullptr;
    p.gpu.be->rope(xg, static_cast<int32_t>(H), static_cast<int32_t>(D), rp);
    p.done();
    EXPECT_LE(rel_err(p.gpu.read(xg), p.cpu.read(xc)), 2e-5) << rc.name;
  }
}

struct AttnCase {
  const char* name;
  int32_t n_head, n_head_kv, head_dim, window;
  float softcap;
  DType cache;
};

// Every element of a KV cache tensor (F16 or Q8_0) as floats, read through a raw F32 view.
std::vector<float> cache_values(Side& side, const Tensor& t) {
  const uint64_t bytes = dtype_row_bytes(t.dtype, t.cols) * static_cast<uint64_t>(t.rows);
  std::vector<float> raw(bytes / 4);
  side.be->read_rows(Tensor{t.data, DType::kF32, 1, static_cast<int64_t>(raw.size()), static_cast<int64_t>(raw.size())}, 1,
                     raw.data());
  std::vector<float> out(static_cast<size_t>(t.rows * t.cols));
  const auto* b = reinterpret_cast<const uint8_t*>(raw.data());
  if (t.dtype == DType::kF16) {
    std::vector<uint16_t> h(out.size());
    std::memcpy(h.data(), b, h.size() * 2);
    quant::dequantize_row(quant::Type::F16, h.data(), out.data(), static_cast<int64_t>(out.size()));
  } else {
    quant::dequantize_row(quant::Type::Q8_0, b, out.data(), static_cast<int64_t>(out.size()));
  }
  return out;
}

class CudaAttention : public ::testing::TestWithParam<AttnCase> {};

// The backend's attention against the CPU's; `split` selects the split-KV kernel
// (PADDOCK_CUDA_ATTN=split, read when the backend is made).
void check_attention(const AttnCase& ac, bool split) {
  if (split) setenv("PADDOCK_CUDA_ATTN", "split", 1);
  Pair p;
  if (split) unsetenv("PADDOCK_CUDA_ATTN");
  if (!p.gpu.be) return;
  if (ac.cache == DType::kQ8_0) {
    // Known defect (docs/PERFORMANCE.md, CUDA section): the Q8_0 cache rows written on the GPU
    // differed from the CPU's; until that is found the backend refuses the type, clearly.
    auto b = p.gpu.be->alloc(DType::kQ8_0, 64, 128);
    ASSERT_FALSE(b.ok());
    EXPECT_EQ(b.error().code(), ErrorCode::kUnsupported) << b.error().message();
    GTEST_SKIP() << "Q8_0 KV cache refused by the CUDA backend (known defect)";
  }

  // 24 blocks of 16: up to 384 keys, three splits for the split-KV kernel.
  constexpr int32_t kBs = 16, kMaxBlocks = 24;
  const int64_t q_cols = int64_t{ac.n_head} * ac.head_dim, kv_cols = int64_t{ac.n_head_kv} * ac.head_dim;
  KvLayer kc{p.cpu.make(2 * kMaxBlocks * kBs, kv_cols, {}, ac.cache), p.cpu.make(2 * kMaxBlocks * kBs, kv_cols, {}, ac.cache)};
  KvLayer kg{p.gpu.make(2 * kMaxBlocks * kBs, kv_cols, {}, ac.cache), p.gpu.make(2 * kMaxBlocks * kBs, kv_cols, {}, ac.cache)};
  AttnParams ap{ac.n_head, ac.n_head_kv, ac.head_dim, 1.0f / std::sqrt(static_cast<float>(ac.head_dim)), ac.softcap,
                ac.window};
  // A prefill of two prompts (300 and 20 tokens: partial blocks), then three decode steps.
  struct Step {
    int32_t n0, n1, past0;
  };
  int32_t len0 = 0, len1 = 0;
  const Step steps[] = {{300, 20, 0}, {1, 1, -1}, {1, 1, -1}, {1, 1, -1}};
  uint32_t salt = 100;
  for (const Step& s : steps) {
    Batch b;
    b.max_blocks = kMaxBlocks;
    b.seq_start = {0};
    for (int q = 0; q < 2; ++q) {
      int32_t& len = q == 0 ? len0 : len1;
      const int32_t add = q == 0 ? s.n0 : s.n1;
      for (int32_t i = 0; i < add; ++i) {
        b.tokens.push_back(1);
        b.positions.push_back(len + i);
      }
      len += add;
      b.seq_start.push_back(b.n_tokens());
      b.seq_kv_len.push_back(len);
      for (int32_t j = 0; j < kMaxBlocks; ++j) b.block_tables.push_back(q == 0 ? 2 * j : 2 * kMaxBlocks - 1 - 2 * j);
    }
    b.logit_rows = {0};
    p.step(b);
    const int64_t n = b.n_tokens();
    const auto qv = randv(static_cast<size_t>(n * q_cols), salt++, 2.0f);
    const auto kv = randv(static_cast<size_t>(n * kv_cols), salt++, 2.0f);
    const auto vv = randv(static_cast<size_t>(n * kv_cols), salt++);
    Tensor oc = p.cpu.make(n, q_cols), og = p.gpu.make(n, q_cols);
    p.cpu.be->attention(p.cpu.make(n, q_cols, qv), p.cpu.make(n, kv_cols, kv), p.cpu.make(n, kv_cols, vv), kc, kBs, ap, oc);
    p.gpu.be->attention(p.gpu.make(n, q_cols, qv), p.gpu.make(n, kv_cols, kv), p.gpu.make(n, kv_cols, vv), kg, kBs, ap, og);
    p.done();
    // The cache rows written so far hold the same values on both (Q8_0: the same blocks but for
    // rare rounding ties; compared dequantized).
    for (const auto& [cpu_t, gpu_t] : {std::pair{kc.k, kg.k}, std::pair{kc.v, kg.v}}) {
      const auto g = cache_values(p.gpu, gpu_t), c = cache_values(p.cpu, cpu_t);
      size_t first = 0;
      while (first < g.size() && std::fabs(g[first] - c[first]) <= 1e-6f * std::fabs(c[first])) ++first;
      EXPECT_LE(rel_err(g, c), 1e-6) << ac.name << " cache; first difference at element " << first << " of "
                                     << g.size() << (first < g.size() ? ": " + std::to_string(g[first]) + " vs " +
                                                                            std::to_string(c[first])
                                                                      : std::string());
    }
    // The CPU rounds the probabilities to F16 before they meet V (as llama.cpp); we do not.
    EXPECT_LE(rel_err(p.gpu.read(og), p.cpu.read(oc)), 2e-3) << ac.name << " step of " << n << " tokens";
  }
}

TEST_P(CudaAttention, EqualsTheCpuOverPrefillThenDecode) { check_attention(GetParam(), false); }
// Its first prompt (300 tokens, 24 blocks of 16 in the tables) is three splits of 128 keys.
TEST_P(CudaAttention, SplitKvEqualsTheCpu) { check_attention(GetParam(), true); }

INSTANTIATE_TEST_SUITE_P(
    Cases, CudaAttention,
    ::testing::Values(AttnCase{"mha_f16", 4, 4, 64, 0, 0.0f, DType::kF16}, AttnCase{"gqa_f16", 8, 2, 128, 0, 0.0f, DType::kF16},
                      AttnCase{"gqa_q8", 8, 2, 64, 0, 0.0f, DType::kQ8_0},
                      AttnCase{"window_softcap", 4, 2, 256, 24, 50.0f, DType::kF16},
                      AttnCase{"small_head", 4, 2, 16, 0, 0.0f, DType::kF16},
                      AttnCase{"phi3_head", 4, 4, 96, 0, 0.0f, DType::kF16}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(CudaOps, CopyKvBlockMovesEveryRowOfEveryLayer) {
  Pair p;
  if (!p.gpu.be) return;
  const auto init = randv(64 * 32, 41);
  std::vector<float> back(init.size());
  Side& g = p.gpu;
  KvLayer l{g.make(64, 32, {}, DType::kF16), g.make(64, 32, {}, DType::kF16)};
  // Fill through attention's cache write: 64 tokens of one sequence over 4 blocks of 16.
  Batch b;
  for (int32_t i = 0; i < 64; ++i) {
    b.tokens.push_back(0);
    b.positions.push_back(i);
  }
  b.seq_start = {0, 64};
  b.seq_kv_len = {64};
  b.max_blocks = 4;
  b.block_tables = {0, 1, 2, 3};
  p.step(b);
  Tensor q = g.make(64, 32, init), k = g.make(64, 32, init), v = g.make(64, 32, init), o = g.make(64, 32);
  g.be->attention(q, k, v, l, 16, AttnParams{1, 1, 32, 1.0f, 0.0f, 0}, o);
  const KvLayer layers[1] = {l};
  g.be->copy_kv_block(layers, 16, 1, 3);
  p.done();
  // Block 3 now holds block 1's rows: read both as F16 bits through a host copy of the pool.
  std::vector<uint16_t> pool(64 * 32);
  Tensor as_f32{l.k.data, DType::kF32, 32, 32, 32};  // 64 F16 rows = 32 rows of 32 floats
  std::vector<float> raw(32 * 32);
  g.be->read_rows(as_f32, 32, raw.data());
  std::memcpy(pool.data(), raw.data(), pool.size() * 2);
  for (int64_t r = 0; r < 16; ++r)
    for (int64_t c = 0; c < 32; ++c) ASSERT_EQ(pool[(48 + r) * 32 + c], pool[(16 + r) * 32 + c]) << r << "," << c;
  // And block 1 is what was written there: positions 16..31.
  EXPECT_NE(pool[16 * 32], pool[0]);
}

TEST(CudaOps, AFaultyOpReachesEndStepAsAnError) {
  Pair p;
  if (!p.gpu.be) return;
  Side& g = p.gpu;
  Batch b;
  b.tokens = {0};
  b.positions = {0};
  b.seq_start = {0, 1};
  b.seq_kv_len = {1};
  b.max_blocks = 1;
  b.block_tables = {0};
  p.step(b);
  // A head larger than the attention kernel supports is a step error, not a crash.
  KvLayer l{g.make(16, 512, {}, DType::kF16), g.make(16, 512, {}, DType::kF16)};
  Tensor q = g.make(1, 512), o = g.make(1, 512);
  g.be->attention(q, q, q, l, 16, AttnParams{1, 1, 512, 1.0f, 0.0f, 0}, o);
  Status st = g.be->end_step();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("attention"), std::string::npos) << st.error().message();
}

TEST(CudaOps, UnsupportedWeightTypeIsRefusedAtUpload) {
  Pair p;
  if (!p.gpu.be) return;
  std::vector<uint8_t> bytes(1024);
  auto w = p.gpu.be->upload_weight(quant::Type::IQ2_XXS, 1, 256, bytes.data());
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message().find("CUDA"), std::string::npos) << w.error().message();
}

}  // namespace
}  // namespace paddock::backend
