// quant kernels, AVX2 + FMA + F16C level. Compiled with its own -m flags and entered only after
// a cpuid check, so everything here has internal linkage and no header inline function (which
// the linker could share with portable code) is called: fp16 goes through F16C intrinsics.
#include "quant/kernels_impl.h"

#if defined(__x86_64__) && defined(PADDOCK_QUANT_X86)
#include <immintrin.h>

#include "quant/blocks.h"

namespace paddock::quant::detail {
namespace {

inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

// 8 int32 sums of 4 products each of signed x signed bytes.
inline __m256i dot_i8(__m256i x, __m256i y) {
  const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
  return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

// 32 nibbles of 16 bytes -> 32 bytes (low nibbles in the first half, high in the second).
inline __m256i nibbles(const uint8_t* p) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m256i v = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
  return _mm256_and_si256(v, _mm256_set1_epi8(0x0F));
}

const uint8_t* row(const void* w, uint64_t stride, int64_t r) { return static_cast<const uint8_t*>(w) + r * stride; }

// ---- Q8_0 / Q4_0 / IQ4_NL x Q8_0 ----

template <int kNA>
void q8_0_tile(const uint8_t* w, const blk::Q8_0* const* a, int64_t nb, float* out) {
  const auto* x = reinterpret_cast<const blk::Q8_0*>(w);
  __m256 acc[kNA];
  for (int j = 0; j < kNA; ++j) acc[j] = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].qs));
    const __m256i aq = _mm256_sign_epi8(q, q);
    const float dw = h2f(x[i].d);
    for (int j = 0; j < kNA; ++j) {
      const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[j][i].qs));
      const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(aq, _mm256_sign_epi8(y, q)), _mm256_set1_epi16(1));
      acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(dw * h2f(a[j][i].d)), _mm256_cvtepi32_ps(p), acc[j]);
    }
  }
  for (int j = 0; j < kNA; ++j) out[j] = hsum(acc[j]);
}

template <int kNA>
void q4_0_tile(const uint8_t* w, const blk::Q8_0* const* a, int64_t nb, float* out) {
  const auto* x = reinterpret_cast<const blk::Q4_0*>(w);
  __m256 acc[kNA];
  for (int j = 0; j < kNA; ++j) acc[j] = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const __m256i q = _mm256_sub_epi8(nibbles(x[i].qs), _mm256_set1_epi8(8));
    const float dw = h2f(x[i].d);
    for (int j = 0; j < kNA; ++j) {
      const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[j][i].qs));
      acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(dw * h2f(a[j][i].d)), _mm256_cvtepi32_ps(dot_i8(q, y)), acc[j]);
    }
  }
  for (int j = 0; j < kNA; ++j) out[j] = hsum(acc[j]);
}

template <int kNA>
void iq4_nl_tile(const uint8_t* w, const blk::Q8_0* const* a, int64_t nb, float* out) {
  const auto* x = reinterpret_cast<const blk::IQ4_NL*>(w);
  const __m128i lut128 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk::kIq4nlValues));
  const __m256i lut = _mm256_set_m128i(lut128, lut128);
  __m256 acc[kNA];
  for (int j = 0; j < kNA; ++j) acc[j] = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const __m256i q = _mm256_shuffle_epi8(lut, nibbles(x[i].qs));
    const float dw = h2f(x[i].d);
    for (int j = 0; j < kNA; ++j) {
      const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[j][i].qs));
      acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(dw * h2f(a[j][i].d)), _mm256_cvtepi32_ps(dot_i8(q, y)), acc[j]);
    }
  }
  for (int j = 0; j < kNA; ++j) out[j] = hsum(acc[j]);
}

// ---- K-quants x Q8_K ----

// The 8 scales and 8 mins of a Q4_K/Q5_K block as bytes: sc[0..8), m[0..8).
inline void k4_unpack_scales(const uint8_t* s, uint8_t* sc, uint8_t* m) {
  for (int j = 0; j < 4; ++j) {
    sc[j] = s[j] & 63;
    m[j] = s[j + 4] & 63;
    sc[j + 4] = static_cast<uint8_t>((s[j + 8] & 0xF) | ((s[j] >> 6) << 4));
    m[j + 4] = static_cast<uint8_t>((s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4));
  }
}

