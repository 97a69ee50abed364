// quant kernels: fast CPU dot products of quantized weight rows with an activation row, the core
// of matmul on the CPU backend. SIMD (AVX-512, AVX2+FMA) chosen at runtime by cpuid, with a scalar
// fallback that is also the reference the SIMD paths are tested against.
#pragma once
#include <cstdint>

#include "quant/quant.h"

namespace paddock::quant {

// The activation format a weight type is multiplied with: Q8_0 for Q4_0/Q5_0/Q8_0/IQ4_NL/MXFP4,
// Q8_1 for Q4_1/Q5_1, Q8_K for the K-quants and IQ4_XS, F32 for F32/F16/BF16.
Type act_type(Type weight);
// True when dot_rows supports this weight type (every type with a reference dequantizer).
bool has_dot(Type weight);
// Bytes of one activation row of k elements for this weight type (k a multiple of its block size).
uint64_t act_row_size(Type weight, int64_t k);
// x[k] -> the activation format of `weight`, written to dst (act_row_size bytes), rounded as ggml
// rounds (int8 blocks half-to-even; F32 rounded through F16 / BF16 for those weights).
void quantize_act_row(Type weight, const float* x, void* dst, int64_t k);

// out[r] = dot(W row r, act) for r in [0, n_rows); W rows are `w_stride` bytes apart, each of k
// elements of type `weight`; act is one row from quantize_act_row(weight, ...). k must be a
// multiple of the weight's block size and has_dot(weight) true (asserted: callers validate
// shapes and types when a model loads). Any bytes are safe to pass: garbage in, garbage out.
void dot_rows(Type weight, const void* w, uint64_t w_stride, int64_t n_rows, const void* act, int64_t k,
              float* out);

// Several activation rows at once (prompt processing): each weight row is read once for all of
// them. out[a * out_stride + r] = dot(W row r, act row a) for a in [0, n_act), r in [0, n_rows);
// activation rows are `act_stride` bytes apart. Same results as n_act calls of dot_rows. Tiles of
// 4 (AVX2) or 8 (AVX-512) activation rows share each weight block's unpacking.
void dot_rows_multi(Type weight, const void* w, uint64_t w_stride, int64_t n_rows, const void* act,
                    uint64_t act_stride, int64_t n_act, int64_t k, float* out, int64_t out_stride);

// The SIMD level in use, for the whole CPU side (these kernels and backend/cpu's alike): chosen
// once at start-up, the best the CPU has or lower with PADDOCK_SIMD=avx512|avx2|scalar.
enum class SimdLevel : uint8_t { kScalar, kAvx2, kAvx512 };
SimdLevel simd_level_id();
// Its name: "avx512" | "avx2" | "scalar".
const char* simd_level();

// Tests and benchmarks: force a level ("avx512", "avx2", "scalar"); a level the CPU lacks is
// refused (returns false). The environment variable PADDOCK_SIMD sets the level at start-up.
// Not thread-safe: call before kernels run on other threads.
bool set_simd_level_for_testing(const char* level);

}  // namespace paddock::quant
