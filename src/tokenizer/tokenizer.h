// tokenizer: the public header — text to token ids and back, exactly as the original models do
// it. Vocabularies come from GGUF metadata (tokenizer.ggml.*) or a Hugging Face tokenizer.json.
//
// Special tokens and prompt injection. encode(..., parse_special=true) recognises control tokens
// (<|eot_id|>, <|im_start|>, <start_of_turn>, ...) written in the text, longest match first;
// user-defined (non-special added) tokens are matched always, as Hugging Face and llama.cpp do.
// llama.cpp's server and Ollama render the chat template to one string and tokenize the whole of
// it with special-token parsing on, so a user message containing "<|eot_id|>" does become the
// control token there. We follow them by default for compatibility (the runner tokenizes the
// rendered prompt with parse_special=true), and offer the safe path: the template layer can
// render user content as separate segments and tokenize those with parse_special=false, which
// keeps such text as plain characters. Raw-text endpoints (tokenize without --special,
// /api/tokenize without "special") default to parse_special=false.
//
// Conventions follow the reference tokenizers (Hugging Face tokenizers / transformers.js, the
// oracle in tests): Unicode classes in pre-tokenizer regexes use JavaScript's \s set; the
// SentencePiece-style "add space prefix" rule prepends U+2581 to every text segment between
// added tokens; decode() removes that one leading space again.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf.h"
#include "util/status.h"

namespace paddock::tokenizer {

// GGUF metadata as ordered key/values (what gguf::File::kv() holds and gguf::Writer::set takes).
using MetadataKv = std::vector<std::pair<std::string, gguf::Value>>;

// Caps applied while loading any vocabulary (SECURITY.md item 11).
inline constexpr int64_t kMaxVocab = 1 << 22;          // tokens
inline constexpr int64_t kMaxMerges = 1 << 23;
inline constexpr size_t kMaxTokenBytes = 1 << 16;       // one token's text
inline constexpr size_t kMaxTemplateBytes = 1 << 22;    // tokenizer.chat_template

enum class TokenType : int32_t { kUndefined = 0, kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  static Result<std::unique_ptr<Tokenizer>> from_gguf(const gguf::File& file);
  // tokenizer.json (+ optional tokenizer_config.json for bos/eos/add_bos and chat_template).
  static Result<std::unique_ptr<Tokenizer>> from_hf(const std::string& tokenizer_json,
                                                    const std::string& tokenizer_config_json = "");
  // The tokenizer.* keys of a metadata list (what from_gguf uses; handy for tests and converters).
  static Result<std::unique_ptr<Tokenizer>> from_metadata(const MetadataKv& kv);
  // A GGUF file, or a tokenizer.json (tokenizer_config.json next to it is read when present).
  static Result<std::unique_ptr<Tokenizer>> from_file(const std::string& path);

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

  virtual int32_t token_to_id(std::string_view text) const = 0;  // exact vocabulary string, or -1
  virtual bool add_bos() const = 0;           // what add_special adds
  virtual bool add_eos() const = 0;
  virtual bool add_space_prefix() const = 0;  // SentencePiece: segments get a leading U+2581
  virtual bool is_control(int32_t id) const = 0;  // control (special) token: skipped by skip_special
  virtual std::string model_name() const = 0;     // tokenizer.ggml.model: "gpt2" or "llama"
  virtual std::string pre_name() const = 0;       // tokenizer.ggml.pre
};

// Converts a Hugging Face tokenizer.json (+ tokenizer_config.json) into GGUF tokenizer metadata
// (tokenizer.ggml.model/pre/tokens/scores/token_type/merges, special ids, add_bos/add_eos,
// add_space_prefix, chat_template), as llama.cpp's converter names them. Byte-level BPE models
// map to model "gpt2" with the pre-tokenizer name whose regexes match; SentencePiece-style BPE
// models (byte_fallback, U+2581) map to "llama" with scores derived from merge ranks and the
// merges kept, so both rank-exact and score-based loaders agree. Unknown pre-tokenizer or model
// types give kUnsupported.
Result<MetadataKv> hf_to_gguf_metadata(const std::string& tokenizer_json,
                                       const std::string& tokenizer_config_json = "");

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
