// CUDA backend: out[n, R] = x[n, K] · Wᵀ for every weight type. Few rows (decode, small batches):
// one fused dequantize-dot kernel per type, a warp per weight row, every weight byte read once
// for up to kMaxSmall activation rows. More rows (prefill): the weight is dequantized to F16 in
// row tiles (F16/BF16/F32 weights are used as they are) and multiplied by cuBLAS with F32
// accumulation and F32 output.
#include <cstdint>
#include <type_traits>

#include "backend/cuda/common.cuh"
#include "backend/cuda/dequant.cuh"

namespace paddock::backend::cuda {
namespace {

constexpr int kWarpsPerBlock = 4;   // weight rows per block

// grid ceil(R / (kWarpsPerBlock * RW)); x rows 16-byte aligned (stride a multiple of 4 floats).
// Each warp owns RW consecutive weight rows: per 32-element chunk it dequantizes the chunk of
// every row first (RW independent loads in flight), then reads each activation row's chunk once
// for all RW rows.
template <Type T, int NR, int RW>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    k_mmv(const uint8_t* __restrict__ w, uint64_t row_bytes, int64_t R, int64_t K, const float* __restrict__ x,
          int64_t xs, int n, const float* __restrict__ bias, float* __restrict__ out, int64_t os) {
  const int lane = threadIdx.x % 32;
  const int64_t r0 = (static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32) * RW;
  if (r0 >= R) return;
  const uint8_t* rows[RW];
#pragma unroll
  for (int i = 0; i < RW; ++i) rows[i] = w + static_cast<uint64_t>(min(r0 + i, R - 1)) * row_bytes;
  float acc[RW][NR];
#pragma unroll
  for (int i = 0; i < RW; ++i)
#pragma unroll
    for (int b = 0; b < NR; ++b) acc[i][b] = 0.0f;
  for (int64_t c = lane; c < K / 32; c += 32) {
    float v[RW][32];
#pragma unroll
    for (int i = 0; i < RW; ++i) dequant_chunk<T>(rows[i], c, v[i]);
#pragma unroll
    for (int b = 0; b < NR; ++b) {
      if (b < n) {
        const float4* xp = reinterpret_cast<const float4*>(x + b * xs + 32 * c);
#pragma unroll
        for (int q = 0; q < 8; ++q) {
          const float4 f = xp[q];
#pragma unroll
          for (int i = 0; i < RW; ++i)
            acc[i][b] += v[i][4 * q] * f.x + v[i][4 * q + 1] * f.y + v[i][4 * q + 2] * f.z + v[i][4 * q + 3] * f.w;
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
        const float s = warp_sum(acc[i][b]);
        if (lane == 0 && r < R) out[b * os + r] = s + (bias != nullptr ? bias[r] : 0.0f);
      }
    }
  }
}

// Rows [r0, r0 + nr) of a quantized weight to F16, row-major [nr, K].
template <Type T>
__global__ void k_dequant_f16(const uint8_t* __restrict__ w, uint64_t row_bytes, int64_t r0, int64_t K,
                              __half* __restrict__ out) {
  const int64_t r = blockIdx.x;
  const uint8_t* row = w + static_cast<uint64_t>(r0 + r) * row_bytes;
  float v[32];
  for (int64_t c = threadIdx.x; c < K / 32; c += blockDim.x) {
    dequant_chunk<T>(row, c, v);
    __half2* o = reinterpret_cast<__half2*>(out + r * K + 32 * c);
#pragma unroll
    for (int i = 0; i < 16; ++i) o[i] = __floats2half2_rn(v[2 * i], v[2 * i + 1]);
  }
}

template <typename H>
__global__ void k_convert_rows(const float* __restrict__ x, int64_t xs, int64_t K, H* __restrict__ out) {
  const int64_t r = blockIdx.x;
  for (int64_t c = threadIdx.x; c < K; c += blockDim.x) {
    if constexpr (std::is_same_v<H, __half>)
      out[r * K + c] = __float2half_rn(x[r * xs + c]);
    else
      out[r * K + c] = __float2bfloat16_rn(x[r * xs + c]);
  }
}

__global__ void k_copy_rows(const float* __restrict__ x, int64_t xs, int64_t K, float* __restrict__ out) {
  const int64_t r = blockIdx.x;
  for (int64_t c = threadIdx.x; c < K; c += blockDim.x) out[r * K + c] = x[r * xs + c];
}

// grid (n, K / 32): Q8_0 as the CPU's act_q8_0 — d = amax / 127 stored as F16, q = round-half-even(x * 127 / amax).
__global__ void k_round_q8_0(const float* __restrict__ x, int64_t xs, int64_t K, float* __restrict__ out) {
  const int64_t r = blockIdx.x, c = static_cast<int64_t>(blockIdx.y) * 32 + threadIdx.x;
  const float v = x[r * xs + c];
  const float amax = warp_max(fabsf(v));
  const float d = __half2float(__float2half_rn(amax / 127.0f));
  const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
  const int q = max(-127, min(127, v == v ? __float2int_rn(v * id) : 0));
  out[r * K + c] = static_cast<float>(q) * d;
}

// grid (n, K / 256), 256 threads: Q8_K as act_q8_k — the signed scale -127 / mx, mx the first value
// of largest magnitude.
__global__ void k_round_q8_k(const float* __restrict__ x, int64_t xs, int64_t K, float* __restrict__ out) {
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
  for (int w = 0; w < 8; ++w) amax = fmaxf(amax, s_amax[w]);
  if (fabsf(v) == amax) atomicMin(&s_idx, j);
  __syncthreads();
  float y = 0.0f;
  if (amax != 0.0f) {
    const float iscale = -127.0f / x[r * xs + c0 + s_idx];
    const int q = max(-127, min(127, v == v ? __float2int_rn(iscale * v) : 0));
    y = static_cast<float>(q) * (1.0f / iscale);
  }
  out[r * K + c0 + j] = y;
}

template <bool kBf16>
__global__ void k_round_half(const float* __restrict__ x, int64_t xs, int64_t K, float* __restrict__ out) {
  const int64_t r = blockIdx.x;
  for (int64_t c = threadIdx.x; c < K; c += blockDim.x) {
    const float v = x[r * xs + c];
    out[r * K + c] = kBf16 ? __bfloat162float(__float2bfloat16_rn(v)) : __half2float(__float2half_rn(v));
  }
}

}  // namespace

ActRound act_round_for(Type t) {
  switch (t) {
    case Type::F32: return ActRound::kNone;
    case Type::F16: return ActRound::kF16;
    case Type::BF16: return ActRound::kBF16;
    case Type::Q2_K: case Type::Q3_K: case Type::Q4_K: case Type::Q5_K: case Type::Q6_K: case Type::IQ4_XS:
      return ActRound::kQ8_K;
    default: return ActRound::kQ8_0;
  }
}

void launch_round_act(ActRound r, const float* x, int64_t xs, int64_t n, int64_t K, float* out, cudaStream_t st) {
  switch (r) {
    case ActRound::kNone: k_copy_rows<<<n, 256, 0, st>>>(x, xs, K, out); break;
    case ActRound::kF16: k_round_half<false><<<n, 256, 0, st>>>(x, xs, K, out); break;
    case ActRound::kBF16: k_round_half<true><<<n, 256, 0, st>>>(x, xs, K, out); break;
    case ActRound::kQ8_0: k_round_q8_0<<<dim3(static_cast<unsigned>(n), static_cast<unsigned>(K / 32)), 32, 0, st>>>(x, xs, K, out); break;
    case ActRound::kQ8_K: k_round_q8_k<<<dim3(static_cast<unsigned>(n), static_cast<unsigned>(K / 256)), 256, 0, st>>>(x, xs, K, out); break;
  }
}

void launch_mmv(Type t, const void* w, uint64_t row_bytes, int64_t R, int64_t K, const float* x, int64_t xs, int n,
                const float* bias, float* out, int64_t os, cudaStream_t st) {
  const auto* wp = static_cast<const uint8_t*>(w);
  auto grid = [&](int rw) { return ceil_div(R, int64_t{kWarpsPerBlock} * rw); };
  dispatch_type(t, [&]<Type T>() {
    if (n == 1)
      k_mmv<T, 1, 4><<<grid(4), kWarpsPerBlock * 32, 0, st>>>(wp, row_bytes, R, K, x, xs, n, bias, out, os);
    else if (n == 2)
      k_mmv<T, 2, 4><<<grid(4), kWarpsPerBlock * 32, 0, st>>>(wp, row_bytes, R, K, x, xs, n, bias, out, os);
    else if (n <= 4)
      k_mmv<T, 4, 2><<<grid(2), kWarpsPerBlock * 32, 0, st>>>(wp, row_bytes, R, K, x, xs, n, bias, out, os);
    else
      k_mmv<T, 8, 2><<<grid(2), kWarpsPerBlock * 32, 0, st>>>(wp, row_bytes, R, K, x, xs, n, bias, out, os);
  });
}

void launch_dequant_f16(Type t, const void* w, uint64_t row_bytes, int64_t r0, int64_t nr, int64_t K, void* out,
                        cudaStream_t st) {
  dispatch_type(t, [&]<Type T>() {
    k_dequant_f16<T><<<nr, 128, 0, st>>>(static_cast<const uint8_t*>(w), row_bytes, r0, K, static_cast<__half*>(out));
  });
}

void launch_convert_rows(const float* x, int64_t xs, int64_t n, int64_t K, bool bf16, void* out, cudaStream_t st) {
  if (bf16)
    k_convert_rows<__nv_bfloat16><<<n, 256, 0, st>>>(x, xs, K, static_cast<__nv_bfloat16*>(out));
  else
    k_convert_rows<__half><<<n, 256, 0, st>>>(x, xs, K, static_cast<__half*>(out));
}

void launch_copy_rows(const float* x, int64_t xs, int64_t n, int64_t K, float* out, cudaStream_t st) {
  k_copy_rows<<<n, 256, 0, st>>>(x, xs, K, out);
}

}  // namespace paddock::backend::cuda
