// quant kernels: runtime SIMD dispatch, the activation quantizers and the scalar (portable)
// dot kernels — the reference every SIMD level is tested against.
#include "quant/kernels.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "quant/blocks.h"
#include "quant/kernels_impl.h"
#include "quant/unpack.h"
#include "util/half.h"

namespace paddock::quant {
namespace detail {
namespace {

// ---- activation quantizers ----
// With ggml's exact rounding (llama.cpp is our oracle, and two engines that round activations
// alike differ only by summation order): round half to even; Q8_0/Q8_1 scale 127/amax (d = amax/127
// stored as F16); Q8_K's signed scale -127/max, max being the first value of largest magnitude,
// which maps it to -127 (and the opposite sign to at most +127). NaN activations
// quantize to 0 (never an unspecified float-to-int conversion).

inline int round_even(float v) { return v == v ? static_cast<int>(std::nearbyint(v)) : 0; }

template <bool kWithSum>
void act_q8_0_impl(const float* x, void* dst, int64_t k) {
  using Block = std::conditional_t<kWithSum, blk::Q8_1, blk::Q8_0>;
  auto* y = static_cast<Block*>(dst);
  for (int64_t i = 0; i < k / 32; ++i, x += 32) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      y[i].qs[j] = static_cast<int8_t>(std::clamp(round_even(x[j] * id), -127, 127));
      sum += y[i].qs[j];
    }
    y[i].d = fp32_to_fp16(d);
    if constexpr (kWithSum) y[i].s = fp32_to_fp16(d * static_cast<float>(sum));
  }
}

void act_q8_0(const float* x, void* dst, int64_t k) { act_q8_0_impl<false>(x, dst, k); }
void act_q8_1(const float* x, void* dst, int64_t k) { act_q8_0_impl<true>(x, dst, k); }

void act_q8_k(const float* x, void* dst, int64_t k) {
  auto* y = static_cast<blk::Q8_K*>(dst);
  for (int64_t i = 0; i < k / 256; ++i, x += 256) {
    float amax = 0, mx = 0;
    for (int j = 0; j < 256; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        mx = x[j];
      }
    }
    y[i].d = 0;
    if (amax == 0.0f) {
      std::memset(y[i].qs, 0, sizeof y[i].qs);
    } else {
      const float iscale = -127.0f / mx;
      for (int j = 0; j < 256; ++j) y[i].qs[j] = static_cast<int8_t>(std::clamp(round_even(iscale * x[j]), -127, 127));
      y[i].d = 1.0f / iscale;
    }
    for (int g = 0; g < 16; ++g) {
      int s = 0;
      for (int l = 0; l < 16; ++l) s += y[i].qs[16 * g + l];
      y[i].bsums[g] = static_cast<int16_t>(s);
    }
  }
}

// ---- scalar dots ----

template <typename Block, void (*Unpack)(const Block&, unpack::Small*), bool kQ81>
void dot_small(const void* w, uint64_t w_stride, int64_t n_rows, const void* act, int64_t k, float* out) {
  const int64_t nb = k / 32;
  for (int64_t r = 0; r < n_rows; ++r) {
    const auto* b = reinterpret_cast<const Block*>(static_cast<const uint8_t*>(w) + r * w_stride);
    float sum = 0;
    unpack::Small s;
    for (int64_t i = 0; i < nb; ++i) {
      Unpack(b[i], &s);
      const int8_t* aq;
      float da, sa = 0;
      if constexpr (kQ81) {
        const auto& a = static_cast<const blk::Q8_1*>(act)[i];
        aq = a.qs;
        da = fp16_to_fp32(a.d);
        sa = fp16_to_fp32(a.s);
      } else {
        const auto& a = static_cast<const blk::Q8_0*>(act)[i];
        aq = a.qs;
        da = fp16_to_fp32(a.d);
      }
      int sumi = 0;
      for (int j = 0; j < 32; ++j) sumi += s.q[j] * aq[j];
      sum += s.d * da * static_cast<float>(sumi) + s.m * sa;
    }
    out[r] = sum;
  }
}

template <typename Block, void (*Unpack)(const Block&, unpack::Super*)>
void dot_super(const void* w, uint64_t w_stride, int64_t n_rows, const void* act, int64_t k, float* out) {
  const int64_t nb = k / 256;
  const auto* a = static_cast<const blk::Q8_K*>(act);
  for (int64_t r = 0; r < n_rows; ++r) {
    const auto* b = reinterpret_cast<const Block*>(static_cast<const uint8_t*>(w) + r * w_stride);
    float sum = 0;
    unpack::Super s;
    for (int64_t i = 0; i < nb; ++i) {
      Unpack(b[i], &s);
      int acc = 0, mins = 0;
      for (int g = 0; g < 16; ++g) {
        int sumi = 0;
        for (int l = 0; l < 16; ++l) sumi += s.q[16 * g + l] * a[i].qs[16 * g + l];
        acc += s.sc[g] * sumi;
        mins += s.mn[g] * a[i].bsums[g];
      }
      sum += s.d * a[i].d * static_cast<float>(acc) - s.dmin * a[i].d * static_cast<float>(mins);
    }
    out[r] = sum;
  }
}

