// pretokenize: internal. The pre-tokenizers of byte-level BPE vocabularies: named regex lists
// (tokenizer.ggml.pre), each regex splitting every piece the previous one produced ("Isolated":
// matches and the text between them both become pieces). Regexes run on PCRE2 (UTF, UCP, JIT).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace paddock::tokenizer {

struct PreTokenizerSpec {
  const char* canonical;             // the name our converter writes
  std::vector<std::string> names;    // every tokenizer.ggml.pre spelling that means this
  std::vector<std::string> regexes;  // Hugging Face spelling
  bool nfc;                          // the family's tokenizer.json normalizes to NFC
  bool ignore_merges;                // the family's tokenizer.json sets ignore_merges
};

const PreTokenizerSpec* find_pre_tokenizer(std::string_view name);
// The spec whose regex list equals `regexes` (from a tokenizer.json), or null.
const PreTokenizerSpec* find_pre_tokenizer_by_regexes(const std::vector<std::string>& regexes);

// Rewrites a Hugging Face regex into PCRE2 syntax with JavaScript/transformers.js semantics:
// \s and \S become the ECMAScript white-space set, (?i:'s|...) becomes explicit case pairs.
std::string to_pcre2_pattern(std::string_view hf);

struct Piece {
  size_t off, len;
};

class RegexSplitter {
 public:
  static Result<std::unique_ptr<RegexSplitter>> create(const std::vector<std::string>& hf_regexes);
  ~RegexSplitter();
  // Splits text[0..n) into pieces (in order, covering all of it).
  void split(std::string_view text, std::vector<Piece>* out) const;

 private:
  RegexSplitter() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace paddock::tokenizer
