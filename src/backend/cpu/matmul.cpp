// CPU matmul out[n, rows] = x[n, cols] · Wᵀ with W in any supported GGUF type, through the quant
// module's kernels: activations are converted once per step into the weight type's activation
// format (Q8_0 / Q8_1 / Q8_K int8 blocks, or F32 for float weights), then threads split the
// weight rows (of every weight sharing the input) into panels and each panel is multiplied with
// tiles of activation rows, so a weight row is read from memory once per tile (with AVX-512 VNNI,
// quant's packed int8 GEMM for Q8_0 / Q4_0 / Q4_K / Q6_K).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/cpu_backend.h"
#include "quant/kernels.h"
#include "util/half.h"

namespace paddock::backend::cpu {
namespace {

// Activation format key: the quant act type, and for float weights the rounding ggml applies
// (activations meet F16 / BF16 weights rounded to that type).
uint32_t act_key(quant::Type w) {
  if (w == quant::Type::F16 || w == quant::Type::BF16) return 1000 + static_cast<uint32_t>(w);
  return static_cast<uint32_t>(quant::act_type(w));
}

// Activation quantizers with ggml's exact rounding (our oracle is llama.cpp): round half to even,
// Q8_0/Q8_1 scale 127/amax, and Q8_K's signed scale -127/max, which maps the largest-magnitude
// value to -127 and lets its opposite sign reach +127 (clamped from 128).
inline int round_even(float v) { return static_cast<int>(std::nearbyint(v)); }

void act_q8_0_ggml(const float* x, uint8_t* dst, int64_t k, bool with_sum) {
  const size_t blk = with_sum ? 36 : 34;
  for (int64_t b = 0; b < k / 32; ++b, x += 32) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    uint8_t* y = dst + static_cast<size_t>(b) * blk;
    int8_t* qs = reinterpret_cast<int8_t*>(y + (with_sum ? 4 : 2));
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      const float v = x[j] * id;
      qs[j] = static_cast<int8_t>(v == v ? std::clamp(round_even(v), -127, 127) : 0);
      sum += qs[j];
    }
    const uint16_t dh = fp32_to_fp16(d);
    std::memcpy(y, &dh, 2);
    if (with_sum) {
      const uint16_t sh = fp32_to_fp16(d * static_cast<float>(sum));
      std::memcpy(y + 2, &sh, 2);
    }
  }
}

void act_q8_k_ggml(const float* x, uint8_t* dst, int64_t k) {
  constexpr size_t kBlk = 4 + 256 + 32;
  for (int64_t b = 0; b < k / 256; ++b, x += 256) {
    uint8_t* y = dst + static_cast<size_t>(b) * kBlk;
    int8_t* qs = reinterpret_cast<int8_t*>(y + 4);
    float amax = 0, mx = 0;
    for (int j = 0; j < 256; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        mx = x[j];
      }
    }
    float d = 0;
    if (amax == 0.0f || !(amax == amax)) {
      std::memset(qs, 0, 256);
    } else {
      const float iscale = -127.0f / mx;
      for (int j = 0; j < 256; ++j) qs[j] = static_cast<int8_t>(std::min(127, round_even(iscale * x[j])));
      d = 1.0f / iscale;
    }
    std::memcpy(y, &d, 4);
    for (int g = 0; g < 16; ++g) {
      int16_t sum = 0;
      for (int j = 0; j < 16; ++j) sum = static_cast<int16_t>(sum + qs[16 * g + j]);
      std::memcpy(y + 4 + 256 + 2 * g, &sum, 2);
    }
  }
}

void quantize_act(quant::Type wtype, const float* x, uint8_t* dst, int64_t k) {
  switch (quant::act_type(wtype)) {
    case quant::Type::Q8_0: act_q8_0_ggml(x, dst, k, false); return;
    case quant::Type::Q8_1: act_q8_0_ggml(x, dst, k, true); return;
    case quant::Type::Q8_K: act_q8_k_ggml(x, dst, k); return;
    default: break;
  }
  quant::quantize_act_row(wtype, x, dst, k);
  if (wtype == quant::Type::F16 || wtype == quant::Type::BF16) {
    float* v = reinterpret_cast<float*>(dst);
    for (int64_t i = 0; i < k; ++i)
      v[i] = wtype == quant::Type::F16 ? fp16_to_fp32(fp32_to_fp16(v[i])) : bf16_to_fp32(fp32_to_bf16(v[i]));
  }
}

}  // namespace

void CpuBackend::matmul(const Tensor& x, const Weight& w, const Weight* bias, const Tensor& out) {
  const MatmulJob job{&w, bias, out};
  matmul_multi(x, std::span<const MatmulJob>(&job, 1));
}