template <float (*Load)(uint16_t)>
void dot_half(const void* w, uint64_t w_stride, int64_t n_rows, const void* act, int64_t k, float* out) {
  const auto* x = static_cast<const float*>(act);
  for (int64_t r = 0; r < n_rows; ++r) {
    const auto* h = reinterpret_cast<const uint16_t*>(static_cast<const uint8_t*>(w) + r * w_stride);
    float sum = 0;
    for (int64_t i = 0; i < k; ++i) sum += Load(h[i]) * x[i];
    out[r] = sum;
  }
}

void dot_f32(const void* w, uint64_t w_stride, int64_t n_rows, const void* act, int64_t k, float* out) {
  const auto* x = static_cast<const float*>(act);
  for (int64_t r = 0; r < n_rows; ++r) {
    const auto* v = reinterpret_cast<const float*>(static_cast<const uint8_t*>(w) + r * w_stride);
    float sum = 0;
    for (int64_t i = 0; i < k; ++i) sum += v[i] * x[i];
    out[r] = sum;
  }
}

constexpr int slot(Type t) { return static_cast<int>(t); }

}  // namespace

void fill_scalar(KernelTable* t) {
  t->act_q8_0 = act_q8_0;
  t->act_q8_1 = act_q8_1;
  t->act_q8_k = act_q8_k;
  t->dot[slot(Type::F32)] = dot_f32;
  t->dot[slot(Type::F16)] = dot_half<fp16_to_fp32>;
  t->dot[slot(Type::BF16)] = dot_half<bf16_to_fp32>;
  t->dot[slot(Type::Q4_0)] = dot_small<blk::Q4_0, unpack::q4_0, false>;
  t->dot[slot(Type::Q4_1)] = dot_small<blk::Q4_1, unpack::q4_1, true>;
  t->dot[slot(Type::Q5_0)] = dot_small<blk::Q5_0, unpack::q5_0, false>;
  t->dot[slot(Type::Q5_1)] = dot_small<blk::Q5_1, unpack::q5_1, true>;
  t->dot[slot(Type::Q8_0)] = dot_small<blk::Q8_0, unpack::q8_0, false>;
  t->dot[slot(Type::IQ4_NL)] = dot_small<blk::IQ4_NL, unpack::iq4_nl, false>;
  t->dot[slot(Type::MXFP4)] = dot_small<blk::MXFP4, unpack::mxfp4, false>;
  t->dot[slot(Type::Q2_K)] = dot_super<blk::Q2_K, unpack::q2_k>;
  t->dot[slot(Type::Q3_K)] = dot_super<blk::Q3_K, unpack::q3_k>;
  t->dot[slot(Type::Q4_K)] = dot_super<blk::Q4_K, unpack::q4_k>;
  t->dot[slot(Type::Q5_K)] = dot_super<blk::Q5_K, unpack::q5_k>;
  t->dot[slot(Type::Q6_K)] = dot_super<blk::Q6_K, unpack::q6_k>;
  t->dot[slot(Type::Q8_K)] = dot_super<blk::Q8_K, unpack::q8_k>;
  t->dot[slot(Type::IQ4_XS)] = dot_super<blk::IQ4_XS, unpack::iq4_xs>;
}

}  // namespace detail

namespace {

using Level = SimdLevel;

bool cpu_has(Level l) {
#if defined(__x86_64__) && defined(PADDOCK_QUANT_X86)
  __builtin_cpu_init();
  if (l == Level::kAvx2) {
    // F16C is cpuid leaf 1, ecx bit 29 (clang's __builtin_cpu_supports does not know "f16c").
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    const bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 29)) != 0;
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
  }
  if (l == Level::kAvx512)
    return cpu_has(Level::kAvx2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
#endif
  return l == Level::kScalar;
}

detail::KernelTable make_table(Level l) {
  detail::KernelTable t;
  detail::fill_scalar(&t);
#if defined(__x86_64__) && defined(PADDOCK_QUANT_X86)
  if (l == Level::kAvx2 || l == Level::kAvx512) detail::fill_avx2(&t);
  if (l == Level::kAvx512) detail::fill_avx512(&t);
#endif
  return t;
}

