// CUDA backend: the decode matmul for quantized weights, out[n, R] = x[n, K] · Wᵀ for n <= 8, in
// integers as the CPU's dot kernels compute it. The activations are quantized once (Q8_0 or Q8_K
// rounding, the CPU's act formats) to int8 with one float scale per 32 elements; each 32-element
// weight chunk is unpacked to int8 with a scale (and, for formats with a minimum, an offset) per
// 16-element half, and the dot products are dp4a. One warp owns RW weight rows; each lane takes
// U chunks per step with all their loads in flight before any arithmetic.
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "backend/cuda/common.cuh"
#include "backend/cuda/dequant.cuh"

namespace paddock::backend::cuda {
namespace {

constexpr int kWarpsPerBlock = 4;

// A 32-bit word from a 2-byte-aligned address.
__device__ __forceinline__ uint32_t ld32_a2(const uint8_t* p) {
  const uint16_t* h = reinterpret_cast<const uint16_t*>(p);
  return static_cast<uint32_t>(h[0]) | (static_cast<uint32_t>(h[1]) << 16);
}
__device__ __forceinline__ uint32_t ld32(const uint8_t* p) { return *reinterpret_cast<const uint32_t*>(p); }

constexpr uint32_t pack4(int a, int b, int c, int d) {
  return (static_cast<uint32_t>(a) & 0xFF) | ((static_cast<uint32_t>(b) & 0xFF) << 8) |
         ((static_cast<uint32_t>(c) & 0xFF) << 16) | ((static_cast<uint32_t>(d) & 0xFF) << 24);
}
// 16-entry int8 tables as four words (entry i in byte i % 4 of word i / 4).
// (constexpr scalars, which device code may read).
constexpr uint32_t kIq4nl0 = pack4(-127, -104, -83, -65), kIq4nl1 = pack4(-49, -35, -22, -10),
                   kIq4nl2 = pack4(1, 13, 25, 38), kIq4nl3 = pack4(53, 69, 89, 113);
constexpr uint32_t kMxfp40 = pack4(0, 1, 2, 3), kMxfp41 = pack4(4, 6, 8, 12), kMxfp42 = pack4(0, -1, -2, -3),
                   kMxfp43 = pack4(-4, -6, -8, -12);

// Four table lookups at once: each byte of q (0..15) replaced by its int8 table entry.
__device__ __forceinline__ uint32_t lookup16(uint32_t q, uint32_t t0, uint32_t t1, uint32_t t2, uint32_t t3) {
  const uint32_t sel = (q & 0x7u) | ((q >> 4) & 0x70u) | ((q >> 8) & 0x700u) | ((q >> 12) & 0x7000u);
  const uint32_t lo = __byte_perm(t0, t1, sel), hi = __byte_perm(t2, t3, sel);
  const uint32_t m = ((q >> 3) & 0x01010101u) * 0xFFu;
  return (lo & ~m) | (hi & m);
}
// Bits 0..3 of b to bit 0 of bytes 0..3.
__device__ __forceinline__ uint32_t spread4(uint32_t b) { return ((b & 0xFu) * 0x00204081u) & 0x01010101u; }

// Chunk c of a weight row as int8: element e = s[e / 16] * q[e] + m[e / 16], q packed four to a
// word in element order. Formats without a minimum leave m untouched.
template <Type T>
constexpr bool kHasMin = T == Type::Q4_1 || T == Type::Q5_1 || T == Type::Q2_K || T == Type::Q4_K || T == Type::Q5_K;

template <Type T>
__device__ __forceinline__ void qchunk(const uint8_t* __restrict__ row, int64_t c, uint32_t* q, float* s, float* m) {
  if constexpr (T == Type::Q8_0) {
    const uint8_t* b = row + c * sizeof(blk::Q8_0);
    s[0] = s[1] = h2f(ld_u16(b));
#pragma unroll
    for (int i = 0; i < 8; ++i) q[i] = ld32_a2(b + 2 + 4 * i);
  } else if constexpr (T == Type::Q4_0 || T == Type::IQ4_NL) {
    const uint8_t* b = row + c * sizeof(blk::Q4_0);
    s[0] = s[1] = h2f(ld_u16(b));
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const uint32_t w = ld32_a2(b + 2 + 4 * i);
      uint32_t lo = w & 0x0F0F0F0Fu, hi = (w >> 4) & 0x0F0F0F0Fu;
      if constexpr (T == Type::Q4_0) {
        lo = __vsub4(lo, 0x08080808u), hi = __vsub4(hi, 0x08080808u);
      } else {
        lo = lookup16(lo, kIq4nl0, kIq4nl1, kIq4nl2, kIq4nl3);
        hi = lookup16(hi, kIq4nl0, kIq4nl1, kIq4nl2, kIq4nl3);
      }
      q[i] = lo, q[i + 4] = hi;
    }
  } else if constexpr (T == Type::MXFP4) {
    const uint8_t* b = row + c * sizeof(blk::MXFP4);
    s[0] = s[1] = e8m0_half_dev(b[0]);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const uint8_t* p = b + 1 + 4 * i;
      const uint32_t w = p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24);
      q[i] = lookup16(w & 0x0F0F0F0Fu, kMxfp40, kMxfp41, kMxfp42, kMxfp43);
      q[i + 4] = lookup16((w >> 4) & 0x0F0F0F0Fu, kMxfp40, kMxfp41, kMxfp42, kMxfp43);
    }
  } else if constexpr (T == Type::Q4_1) {
    const uint8_t* b = row + c * sizeof(blk::Q4_1);
    s[0] = s[1] = h2f(ld_u16(b));
    m[0] = m[1] = h2f(ld_u16(b + 2));
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const uint32_t w = ld32(b + 4 + 4 * i);
      q[i] = w & 0x0F0F0F0Fu, q[i + 4] = (w >> 4) & 0x0F0F0F0Fu;
    }
  } else if constexpr (T == Type::Q5_0 || T == Type::Q5_1) {
    using B = std::conditional_t<T == Type::Q5_0, blk::Q5_0, blk::Q5_1>;
    const uint8_t* b = row + c * sizeof(B);
    const uint8_t* qh_p = b + offsetof(B, qh);
    const uint8_t* qs = b + offsetof(B, qs);
    const uint32_t qh = ld32_a2(qh_p);
    s[0] = s[1] = h2f(ld_u16(b));
    if constexpr (T == Type::Q5_1) m[0] = m[1] = h2f(ld_u16(b + 2));
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const uint32_t w = ld32_a2(qs + 4 * i);
      uint32_t lo = (w & 0x0F0F0F0Fu) | (spread4(qh >> (4 * i)) << 4);
      uint32_t hi = ((w >> 4) & 0x0F0F0F0Fu) | (spread4(qh >> (16 + 4 * i)) << 4);
      if constexpr (T == Type::Q5_0) lo = __vsub4(lo, 0x10101010u), hi = __vsub4(hi, 0x10101010u);
      q[i] = lo, q[i + 4] = hi;
    }
  } else if constexpr (T == Type::Q2_K) {
    const uint8_t* b = row + (c / 8) * sizeof(blk::Q2_K);
    const int k = static_cast<int>(c % 8), n = k / 4, sh = k % 4;
    const float d = h2f(ld_u16(b + offsetof(blk::Q2_K, d))), dmin = h2f(ld_u16(b + offsetof(blk::Q2_K, dmin)));
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const uint8_t sc = b[offsetof(blk::Q2_K, scales) + 8 * n + 2 * sh + h];
      s[h] = d * static_cast<float>(sc & 0xF);
      m[h] = -dmin * static_cast<float>(sc >> 4);
    }
    const uint8_t* qs = b + offsetof(blk::Q2_K, qs) + 32 * n;
