// CUDA backend: paged attention. New K/V rows are written into their sequence's blocks (F16 or
// Q8_0), then one block of kAttnWarps warps per (token, query head) walks the visible keys —
// causal, sliding window, soft-capped — each warp an online softmax over every kAttnWarps-th key,
// merged at the end. Grouped-query heads read their shared KV head. A split-KV variant (below;
// PADDOCK_CUDA_ATTN=split, not yet measured on a GPU) spreads each head's keys over blocks.
#include <algorithm>

#include "backend/cuda/common.cuh"
#include "backend/cuda/ops.h"

namespace paddock::backend::cuda {
namespace {

constexpr int kAttnWarps = 8;
constexpr int kPerLane = kMaxHeadDim / 32;

__device__ __forceinline__ int64_t cache_row(const DevStep& s, int32_t seq, int32_t pos, int32_t block_size) {
  const int32_t block = s.block_tables[static_cast<int64_t>(seq) * s.max_blocks + pos / block_size];
  return static_cast<int64_t>(block) * block_size + pos % block_size;
}

// grid n_tokens; F16: threads over columns.
__global__ void k_store_f16(const float* src, int64_t ss, int64_t cols, DevStep st, int32_t block_size, uint16_t* cache) {
  const int32_t t = blockIdx.x;
  const int64_t row = cache_row(st, st.tok_seq[t], st.positions[t], block_size);
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) cache[row * cols + c] = f2h(src[t * ss + c]);
}

// grid n_tokens; a thread per 32-element block, in the CPU's order: d = amax / 127 stored as
// F16, q = x / d rounded half away from zero.
__global__ void k_store_q8(const float* src, int64_t ss, int64_t cols, DevStep st, int32_t block_size, uint8_t* cache) {
  const int32_t t = blockIdx.x;
  const int64_t row = cache_row(st, st.tok_seq[t], st.positions[t], block_size);
  const int64_t nb = cols / 32;
  for (int64_t b = threadIdx.x; b < nb; b += blockDim.x) {
    const float* x = src + t * ss + 32 * b;
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = fmaxf(amax, fabsf(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t* blk = cache + (row * nb + b) * 34;
    const uint16_t h = f2h(d);
    blk[0] = static_cast<uint8_t>(h & 0xFF);
    blk[1] = static_cast<uint8_t>(h >> 8);
    for (int j = 0; j < 32; ++j) {
      const int q = max(-127, min(127, static_cast<int>(roundf(x[j] * id))));
      blk[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(q));
    }
  }
}

template <bool kQ8>
__device__ __forceinline__ float load_kv(const void* cache, int64_t row, int64_t kv_cols, int64_t e) {
  if constexpr (!kQ8) {
    return h2f(static_cast<const uint16_t*>(cache)[row * kv_cols + e]);
  } else {
    const uint8_t* blk = static_cast<const uint8_t*>(cache) + (row * (kv_cols / 32) + e / 32) * 34;
    return h2f(ld_u16(blk)) * static_cast<float>(static_cast<int8_t>(blk[2 + e % 32]));
  }
}

// grid (n_tokens, n_head), kAttnWarps warps.
template <bool kQ8>
__global__ void __launch_bounds__(kAttnWarps * 32) k_attention(AttnArgs a, DevStep st) {
  const int32_t t = blockIdx.x, h = blockIdx.y;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int32_t seq = st.tok_seq[t], pos = st.positions[t];
  const int32_t lo = a.window > 0 ? max(0, pos - a.window + 1) : 0;
  const int64_t kv_off = static_cast<int64_t>(h / a.group) * a.head_dim;
  float qv[kPerLane], acc[kPerLane];
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int d = lane + 32 * i;
    // q meets the F16 keys as F16 (as the CPU oracle).
    qv[i] = d < a.head_dim ? __half2float(__float2half_rn(a.q[t * a.qs + static_cast<int64_t>(h) * a.head_dim + d])) : 0.0f;
    acc[i] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  for (int32_t j = lo + warp; j <= pos; j += kAttnWarps) {
    const int64_t row = cache_row(st, seq, j, a.block_size);
    float part = 0.0f;
#pragma unroll
    for (int i = 0; i < kPerLane; ++i) {
      const int d = lane + 32 * i;
      if (d < a.head_dim) part += qv[i] * load_kv<kQ8>(a.kc, row, a.kv_cols, kv_off + d);
    }
    float s = warp_sum(part) * a.scale;
    if (a.softcap > 0.0f) s = a.softcap * tanhf(s / a.softcap);
    const float m_new = fmaxf(m, s);
    const float corr = __expf(m - m_new), p = __expf(s - m_new);
    l = l * corr + p;
#pragma unroll
    for (int i = 0; i < kPerLane; ++i) {
      const int d = lane + 32 * i;
      const float v = d < a.head_dim ? load_kv<kQ8>(a.vc, row, a.kv_cols, kv_off + d) : 0.0f;
      acc[i] = acc[i] * corr + p * v;
    }
    m = m_new;
  }
  __shared__ float sm[kAttnWarps], sl[kAttnWarps];
  __shared__ float sacc[kAttnWarps][kMaxHeadDim];
  if (lane == 0) {
    sm[warp] = m;
    sl[warp] = l;
  }
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int d = lane + 32 * i;
    if (d < a.head_dim) sacc[warp][d] = acc[i];
  }
  __syncthreads();
  float M = -INFINITY;
  for (int w = 0; w < kAttnWarps; ++w) M = fmaxf(M, sm[w]);
  float L = 0.0f;
  for (int w = 0; w < kAttnWarps; ++w)
    if (sm[w] > -INFINITY) L += sl[w] * __expf(sm[w] - M);
  for (int d = threadIdx.x; d < a.head_dim; d += blockDim.x) {
    float o = 0.0f;
    for (int w = 0; w < kAttnWarps; ++w)
      if (sm[w] > -INFINITY) o += sacc[w][d] * __expf(sm[w] - M);
    a.out[t * a.os + static_cast<int64_t>(h) * a.head_dim + d] = o / L;
  }
}

// Split-KV attention: grid (n_tokens, n_head, n_split), kSplitWarps warps. Block sp takes keys
// [sp * keys_per_split, ...) of its token's visible range; each warp scores 32 keys at a time, a
// key per lane (its K row read whole), then accumulates their V rows with the lanes over the head
// dimension, as an online softmax. The warps merge in shared memory; with one split the block
// writes the output, otherwise (max, sum, unnormalised output) partials that k_attn_merge combines.
constexpr int kSplitWarps = 4;
constexpr int kKeysPerIter = kSplitWarps * 32;

template <bool kQ8>
__device__ __forceinline__ float score_row(const AttnArgs& a, const float* sq, int64_t row, int64_t kv_off) {
  float s = 0.0f;
  if constexpr (!kQ8) {
    if (a.head_dim % 8 == 0) {
      const uint4* kp = reinterpret_cast<const uint4*>(static_cast<const uint16_t*>(a.kc) + row * a.kv_cols + kv_off);
      for (int d8 = 0; d8 < a.head_dim / 8; ++d8) {
        const uint4 u = kp[d8];
        const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const float2 f = __half22float2(*reinterpret_cast<const __half2*>(&w[e]));
          s += sq[8 * d8 + 2 * e] * f.x + sq[8 * d8 + 2 * e + 1] * f.y;
        }
      }
      return s;
    }
  }
  for (int d = 0; d < a.head_dim; ++d) s += sq[d] * load_kv<kQ8>(a.kc, row, a.kv_cols, kv_off + d);
  return s;
}

template <bool kQ8>
__global__ void __launch_bounds__(kSplitWarps * 32)
    k_attn_split(AttnArgs a, DevStep st, int32_t keys_per_split, float* __restrict__ part) {
  const int32_t t = blockIdx.x, h = blockIdx.y, sp = blockIdx.z, n_split = gridDim.z;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int32_t seq = st.tok_seq[t], pos = st.positions[t];
  const int32_t lo = a.window > 0 ? max(0, pos - a.window + 1) : 0;
  const int32_t k0 = max(lo, sp * keys_per_split), k_end = min(sp * keys_per_split + keys_per_split, pos + 1);
  const int64_t kv_off = static_cast<int64_t>(h / a.group) * a.head_dim;
  __shared__ float sq[kMaxHeadDim];
  // q meets the F16 keys as F16 (as the CPU oracle).
  for (int d = threadIdx.x; d < a.head_dim; d += blockDim.x)
    sq[d] = __half2float(__float2half_rn(a.q[t * a.qs + static_cast<int64_t>(h) * a.head_dim + d]));
  __syncthreads();
  float m = -INFINITY, l = 0.0f, acc[kPerLane];
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) acc[i] = 0.0f;
  for (int32_t base = k0 + 32 * warp; base < k_end; base += kKeysPerIter) {
    const int32_t j = base + lane;
    const bool valid = j < k_end;
    int64_t row = 0;
    float s = -INFINITY;
    if (valid) {
      row = cache_row(st, seq, j, a.block_size);
      s = score_row<kQ8>(a, sq, row, kv_off) * a.scale;
      if (a.softcap > 0.0f) s = a.softcap * tanhf(s / a.softcap);
    }
    const float m_new = fmaxf(m, warp_max(s));  // finite: lane 0's key is always valid
    const float corr = __expf(m - m_new), p = valid ? __expf(s - m_new) : 0.0f;
    l = l * corr + warp_sum(p);
#pragma unroll
    for (int i = 0; i < kPerLane; ++i) acc[i] *= corr;
    const int nk = min(32, k_end - base);
    for (int kk = 0; kk < nk; ++kk) {
      const float pk = __shfl_sync(0xffffffffu, p, kk);
      const int64_t rk = __shfl_sync(0xffffffffu, row, kk);
#pragma unroll
      for (int i = 0; i < kPerLane; ++i) {
        const int d = lane + 32 * i;
        if (d < a.head_dim) acc[i] += pk * load_kv<kQ8>(a.vc, rk, a.kv_cols, kv_off + d);
      }
    }
    m = m_new;
  }
  __shared__ float sm[kSplitWarps], sl[kSplitWarps];
  __shared__ float sacc[kSplitWarps][kMaxHeadDim];
  if (lane == 0) sm[warp] = m, sl[warp] = l;
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int d = lane + 32 * i;
    if (d < a.head_dim) sacc[warp][d] = acc[i];
  }
  __syncthreads();
  float M = -INFINITY;
  for (int w = 0; w < kSplitWarps; ++w) M = fmaxf(M, sm[w]);
  float L = 0.0f;
  for (int w = 0; w < kSplitWarps; ++w)
    if (sm[w] > -INFINITY) L += sl[w] * __expf(sm[w] - M);
  float* pp = part + ((static_cast<int64_t>(t) * gridDim.y + h) * n_split + sp) * (a.head_dim + 2);
  if (n_split > 1 && threadIdx.x == 0) pp[0] = M, pp[1] = L;
  for (int d = threadIdx.x; d < a.head_dim; d += blockDim.x) {
    float o = 0.0f;
    for (int w = 0; w < kSplitWarps; ++w)
      if (sm[w] > -INFINITY) o += sacc[w][d] * __expf(sm[w] - M);
    if (n_split == 1)
      a.out[t * a.os + static_cast<int64_t>(h) * a.head_dim + d] = o / L;
    else
      pp[2 + d] = o;
  }
}

