// quant (internal): unpack one block into plain integers — quant values in element order plus
// per-group scales — the single readable statement of each layout's bit order. The reference
// dequantizers and the scalar dot kernels are both written over these.
#pragma once
#include <cstdint>
#include <cstring>

#include "quant/blocks.h"
#include "util/half.h"

namespace paddock::quant::unpack {

// A 32-element block: x[i] = d * q[i] + m.
struct Small {
  int8_t q[32];
  float d, m;
};

static inline void nibbles(const uint8_t* qs, int8_t* q, int offset) {
  for (int j = 0; j < 16; ++j) {
    q[j] = static_cast<int8_t>((qs[j] & 0xF) - offset);
    q[j + 16] = static_cast<int8_t>((qs[j] >> 4) - offset);
  }
}

static inline void fifth_bits(const uint8_t* qh4, int8_t* q, int offset) {
  uint32_t qh;
  std::memcpy(&qh, qh4, 4);
  for (int j = 0; j < 32; ++j) q[j] = static_cast<int8_t>(q[j] + static_cast<int>(((qh >> j) & 1) << 4) - offset);
}

static inline void q4_0(const blk::Q4_0& b, Small* s) {
  nibbles(b.qs, s->q, 8);
  s->d = fp16_to_fp32(b.d);
  s->m = 0;
}
static inline void q4_1(const blk::Q4_1& b, Small* s) {
  nibbles(b.qs, s->q, 0);
  s->d = fp16_to_fp32(b.d);
  s->m = fp16_to_fp32(b.m);
}
static inline void q5_0(const blk::Q5_0& b, Small* s) {
  nibbles(b.qs, s->q, 0);
  fifth_bits(b.qh, s->q, 16);
  s->d = fp16_to_fp32(b.d);
  s->m = 0;
}
static inline void q5_1(const blk::Q5_1& b, Small* s) {
  nibbles(b.qs, s->q, 0);
  fifth_bits(b.qh, s->q, 0);
  s->d = fp16_to_fp32(b.d);
  s->m = fp16_to_fp32(b.m);
}
static inline void q8_0(const blk::Q8_0& b, Small* s) {
  std::memcpy(s->q, b.qs, 32);
  s->d = fp16_to_fp32(b.d);
  s->m = 0;
}
static inline void q8_1(const blk::Q8_1& b, Small* s) {
  std::memcpy(s->q, b.qs, 32);
  s->d = fp16_to_fp32(b.d);
  s->m = 0;
}
static inline void iq4_nl(const blk::IQ4_NL& b, Small* s) {
  for (int j = 0; j < 16; ++j) {
    s->q[j] = blk::kIq4nlValues[b.qs[j] & 0xF];
    s->q[j + 16] = blk::kIq4nlValues[b.qs[j] >> 4];
  }
  s->d = fp16_to_fp32(b.d);
  s->m = 0;
}
static inline void mxfp4(const blk::MXFP4& b, Small* s) {
  for (int j = 0; j < 16; ++j) {
    s->q[j] = blk::kMxfp4Values[b.qs[j] & 0xF];
    s->q[j + 16] = blk::kMxfp4Values[b.qs[j] >> 4];
  }
  s->d = blk::e8m0_half(b.e);
  s->m = 0;
}

// A 256-element super-block: x[i] = (d * sc[g]) * q[i] - (dmin * mn[g]) with g = i / 16.
struct Super {
  int8_t q[256];
  int16_t sc[16];
  int16_t mn[16];
  float d, dmin;
};

static inline void q2_k(const blk::Q2_K& b, Super* s) {
  for (int n = 0; n < 2; ++n)
    for (int sh = 0; sh < 4; ++sh)
      for (int l = 0; l < 32; ++l) s->q[128 * n + 32 * sh + l] = static_cast<int8_t>((b.qs[32 * n + l] >> (2 * sh)) & 3);
  for (int g = 0; g < 16; ++g) {
    s->sc[g] = b.scales[g] & 0xF;
    s->mn[g] = b.scales[g] >> 4;
  }
  s->d = fp16_to_fp32(b.d);
  s->dmin = fp16_to_fp32(b.dmin);
}

static inline void q3_k(const blk::Q3_K& b, Super* s) {
  for (int n = 0; n < 2; ++n)
    for (int sh = 0; sh < 4; ++sh)
      for (int l = 0; l < 32; ++l) {
        int low = (b.qs[32 * n + l] >> (2 * sh)) & 3;
        int high = (b.hmask[l] >> (4 * n + sh)) & 1;
        s->q[128 * n + 32 * sh + l] = static_cast<int8_t>(low - (high ? 0 : 4));
      }
  for (int g = 0; g < 16; ++g) {
    s->sc[g] = static_cast<int16_t>(blk::q3k_scale(g, b.scales));
    s->mn[g] = 0;
  }
  s->d = fp16_to_fp32(b.d);
  s->dmin = 0;
}

static inline void k4_scales(const uint8_t* packed, Super* s) {
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    blk::k4_scale_min(j, packed, &sc, &m);
    s->sc[2 * j] = s->sc[2 * j + 1] = sc;
    s->mn[2 * j] = s->mn[2 * j + 1] = m;
  }
}

