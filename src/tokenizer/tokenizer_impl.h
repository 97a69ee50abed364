// tokenizer_impl: internal. The one Tokenizer implementation: a validated Vocab plus the lookup
// tables built from it. Byte-level BPE ("gpt2") and SentencePiece-style ("llama") share the merge
// loop (a heap of candidate pairs over a linked list of symbols); they differ in how text becomes
// initial symbols and how leftovers fall back to bytes.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/pretokenize.h"
#include "tokenizer/vocab.h"

namespace paddock::tokenizer {

struct StrHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StrMap = std::unordered_map<std::string, int32_t, StrHash, std::equal_to<>>;

class TokenizerImpl final : public Tokenizer {
 public:
  static Result<std::unique_ptr<Tokenizer>> build(Vocab vb);

  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const override;
  std::string token_to_piece(int32_t id) const override;
  std::string decode(const std::vector<int32_t>& ids, bool skip_special) const override;
  int32_t n_vocab() const override { return static_cast<int32_t>(vb_.tokens.size()); }
  const std::string& token_text(int32_t id) const override;
  TokenType token_type(int32_t id) const override;
  int32_t bos() const override { return vb_.bos; }
  int32_t eos() const override { return vb_.eos; }
  bool is_eog(int32_t id) const override;
  std::string chat_template() const override { return vb_.chat_template; }
  int32_t token_to_id(std::string_view text) const override;
  bool add_bos() const override { return vb_.add_bos; }
  bool add_eos() const override { return vb_.add_eos; }
  bool add_space_prefix() const override { return vb_.kind == ModelKind::kSpm && vb_.add_space_prefix; }
  bool is_control(int32_t id) const override;
  std::string model_name() const override { return vb_.model; }
  std::string pre_name() const override { return vb_.pre; }

 private:
  TokenizerImpl() = default;
  Status init();
  // Encodes one text segment (no added tokens inside).
  void encode_segment(std::string_view text, std::vector<int32_t>* out) const;
  void encode_bpe(std::string_view text, std::vector<int32_t>* out) const;
  void encode_spm(std::string_view text, std::vector<int32_t>* out) const;
  // Merges the symbols of one word; appends the resulting ids.
  void bpe_word(std::string_view word, std::vector<int32_t>* out) const;

  Vocab vb_;
  StrMap text_to_id_;             // vocabulary spelling -> id (first occurrence wins)
  StrMap bytes_to_id_;            // BPE with ignore_merges: raw bytes of normal tokens -> id
  std::vector<std::string> piece_;  // bytes each token contributes to text
  int32_t byte_id_[256];          // BPE: token of a byte's stand-in character; SPM: <0xNN>
  PairTable pairs_;               // merges by id
  bool use_scores_ = false;       // SPM without merges: merge by score of the concatenation
  TokenTrie trie_special_;        // control + user-defined + unknown
  TokenTrie trie_user_;           // user-defined only (always matched)
  std::unique_ptr<RegexSplitter> splitter_;
  std::vector<uint8_t> eog_;
};

}  // namespace paddock::tokenizer