// grid (n_tokens, n_head): the splits' partials merged (a split with no visible key has max -inf).
__global__ void k_attn_merge(AttnArgs a, int32_t n_split, const float* __restrict__ part) {
  const int32_t t = blockIdx.x, h = blockIdx.y;
  const float* pp = part + (static_cast<int64_t>(t) * gridDim.y + h) * n_split * (a.head_dim + 2);
  float M = -INFINITY;
  for (int s = 0; s < n_split; ++s) M = fmaxf(M, pp[s * (a.head_dim + 2)]);
  float L = 0.0f;
  for (int s = 0; s < n_split; ++s) {
    const float ms = pp[s * (a.head_dim + 2)];
    if (ms > -INFINITY) L += pp[s * (a.head_dim + 2) + 1] * __expf(ms - M);
  }
  for (int d = threadIdx.x; d < a.head_dim; d += blockDim.x) {
    float o = 0.0f;
    for (int s = 0; s < n_split; ++s) {
      const float ms = pp[s * (a.head_dim + 2)];
      if (ms > -INFINITY) o += pp[s * (a.head_dim + 2) + 2 + d] * __expf(ms - M);
    }
    a.out[t * a.os + static_cast<int64_t>(h) * a.head_dim + d] = o / L;
  }
}

}  // namespace

