// store internal: what the store needs from a GGUF file — the config-blob summary (family,
// parameter count, quantization, context and embedding length), /api/show's model_info map and
// tensor list, and the hints capabilities are derived from.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/store.h"
#include "util/status.h"

namespace paddock::store::detail {

struct GgufSummary {
  std::string architecture;
  uint64_t parameter_count = 0;
  std::string file_type;  // "Q4_K_M", ...
  uint64_t context_length = 0;
  uint64_t embedding_length = 0;
  bool has_pooling = false;  // <arch>.pooling_type present: an embedding model
  bool has_vision = false;   // <arch>.vision.* present
  std::string chat_template;
  nlohmann::json model_info;  // filled only by read_gguf(..., want_info = true)
  std::vector<TensorEntry> tensors;
};

// Opens and validates a GGUF file (through the gguf module's bounds-checked reader).
Result<GgufSummary> read_gguf(const std::string& path, bool want_info, bool verbose);

}  // namespace paddock::store::detail