// sum over the 8 groups of m[g] * (bsums[2g] + bsums[2g+1])
inline int k4_mins(const uint8_t* m, const int16_t* bsums) {
  const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bsums));
  const __m128i pair = _mm_hadd_epi16(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
  const __m128i mm = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(m)));
  __m128i p = _mm_madd_epi16(pair, mm);
  p = _mm_add_epi32(p, _mm_shuffle_epi32(p, 0x4E));
  p = _mm_add_epi32(p, _mm_shuffle_epi32(p, 0xB1));
  return _mm_cvtsi128_si32(p);
}

template <int kNA>
void q4_k_tile(const uint8_t* w, const blk::Q8_K* const* a, int64_t nb, float* out) {
  const auto* x = reinterpret_cast<const blk::Q4_K*>(w);
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  __m256 acc[kNA];
  for (int j = 0; j < kNA; ++j) acc[j] = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    uint8_t sc[8], mn[8];
    k4_unpack_scales(x[i].scales, sc, mn);
    const float d = h2f(x[i].d), dmin = h2f(x[i].dmin);
    __m256i q[8];
    for (int c = 0; c < 4; ++c) {
      const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].qs + 32 * c));
      q[2 * c] = _mm256_and_si256(b, m4);
      q[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(b, 4), m4);
    }
    for (int j = 0; j < kNA; ++j) {
      const blk::Q8_K& y = a[j][i];
      __m256i sumi = _mm256_setzero_si256();
      for (int g = 0; g < 8; ++g) {
        const __m256i yq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.qs + 32 * g));
        const __m256i p = _mm256_maddubs_epi16(q[g], yq);
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, _mm256_set1_epi16(sc[g])));
      }
      const int mins = k4_mins(mn, y.bsums);
      acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(d * y.d), _mm256_cvtepi32_ps(sumi), acc[j]);
      acc[j] = _mm256_sub_ps(acc[j], _mm256_setr_ps(dmin * y.d * static_cast<float>(mins), 0, 0, 0, 0, 0, 0, 0));
    }
  }
  for (int j = 0; j < kNA; ++j) out[j] = hsum(acc[j]);
}

template <int kNA>
void q5_k_tile(const uint8_t* w, const blk::Q8_K* const* a, int64_t nb, float* out) {
  const auto* x = reinterpret_cast<const blk::Q5_K*>(w);
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  __m256 acc[kNA];
  for (int j = 0; j < kNA; ++j) acc[j] = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    uint8_t sc[8], mn[8];
    k4_unpack_scales(x[i].scales, sc, mn);
    const float d = h2f(x[i].d), dmin = h2f(x[i].dmin);
    const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].qh));
    __m256i q[8];
    for (int c = 0; c < 4; ++c) {
      const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].qs + 32 * c));
      // bit (2c) and (2c+1) of each qh byte -> 16
      const __m256i h0 = _mm256_and_si256(_mm256_srli_epi16(hb, 2 * c), _mm256_set1_epi8(1));
      const __m256i h1 = _mm256_and_si256(_mm256_srli_epi16(hb, 2 * c + 1), _mm256_set1_epi8(1));
      q[2 * c] = _mm256_or_si256(_mm256_and_si256(b, m4), _mm256_slli_epi16(h0, 4));
      q[2 * c + 1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b, 4), m4), _mm256_slli_epi16(h1, 4));
    }
    for (int j = 0; j < kNA; ++j) {
      const blk::Q8_K& y = a[j][i];
      __m256i sumi = _mm256_setzero_si256();
      for (int g = 0; g < 8; ++g) {
        const __m256i yq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.qs + 32 * g));
        const __m256i p = _mm256_maddubs_epi16(q[g], yq);
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, _mm256_set1_epi16(sc[g])));
      }
      const int mins = k4_mins(mn, y.bsums);
      acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(d * y.d), _mm256_cvtepi32_ps(sumi), acc[j]);
      acc[j] = _mm256_sub_ps(acc[j], _mm256_setr_ps(dmin * y.d * static_cast<float>(mins), 0, 0, 0, 0, 0, 0, 0));
    }
  }
  for (int j = 0; j < kNA; ++j) out[j] = hsum(acc[j]);
}

