// quant: the public header — one table of every GGUF tensor type (ggml type ids), and reference
// (scalar, portable) dequantize / quantize rows. Fast kernels live in the backends and are
// tested against these.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "util/status.h"

namespace paddock::quant {

// ggml type ids as stored in GGUF tensor infos.
enum class Type : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22, IQ4_XS = 23,
  I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
};

struct TypeInfo {
  Type type;
  std::string_view name;   // as llama.cpp prints it: "f32", "q4_K", ...
  int64_t block_size;      // elements per block
  int64_t type_size;       // bytes per block
  bool can_dequantize;     // reference dequantizer exists
  bool can_quantize;       // reference quantizer exists
};

// nullptr for ids that are unknown or were removed from ggml (4, 5, 31-33, 36-38).
const TypeInfo* type_info(uint32_t id);
inline const TypeInfo* type_info(Type t) { return type_info(static_cast<uint32_t>(t)); }
std::optional<Type> type_from_name(std::string_view name);  // case-insensitive ("Q4_K", "q8_0")

// Bytes for a row of n elements; error if n is not a multiple of the block size or overflows.
Result<uint64_t> row_size(Type t, int64_t n);

// Reference dequantize of n elements (n a multiple of the block size).
void dequantize_row(Type t, const void* src, float* dst, int64_t n);
// Reference quantize of n elements into dst (row_size bytes). `imatrix` optional importance
// weights (n floats) for the K-quants; nullptr = uniform.
void quantize_row(Type t, const float* src, void* dst, int64_t n, const float* imatrix = nullptr);

// llama.cpp file types (general.file_type) and the per-tensor type mix of a "mostly" type,
// e.g. Q4_K_M uses Q6_K for some tensors. Used by the quantize tool and /api/show.
std::string_view file_type_name(uint32_t ftype);  // "Q4_K_M", "F16", ... or "unknown"

}  // namespace paddock::quant
