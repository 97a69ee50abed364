// Reference (scalar) dequantizers and quantizers. Placeholder coverage: F32 only, until the quant
// module's reference kernels land; supports_*() report exactly what is implemented.
#include <cstring>

#include "quant/quant.h"

namespace paddock::quant {

bool supports_dequantize(Type t) { return t == Type::F32; }
bool supports_quantize(Type t) { return t == Type::F32; }

void dequantize_row(Type t, const void* src, float* dst, int64_t n) {
  assert(t == Type::F32);
  std::memcpy(dst, src, static_cast<size_t>(n) * 4);
}

void quantize_row(Type t, const float* src, void* dst, int64_t n, const float*) {
  assert(t == Type::F32);
  std::memcpy(dst, src, static_cast<size_t>(n) * 4);
}

std::string_view file_type_name(uint32_t) { return "unknown"; }

}  // namespace paddock::quant
