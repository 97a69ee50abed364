// CPU paged attention: new K/V rows go into their sequence's blocks (block table lookup per
// position), then each (run of tokens, kv head) task gathers the visible keys once — causal and
// sliding window — and serves all its tokens and the query heads of its group (GQA).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/cpu_backend.h"
#include "util/half.h"

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

void round_f16(const float* src, float* dst, int64_t n) {
  uint16_t h[256];
  for (int64_t i = 0; i < n; i += 256) {
    const int64_t m = std::min<int64_t>(256, n - i);
    f32_to_f16_row(src + i, h, m);
    f16_to_f32_row(h, dst + i, m);
  }
}

}  // namespace

void CpuBackend::store_kv(const Tensor& src, const Tensor& cache, int32_t block_size) {
  const uint64_t rb = dtype_row_bytes(cache.dtype, cache.cols);
  par(src.rows, src.cols, [&](int, int64_t b, int64_t e) {
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
  // Work items: (run of up to kChunk consecutive tokens of one sequence, kv head). Each item
  // converts the keys/values its tokens can see once, then serves every token and query head.
  constexpr int32_t kChunk = 32;
  struct Item {
    int32_t t0, t1, seq;
  };
  std::vector<Item> runs;
  for (int32_t s = 0; s < step_.n_seqs(); ++s)
    for (int32_t t = step_.seq_start[s]; t < step_.seq_start[s + 1]; t += kChunk)
      runs.push_back({t, std::min(t + kChunk, step_.seq_start[s + 1]), s});
  const int64_t n_items = static_cast<int64_t>(runs.size()) * p.n_head_kv;
  par(n_items, int64_t{step_.positions[step_.n_tokens() - 1] + 1} * hd * group, [&](int tid, int64_t ib, int64_t ie) {
    std::vector<float>& buf = scratch_[tid];
    for (int64_t item = ib; item < ie; ++item) {
      const Item& run = runs[static_cast<size_t>(item / p.n_head_kv)];
      const int32_t h = static_cast<int32_t>(item % p.n_head_kv);
      const int32_t pos0 = step_.positions[run.t0], pos1 = step_.positions[run.t1 - 1];
      // Keys visible to any token of the run: [lo, pos1].
      const int32_t lo = p.sliding_window > 0 ? std::max(0, pos0 - p.sliding_window + 1) : 0;
      const int64_t n_all = pos1 - lo + 1;
      buf.resize(static_cast<size_t>(n_all * (2 * hd + 1) + hd));
      float* ks = buf.data();
      float* vs = ks + n_all * hd;
      float* sc = vs + n_all * hd;
      for (int64_t j = 0; j < n_all; ++j) {
        const int64_t row = cache_row(step_, run.seq, lo + static_cast<int32_t>(j), block_size);
        load_row(kv.k, row, static_cast<int64_t>(h) * hd, hd, ks + j * hd);
        load_row(kv.v, row, static_cast<int64_t>(h) * hd, hd, vs + j * hd);
      }
      for (int32_t t = run.t0; t < run.t1; ++t) {
        const int32_t pos = step_.positions[t];
        const int32_t tlo = p.sliding_window > 0 ? std::max(0, pos - p.sliding_window + 1) : 0;
        const int64_t j0 = tlo - lo, j1 = pos - lo + 1;  // this token's visible keys
        for (int32_t g = 0; g < group; ++g) {
          const int32_t qh = h * group + g;
          // Like llama.cpp's CPU attention (our oracle): q meets the F16 keys as F16, and the
          // probabilities meet the F16 values as F16.
          float* qv = sc + n_all;
          round_f16(q.f32() + t * q.stride + static_cast<int64_t>(qh) * hd, qv, hd);
          float mx = -INFINITY;
          for (int64_t j = j0; j < j1; ++j) {
            float s = dot_f32(qv, ks + j * hd, hd) * p.scale;
            if (p.softcap > 0.0f) s = p.softcap * std::tanh(s / p.softcap);
            sc[j] = s;
            mx = std::max(mx, s);
          }
          float sum = 0;
          for (int64_t j = j0; j < j1; ++j) {
            sc[j] = std::exp(sc[j] - mx);
            sum += sc[j];
          }
          float* o = out.f32() + t * out.stride + static_cast<int64_t>(qh) * hd;
          std::fill(o, o + hd, 0.0f);
          const float inv = 1.0f / sum;
          for (int64_t j = j0; j < j1; ++j) axpy_f32(fp16_to_fp32(fp32_to_fp16(sc[j] * inv)), vs + j * hd, o, hd);
        }
      }
    }
  });
}

}  // namespace paddock::backend::cpu
