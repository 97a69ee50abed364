// Reference (scalar, portable) dequantizers for every block format we read. Bit layouts are in
// blocks.h and unpack.h; the float arithmetic follows ggml's order ((d * sc) * q - dmin * m) so
// results are bit-identical to llama.cpp's reference dequantizers.
#include <cassert>
#include <cstring>

#include "quant/quant.h"
#include "quant/unpack.h"
#include "util/half.h"

namespace paddock::quant {
namespace {

// kMin: the format stores a min (Q4_1 / Q5_1): x = d*q + m, else x = d*q (as ggml, so even the
// sign of a zero matches).
template <typename Block, void (*Unpack)(const Block&, unpack::Small*), bool kMin = false>
void dequant_small(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const Block*>(src);
  unpack::Small s;
  for (int64_t i = 0; i < n / 32; ++i, dst += 32) {
    Unpack(b[i], &s);
    for (int j = 0; j < 32; ++j) dst[j] = kMin ? s.d * s.q[j] + s.m : s.d * s.q[j];
  }
}

template <typename Block, void (*Unpack)(const Block&, unpack::Super*)>
void dequant_super(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const Block*>(src);
  unpack::Super s;
  for (int64_t i = 0; i < n / 256; ++i, dst += 256) {
    Unpack(b[i], &s);
    for (int g = 0; g < 16; ++g) {
      const float dl = s.d * s.sc[g];
      const float ml = s.dmin * s.mn[g];
      for (int l = 0; l < 16; ++l) dst[16 * g + l] = dl * s.q[16 * g + l] - ml;
    }
  }
}

}  // namespace

bool supports_dequantize(Type t) {
  switch (t) {
    case Type::F32: case Type::F16: case Type::BF16: case Type::Q8_0: case Type::Q8_1: case Type::Q4_0:
    case Type::Q4_1: case Type::Q5_0: case Type::Q5_1: case Type::Q8_K: case Type::Q2_K: case Type::Q3_K: case Type::Q4_K:
    case Type::Q5_K: case Type::Q6_K: case Type::IQ4_NL: case Type::IQ4_XS: case Type::MXFP4:
      return true;
    default:
      return false;
  }
}

void dequantize_row(Type t, const void* src, float* dst, int64_t n) {
  assert(supports_dequantize(t));
  assert(n % type_info(t)->block_size == 0);
  switch (t) {
    case Type::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case Type::F16: {
      const auto* h = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(h[i]);
      return;
    }
    case Type::BF16: {
      const auto* h = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(h[i]);
      return;
    }
    case Type::Q4_0: return dequant_small<blk::Q4_0, unpack::q4_0>(src, dst, n);
    case Type::Q4_1: return dequant_small<blk::Q4_1, unpack::q4_1, true>(src, dst, n);
    case Type::Q5_0: return dequant_small<blk::Q5_0, unpack::q5_0>(src, dst, n);
    case Type::Q5_1: return dequant_small<blk::Q5_1, unpack::q5_1, true>(src, dst, n);
    case Type::Q8_0: return dequant_small<blk::Q8_0, unpack::q8_0>(src, dst, n);
    case Type::Q8_1: return dequant_small<blk::Q8_1, unpack::q8_1>(src, dst, n);
    case Type::IQ4_NL: return dequant_small<blk::IQ4_NL, unpack::iq4_nl>(src, dst, n);
    case Type::MXFP4: return dequant_small<blk::MXFP4, unpack::mxfp4>(src, dst, n);
    case Type::Q2_K: return dequant_super<blk::Q2_K, unpack::q2_k>(src, dst, n);
    case Type::Q3_K: return dequant_super<blk::Q3_K, unpack::q3_k>(src, dst, n);
    case Type::Q4_K: return dequant_super<blk::Q4_K, unpack::q4_k>(src, dst, n);
    case Type::Q5_K: return dequant_super<blk::Q5_K, unpack::q5_k>(src, dst, n);
    case Type::Q6_K: return dequant_super<blk::Q6_K, unpack::q6_k>(src, dst, n);
    case Type::Q8_K: return dequant_super<blk::Q8_K, unpack::q8_k>(src, dst, n);
    case Type::IQ4_XS: return dequant_super<blk::IQ4_XS, unpack::iq4_xs>(src, dst, n);
    default:
      assert(false && "no reference dequantizer for this type");
  }
}

}  // namespace paddock::quant