#pragma unroll
    for (int i = 0; i < 8; ++i) q[i] = (ld32(qs + 4 * i) >> (2 * sh)) & 0x03030303u;
  } else if constexpr (T == Type::Q3_K) {
    const uint8_t* b = row + (c / 8) * sizeof(blk::Q3_K);
    const int k = static_cast<int>(c % 8), n = k / 4, sh = k % 4;
    const float d = h2f(ld_u16(b + offsetof(blk::Q3_K, d)));
    const uint8_t* sc = b + offsetof(blk::Q3_K, scales);
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int j = 8 * n + 2 * sh + h;
      const int lo = j < 8 ? (sc[j] & 0xF) : (sc[j - 8] >> 4);
      const int hi = (sc[8 + j % 4] >> (2 * (j / 4))) & 3;
      s[h] = d * static_cast<float>((lo | (hi << 4)) - 32);
    }
    const uint8_t* qs = b + offsetof(blk::Q3_K, qs) + 32 * n;
    const uint8_t* hm = b + offsetof(blk::Q3_K, hmask);
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const uint32_t low = (ld32_a2(qs + 4 * i) >> (2 * sh)) & 0x03030303u;
      const uint32_t high = (ld32_a2(hm + 4 * i) >> (4 * n + sh)) & 0x01010101u;
      q[i] = __vsub4(low | (high << 2), 0x04040404u);
    }
  } else if constexpr (T == Type::Q4_K || T == Type::Q5_K) {
    using B = std::conditional_t<T == Type::Q4_K, blk::Q4_K, blk::Q5_K>;
    const auto* b = reinterpret_cast<const B*>(row) + c / 8;
    const int k = static_cast<int>(c % 8), j = k / 2, h = k % 2;
    float sc, mn;
    k4_scale_min_dev(k, b->scales, &sc, &mn);
    s[0] = s[1] = h2f(b->d) * sc;
    m[0] = m[1] = -h2f(b->dmin) * mn;
    const uint4* qv = reinterpret_cast<const uint4*>(b->qs + 32 * j);
    const uint4 q0 = qv[0], q1 = qv[1];
    const uint32_t qw[8] = {q0.x, q0.y, q0.z, q0.w, q1.x, q1.y, q1.z, q1.w};
#pragma unroll
    for (int i = 0; i < 8; ++i) q[i] = (qw[i] >> (4 * h)) & 0x0F0F0F0Fu;
    if constexpr (T == Type::Q5_K) {
      const uint4* hv = reinterpret_cast<const uint4*>(b->qh);
      const uint4 h0 = hv[0], h1 = hv[1];
      const uint32_t hw[8] = {h0.x, h0.y, h0.z, h0.w, h1.x, h1.y, h1.z, h1.w};
#pragma unroll
      for (int i = 0; i < 8; ++i) q[i] |= ((hw[i] >> k) & 0x01010101u) << 4;
    }
  } else if constexpr (T == Type::Q6_K) {
    const uint8_t* b = row + (c / 8) * sizeof(blk::Q6_K);
    const int k = static_cast<int>(c % 8), n = k / 4, kk = k % 4;
    const float d = h2f(ld_u16(b + offsetof(blk::Q6_K, d)));
    const auto* scales = reinterpret_cast<const int8_t*>(b + offsetof(blk::Q6_K, scales));
    s[0] = d * static_cast<float>(scales[8 * n + 2 * kk]);
    s[1] = d * static_cast<float>(scales[8 * n + 2 * kk + 1]);
    const uint8_t* ql = b + offsetof(blk::Q6_K, ql) + 64 * n + (kk & 1) * 32;
    const uint8_t* qh = b + offsetof(blk::Q6_K, qh) + 32 * n;
    const int lshift = (kk >> 1) * 4, hshift = 2 * kk;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const uint32_t lo = (ld32_a2(ql + 4 * i) >> lshift) & 0x0F0F0F0Fu;
      const uint32_t hi = (ld32_a2(qh + 4 * i) >> hshift) & 0x03030303u;
      q[i] = __vsub4(lo | (hi << 4), 0x20202020u);
    }
  } else if constexpr (T == Type::IQ4_XS) {
    const auto* b = reinterpret_cast<const blk::IQ4_XS*>(row) + c / 8;
    const int ib = static_cast<int>(c % 8);
    const int ls = ((b->scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((b->scales_h >> (2 * ib)) & 3) << 4);
    s[0] = s[1] = h2f(b->d) * static_cast<float>(ls - 32);
    const uint2* qv = reinterpret_cast<const uint2*>(b->qs + 16 * ib);
    const uint2 a = qv[0], e = qv[1];
    const uint32_t w[4] = {a.x, a.y, e.x, e.y};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      q[i] = lookup16(w[i] & 0x0F0F0F0Fu, kIq4nl0, kIq4nl1, kIq4nl2, kIq4nl3);
      q[i + 4] = lookup16((w[i] >> 4) & 0x0F0F0F0Fu, kIq4nl0, kIq4nl1, kIq4nl2, kIq4nl3);
    }
  }
}

