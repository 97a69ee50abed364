// quant (internal): the byte layout of every block format we (de)quantize, bit-exact with ggml's
// block structs (ggml-common.h). Scales stored as fp16 are kept as raw uint16_t bits. Helpers are
// static (internal linkage) so the SIMD translation units, built with other -m flags, never share
// an out-of-line copy with portable code.
#pragma once
#include <cstddef>
#include <cstdint>

namespace paddock::quant::blk {

constexpr int kQK = 32;    // elements per block of the "legacy" formats
constexpr int kQKK = 256;  // elements per K-quant super-block

// x = d * (q - 8); element j is the low nibble of qs[j], element j + 16 the high nibble.
struct Q4_0 { uint16_t d; uint8_t qs[16]; };
// x = d * q + m; same nibble order as Q4_0.
struct Q4_1 { uint16_t d, m; uint8_t qs[16]; };
// 5-bit q: low 4 bits as Q4_0, bit 4 of element j is bit j of the little-endian uint32 qh.
// x = d * (q - 16).
struct Q5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; };
// x = d * q + m.
struct Q5_1 { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; };
// x = d * q.
struct Q8_0 { uint16_t d; int8_t qs[32]; };
// x = d * q; s = d * sum(q) (fp16).
struct Q8_1 { uint16_t d, s; int8_t qs[32]; };
// 16 groups of 16: scales[g] low nibble = scale, high nibble = min; 2-bit q. Element order: for
// each half (128 elements, 32 bytes of qs) and shift 0,2,4,6: 16 from qs[0..16), 16 from qs[16..32).
// x = d * sc * q - dmin * m.
struct Q2_K { uint8_t scales[16]; uint8_t qs[64]; uint16_t d, dmin; };
// 2 low bits as Q2_K; the third bit from hmask (bit `n/32` of hmask[n%32], set = +0, clear = -4);
// 16 signed 6-bit scales (stored +32) packed in 12 bytes. x = d * (sc - 32) * q, q in [-4, 3].
struct Q3_K { uint8_t hmask[32]; uint8_t qs[64]; uint8_t scales[12]; uint16_t d; };
// 8 groups of 32, 6-bit scale and min packed in 12 bytes; 64 elements per 32 bytes of qs (low
// nibbles first). x = d * sc * q - dmin * m.
struct Q4_K { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; };
// As Q4_K plus a fifth bit: bit (2*i + h) of qh[l] for element 64*i + 32*h + l.
struct Q5_K { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; };
// 16 groups of 16 with int8 scales; 6-bit q = 4 low bits (ql) + 2 high bits (qh), x = d*sc*(q-32).
struct Q6_K { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; };
// Activations for the K-quants: fp32 scale, int8 q, sums of each 16 q.
struct Q8_K { float d; int8_t qs[256]; int16_t bsums[16]; };
// Non-linear 4-bit: x = d * kIq4nlValues[q]; nibble order as Q4_0.
struct IQ4_NL { uint16_t d; uint8_t qs[16]; };
// 8 groups of 32, 6-bit scale (stored +32): low 4 bits in scales_l nibbles, high 2 in scales_h.
struct IQ4_XS { uint16_t d; uint16_t scales_h; uint8_t scales_l[4]; uint8_t qs[128]; };
// OCP microscaling fp4: e8m0 shared exponent, e2m1 values; nibble order as Q4_0.
struct MXFP4 { uint8_t e; uint8_t qs[16]; };

static_assert(sizeof(Q4_0) == 18 && sizeof(Q4_1) == 20 && sizeof(Q5_0) == 22 && sizeof(Q5_1) == 24);
static_assert(sizeof(Q8_0) == 34 && sizeof(Q8_1) == 36);
static_assert(sizeof(Q2_K) == 84 && sizeof(Q3_K) == 110 && sizeof(Q4_K) == 144 && sizeof(Q5_K) == 176);
static_assert(sizeof(Q6_K) == 210 && sizeof(Q8_K) == 292);
static_assert(sizeof(IQ4_NL) == 18 && sizeof(IQ4_XS) == 136 && sizeof(MXFP4) == 17);
static_assert(alignof(Q4_0) == 2 && alignof(Q2_K) == 2 && alignof(Q6_K) == 2 && alignof(Q8_K) == 4);

// The 16 levels of IQ4_NL / IQ4_XS and of MXFP4 (e2m1 values times two).
inline constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                           1,    13,   25,  38,  53,  69,  89,  113};
inline constexpr int8_t kMxfp4Values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// Half of 2^(e - 127), as a float (MXFP4 values above are doubled); e = 0 and 1 are subnormal.
static inline float e8m0_half(uint8_t e) {
  uint32_t bits = e < 2 ? (0x00200000u << e) : (static_cast<uint32_t>(e - 1) << 23);
  float f;
  __builtin_memcpy(&f, &bits, 4);
  return f;
}

// 6-bit scale and min j (0..7) of a Q4_K / Q5_K block's 12 packed bytes: bytes 0-3 hold the
// low 6 bits of scales 0-3, bytes 4-7 of mins 0-3; bytes 8-11 hold scales/mins 4-7's low nibbles,
// whose high 2 bits sit in the top bits of bytes 0-7.
static inline void k4_scale_min(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Signed scale j (0..15) of a Q3_K block: low 4 bits in the nibbles of bytes 0-7 (j < 8 low
// nibble of byte j, else high nibble of byte j - 8), high 2 bits at bits 2*(j/4) of byte 8 + j%4.
static inline int q3k_scale(int j, const uint8_t* s) {
  int lo = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
  int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
  return (lo | (hi << 4)) - 32;
}

}  // namespace paddock::quant::blk
