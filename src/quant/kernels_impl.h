// quant (internal): the per-SIMD-level kernel tables behind kernels.h. Each level fills the
// entries it implements; missing entries fall back to the scalar ones.
#pragma once
#include <cstdint>

namespace paddock::quant::detail {

using DotFn = void (*)(const void* w, uint64_t w_stride, int64_t n_rows, const void* act, int64_t k, float* out);
using DotMultiFn = void (*)(const void* w, uint64_t w_stride, int64_t n_rows, const void* act, uint64_t act_stride,
                            int64_t n_act, int64_t k, float* out, int64_t out_stride);
using ActFn = void (*)(const float* x, void* dst, int64_t k);

constexpr int kTypeSlots = 40;

struct KernelTable {
  DotFn dot[kTypeSlots] = {};
  DotMultiFn dot_multi[kTypeSlots] = {};
  ActFn act_q8_0 = nullptr;  // activation quantizers (by activation format)
  ActFn act_q8_1 = nullptr;
  ActFn act_q8_k = nullptr;
};

void fill_scalar(KernelTable* t);
void fill_avx2(KernelTable* t);    // defined only on x86-64
void fill_avx512(KernelTable* t);  // defined only on x86-64

}  // namespace paddock::quant::detail