// grid: the jobs' row blocks one after another (job j owns blocks [first[j], first[j + 1]) of
// ceil(R_j / (kWarpsPerBlock * RW))). aq: [n, K] int8 (rows 16-byte aligned: K % 32 == 0);
// ad: [n, K / 32] scales.
template <Type T, int NR, int RW, int U>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    k_mmvq(const MmvqJobs jobs, int64_t K, const int8_t* __restrict__ aq, const float* __restrict__ ad, int n) {
  int j = 0;
  while (j + 1 < jobs.count && static_cast<int>(blockIdx.x) >= jobs.first_block[j + 1]) ++j;
  const MmvqJob& job = jobs.job[j];
  const uint8_t* __restrict__ w = static_cast<const uint8_t*>(job.w);
  const int64_t R = job.R;
  const int lane = threadIdx.x % 32;
  const int64_t r0 =
      ((static_cast<int64_t>(blockIdx.x) - jobs.first_block[j]) * kWarpsPerBlock + threadIdx.x / 32) * RW;
  if (r0 >= R) return;
  const uint64_t row_bytes = job.row_bytes;
  const float* __restrict__ bias = job.bias;
  float* __restrict__ out = job.out;
  const int64_t os = job.os;
  const int64_t nc = K / 32;
  const uint8_t* rows[RW];
#pragma unroll
  for (int i = 0; i < RW; ++i) rows[i] = w + static_cast<uint64_t>(min(r0 + i, R - 1)) * row_bytes;
  float acc[RW][NR];
#pragma unroll
  for (int i = 0; i < RW; ++i)
#pragma unroll
    for (int b = 0; b < NR; ++b) acc[i][b] = 0.0f;
  for (int64_t c0 = lane; c0 < nc; c0 += 32 * U) {
    uint32_t q[U][RW][8];
    float s[U][RW][2], m[U][RW][2];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t c = min(c0 + 32 * u, nc - 1);  // a repeated chunk past the end is not counted
#pragma unroll
      for (int i = 0; i < RW; ++i) qchunk<T>(rows[i], c, q[u][i], s[u][i], m[u][i]);
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t c = c0 + 32 * u;
      if (c >= nc) break;
#pragma unroll
      for (int b = 0; b < NR; ++b) {
        if (b < n) {
          const int4* ap = reinterpret_cast<const int4*>(aq + b * K + 32 * c);
          const int4 a0 = ap[0], a1 = ap[1];
          const int a[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
          const float d = ad[b * nc + c];
          int z0 = 0, z1 = 0;
          if constexpr (kHasMin<T>) {
#pragma unroll
            for (int e = 0; e < 4; ++e) z0 = __dp4a(a[e], 0x01010101, z0), z1 = __dp4a(a[4 + e], 0x01010101, z1);
          }
#pragma unroll
          for (int i = 0; i < RW; ++i) {
            int p0 = 0, p1 = 0;
#pragma unroll
            for (int e = 0; e < 4; ++e) {
              p0 = __dp4a(static_cast<int>(q[u][i][e]), a[e], p0);
              p1 = __dp4a(static_cast<int>(q[u][i][4 + e]), a[4 + e], p1);
            }
            float v = s[u][i][0] * static_cast<float>(p0) + s[u][i][1] * static_cast<float>(p1);
            if constexpr (kHasMin<T>) v += m[u][i][0] * static_cast<float>(z0) + m[u][i][1] * static_cast<float>(z1);
            acc[i][b] += d * v;
          }
        }
      }
    }
  }
#pragma unroll
  for (int i = 0; i < RW; ++i) {
    const int64_t r = r0 + i;
#pragma unroll
    for (int b = 0; b < NR; ++b) {
      if (b < n) {
        const float v = warp_sum(acc[i][b]);
        if (lane == 0 && r < R) out[b * os + r] = v + (bias != nullptr ? bias[r] : 0.0f);
      }
    }
  }
}

