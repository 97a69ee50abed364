// Reference quantizers (scalar, portable). Legacy 32-blocks use the standard closed-form scales;
// K-quants fit each group's scale (and min) by a small search with weighted least squares, then
// quantize the group scales against the super-block scale and re-round every value against the
// final, stored scales. Not bit-identical to llama.cpp's quantizer, but the same block layouts.
#include <algorithm>
#include <atomic>
#include <cassert>
#include <cmath>
#include <cstring>
#include <optional>

#include "quant/blocks.h"
#include "quant/quant.h"
#include "util/half.h"
#include "util/thread_pool.h"

namespace paddock::quant {
namespace {

// Round to nearest and clamp to [lo, hi]; NaN maps to lo (bad weights must not be UB).
// Clamp, then round half away from zero exactly like std::lround, without branches (a library call
// plus unpredictable branches per value were the quantizers' hot spot): the remainder v - trunc(v)
// is exact in float. NaN maps to lo: `v > lo ? v : lo` is false for NaN.
inline int round_clamp(float v, int lo, int hi) {
  const float flo = static_cast<float>(lo), fhi = static_cast<float>(hi);
  float c = v > flo ? v : flo;
  c = c < fhi ? c : fhi;
  const int i = static_cast<int>(c);
  const float r = c - static_cast<float>(i);
  return i + static_cast<int>(r >= 0.5f) - static_cast<int>(r <= -0.5f);
}

// Importance of each value for the least-squares fits: larger values matter more, scaled by the
// caller's importance matrix when given.
void importance(const float* x, const float* imatrix, int n, float* w) {
  float sum2 = 0;
  for (int i = 0; i < n; ++i) sum2 += x[i] * x[i];
  const float sigma2 = 2 * sum2 / static_cast<float>(n);
  for (int i = 0; i < n; ++i) {
    w[i] = std::sqrt(sigma2 + x[i] * x[i]);
    if (imatrix) w[i] *= imatrix[i];
  }
}

// The scale search the fits below share: each candidate t in [t_lo, t_hi] rounds the n <= 32 values
// to trial levels against a scale near the obvious one and refits the scale by weighted least
// squares; `try_scale(t, trial)` returns that fit (a struct with its weighted error `err`), or
// nullopt when the fit is degenerate. The first fit with the lowest error below `best_err` wins:
// it goes to `best` and its levels to L (when L is not null). Returns whether any fit won.
template <class Fit, class TryScale>
bool search_scale(int t_lo, int t_hi, int n, float best_err, Fit& best, uint8_t* L, TryScale&& try_scale) {
  uint8_t trial[32];
  assert(n <= 32);
  bool found = false;
  for (int t = t_lo; t <= t_hi; ++t) {
    const std::optional<Fit> f = try_scale(t, trial);
    if (!f || !(f->err < best_err)) continue;
    best_err = f->err;
    best = *f;
    found = true;
    if (L) std::memcpy(L, trial, static_cast<size_t>(n));
  }
  return found;
}

// Fit x ~ scale * L - min with L in [0, nmax], min >= 0. Returns scale, writes L and min.
float fit_asym(int n, int nmax, const float* x, const float* w, uint8_t* L, float* min_out) {
  float xmin = x[0], xmax = x[0];
  for (int i = 1; i < n; ++i) {
    xmin = std::fmin(xmin, x[i]);
    xmax = std::fmax(xmax, x[i]);
  }
  if (xmin > 0) xmin = 0;
  if (!(xmax > xmin)) {
    std::memset(L, 0, static_cast<size_t>(n));
    *min_out = -xmin;
    return 0;
  }
  struct Fit {
    float err, a, b;
  };
  Fit best{INFINITY, (xmax - xmin) / static_cast<float>(nmax), xmin};
  const bool found = search_scale(-10, 10, n, INFINITY, best, L, [&](int t, uint8_t* trial) -> std::optional<Fit> {
    const float iscale = (static_cast<float>(nmax) + 0.1f * static_cast<float>(t)) / (xmax - xmin);
    float sw = 0, swl = 0, swl2 = 0, swx = 0, swlx = 0;
    for (int i = 0; i < n; ++i) {
      trial[i] = static_cast<uint8_t>(round_clamp(iscale * (x[i] - xmin), 0, nmax));
      const float l = trial[i];
      sw += w[i];
      swl += w[i] * l;
      swl2 += w[i] * l * l;
      swx += w[i] * x[i];
      swlx += w[i] * l * x[i];
    }
    const float det = sw * swl2 - swl * swl;
    if (!(det > 0)) return std::nullopt;
    float a = (sw * swlx - swl * swx) / det;
    float b = (swl2 * swx - swl * swlx) / det;
    if (b > 0) {
      b = 0;
      a = swlx / swl2;
    }
    if (!(a > 0)) return std::nullopt;
    float err = 0;
    for (int i = 0; i < n; ++i) {
      const float e = a * static_cast<float>(trial[i]) + b - x[i];
      err += w[i] * e * e;
    }
    return Fit{err, a, b};
  });
  if (!found)
    for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(round_clamp((x[i] - xmin) / best.a, 0, nmax));
  *min_out = -best.b;
  return best.a;
}

// Fit x ~ scale * L with L in [-nmax, nmax - 1]; the scale may be negative. Returns the scale.
// The best fit maximizes sum(w x L)^2 / sum(w L^2) (the error's reduction), so its `err` is that
// value negated; any fit beats the starting -(-1).
float fit_sym(int n, int nmax, const float* x, const float* w) {
  float amax = 0, max = 0;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  if (!(amax > 1e-30f)) return 0;
  struct Fit {
    float err, scale;
  };
  Fit best{1, -max / static_cast<float>(nmax)};
  search_scale(-9, 9, n, 1.0f, best, nullptr, [&](int t, uint8_t*) -> std::optional<Fit> {
    const float iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(t)) / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const float l = static_cast<float>(round_clamp(iscale * x[i], -nmax, nmax - 1));
      sumlx += w[i] * x[i] * l;
      suml2 += w[i] * l * l;
    }
    if (!(suml2 > 0)) return std::nullopt;
    return Fit{-(sumlx * sumlx / suml2), sumlx / suml2};
  });
  return best.scale;
}

