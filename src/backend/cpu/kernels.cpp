// CPU backend SIMD kernels: f32 dot/axpy and fp16/bf16 row conversions, each with AVX-512,
// AVX2+FMA and scalar variants, at the level quant/kernels.h chose (the CI machine may lack AVX-512).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "backend/cpu/cpu.h"
#include "quant/kernels.h"
#include "util/half.h"

namespace paddock::backend::cpu {
namespace {

float dot_scalar(const float* a, const float* b, int64_t n) {
  float s[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int j = 0; j < 4; ++j) s[j] += a[i + j] * b[i + j];
  for (; i < n; ++i) s[0] += a[i] * b[i];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

__attribute__((target("avx2,fma"))) float dot_avx2(const float* a, const float* b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  acc0 = _mm256_add_ps(acc0, acc1);
  __m128 lo = _mm256_castps256_ps128(acc0), hi = _mm256_extractf128_ps(acc0, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_hadd_ps(lo, lo);
  lo = _mm_hadd_ps(lo, lo);
  float s = _mm_cvtss_f32(lo);
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

__attribute__((target("avx512f,avx2,fma"))) float dot_avx512(const float* a, const float* b, int64_t n) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
  }
  for (; i + 16 <= n; i += 16) acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
  const __m512 acc = _mm512_add_ps(acc0, acc1);
  // (GCC 12's _mm512_reduce_add_ps trips -Wuninitialized; sum through memory instead.)
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, acc);
  float s = 0;
  for (float l : lanes) s += l;
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

void axpy_scalar(float s, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += s * x[i];
}

__attribute__((target("avx2,fma"))) void axpy_avx2(float s, const float* x, float* y, int64_t n) {
  __m256 vs = _mm256_set1_ps(s);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(vs, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += s * x[i];
}

void f16_row_scalar(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(src[i]);
}

__attribute__((target("avx2,f16c"))) void f16_row_f16c(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  for (; i < n; ++i) dst[i] = fp16_to_fp32(src[i]);
}

void f32_to_f16_scalar(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = fp32_to_fp16(src[i]);
}

__attribute__((target("avx2,f16c"))) void f32_to_f16_f16c(const float* src, uint16_t* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; ++i) dst[i] = fp32_to_fp16(src[i]);
}

// One kernel table per SIMD level; the level is quant's (one choice, one PADDOCK_SIMD switch for
// the whole CPU side), which only offers levels this CPU has.
struct Dispatch {
  Simd level = Simd::kScalar;
  float (*dot)(const float*, const float*, int64_t) = dot_scalar;
  void (*axpy)(float, const float*, float*, int64_t) = axpy_scalar;
  void (*f16_to_f32)(const uint16_t*, float*, int64_t) = f16_row_scalar;
  void (*f32_to_f16)(const float*, uint16_t*, int64_t) = f32_to_f16_scalar;

  explicit Dispatch(Simd l) : level(l) {
    if (l == Simd::kScalar) return;
    // AVX2 (quant's level includes FMA and F16C)
    dot = dot_avx2;
    axpy = axpy_avx2;
    f16_to_f32 = f16_row_f16c;
    f32_to_f16 = f32_to_f16_f16c;
    if (l == Simd::kAvx512) dot = dot_avx512;
  }
};

const Dispatch& dispatch() {
  static const Dispatch tables[3] = {Dispatch(Simd::kScalar), Dispatch(Simd::kAvx2), Dispatch(Simd::kAvx512)};
  return tables[static_cast<int>(quant::simd_level_id())];
}

}  // namespace

Simd simd_level() { return dispatch().level; }
const char* simd_name(Simd s) {
  switch (s) {
    case Simd::kAvx512: return "avx512";
    case Simd::kAvx2: return "avx2";
    default: return "scalar";
  }
}

float dot_f32(const float* a, const float* b, int64_t n) { return dispatch().dot(a, b, n); }
void axpy_f32(float s, const float* x, float* y, int64_t n) { dispatch().axpy(s, x, y, n); }
void f16_to_f32_row(const uint16_t* src, float* dst, int64_t n) { dispatch().f16_to_f32(src, dst, n); }
void f32_to_f16_row(const float* src, uint16_t* dst, int64_t n) { dispatch().f32_to_f16(src, dst, n); }
void bf16_to_f32_row(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(src[i]);
}

void q8_0_quantize_row(const float* src, uint8_t* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQ8Block; ++b) {
    const float* x = src + b * kQ8Block;
    float amax = 0;
    for (int64_t i = 0; i < kQ8Block; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t* out = dst + b * kQ8BlockBytes;
    const uint16_t dh = fp32_to_fp16(d);
    std::memcpy(out, &dh, 2);
    for (int64_t i = 0; i < kQ8Block; ++i) {
      const int v = static_cast<int>(std::lround(x[i] * id));
      out[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(std::clamp(v, -127, 127)));
    }
  }
}

void q8_0_dequantize_row(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQ8Block; ++b) {
    const uint8_t* in = src + b * kQ8BlockBytes;
    uint16_t dh;
    std::memcpy(&dh, in, 2);
    const float d = fp16_to_fp32(dh);
    for (int64_t i = 0; i < kQ8Block; ++i) dst[b * kQ8Block + i] = d * static_cast<float>(static_cast<int8_t>(in[2 + i]));
  }
}

bool can_run_weight_type(quant::Type t) {
  const quant::TypeInfo* ti = quant::type_info(t);
  return ti != nullptr && ti->can_dequantize && quant::has_dot(t);
}

void weight_row_to_f32(const Weight& w, int64_t row, float* dst) {
  const uint8_t* p = static_cast<const uint8_t*>(w.data) + static_cast<uint64_t>(row) * w.row_bytes;
  switch (w.type) {
    case quant::Type::F32: std::memcpy(dst, p, static_cast<size_t>(w.cols) * 4); break;
    case quant::Type::F16: f16_to_f32_row(reinterpret_cast<const uint16_t*>(p), dst, w.cols); break;
    case quant::Type::BF16: bf16_to_f32_row(reinterpret_cast<const uint16_t*>(p), dst, w.cols); break;
    default: quant::dequantize_row(w.type, p, dst, w.cols); break;
  }
}

}  // namespace paddock::backend::cpu