void CpuBackend::matmul_multi(const Tensor& x, std::span<const MatmulJob> jobs) {
  const int64_t n = x.rows, k = x.cols;
  // 1. Convert the input once per distinct activation format.
  struct Fmt {
    uint32_t key;
    quant::Type wtype;
    uint64_t row_bytes;
    uint8_t* data;
  };
  std::vector<Fmt> fmts;
  std::vector<size_t> job_fmt(jobs.size());
  for (size_t j = 0; j < jobs.size(); ++j) {
    const Weight& w = *jobs[j].w;
    assert(w.cols == k && jobs[j].out.cols == w.rows && jobs[j].out.rows == n);
    const uint32_t key = act_key(w.type);
    size_t f = 0;
    while (f < fmts.size() && fmts[f].key != key) ++f;
    if (f == fmts.size()) fmts.push_back({key, w.type, quant::act_row_size(w.type, k), nullptr});
    job_fmt[j] = f;
  }
  if (act_.size() < fmts.size()) act_.resize(fmts.size());
  for (size_t f = 0; f < fmts.size(); ++f) {
    std::vector<uint8_t>& buf = act_[f];
    buf.resize(static_cast<size_t>(fmts[f].row_bytes * static_cast<uint64_t>(n)) + 64);
    fmts[f].data = buf.data() + (64 - reinterpret_cast<uintptr_t>(buf.data()) % 64) % 64;
  }
  par(n, k * static_cast<int64_t>(fmts.size()), [&](int, int64_t b, int64_t e) {
    for (const Fmt& f : fmts)
      for (int64_t t = b; t < e; ++t) {
        quantize_act(f.wtype, x.f32() + t * x.stride, f.data + t * f.row_bytes, k);
      }
  });
  // 2. Panels of weight rows over all jobs: enough for load balance, large enough to amortise.
  int64_t total_rows = 0;
  for (const MatmulJob& j : jobs) total_rows += j.w->rows;
  const int nt = pool_.size();
  // Multiples of 16 rows: the AVX-512 GEMM packs 16-row panels.
  const int64_t panel = std::clamp<int64_t>((total_rows + 8 * nt - 1) / (8 * nt), 16, 64) / 16 * 16;
  struct Panel {
    uint32_t job;
    int64_t r0, nr;
  };
  std::vector<Panel> panels;
  panels.reserve(static_cast<size_t>(total_rows / panel + jobs.size()));
  for (size_t j = 0; j < jobs.size(); ++j)
    for (int64_t r0 = 0; r0 < jobs[j].w->rows; r0 += panel)
      panels.push_back({static_cast<uint32_t>(j), r0, std::min(panel, jobs[j].w->rows - r0)});
  // Token tiles: the AVX-512 GEMM packs a panel once per call, so it gets every token at once; the
  // row-at-a-time kernels keep 64 activation rows in cache.
  const int64_t tok_tile = std::strcmp(quant::simd_level(), "avx512") == 0 ? std::max<int64_t>(n, 1) : 64;
  par(static_cast<int64_t>(panels.size()), panel * k * n, [&](int, int64_t pb, int64_t pe) {
    for (int64_t p = pb; p < pe; ++p) {
      const Panel& pn = panels[static_cast<size_t>(p)];
      const MatmulJob& job = jobs[pn.job];
      const Weight& w = *job.w;
      const Fmt& f = fmts[job_fmt[pn.job]];
      const uint8_t* wp = static_cast<const uint8_t*>(w.data) + static_cast<uint64_t>(pn.r0) * w.row_bytes;
      const float* bf = job.bias != nullptr ? static_cast<const float*>(job.bias->data) : nullptr;
      for (int64_t t0 = 0; t0 < n; t0 += tok_tile) {
        const int64_t na = std::min(tok_tile, n - t0);
        float* o = job.out.f32() + t0 * job.out.stride + pn.r0;
        if (na == 1) {
          quant::dot_rows(w.type, wp, w.row_bytes, pn.nr, f.data + t0 * f.row_bytes, k, o);
        } else {
          quant::dot_rows_multi(w.type, wp, w.row_bytes, pn.nr, f.data + t0 * f.row_bytes, f.row_bytes, na, k, o,
                                job.out.stride);
        }
        if (bf != nullptr)
          for (int64_t a = 0; a < na; ++a)
            for (int64_t r = 0; r < pn.nr; ++r) o[a * job.out.stride + r] += bf[pn.r0 + r];
      }
    }
  });
}

}  // namespace paddock::backend::cpu