// ---- legacy 32-element blocks ----

void q8_0(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<blk::Q8_0*>(dst);
  for (int64_t i = 0; i < n / 32; ++i, x += 32) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127, id = d != 0 ? 1 / d : 0;
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < 32; ++j) y[i].qs[j] = static_cast<int8_t>(round_clamp(x[j] * id, -127, 127));
  }
}

// Symmetric: the value of largest magnitude maps to q = 0 (i.e. -half), d = max / -half.
template <int kBits>
void sym_block(const float* x, uint16_t* d_out, uint8_t* qs, uint8_t* qh) {
  constexpr int kHalf = 1 << (kBits - 1), kMax = (1 << kBits) - 1;
  float amax = 0, max = 0;
  for (int j = 0; j < 32; ++j)
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  const float d = max / -static_cast<float>(kHalf), id = d != 0 ? 1 / d : 0;
  *d_out = fp32_to_fp16(d);
  uint32_t high = 0;
  for (int j = 0; j < 16; ++j) {
    const int a = round_clamp(x[j] * id + static_cast<float>(kHalf), 0, kMax);
    const int b = round_clamp(x[j + 16] * id + static_cast<float>(kHalf), 0, kMax);
    qs[j] = static_cast<uint8_t>((a & 0xF) | ((b & 0xF) << 4));
    high |= static_cast<uint32_t>(a >> 4) << j;
    high |= static_cast<uint32_t>(b >> 4) << (j + 16);
  }
  if (qh) std::memcpy(qh, &high, 4);
}

// Asymmetric: x = d * q + m with m = min, d = (max - min) / (2^bits - 1).
template <int kBits>
void asym_block(const float* x, uint16_t* d_out, uint16_t* m_out, uint8_t* qs, uint8_t* qh) {
  constexpr int kMax = (1 << kBits) - 1;
  float min = x[0], max = x[0];
  for (int j = 1; j < 32; ++j) {
    min = std::fmin(min, x[j]);
    max = std::fmax(max, x[j]);
  }
  const float d = (max - min) / kMax, id = d != 0 ? 1 / d : 0;
  *d_out = fp32_to_fp16(d);
  *m_out = fp32_to_fp16(min);
  uint32_t high = 0;
  for (int j = 0; j < 16; ++j) {
    const int a = round_clamp((x[j] - min) * id, 0, kMax);
    const int b = round_clamp((x[j + 16] - min) * id, 0, kMax);
    qs[j] = static_cast<uint8_t>((a & 0xF) | ((b & 0xF) << 4));
    high |= static_cast<uint32_t>(a >> 4) << j;
    high |= static_cast<uint32_t>(b >> 4) << (j + 16);
  }
  if (qh) std::memcpy(qh, &high, 4);
}