// grid (n, ceil(K / 256)), 256 threads, a warp per 32 elements: act_q8_0's rounding.
__global__ void k_quant_q8_0(const float* __restrict__ x, int64_t xs, int64_t K, int8_t* __restrict__ q,
                             float* __restrict__ d) {
  const int64_t r = blockIdx.x, c = static_cast<int64_t>(blockIdx.y) * 8 + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (c >= K / 32) return;
  const float v = x[r * xs + 32 * c + lane];
  const float amax = warp_max(fabsf(v));
  const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
  q[r * K + 32 * c + lane] = static_cast<int8_t>(max(-127, min(127, v == v ? __float2int_rn(v * id) : 0)));
  if (lane == 0) d[r * (K / 32) + c] = __half2float(__float2half_rn(amax / 127.0f));
}

// grid (n, K / 256), 256 threads: act_q8_k's rounding (signed scale -127 / mx, mx the first value
// of largest magnitude); its scale repeated for each 32 elements.
__global__ void k_quant_q8_k(const float* __restrict__ x, int64_t xs, int64_t K, int8_t* __restrict__ q,
                             float* __restrict__ d) {
  __shared__ float s_amax[8];
  __shared__ int s_idx;
  const int64_t r = blockIdx.x, c0 = static_cast<int64_t>(blockIdx.y) * 256;
  const int j = threadIdx.x;
  const float v = x[r * xs + c0 + j];
  const float a = warp_max(fabsf(v));
  if (j % 32 == 0) s_amax[j / 32] = a;
  if (j == 0) s_idx = 256;
  __syncthreads();
  float amax = 0.0f;
  for (int k = 0; k < 8; ++k) amax = fmaxf(amax, s_amax[k]);
  if (fabsf(v) == amax) atomicMin(&s_idx, j);
  __syncthreads();
  int qi = 0;
  float scale = 0.0f;
  if (amax != 0.0f) {
    const float iscale = -127.0f / x[r * xs + c0 + s_idx];
    qi = max(-127, min(127, v == v ? __float2int_rn(iscale * v) : 0));
    scale = 1.0f / iscale;
  }
  q[r * K + c0 + j] = static_cast<int8_t>(qi);
  if (j % 32 == 0) d[r * (K / 32) + c0 / 32 + j / 32] = scale;
}

}  // namespace

