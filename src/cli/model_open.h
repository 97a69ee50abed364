// Shared by the offline model tools (generate, perplexity, ...): resolve --model FILE|NAME to a
// GGUF path (a file, else a model name in the local store) and open it with its tokenizer.
#pragma once
#include <memory>
#include <string>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "util/status.h"

namespace paddock::cli {

struct OpenedModel {
  std::string path;
  std::shared_ptr<const gguf::File> file;
  std::shared_ptr<const tokenizer::Tokenizer> tok;
};

Result<OpenedModel> open_model_file(const std::string& file_or_name);

}  // namespace paddock::cli