// IQ4_NL: index of the level nearest to v (levels sorted ascending).
int nearest_iq4(float v) {
  if (!(v > blk::kIq4nlValues[0])) return 0;
  if (v >= blk::kIq4nlValues[15]) return 15;
  int lo = 0;
  while (lo < 15 && blk::kIq4nlValues[lo + 1] <= v) ++lo;
  if (lo == 15) return 15;
  return v - blk::kIq4nlValues[lo] <= blk::kIq4nlValues[lo + 1] - v ? lo : lo + 1;
}

// Best IQ4_NL scale for n values: try scales around max/-127 and refit by least squares.
float fit_iq4(int n, const float* x, const float* w, uint8_t* idx) {
  float amax = 0, max = 0;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  if (!(amax > 1e-30f)) {
    for (int i = 0; i < n; ++i) idx[i] = nearest_iq4(0);
    return 0;
  }
  struct Fit {
    float err, d;
  };
  Fit best{INFINITY, max / -127.f};
  search_scale(-10, 10, n, INFINITY, best, idx, [&](int t, uint8_t* trial) -> std::optional<Fit> {
    const float d0 = max / (-127.f + 1.5f * static_cast<float>(t));
    float sxl = 0, sll = 0;
    for (int i = 0; i < n; ++i) {
      trial[i] = static_cast<uint8_t>(nearest_iq4(x[i] / d0));
      const float l = blk::kIq4nlValues[trial[i]];
      sxl += w[i] * x[i] * l;
      sll += w[i] * l * l;
    }
    if (!(sll > 0)) return std::nullopt;
    const float d = sxl / sll;
    float err = 0;
    for (int i = 0; i < n; ++i) {
      const float e = d * blk::kIq4nlValues[trial[i]] - x[i];
      err += w[i] * e * e;
    }
    return Fit{err, d};
  });
  return best.d;
}

void iq4_nl(const float* x, void* dst, int64_t n, const float* imatrix) {
  auto* y = static_cast<blk::IQ4_NL*>(dst);
  float w[32];
  uint8_t idx[32];
  for (int64_t i = 0; i < n / 32; ++i, x += 32) {
    importance(x, imatrix ? imatrix + 32 * i : nullptr, 32, w);
    float d = fit_iq4(32, x, w, idx);
    y[i].d = fp32_to_fp16(d);
    const float ds = fp16_to_fp32(y[i].d);
    const float id = ds != 0 ? 1 / ds : 0;
    for (int j = 0; j < 32; ++j) idx[j] = static_cast<uint8_t>(nearest_iq4(x[j] * id));
    for (int j = 0; j < 16; ++j) y[i].qs[j] = static_cast<uint8_t>(idx[j] | (idx[j + 16] << 4));
  }
}

// ---- K-quants (256-element super-blocks) ----