bool mmvq_supported(Type t) {
  return t != Type::F32 && t != Type::F16 && t != Type::BF16 && type_supported(static_cast<uint32_t>(t));
}

void launch_quant_act(ActRound r, const float* x, int64_t xs, int64_t n, int64_t K, int8_t* q, float* d,
                      cudaStream_t st) {
  if (r == ActRound::kQ8_K)
    k_quant_q8_k<<<dim3(static_cast<unsigned>(n), static_cast<unsigned>(K / 256)), 256, 0, st>>>(x, xs, K, q, d);
  else
    k_quant_q8_0<<<dim3(static_cast<unsigned>(n), ceil_div(K, 256)), 256, 0, st>>>(x, xs, K, q, d);
}

void launch_mmvq(Type t, const MmvqJobs& jobs_in, int64_t K, const int8_t* q, const float* d, int n,
                 cudaStream_t st) {
  MmvqJobs jobs = jobs_in;
  const int rw = n <= 2 ? 1 : 2;
  int blocks = 0;
  for (int j = 0; j < jobs.count; ++j) {
    jobs.first_block[j] = blocks;
    blocks += static_cast<int>(ceil_div(jobs.job[j].R, int64_t{kWarpsPerBlock} * rw));
  }
  dispatch_type(t, [&]<Type T>() {
    if constexpr (T != Type::F32 && T != Type::F16 && T != Type::BF16) {
      if (n == 1)
        k_mmvq<T, 1, 1, 2><<<blocks, kWarpsPerBlock * 32, 0, st>>>(jobs, K, q, d, n);
      else if (n == 2)
        k_mmvq<T, 2, 1, 2><<<blocks, kWarpsPerBlock * 32, 0, st>>>(jobs, K, q, d, n);
      else if (n <= 4)
        k_mmvq<T, 4, 2, 1><<<blocks, kWarpsPerBlock * 32, 0, st>>>(jobs, K, q, d, n);
      else
        k_mmvq<T, 8, 2, 1><<<blocks, kWarpsPerBlock * 32, 0, st>>>(jobs, K, q, d, n);
    }
  });
}

}  // namespace paddock::backend::cuda