struct State {
  Level level;
  detail::KernelTable table;
};

Level best_level() {
  Level l = cpu_has(Level::kAvx512) ? Level::kAvx512 : cpu_has(Level::kAvx2) ? Level::kAvx2 : Level::kScalar;
  if (const char* env = std::getenv("PADDOCK_SIMD")) {
    Level want = std::strcmp(env, "scalar") == 0 ? Level::kScalar
                 : std::strcmp(env, "avx2") == 0 ? Level::kAvx2
                                                 : Level::kAvx512;
    if (cpu_has(want) && want < l) l = want;
  }
  return l;
}

State& state() {
  static State s = [] {
    Level l = best_level();
    return State{l, make_table(l)};
  }();
  return s;
}

void dot_multi_by_rows(detail::DotFn dot, const void* w, uint64_t w_stride, int64_t n_rows, const void* act,
                       uint64_t act_stride, int64_t n_act, int64_t k, float* out, int64_t out_stride) {
  for (int64_t a = 0; a < n_act; ++a)
    dot(w, w_stride, n_rows, static_cast<const uint8_t*>(act) + a * act_stride, k, out + a * out_stride);
}

}  // namespace

Type act_type(Type weight) {
  switch (weight) {
    case Type::F32: case Type::F16: case Type::BF16:
      return Type::F32;
    case Type::Q4_1: case Type::Q5_1:
      return Type::Q8_1;
    case Type::Q2_K: case Type::Q3_K: case Type::Q4_K: case Type::Q5_K: case Type::Q6_K: case Type::Q8_K:
    case Type::IQ4_XS:
      return Type::Q8_K;
    default:
      return Type::Q8_0;
  }
}

bool has_dot(Type weight) {
  uint32_t id = static_cast<uint32_t>(weight);
  return id < static_cast<uint32_t>(detail::kTypeSlots) && state().table.dot[id] != nullptr;
}

uint64_t act_row_size(Type weight, int64_t k) {
  auto size = row_size(act_type(weight), k);
  assert(size.ok());
  return *size;
}

void quantize_act_row(Type weight, const float* x, void* dst, int64_t k) {
  const auto& t = state().table;
  switch (act_type(weight)) {
    case Type::F32: {
      // Float weights: F32 activations, rounded to F16 / BF16 for those weights as ggml does.
      auto* v = static_cast<float*>(dst);
      if (weight == Type::F16)
        for (int64_t i = 0; i < k; ++i) v[i] = fp16_to_fp32(fp32_to_fp16(x[i]));
      else if (weight == Type::BF16)
        for (int64_t i = 0; i < k; ++i) v[i] = bf16_to_fp32(fp32_to_bf16(x[i]));
      else
        std::memcpy(dst, x, static_cast<size_t>(k) * sizeof(float));
      return;
    }
    case Type::Q8_1: assert(k % 32 == 0); t.act_q8_1(x, dst, k); return;
    case Type::Q8_K: assert(k % 256 == 0); t.act_q8_k(x, dst, k); return;
    default: assert(k % 32 == 0); t.act_q8_0(x, dst, k); return;
  }
}

void dot_rows(Type weight, const void* w, uint64_t w_stride, int64_t n_rows, const void* act, int64_t k,
              float* out) {
  assert(has_dot(weight));
  state().table.dot[static_cast<uint32_t>(weight)](w, w_stride, n_rows, act, k, out);
}

void dot_rows_multi(Type weight, const void* w, uint64_t w_stride, int64_t n_rows, const void* act,
                    uint64_t act_stride, int64_t n_act, int64_t k, float* out, int64_t out_stride) {
  assert(has_dot(weight));
  const auto& t = state().table;
  const uint32_t id = static_cast<uint32_t>(weight);
  if (t.dot_multi[id])
    t.dot_multi[id](w, w_stride, n_rows, act, act_stride, n_act, k, out, out_stride);
  else
    dot_multi_by_rows(t.dot[id], w, w_stride, n_rows, act, act_stride, n_act, k, out, out_stride);
}

SimdLevel simd_level_id() { return state().level; }

const char* simd_level() {
  switch (state().level) {
    case Level::kAvx512: return "avx512";
    case Level::kAvx2: return "avx2";
    default: return "scalar";
  }
}

bool set_simd_level_for_testing(const char* level) {
  Level l;
  if (std::strcmp(level, "scalar") == 0) l = Level::kScalar;
  else if (std::strcmp(level, "avx2") == 0) l = Level::kAvx2;
  else if (std::strcmp(level, "avx512") == 0) l = Level::kAvx512;
  else return false;
  if (!cpu_has(l)) return false;
  state() = State{l, make_table(l)};
  return true;
}

}  // namespace paddock::quant
