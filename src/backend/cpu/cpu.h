// Internal to the CPU backend: the SIMD kernels (runtime-dispatched AVX-512 / AVX2+FMA / scalar)
// and the small format helpers the ops share. Not part of the backend's public header.
#pragma once
#include <cstdint>

#include "backend/backend.h"
#include "quant/kernels.h"

namespace paddock::backend::cpu {

using Simd = quant::SimdLevel;  // one level for the whole CPU side (quant/kernels.h)
Simd simd_level();
const char* simd_name(Simd s);

// sum a[i] * b[i]
float dot_f32(const float* a, const float* b, int64_t n);
// y[i] += s * x[i]
void axpy_f32(float s, const float* x, float* y, int64_t n);
// Format conversions of a row of n elements.
void f16_to_f32_row(const uint16_t* src, float* dst, int64_t n);
void f32_to_f16_row(const float* src, uint16_t* dst, int64_t n);
void bf16_to_f32_row(const uint16_t* src, float* dst, int64_t n);

// Q8_0 as used for KV storage: blocks of 32 int8 with one fp16 scale (34 bytes).
constexpr int64_t kQ8Block = kQ8_0Block;
constexpr int64_t kQ8BlockBytes = kQ8_0BlockBytes;
void q8_0_quantize_row(const float* src, uint8_t* dst, int64_t n);
void q8_0_dequantize_row(const uint8_t* src, float* dst, int64_t n);

// Dequantizes one weight row (any type upload_weight accepted) to F32.
void weight_row_to_f32(const Weight& w, int64_t row, float* dst);
// True if weight_row_to_f32 supports the type.
bool can_run_weight_type(quant::Type t);

}  // namespace paddock::backend::cpu
