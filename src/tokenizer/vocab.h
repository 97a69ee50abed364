// vocab: internal. The validated vocabulary a tokenizer runs on, read from GGUF-style metadata
// (tokenizer.ggml.*), plus the small helpers shared by the encoders: byte-level (GPT-2) byte <->
// character mapping, a byte trie for added tokens, and an open-addressing pair table for merges.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace paddock::tokenizer {

enum class ModelKind { kBpe, kSpm };  // "gpt2" byte-level BPE; "llama" SentencePiece-style

struct Vocab {
  ModelKind kind = ModelKind::kBpe;
  std::string model;  // tokenizer.ggml.model as read
  std::string pre;    // tokenizer.ggml.pre ("default" when absent)
  std::vector<std::string> tokens;
  std::vector<float> scores;  // empty when absent
  std::vector<TokenType> types;
  std::vector<std::string> merges;  // "left right" in vocabulary spelling
  int32_t bos = -1, eos = -1, eot = -1, eom = -1, unk = -1, pad = -1;
  bool add_bos = false, add_eos = false, add_space_prefix = false;
  bool nfc = false;            // NFC-normalize text before splitting (Qwen2 family)
  bool ignore_merges = false;  // a whole pre-token found in the vocabulary wins (llama3)
  std::string chat_template;
};

// Reads and validates the tokenizer.* keys: array lengths agree, ids in range, merges name known
// tokens, every size capped. Errors are kCorrupt (bad data) or kUnsupported (unknown model).
Result<Vocab> vocab_from_metadata(const MetadataKv& kv);

// GPT-2 byte-level alphabet: each byte has a printable code point standing in for it.
uint32_t byte_to_codepoint(uint8_t b);
int byte_from_codepoint(uint32_t cp);  // -1 if cp is not in the alphabet

// Byte trie over added tokens, for longest-match-first splitting.
class TokenTrie {
 public:
  void insert(std::string_view text, int32_t id);
  // Longest token starting at text[pos]: returns its id and sets *len, or -1.
  int32_t longest(std::string_view text, size_t pos, size_t* len) const;
  bool empty() const { return nodes_.size() <= 1; }

 private:
  struct Node {
    int32_t id = -1;
    std::vector<std::pair<uint8_t, int32_t>> next;  // sorted by byte
  };
  std::vector<Node> nodes_{1};
  bool first_byte_[256] = {};
};

// (left id, right id) -> (rank, merged id); open addressing, linear probing.
class PairTable {
 public:
  void reserve(size_t n);
  void put(int32_t a, int32_t b, int32_t rank, int32_t merged);  // later puts win (as HF does)
  bool get(int32_t a, int32_t b, int32_t* rank, int32_t* merged) const;

 private:
  struct Slot {
    uint64_t key = ~0ull;
    int32_t rank = 0, merged = 0;
  };
  static uint64_t hash(uint64_t k) {
    k ^= k >> 33; k *= 0xff51afd7ed558ccdULL; k ^= k >> 33; k *= 0xc4ceb9fe1a85ec53ULL; k ^= k >> 33;
    return k;
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0, used_ = 0;
};

// NFC normalization (canonical decomposition + composition), for the Qwen2 family normalizer.
std::string nfc_normalize(std::string_view s);
// True when s is certainly NFC already (Unicode's NFC_Quick_Check: no No/Maybe code point and
// combining classes in order); false means "run nfc_normalize".
bool is_nfc_quick(std::string_view s);

}  // namespace paddock::tokenizer
