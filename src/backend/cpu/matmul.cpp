// CPU matmul out[n, rows] = x[n, cols] · Wᵀ with W in any supported GGUF type, through the quant
// module's kernels: activations are converted once per step into the weight type's activation
// format (Q8_0 / Q8_1 / Q8_K int8 blocks, or F32 for float weights), then threads split the
// weight rows into panels and each panel is multiplied with tiles of activation rows, so a
// weight row is read from memory once per tile and the tile stays in cache.
#include <algorithm>
#include <cstring>

#include "backend/cpu/cpu_backend.h"
#include "quant/kernels.h"

namespace paddock::backend::cpu {

void CpuBackend::matmul(const Tensor& x, const Weight& w, const Weight* bias, const Tensor& out) {
  assert(x.cols == w.cols && out.cols == w.rows && out.rows == x.rows);
  const int64_t n = x.rows, k = w.cols;
  const uint64_t act_bytes = quant::act_row_size(w.type, k);
  act_.resize(static_cast<size_t>(act_bytes * static_cast<uint64_t>(n)) + 64);
  uint8_t* act = act_.data() + (64 - reinterpret_cast<uintptr_t>(act_.data()) % 64) % 64;
  pool_.parallel_for(n, [&](int, int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) quant::quantize_act_row(w.type, x.f32() + t * x.stride, act + t * act_bytes, k);
  });
  // Panels: enough for load balance, large enough to amortise the call.
  const int nt = pool_.size();
  int64_t panel = std::max<int64_t>(8, (w.rows + 4 * nt - 1) / (4 * nt));
  panel = std::min<int64_t>(panel, 64);
  constexpr int64_t kTokTile = 64;
  const int64_t n_panels = (w.rows + panel - 1) / panel;
  const float* bf = bias != nullptr ? static_cast<const float*>(bias->data) : nullptr;
  pool_.parallel_for(n_panels, [&](int, int64_t pb, int64_t pe) {
    for (int64_t p = pb; p < pe; ++p) {
      const int64_t r0 = p * panel, nr = std::min(w.rows, r0 + panel) - r0;
      const uint8_t* wp = static_cast<const uint8_t*>(w.data) + static_cast<uint64_t>(r0) * w.row_bytes;
      for (int64_t t0 = 0; t0 < n; t0 += kTokTile) {
        const int64_t na = std::min(kTokTile, n - t0);
        float* o = out.f32() + t0 * out.stride + r0;
        if (na == 1) {
          quant::dot_rows(w.type, wp, w.row_bytes, nr, act + t0 * act_bytes, k, o);
        } else {
          quant::dot_rows_multi(w.type, wp, w.row_bytes, nr, act + t0 * act_bytes, act_bytes, na, k, o, out.stride);
        }
        if (bf != nullptr)
          for (int64_t a = 0; a < na; ++a)
            for (int64_t r = 0; r < nr; ++r) o[a * out.stride + r] += bf[r0 + r];
      }
    }
  });
}

}  // namespace paddock::backend::cpu
