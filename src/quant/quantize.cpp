// Reference quantizers (scalar, portable). Placeholder: F32/F16/BF16/Q8_0 while the rest lands.
#include <cassert>
#include <cmath>
#include <cstring>

#include "quant/blocks.h"
#include "quant/quant.h"
#include "util/half.h"

namespace paddock::quant {

bool supports_quantize(Type t) { return t == Type::F32 || t == Type::F16 || t == Type::BF16 || t == Type::Q8_0; }

void quantize_row(Type t, const float* src, void* dst, int64_t n, const float*) {
  assert(supports_quantize(t));
  switch (t) {
    case Type::F32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case Type::F16: for (int64_t i = 0; i < n; ++i) static_cast<uint16_t*>(dst)[i] = fp32_to_fp16(src[i]); return;
    case Type::BF16: for (int64_t i = 0; i < n; ++i) static_cast<uint16_t*>(dst)[i] = fp32_to_bf16(src[i]); return;
    default: {
      auto* y = static_cast<blk::Q8_0*>(dst);
      for (int64_t i = 0; i < n / 32; ++i, src += 32) {
        float amax = 0;
        for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(src[j]));
        const float d = amax / 127, id = d != 0 ? 1 / d : 0;
        y[i].d = fp32_to_fp16(d);
        for (int j = 0; j < 32; ++j) y[i].qs[j] = static_cast<int8_t>(std::lround(src[j] * id));
      }
    }
  }
}

std::string_view file_type_name(uint32_t) { return "unknown"; }

}  // namespace paddock::quant