void launch_store_kv(const float* src, int64_t ss, int64_t cols, const DevStep& s, int32_t block_size, bool q8,
                     void* cache, cudaStream_t st) {
  if (q8)
    k_store_q8<<<s.n_tokens, 64, 0, st>>>(src, ss, cols, s, block_size, static_cast<uint8_t*>(cache));
  else
    k_store_f16<<<s.n_tokens, 256, 0, st>>>(src, ss, cols, s, block_size, static_cast<uint16_t*>(cache));
}

void launch_attention(const AttnArgs& a, const DevStep& s, cudaStream_t st) {
  const dim3 grid(static_cast<unsigned>(s.n_tokens), static_cast<unsigned>(a.n_head));
  if (a.q8)
    k_attention<true><<<grid, kAttnWarps * 32, 0, st>>>(a, s);
  else
    k_attention<false><<<grid, kAttnWarps * 32, 0, st>>>(a, s);
}

AttnSplit plan_attention(const AttnArgs& a, const DevStep& s) {
  // One split per kKeysPerIter keys of the longest visible range, so a decode step has blocks for
  // every SM; capped so the partials stay within kMaxPartBytes (long prefills loop instead).
  constexpr int64_t kMaxPartBytes = int64_t{32} << 20;
  const int64_t max_keys = std::max<int64_t>(1, static_cast<int64_t>(s.max_blocks) * a.block_size);
  const int64_t per_split_bytes = static_cast<int64_t>(s.n_tokens) * a.n_head * (a.head_dim + 2) * 4;
  int64_t n_split = (max_keys + kKeysPerIter - 1) / kKeysPerIter;
  n_split = std::max<int64_t>(1, std::min(n_split, kMaxPartBytes / std::max<int64_t>(1, per_split_bytes)));
  int64_t per = (max_keys + n_split - 1) / n_split;
  per = (per + kKeysPerIter - 1) / kKeysPerIter * kKeysPerIter;
  n_split = (max_keys + per - 1) / per;
  return {static_cast<int32_t>(n_split), static_cast<int32_t>(per),
          n_split > 1 ? static_cast<size_t>(n_split * per_split_bytes) : 0};
}

void launch_attention_split(const AttnArgs& a, const DevStep& s, const AttnSplit& plan, float* part,
                            cudaStream_t st) {
  const dim3 grid(static_cast<unsigned>(s.n_tokens), static_cast<unsigned>(a.n_head),
                  static_cast<unsigned>(plan.n_split));
  if (a.q8)
    k_attn_split<true><<<grid, kSplitWarps * 32, 0, st>>>(a, s, plan.keys_per_split, part);
  else
    k_attn_split<false><<<grid, kSplitWarps * 32, 0, st>>>(a, s, plan.keys_per_split, part);
  if (plan.n_split > 1)
    k_attn_merge<<<dim3(static_cast<unsigned>(s.n_tokens), static_cast<unsigned>(a.n_head)), 128, 0, st>>>(
        a, plan.n_split, part);
}

}  // namespace paddock::backend::cuda