void q8_k(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<blk::Q8_K*>(dst);
  for (int64_t i = 0; i < n / 256; ++i, x += 256) {
    float amax = 0;
    for (int j = 0; j < 256; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127, id = d != 0 ? 1 / d : 0;
    y[i].d = d;
    for (int j = 0; j < 256; ++j) y[i].qs[j] = static_cast<int8_t>(round_clamp(x[j] * id, -127, 127));
    for (int g = 0; g < 16; ++g) {
      int s = 0;
      for (int l = 0; l < 16; ++l) s += y[i].qs[16 * g + l];
      y[i].bsums[g] = static_cast<int16_t>(s);
    }
  }
}

// Shared by Q2_K, Q4_K, Q5_K: `groups` groups of `gsize`, values in [0, nmax], group scales and
// mins quantized to [0, smax] against the super-block's d / dmin. Writes final L[256].
void asym_super(const float* x, const float* imatrix, int groups, int gsize, int nmax, int smax, uint16_t* d_out,
                uint16_t* dmin_out, uint8_t* ls, uint8_t* lm, uint8_t* L) {
  float w[256], scales[16], mins[16];
  importance(x, imatrix, 256, w);
  float max_scale = 0, max_min = 0;
  for (int g = 0; g < groups; ++g) {
    scales[g] = fit_asym(gsize, nmax, x + g * gsize, w + g * gsize, L + g * gsize, &mins[g]);
    // Comparisons, not fmax: a zero group's min is -0.0 and fmax(+0, -0) may return either, which
    // made the stored dmin's sign depend on the build; llama.cpp keeps +0.
    if (scales[g] > max_scale) max_scale = scales[g];
    if (mins[g] > max_min) max_min = mins[g];
  }
  const float d = max_scale / static_cast<float>(smax), dmin = max_min / static_cast<float>(smax);
  *d_out = fp32_to_fp16(d);
  *dmin_out = fp32_to_fp16(dmin);
  const float d16 = fp16_to_fp32(*d_out), dmin16 = fp16_to_fp32(*dmin_out);
  for (int g = 0; g < groups; ++g) {
    ls[g] = static_cast<uint8_t>(d16 > 0 ? round_clamp(scales[g] / d16, 0, smax) : 0);
    lm[g] = static_cast<uint8_t>(dmin16 > 0 ? round_clamp(mins[g] / dmin16, 0, smax) : 0);
    const float dl = d16 * ls[g], ml = dmin16 * lm[g];
    for (int i = g * gsize; i < (g + 1) * gsize; ++i)
      L[i] = static_cast<uint8_t>(dl > 0 ? round_clamp((x[i] + ml) / dl, 0, nmax) : 0);
  }
}

void q2_k(const float* x, void* dst, int64_t n, const float* imatrix) {
  auto* y = static_cast<blk::Q2_K*>(dst);
  uint8_t L[256], ls[16], lm[16];
  for (int64_t i = 0; i < n / 256; ++i, x += 256) {
    asym_super(x, imatrix ? imatrix + 256 * i : nullptr, 16, 16, 3, 15, &y[i].d, &y[i].dmin, ls, lm, L);
    for (int g = 0; g < 16; ++g) y[i].scales[g] = static_cast<uint8_t>(ls[g] | (lm[g] << 4));
    std::memset(y[i].qs, 0, sizeof(y[i].qs));
    for (int h = 0; h < 2; ++h)
      for (int sh = 0; sh < 4; ++sh)
        for (int l = 0; l < 32; ++l) y[i].qs[32 * h + l] |= static_cast<uint8_t>(L[128 * h + 32 * sh + l] << (2 * sh));
  }
}

void pack_k4_scales(const uint8_t* ls, const uint8_t* lm, uint8_t* s) {
  for (int j = 0; j < 4; ++j) {
    s[j] = static_cast<uint8_t>(ls[j] | ((ls[j + 4] >> 4) << 6));
    s[j + 4] = static_cast<uint8_t>(lm[j] | ((lm[j + 4] >> 4) << 6));
    s[j + 8] = static_cast<uint8_t>((ls[j + 4] & 0xF) | ((lm[j + 4] & 0xF) << 4));
  }
}

void q4_k(const float* x, void* dst, int64_t n, const float* imatrix) {
  auto* y = static_cast<blk::Q4_K*>(dst);
  uint8_t L[256], ls[8], lm[8];
  for (int64_t i = 0; i < n / 256; ++i, x += 256) {
    asym_super(x, imatrix ? imatrix + 256 * i : nullptr, 8, 32, 15, 63, &y[i].d, &y[i].dmin, ls, lm, L);
    pack_k4_scales(ls, lm, y[i].scales);
    for (int j = 0; j < 4; ++j)
      for (int l = 0; l < 32; ++l) y[i].qs[32 * j + l] = static_cast<uint8_t>(L[64 * j + l] | (L[64 * j + 32 + l] << 4));
  }
}

void q5_k(const float* x, void* dst, int64_t n, const float* imatrix) {
  auto* y = static_cast<blk::Q5_K*>(dst);
  uint8_t L[256], ls[8], lm[8];
  for (int64_t i = 0; i < n / 256; ++i, x += 256) {
    asym_super(x, imatrix ? imatrix + 256 * i : nullptr, 8, 32, 31, 63, &y[i].d, &y[i].dmin, ls, lm, L);
    pack_k4_scales(ls, lm, y[i].scales);
    std::memset(y[i].qh, 0, sizeof(y[i].qh));
    for (int j = 0; j < 4; ++j)
      for (int l = 0; l < 32; ++l) {
        const int a = L[64 * j + l], b = L[64 * j + 32 + l];
        y[i].qs[32 * j + l] = static_cast<uint8_t>((a & 0xF) | ((b & 0xF) << 4));
        y[i].qh[l] |= static_cast<uint8_t>(((a >> 4) << (2 * j)) | ((b >> 4) << (2 * j + 1)));
      }
  }
}

// Shared by Q3_K and Q6_K: 16 groups of 16, signed values in [-nmax, nmax - 1], signed group
// scales in [-smax, smax - 1] against d. Writes L[256] = value + nmax and the group scales.
void sym_super(const float* x, const float* imatrix, int nmax, int smax, uint16_t* d_out, int* sc, uint8_t* L) {
  float w[256], scales[16];
  importance(x, imatrix, 256, w);
  float amax = 0, max_scale = 0;
  for (int g = 0; g < 16; ++g) {
    scales[g] = fit_sym(16, nmax, x + 16 * g, w + 16 * g);
    if (std::fabs(scales[g]) > amax) {
      amax = std::fabs(scales[g]);
      max_scale = scales[g];
    }
  }
  const float d = max_scale / -static_cast<float>(smax);
  *d_out = fp32_to_fp16(d);
  const float d16 = fp16_to_fp32(*d_out);
  for (int g = 0; g < 16; ++g) {
    sc[g] = d16 != 0 ? round_clamp(scales[g] / d16, -smax, smax - 1) : 0;
    const float dl = d16 * static_cast<float>(sc[g]);
    for (int i = 16 * g; i < 16 * g + 16; ++i)
      L[i] = static_cast<uint8_t>((dl != 0 ? round_clamp(x[i] / dl, -nmax, nmax - 1) : 0) + nmax);
  }
}

void q3_k(const float* x, void* dst, int64_t n, const float* imatrix) {
  auto* y = static_cast<blk::Q3_K*>(dst);
  uint8_t L[256];
  int sc[16];
  for (int64_t i = 0; i < n / 256; ++i, x += 256) {
    sym_super(x, imatrix ? imatrix + 256 * i : nullptr, 4, 32, &y[i].d, sc, L);
    std::memset(y[i].scales, 0, 12);
    for (int j = 0; j < 16; ++j) {
      const int s = sc[j] + 32;
      if (j < 8)
        y[i].scales[j] |= static_cast<uint8_t>(s & 0xF);
      else
        y[i].scales[j - 8] |= static_cast<uint8_t>((s & 0xF) << 4);
      y[i].scales[8 + j % 4] |= static_cast<uint8_t>((s >> 4) << (2 * (j / 4)));
    }
    std::memset(y[i].qs, 0, sizeof(y[i].qs));
    std::memset(y[i].hmask, 0, sizeof(y[i].hmask));
    for (int h = 0; h < 2; ++h)
      for (int sh = 0; sh < 4; ++sh)
        for (int l = 0; l < 32; ++l) {
          const int v = L[128 * h + 32 * sh + l];  // 0..7
          y[i].qs[32 * h + l] |= static_cast<uint8_t>((v & 3) << (2 * sh));
          if (v >= 4) y[i].hmask[l] |= static_cast<uint8_t>(1 << (4 * h + sh));
        }
  }
}

void q6_k(const float* x, void* dst, int64_t n, const float* imatrix) {
  auto* y = static_cast<blk::Q6_K*>(dst);
  uint8_t L[256];
  int sc[16];
  for (int64_t i = 0; i < n / 256; ++i, x += 256) {
    sym_super(x, imatrix ? imatrix + 256 * i : nullptr, 32, 128, &y[i].d, sc, L);
    for (int g = 0; g < 16; ++g) y[i].scales[g] = static_cast<int8_t>(sc[g]);
    for (int h = 0; h < 2; ++h) {
      uint8_t* ql = y[i].ql + 64 * h;
      uint8_t* qh = y[i].qh + 32 * h;
      const uint8_t* v = L + 128 * h;
      for (int l = 0; l < 32; ++l) {
        ql[l] = static_cast<uint8_t>((v[l] & 0xF) | ((v[l + 64] & 0xF) << 4));
        ql[l + 32] = static_cast<uint8_t>((v[l + 32] & 0xF) | ((v[l + 96] & 0xF) << 4));
        qh[l] = static_cast<uint8_t>((v[l] >> 4) | ((v[l + 32] >> 4) << 2) | ((v[l + 64] >> 4) << 4) |
                                     ((v[l + 96] >> 4) << 6));
      }
    }
  }
}

}  // namespace

