// tokenizer: the public header — text to token ids and back, exactly as the original models do
// it. Vocabularies come from GGUF metadata (tokenizer.ggml.*) or a Hugging Face tokenizer.json.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf.h"
#include "util/status.h"

namespace paddock::tokenizer {

enum class TokenType : int32_t { kUndefined = 0, kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  static Result<std::unique_ptr<Tokenizer>> from_gguf(const gguf::File& file);
  // tokenizer.json (+ optional tokenizer_config.json for bos/eos/add_bos and chat_template).
  static Result<std::unique_ptr<Tokenizer>> from_hf(const std::string& tokenizer_json,
                                                    const std::string& tokenizer_config_json = "");

  // parse_special: recognise special/control tokens written in the text (chat templates do; raw
  // user content does not). add_special: add BOS/EOS as the vocabulary's add_bos/add_eos say.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const = 0;
  // Bytes of one token as it contributes to output text (byte tokens decoded, SentencePiece ▁ -> space).
  virtual std::string token_to_piece(int32_t id) const = 0;
  // Whole-sequence decode; skip_special drops control tokens.
  virtual std::string decode(const std::vector<int32_t>& ids, bool skip_special) const = 0;

  virtual int32_t n_vocab() const = 0;
  virtual const std::string& token_text(int32_t id) const = 0;  // raw vocabulary string
  virtual TokenType token_type(int32_t id) const = 0;
  virtual int32_t bos() const = 0;  // -1 if none
  virtual int32_t eos() const = 0;
  virtual bool is_eog(int32_t id) const = 0;  // end of generation (eos, eot, eom, ...)
  virtual std::string chat_template() const = 0;  // tokenizer.chat_template or ""
};

// Streaming detokenizer: feed ids one at a time; returns text that is complete UTF-8 and never
// splits a multi-byte character across chunks. flush() returns what is left at the end.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok, bool skip_special = true);
  std::string push(int32_t id);
  std::string flush();

 private:
  const Tokenizer& tok_;
  bool skip_special_;
  bool first_ = true;
  std::string pending_;
};

}  // namespace paddock::tokenizer
