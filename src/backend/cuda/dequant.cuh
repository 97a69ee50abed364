// CUDA backend (internal): the 32 elements of chunk `c` of a weight row, for every weight type
// the backend runs. A chunk is one block of the 32-element formats and one eighth of a K-quant
// super-block; layouts are quant/blocks.h's, element order as quant/unpack.h states it.
#pragma once
#include "backend/cuda/common.cuh"
#include "backend/cuda/ops.h"
#include "quant/blocks.h"

namespace paddock::backend::cuda {

namespace blk = quant::blk;

static __constant__ int8_t kIq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
static __constant__ int8_t kMxfp4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

__device__ __forceinline__ float e8m0_half_dev(uint8_t e) {
  const uint32_t bits = e < 2 ? (0x00200000u << e) : (static_cast<uint32_t>(e - 1) << 23);
  return __uint_as_float(bits);
}

__device__ __forceinline__ void k4_scale_min_dev(int j, const uint8_t* q, float* sc, float* m) {
  if (j < 4) {
    *sc = static_cast<float>(q[j] & 63);
    *m = static_cast<float>(q[j + 4] & 63);
  } else {
    *sc = static_cast<float>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<float>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// v[0..32) = elements [32c, 32c + 32) of the row starting at `row`.
template <Type T>
__device__ __forceinline__ void dequant_chunk(const uint8_t* __restrict__ row, int64_t c, float* v) {
  if constexpr (T == Type::F32) {
    const float4* p = reinterpret_cast<const float4*>(row) + c * 8;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const float4 f = p[i];
      v[4 * i] = f.x, v[4 * i + 1] = f.y, v[4 * i + 2] = f.z, v[4 * i + 3] = f.w;
    }
  } else if constexpr (T == Type::F16 || T == Type::BF16) {
    const uint4* p = reinterpret_cast<const uint4*>(row) + c * 4;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const uint4 u = p[i];
      const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const uint16_t lo = static_cast<uint16_t>(w[k] & 0xFFFF), hi = static_cast<uint16_t>(w[k] >> 16);
        v[8 * i + 2 * k] = T == Type::F16 ? h2f(lo) : bf2f(lo);
        v[8 * i + 2 * k + 1] = T == Type::F16 ? h2f(hi) : bf2f(hi);
      }
    }
  } else if constexpr (T == Type::Q8_0) {
    // 34-byte blocks: 2-byte aligned, so the quants come in 16 two-byte loads.
    const auto* b = reinterpret_cast<const blk::Q8_0*>(row) + c;
    const float d = h2f(b->d);
    const uint16_t* q2 = reinterpret_cast<const uint16_t*>(b->qs);
#pragma unroll
    for (int j = 0; j < 16; ++j) {
      const uint16_t u = q2[j];
      v[2 * j] = d * static_cast<float>(static_cast<int8_t>(u & 0xFF));
      v[2 * j + 1] = d * static_cast<float>(static_cast<int8_t>(u >> 8));
    }
  } else if constexpr (T == Type::Q4_0 || T == Type::IQ4_NL) {
    const auto* b = reinterpret_cast<const blk::Q4_0*>(row) + c;  // IQ4_NL has the same layout
    const float d = h2f(b->d);
    uint8_t qs[16];
    const uint16_t* q2 = reinterpret_cast<const uint16_t*>(b->qs);  // 18-byte blocks: 2-byte loads
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const uint16_t u = q2[j];
      qs[2 * j] = static_cast<uint8_t>(u & 0xFF);
      qs[2 * j + 1] = static_cast<uint8_t>(u >> 8);
    }
#pragma unroll
    for (int j = 0; j < 16; ++j) {
      const int lo = qs[j] & 0xF, hi = qs[j] >> 4;
      if constexpr (T == Type::Q4_0) {
        v[j] = d * static_cast<float>(lo - 8);
        v[j + 16] = d * static_cast<float>(hi - 8);
      } else {
        v[j] = d * static_cast<float>(kIq4nl[lo]);
        v[j + 16] = d * static_cast<float>(kIq4nl[hi]);
      }
    }
  } else if constexpr (T == Type::Q4_1) {
    const auto* b = reinterpret_cast<const blk::Q4_1*>(row) + c;
    const float d = h2f(b->d), m = h2f(b->m);
#pragma unroll
    for (int j = 0; j < 16; ++j) {
      v[j] = d * static_cast<float>(b->qs[j] & 0xF) + m;
      v[j + 16] = d * static_cast<float>(b->qs[j] >> 4) + m;
    }
  } else if constexpr (T == Type::Q5_0 || T == Type::Q5_1) {
    using B = std::conditional_t<T == Type::Q5_0, blk::Q5_0, blk::Q5_1>;
    const auto* b = reinterpret_cast<const B*>(row) + c;
    const uint32_t qh = static_cast<uint32_t>(b->qh[0]) | (static_cast<uint32_t>(b->qh[1]) << 8) |
                        (static_cast<uint32_t>(b->qh[2]) << 16) | (static_cast<uint32_t>(b->qh[3]) << 24);
    const float d = h2f(b->d);
    float m = 0.0f;
    if constexpr (T == Type::Q5_1) m = h2f(b->m);
    const int off = T == Type::Q5_0 ? 16 : 0;
#pragma unroll
    for (int j = 0; j < 16; ++j) {
      const int lo = (b->qs[j] & 0xF) | (((qh >> j) & 1) << 4);
      const int hi = (b->qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
      v[j] = d * static_cast<float>(lo - off) + m;
      v[j + 16] = d * static_cast<float>(hi - off) + m;
    }
  } else if constexpr (T == Type::MXFP4) {
    const auto* b = reinterpret_cast<const blk::MXFP4*>(row) + c;
    const float d = e8m0_half_dev(b->e);
#pragma unroll
    for (int j = 0; j < 16; ++j) {
      v[j] = d * static_cast<float>(kMxfp4[b->qs[j] & 0xF]);
      v[j + 16] = d * static_cast<float>(kMxfp4[b->qs[j] >> 4]);
    }
  } else if constexpr (T == Type::Q2_K) {
    const auto* b = reinterpret_cast<const blk::Q2_K*>(row) + c / 8;
    const int k = static_cast<int>(c % 8), n = k / 4, sh = k % 4;
    const float d = h2f(b->d), dmin = h2f(b->dmin);
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const uint8_t s = b->scales[8 * n + 2 * sh + half];
      const float dl = d * static_cast<float>(s & 0xF), ml = dmin * static_cast<float>(s >> 4);
#pragma unroll
      for (int l = 0; l < 16; ++l) {
        const int q = (b->qs[32 * n + 16 * half + l] >> (2 * sh)) & 3;
        v[16 * half + l] = dl * static_cast<float>(q) - ml;
      }
    }
  } else if constexpr (T == Type::Q3_K) {
    const auto* b = reinterpret_cast<const blk::Q3_K*>(row) + c / 8;
    const int k = static_cast<int>(c % 8), n = k / 4, sh = k % 4;
    const float d = h2f(b->d);
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int j = 8 * n + 2 * sh + half;
      const int lo = j < 8 ? (b->scales[j] & 0xF) : (b->scales[j - 8] >> 4);
      const int hi = (b->scales[8 + j % 4] >> (2 * (j / 4))) & 3;
      const float dl = d * static_cast<float>((lo | (hi << 4)) - 32);
#pragma unroll
      for (int l = 0; l < 16; ++l) {
        const int li = 16 * half + l;
        const int low = (b->qs[32 * n + li] >> (2 * sh)) & 3;
        const int high = (b->hmask[li] >> (4 * n + sh)) & 1;
        v[li] = dl * static_cast<float>(low - (high ? 0 : 4));
      }
    }
  } else if constexpr (T == Type::Q4_K || T == Type::Q5_K) {
    using B = std::conditional_t<T == Type::Q4_K, blk::Q4_K, blk::Q5_K>;
    const auto* b = reinterpret_cast<const B*>(row) + c / 8;
    const int k = static_cast<int>(c % 8), j = k / 2, h = k % 2;
    float sc, mn;
    k4_scale_min_dev(k, b->scales, &sc, &mn);
    const float dl = h2f(b->d) * sc, ml = h2f(b->dmin) * mn;
    // 144- and 176-byte blocks keep qs (and Q5_K's qh) 16-byte aligned: two 16-byte loads each.
    uint32_t qw[8], hw[8];
    const uint4* qv = reinterpret_cast<const uint4*>(b->qs + 32 * j);
    const uint4 q0 = qv[0], q1 = qv[1];
    qw[0] = q0.x, qw[1] = q0.y, qw[2] = q0.z, qw[3] = q0.w, qw[4] = q1.x, qw[5] = q1.y, qw[6] = q1.z, qw[7] = q1.w;
    if constexpr (T == Type::Q5_K) {
      const uint4* hv = reinterpret_cast<const uint4*>(b->qh);
      const uint4 h0 = hv[0], h1 = hv[1];
      hw[0] = h0.x, hw[1] = h0.y, hw[2] = h0.z, hw[3] = h0.w, hw[4] = h1.x, hw[5] = h1.y, hw[6] = h1.z, hw[7] = h1.w;
    }
#pragma unroll
    for (int l = 0; l < 32; ++l) {
      int q = (qw[l / 4] >> (8 * (l % 4) + 4 * h)) & 0xF;
      if constexpr (T == Type::Q5_K) q |= ((hw[l / 4] >> (8 * (l % 4) + k)) & 1) << 4;
      v[l] = dl * static_cast<float>(q) - ml;
    }
  } else if constexpr (T == Type::Q6_K) {
    const auto* b = reinterpret_cast<const blk::Q6_K*>(row) + c / 8;
    const int k = static_cast<int>(c % 8), n = k / 4, kk = k % 4;
    // 210-byte blocks: 2-byte aligned, so ql and qh come in two-byte loads.
    uint8_t ql[32], qh[32];
    const uint16_t* l2 = reinterpret_cast<const uint16_t*>(b->ql + 64 * n + (kk & 1) * 32);
    const uint16_t* h2 = reinterpret_cast<const uint16_t*>(b->qh + 32 * n);
#pragma unroll
    for (int i = 0; i < 16; ++i) {
      const uint16_t a = l2[i], e = h2[i];
      ql[2 * i] = static_cast<uint8_t>(a & 0xFF);
      ql[2 * i + 1] = static_cast<uint8_t>(a >> 8);
      qh[2 * i] = static_cast<uint8_t>(e & 0xFF);
      qh[2 * i + 1] = static_cast<uint8_t>(e >> 8);
    }
    const int lshift = (kk >> 1) * 4, hshift = 2 * kk;
    const float d = h2f(b->d);
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const float dl = d * static_cast<float>(b->scales[8 * n + 2 * kk + half]);
#pragma unroll
      for (int l = 0; l < 16; ++l) {
        const int li = 16 * half + l;
        const int q = ((ql[li] >> lshift) & 0xF) | (((qh[li] >> hshift) & 3) << 4);
        v[li] = dl * static_cast<float>(q - 32);
      }
    }
  } else if constexpr (T == Type::IQ4_XS) {
    const auto* b = reinterpret_cast<const blk::IQ4_XS*>(row) + c / 8;
    const int ib = static_cast<int>(c % 8);
    const int ls = ((b->scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((b->scales_h >> (2 * ib)) & 3) << 4);
    const float dl = h2f(b->d) * static_cast<float>(ls - 32);
#pragma unroll
    for (int j = 0; j < 16; ++j) {
      const uint8_t q = b->qs[16 * ib + j];
      v[j] = dl * static_cast<float>(kIq4nl[q & 0xF]);
      v[j + 16] = dl * static_cast<float>(kIq4nl[q >> 4]);
    }
  }
}

