// CPU matmul out[n, rows] = x[n, cols] · Wᵀ with W in any supported GGUF type. Threads split
// the weight rows; each thread dequantizes a panel of rows once into its scratch and reuses it
// for every token (so prefill amortises the dequantization), in token tiles that stay in cache.
#include <algorithm>
#include <cstring>

#include "backend/cpu/cpu_backend.h"

namespace paddock::backend::cpu {

void CpuBackend::matmul(const Tensor& x, const Weight& w, const Weight* bias, const Tensor& out) {
  assert(x.cols == w.cols && out.cols == w.rows && out.rows == x.rows);
  const int64_t n = x.rows, cols = w.cols;
  constexpr int64_t kPanel = 16;   // weight rows per task
  constexpr int64_t kTokTile = 32; // tokens per inner tile
  const int64_t n_panels = (w.rows + kPanel - 1) / kPanel;
  const float* bf = bias != nullptr ? static_cast<const float*>(bias->data) : nullptr;
  const bool direct = w.type == quant::Type::F32;
  pool_.parallel_for(n_panels, [&](int tid, int64_t pb, int64_t pe) {
    std::vector<float>& buf = scratch_[tid];
    if (!direct) buf.resize(static_cast<size_t>(kPanel * cols));
    for (int64_t p = pb; p < pe; ++p) {
      const int64_t r0 = p * kPanel, r1 = std::min(w.rows, r0 + kPanel);
      const float* rows[kPanel];
      for (int64_t r = r0; r < r1; ++r) {
        if (direct) {
          rows[r - r0] = reinterpret_cast<const float*>(static_cast<const uint8_t*>(w.data) + r * w.row_bytes);
        } else {
          weight_row_to_f32(w, r, buf.data() + (r - r0) * cols);
          rows[r - r0] = buf.data() + (r - r0) * cols;
        }
      }
      for (int64_t t0 = 0; t0 < n; t0 += kTokTile) {
        const int64_t t1 = std::min(n, t0 + kTokTile);
        for (int64_t r = r0; r < r1; ++r) {
          const float* wr = rows[r - r0];
          const float b = bf != nullptr ? bf[r] : 0.0f;
          for (int64_t t = t0; t < t1; ++t) out.f32()[t * out.stride + r] = dot_f32(wr, x.f32() + t * x.stride, cols) + b;
        }
      }
    }
  });
}

}  // namespace paddock::backend::cpu
