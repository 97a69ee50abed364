// quant: the public header — one table of every GGUF tensor type (ggml type ids), and reference
// (scalar, portable) dequantize / quantize rows, and the llama.cpp file-type mixes. The fast SIMD
// dot kernels are in quant/kernels.h.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "util/status.h"

namespace paddock {
class ThreadPool;
}

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

// quantize_row over n_rows rows of n_per_row elements: src rows contiguous, dst rows row_size
// bytes apart; imatrix (n_per_row floats) applies to every row. The rows are split over `pool`'s
// threads (nullptr: the calling thread alone); the bytes are the same as row-by-row quantize_row.
void quantize_rows(Type t, const float* src, void* dst, int64_t n_rows, int64_t n_per_row,
                   const float* imatrix = nullptr, ThreadPool* pool = nullptr);

// llama.cpp file types (general.file_type, LLAMA_FTYPE_* ids) and the per-tensor type mix of a
// "mostly" type, e.g. Q4_K_M uses Q6_K for some tensors. Used by the quantize tool and /api/show.
std::string_view file_type_name(uint32_t ftype);  // "Q4_K_M", "F16", ... (as Ollama shows them) or "unknown"
std::optional<uint32_t> file_type_from_name(std::string_view name);  // case-insensitive
// The main tensor type of a file type (Q4_K for Q4_K_M); nullopt for unknown ids and for mixes we
// cannot produce (the IQ1/IQ2/IQ3, TQ and MXFP4 mixes).
std::optional<Type> file_type_base(uint32_t ftype);

struct MixOptions {
  int n_dims = 2;                // tensors with fewer than 2 dims (norms, biases) stay F32
  int64_t n_cols = 0;            // row length (ne[0]); 0 = unknown, no block-size fallback
  int n_gqa = 1;                 // n_head / n_head_kv
  bool tied_embeddings = false;  // token_embd.weight doubles as the output matrix
};
// The type llama.cpp's quantizer gives tensor `name` (GGUF name, e.g. "blk.3.ffn_down.weight") of
// layer `layer` of `n_layer` in a file of type `ftype`. An approximation of llama.cpp's
// llama_tensor_get_type for dense (non-MoE, non-Falcon) models without an importance matrix:
// output/tied embeddings -> Q6_K (Q8_0 stays), attn_v / ffn_down / attn_output / attn_qkv bumps per
// K-quant mix, the block-size fallbacks (Q4_K->Q5_0, Q5_K->Q5_1, Q6_K->Q8_0, Q2_K/Q3_K->Q4_0, else
// F16). The attn_v rule uses the layer index where llama.cpp counts attn_v tensors (the same for
// these models). Returns F32 for unknown/unsupported ftypes and for 1-D tensors.
Type tensor_type_for(uint32_t ftype, std::string_view tensor_name, int layer, int n_layer, const MixOptions& opt = {});

}  // namespace paddock::quant
