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

// Activation format key: the quant act type; F16 and BF16 weights get F32 activations rounded to
// their own type (quant::quantize_act_row), so each is a format of its own.
uint32_t act_key(quant::Type w) {
  if (w == quant::Type::F16 || w == quant::Type::BF16) return 1000 + static_cast<uint32_t>(w);
  return static_cast<uint32_t>(quant::act_type(w));
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
        quant::quantize_act_row(f.wtype, x.f32() + t * x.stride, f.data + t * f.row_bytes, k);
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
