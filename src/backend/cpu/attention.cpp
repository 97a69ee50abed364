// CPU paged attention: new K/V rows go into their sequence's blocks (block table lookup per
// position), then each (token, kv head) task gathers the visible keys once — causal and sliding
// window — and serves all query heads of its group (grouped-query attention).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/cpu_backend.h"

namespace paddock::backend::cpu {
namespace {

// Cache row of position `pos` of sequence `seq`.
inline int64_t cache_row(const Batch& b, int32_t seq, int32_t pos, int32_t block_size) {
  const int32_t block = b.block_tables[static_cast<size_t>(seq) * b.max_blocks + pos / block_size];
  return static_cast<int64_t>(block) * block_size + pos % block_size;
}

void load_row(const Tensor& cache, int64_t row, int64_t c0, int64_t n, float* dst) {
  const uint64_t rb = dtype_row_bytes(cache.dtype, cache.cols);
  const uint8_t* base = static_cast<const uint8_t*>(cache.data) + static_cast<uint64_t>(row) * rb;
  switch (cache.dtype) {
    case DType::kF32: std::memcpy(dst, reinterpret_cast<const float*>(base) + c0, static_cast<size_t>(n) * 4); break;
    case DType::kF16: f16_to_f32_row(reinterpret_cast<const uint16_t*>(base) + c0, dst, n); break;
    case DType::kQ8_0:
      q8_0_dequantize_row(base + (c0 / kQ8Block) * kQ8BlockBytes, dst, n);
      break;
  }
}

}  // namespace

void CpuBackend::store_kv(const Tensor& src, const Tensor& cache, int32_t block_size) {
  const uint64_t rb = dtype_row_bytes(cache.dtype, cache.cols);
  pool_.parallel_for(src.rows, [&](int, int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t row = cache_row(step_, tok_seq_[t], step_.positions[t], block_size);
      uint8_t* dst = static_cast<uint8_t*>(cache.data) + static_cast<uint64_t>(row) * rb;
      const float* s = src.f32() + t * src.stride;
      switch (cache.dtype) {
        case DType::kF32: std::memcpy(dst, s, static_cast<size_t>(src.cols) * 4); break;
        case DType::kF16: f32_to_f16_row(s, reinterpret_cast<uint16_t*>(dst), src.cols); break;
        case DType::kQ8_0: q8_0_quantize_row(s, dst, src.cols); break;
      }
    }
  });
}

void CpuBackend::attention(const Tensor& q, const Tensor& k, const Tensor& v, const KvLayer& kv, int32_t block_size,
                           const AttnParams& p, const Tensor& out) {
  store_kv(k, kv.k, block_size);
  store_kv(v, kv.v, block_size);
  const int32_t hd = p.head_dim, group = p.n_head / p.n_head_kv;
  const int64_t n_items = q.rows * p.n_head_kv;
  pool_.parallel_for(n_items, [&](int tid, int64_t ib, int64_t ie) {
    std::vector<float>& buf = scratch_[tid];
    for (int64_t item = ib; item < ie; ++item) {
      const int64_t t = item / p.n_head_kv;
      const int32_t h = static_cast<int32_t>(item % p.n_head_kv);
      const int32_t seq = tok_seq_[t], pos = step_.positions[t];
      const int32_t lo = p.sliding_window > 0 ? std::max(0, pos - p.sliding_window + 1) : 0;
      const int64_t n_vis = pos - lo + 1;
      buf.resize(static_cast<size_t>(n_vis * (2 * hd + 1)));
      float* ks = buf.data();
      float* vs = ks + n_vis * hd;
      float* sc = vs + n_vis * hd;
      for (int64_t j = 0; j < n_vis; ++j) {
        const int64_t row = cache_row(step_, seq, lo + static_cast<int32_t>(j), block_size);
        load_row(kv.k, row, static_cast<int64_t>(h) * hd, hd, ks + j * hd);
        load_row(kv.v, row, static_cast<int64_t>(h) * hd, hd, vs + j * hd);
      }
      for (int32_t g = 0; g < group; ++g) {
        const int32_t qh = h * group + g;
        const float* qv = q.f32() + t * q.stride + static_cast<int64_t>(qh) * hd;
        float mx = -INFINITY;
        for (int64_t j = 0; j < n_vis; ++j) {
          float s = dot_f32(qv, ks + j * hd, hd) * p.scale;
          if (p.softcap > 0.0f) s = p.softcap * std::tanh(s / p.softcap);
          sc[j] = s;
          mx = std::max(mx, s);
        }
        float sum = 0;
        for (int64_t j = 0; j < n_vis; ++j) {
          sc[j] = std::exp(sc[j] - mx);
          sum += sc[j];
        }
        float* o = out.f32() + t * out.stride + static_cast<int64_t>(qh) * hd;
        std::fill(o, o + hd, 0.0f);
        const float inv = 1.0f / sum;
        for (int64_t j = 0; j < n_vis; ++j) axpy_f32(sc[j] * inv, vs + j * hd, o, hd);
      }
    }
  });
}

}  // namespace paddock::backend::cpu