// Calls f.template operator()<T>() with the weight type as a template argument.
template <typename F>
void dispatch_type(Type t, F&& f) {
  switch (t) {
    case Type::F32: f.template operator()<Type::F32>(); break;
    case Type::F16: f.template operator()<Type::F16>(); break;
    case Type::BF16: f.template operator()<Type::BF16>(); break;
    case Type::Q8_0: f.template operator()<Type::Q8_0>(); break;
    case Type::Q4_0: f.template operator()<Type::Q4_0>(); break;
    case Type::Q4_1: f.template operator()<Type::Q4_1>(); break;
    case Type::Q5_0: f.template operator()<Type::Q5_0>(); break;
    case Type::Q5_1: f.template operator()<Type::Q5_1>(); break;
    case Type::IQ4_NL: f.template operator()<Type::IQ4_NL>(); break;
    case Type::MXFP4: f.template operator()<Type::MXFP4>(); break;
    case Type::Q2_K: f.template operator()<Type::Q2_K>(); break;
    case Type::Q3_K: f.template operator()<Type::Q3_K>(); break;
    case Type::Q4_K: f.template operator()<Type::Q4_K>(); break;
    case Type::Q5_K: f.template operator()<Type::Q5_K>(); break;
    case Type::Q6_K: f.template operator()<Type::Q6_K>(); break;
    case Type::IQ4_XS: f.template operator()<Type::IQ4_XS>(); break;
    default: break;
  }
}

}  // namespace paddock::backend::cuda