static inline void q4_k(const blk::Q4_K& b, Super* s) {
  for (int j = 0; j < 4; ++j)
    for (int l = 0; l < 32; ++l) {
      s->q[64 * j + l] = static_cast<int8_t>(b.qs[32 * j + l] & 0xF);
      s->q[64 * j + 32 + l] = static_cast<int8_t>(b.qs[32 * j + l] >> 4);
    }
  k4_scales(b.scales, s);
  s->d = fp16_to_fp32(b.d);
  s->dmin = fp16_to_fp32(b.dmin);
}

static inline void q5_k(const blk::Q5_K& b, Super* s) {
  for (int j = 0; j < 4; ++j)
    for (int l = 0; l < 32; ++l) {
      int h0 = (b.qh[l] >> (2 * j)) & 1, h1 = (b.qh[l] >> (2 * j + 1)) & 1;
      s->q[64 * j + l] = static_cast<int8_t>((b.qs[32 * j + l] & 0xF) | (h0 << 4));
      s->q[64 * j + 32 + l] = static_cast<int8_t>((b.qs[32 * j + l] >> 4) | (h1 << 4));
    }
  k4_scales(b.scales, s);
  s->d = fp16_to_fp32(b.d);
  s->dmin = fp16_to_fp32(b.dmin);
}

static inline void q6_k(const blk::Q6_K& b, Super* s) {
  for (int n = 0; n < 2; ++n) {
    const uint8_t* ql = b.ql + 64 * n;
    const uint8_t* qh = b.qh + 32 * n;
    int8_t* q = s->q + 128 * n;
    for (int l = 0; l < 32; ++l) {
      q[l] = static_cast<int8_t>(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
      q[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
      q[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
      q[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
    }
  }
  for (int g = 0; g < 16; ++g) {
    s->sc[g] = b.scales[g];
    s->mn[g] = 0;
  }
  s->d = fp16_to_fp32(b.d);
  s->dmin = 0;
}

static inline void q8_k(const blk::Q8_K& b, Super* s) {
  std::memcpy(s->q, b.qs, 256);
  for (int g = 0; g < 16; ++g) {
    s->sc[g] = 1;
    s->mn[g] = 0;
  }
  s->d = b.d;
  s->dmin = 0;
}

static inline void iq4_xs(const blk::IQ4_XS& b, Super* s) {
  for (int i = 0; i < 128; ++i) {
    const int ib = i / 16, j = i % 16;
    s->q[32 * ib + j] = blk::kIq4nlValues[b.qs[i] & 0xF];
    s->q[32 * ib + 16 + j] = blk::kIq4nlValues[b.qs[i] >> 4];
  }
  const unsigned high = b.scales_h;
  for (int ib = 0; ib < 8; ++ib) {
    const unsigned low = (b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xFu;
    const int ls = static_cast<int>(low | (((high >> (2 * ib)) & 3u) << 4));
    s->sc[2 * ib] = static_cast<int16_t>(ls - 32);
    s->sc[2 * ib + 1] = static_cast<int16_t>(ls - 32);
    s->mn[2 * ib] = 0;
    s->mn[2 * ib + 1] = 0;
  }
  s->d = fp16_to_fp32(b.d);
  s->dmin = 0;
}

}  // namespace paddock::quant::unpack