bool supports_quantize(Type t) {
  switch (t) {
    case Type::F32: case Type::F16: case Type::BF16: case Type::Q8_0: case Type::Q4_0: case Type::Q4_1:
    case Type::Q5_0: case Type::Q5_1: case Type::Q8_K: case Type::Q2_K: case Type::Q3_K: case Type::Q4_K:
    case Type::Q5_K: case Type::Q6_K: case Type::IQ4_NL:
      return true;
    default:
      return false;
  }
}

void quantize_row(Type t, const float* src, void* dst, int64_t n, const float* imatrix) {
  assert(supports_quantize(t));
  assert(n % type_info(t)->block_size == 0);
  switch (t) {
    case Type::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case Type::F16:
      for (int64_t i = 0; i < n; ++i) static_cast<uint16_t*>(dst)[i] = fp32_to_fp16(src[i]);
      return;
    case Type::BF16:
      for (int64_t i = 0; i < n; ++i) static_cast<uint16_t*>(dst)[i] = fp32_to_bf16(src[i]);
      return;
    case Type::Q8_0: return q8_0(src, dst, n);
    case Type::Q4_0: {
      auto* y = static_cast<blk::Q4_0*>(dst);
      for (int64_t i = 0; i < n / 32; ++i) sym_block<4>(src + 32 * i, &y[i].d, y[i].qs, nullptr);
      return;
    }
    case Type::Q5_0: {
      auto* y = static_cast<blk::Q5_0*>(dst);
      for (int64_t i = 0; i < n / 32; ++i) sym_block<5>(src + 32 * i, &y[i].d, y[i].qs, y[i].qh);
      return;
    }
    case Type::Q4_1: {
      auto* y = static_cast<blk::Q4_1*>(dst);
      for (int64_t i = 0; i < n / 32; ++i) asym_block<4>(src + 32 * i, &y[i].d, &y[i].m, y[i].qs, nullptr);
      return;
    }
    case Type::Q5_1: {
      auto* y = static_cast<blk::Q5_1*>(dst);
      for (int64_t i = 0; i < n / 32; ++i) asym_block<5>(src + 32 * i, &y[i].d, &y[i].m, y[i].qs, y[i].qh);
      return;
    }
    case Type::IQ4_NL: return iq4_nl(src, dst, n, imatrix);
    case Type::Q8_K: return q8_k(src, dst, n);
    case Type::Q2_K: return q2_k(src, dst, n, imatrix);
    case Type::Q3_K: return q3_k(src, dst, n, imatrix);
    case Type::Q4_K: return q4_k(src, dst, n, imatrix);
    case Type::Q5_K: return q5_k(src, dst, n, imatrix);
    case Type::Q6_K: return q6_k(src, dst, n, imatrix);
    default:
      assert(false && "no reference quantizer for this type");
  }
}

void quantize_rows(Type t, const float* src, void* dst, int64_t n_rows, int64_t n_per_row, const float* imatrix,
                   ThreadPool* pool) {
  const auto rb = row_size(t, n_per_row);
  assert(rb.ok());
  const uint64_t row_bytes = *rb;
  auto run = [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      quantize_row(t, src + r * n_per_row, static_cast<uint8_t*>(dst) + static_cast<uint64_t>(r) * row_bytes,
                   n_per_row, imatrix);
  };
  if (pool == nullptr || pool->size() <= 1 || n_rows < 2) {
    run(0, n_rows);
    return;
  }
  // Chunks of a few rows handed out in order, so an uneven split (threads slowed by other load)
  // does not leave one thread with the tail.
  const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(16, n_rows / (8 * pool->size())));
  const int64_t n_chunks = (n_rows + chunk - 1) / chunk;
  std::atomic<int64_t> next{0};
  pool->run_on_all([&](int, int) {
    for (int64_t c = next.fetch_add(1); c < n_chunks; c = next.fetch_add(1))
      run(c * chunk, std::min(n_rows, (c + 1) * chunk));
  });
}

}  // namespace paddock::quant