// Q6_K: q in [0, 64) unsigned; sum sc*(q-32)*a = sum sc*q*a - 32 * sum sc*bsum.
template <int kNA>
void q6_k_tile(const uint8_t* w, const blk::Q8_K* const* a, int64_t nb, float* out) {
  const auto* x = reinterpret_cast<const blk::Q6_K*>(w);
  const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);
  __m256 acc[kNA];
  for (int j = 0; j < kNA; ++j) acc[j] = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(x[i].d);
    __m256i q[8];
    for (int h = 0; h < 2; ++h) {
      const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].ql + 64 * h));
      const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].ql + 64 * h + 32));
      const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].qh + 32 * h));
      q[4 * h + 0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 4), m30));
      q[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 2), m30));
      q[4 * h + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hb, m30));
      q[4 * h + 3] =
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_and_si256(_mm256_srli_epi16(hb, 2), m30));
    }
    // per 32-element chunk c: scales of groups 2c (first 16) and 2c+1 (last 16) as int16 lanes
    const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[i].scales));
    const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
    __m256i scv[8];
    for (int c = 0; c < 8; ++c) {
      const __m256i lo = _mm256_set1_epi16(x[i].scales[2 * c]), hi = _mm256_set1_epi16(x[i].scales[2 * c + 1]);
      scv[c] = _mm256_blend_epi32(lo, hi, 0xF0);
    }
    for (int j = 0; j < kNA; ++j) {
      const blk::Q8_K& y = a[j][i];
      __m256i sumi = _mm256_setzero_si256();
      for (int c = 0; c < 8; ++c) {
        const __m256i yq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.qs + 32 * c));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(q[c], yq), scv[c]));
      }
      const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.bsums));
      const int corr = hsum_i32(_mm256_madd_epi16(bs, sc16));
      const int total = hsum_i32(sumi) - 32 * corr;
      acc[j] = _mm256_add_ps(acc[j], _mm256_setr_ps(d * y.d * static_cast<float>(total), 0, 0, 0, 0, 0, 0, 0));
    }
  }
  for (int j = 0; j < kNA; ++j) out[j] = hsum(acc[j]);
}

// ---- float weights x F32 ----

template <int kKind>  // 0 = f32, 1 = f16, 2 = bf16
inline __m256 load8(const uint8_t* p) {
  if constexpr (kKind == 0) return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
  if constexpr (kKind == 1) return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

template <int kKind, int kNA>
void float_tile(const uint8_t* w, const float* const* a, int64_t k, float* out) {
  constexpr int kEl = kKind == 0 ? 4 : 2;
  __m256 acc[kNA][2];
  for (int j = 0; j < kNA; ++j) acc[j][0] = acc[j][1] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    const __m256 w0 = load8<kKind>(w + i * kEl), w1 = load8<kKind>(w + (i + 8) * kEl);
    for (int j = 0; j < kNA; ++j) {
      acc[j][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(a[j] + i), acc[j][0]);
      acc[j][1] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(a[j] + i + 8), acc[j][1]);
    }
  }
  for (int j = 0; j < kNA; ++j) {
    float s = hsum(_mm256_add_ps(acc[j][0], acc[j][1]));
    for (int64_t t = i; t < k; ++t) {
      float wv;
      if constexpr (kKind == 0) {
        __builtin_memcpy(&wv, w + t * 4, 4);
      } else {
        uint16_t h;
        __builtin_memcpy(&h, w + t * 2, 2);
        if constexpr (kKind == 1) {
          wv = h2f(h);
        } else {
          const uint32_t bits = static_cast<uint32_t>(h) << 16;
          __builtin_memcpy(&wv, &bits, 4);
        }
      }
      s += wv * a[j][t];
    }
    out[j] = s;
  }
}

// ---- drivers: rows x activation tiles ----

// Each tile kernel wrapped as Tile<kNA>::run(w_row, act_ptrs, n_blocks_or_k, out_per_act).
#define PADDOCK_TILE_FN(name, Act)                                                   \
  template <int kNA>                                                                 \
  struct name##_t {                                                                  \
    static void run(const uint8_t* w, const Act* const* a, int64_t n, float* out) { \
      name<kNA>(w, a, n, out);                                                       \
    }                                                                                \
  };
PADDOCK_TILE_FN(q8_0_tile, blk::Q8_0)
PADDOCK_TILE_FN(q4_0_tile, blk::Q8_0)
PADDOCK_TILE_FN(iq4_nl_tile, blk::Q8_0)
PADDOCK_TILE_FN(q4_k_tile, blk::Q8_K)
PADDOCK_TILE_FN(q5_k_tile, blk::Q8_K)
PADDOCK_TILE_FN(q6_k_tile, blk::Q8_K)
#undef PADDOCK_TILE_FN

template <int kKind>
struct FloatTile {
  template <int kNA>
  struct t {
    static void run(const uint8_t* w, const float* const* a, int64_t k, float* out) { float_tile<kKind, kNA>(w, a, k, out); }
  };
};

// out[a * out_stride + r]; activation rows processed kMaxNA at a time so each weight row is read
// from cache, not memory, for the rest of the tile.
template <typename Act, int kBlock, template <int> class Tile>
void multi(const void* w, uint64_t w_stride, int64_t n_rows, const void* act, uint64_t act_stride, int64_t n_act,
           int64_t k, float* out, int64_t out_stride) {
  constexpr int kMaxNA = 4;
  const int64_t n = kBlock == 1 ? k : k / kBlock;
  for (int64_t a0 = 0; a0 < n_act; a0 += kMaxNA) {
    const int na = static_cast<int>(n_act - a0 < kMaxNA ? n_act - a0 : kMaxNA);
    const Act* ap[kMaxNA];
    for (int j = 0; j < na; ++j)
      ap[j] = reinterpret_cast<const Act*>(static_cast<const uint8_t*>(act) + (a0 + j) * act_stride);
    for (int64_t r = 0; r < n_rows; ++r) {
      float res[kMaxNA];
      const uint8_t* wr = row(w, w_stride, r);
      switch (na) {
        case 1: Tile<1>::run(wr, ap, n, res); break;
        case 2: Tile<2>::run(wr, ap, n, res); break;
        case 3: Tile<3>::run(wr, ap, n, res); break;
        default: Tile<4>::run(wr, ap, n, res); break;
      }
      for (int j = 0; j < na; ++j) out[(a0 + j) * out_stride + r] = res[j];
    }
  }
}

template <typename Act, int kBlock, template <int> class Tile>
void single(const void* w, uint64_t w_stride, int64_t n_rows, const void* act, int64_t k, float* out) {
  const int64_t n = kBlock == 1 ? k : k / kBlock;
  const Act* ap[1] = {static_cast<const Act*>(act)};
  for (int64_t r = 0; r < n_rows; ++r) Tile<1>::run(row(w, w_stride, r), ap, n, out + r);
}

template <typename Act, int kBlock, template <int> class Tile>
void install(KernelTable* t, int slot) {
  t->dot[slot] = single<Act, kBlock, Tile>;
  t->dot_multi[slot] = multi<Act, kBlock, Tile>;
}

}  // namespace

void fill_avx2(KernelTable* t) {
  install<blk::Q8_0, 32, q8_0_tile_t>(t, 8);
  install<blk::Q8_0, 32, q4_0_tile_t>(t, 2);
  install<blk::Q8_0, 32, iq4_nl_tile_t>(t, 20);
  install<blk::Q8_K, 256, q4_k_tile_t>(t, 12);
  install<blk::Q8_K, 256, q5_k_tile_t>(t, 13);
  install<blk::Q8_K, 256, q6_k_tile_t>(t, 14);
  install<float, 1, FloatTile<0>::t>(t, 0);
  install<float, 1, FloatTile<1>::t>(t, 1);
  install<float, 1, FloatTile<2>::t>(t, 30);
}

}  // namespace paddock::quant::detail
#endif
