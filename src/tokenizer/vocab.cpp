// vocab: reading and validating tokenizer.* metadata into a Vocab, and the small shared data
// structures (byte-level alphabet, added-token trie, merge pair table).
#include "tokenizer/vocab.h"

#include <algorithm>

#include "tokenizer/pretokenize.h"

namespace paddock::tokenizer {
namespace {

using gguf::Value;
using gguf::ValueType;

const Value* find(const MetadataKv& kv, std::string_view key) {
  for (const auto& [k, v] : kv)
    if (k == key) return &v;
  return nullptr;
}

bool is_int_type(ValueType t) {
  switch (t) {
    case ValueType::kUint8: case ValueType::kInt8: case ValueType::kUint16: case ValueType::kInt16:
    case ValueType::kUint32: case ValueType::kInt32: case ValueType::kUint64: case ValueType::kInt64:
      return true;
    default:
      return false;
  }
}
bool is_signed(ValueType t) {
  return t == ValueType::kInt8 || t == ValueType::kInt16 || t == ValueType::kInt32 || t == ValueType::kInt64;
}
// Value of an integer Value as int64 (unsigned values above INT64_MAX clamp to INT64_MAX).
int64_t int_of(const Value& v) {
  if (is_signed(v.type)) return v.i;
  return v.u > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(v.u);
}

Result<std::string> get_string(const MetadataKv& kv, std::string_view key, bool required) {
  const Value* v = find(kv, key);
  if (!v) {
    if (required) return make_error(ErrorCode::kCorrupt, "missing {}", key);
    return std::string();
  }
  if (v->type != ValueType::kString) return make_error(ErrorCode::kCorrupt, "{}: expected a string, got {}", key, static_cast<int>(v->type));
  return v->s;
}

// Optional bool; accepts bool or integer 0/1.
Result<bool> get_bool(const MetadataKv& kv, std::string_view key, bool dflt) {
  const Value* v = find(kv, key);
  if (!v) return dflt;
  if (v->type == ValueType::kBool) return v->u != 0;
  if (is_int_type(v->type)) return int_of(*v) != 0;
  return make_error(ErrorCode::kCorrupt, "{}: expected a bool", key);
}

// Optional token id; must be in [0, n).
Result<int32_t> get_id(const MetadataKv& kv, std::string_view key, int64_t n) {
  const Value* v = find(kv, key);
  if (!v) return -1;
  if (!is_int_type(v->type)) return make_error(ErrorCode::kCorrupt, "{}: expected an integer", key);
  if (is_signed(v->type) && v->i == -1) return -1;  // some writers use -1 for "none"
  int64_t id = int_of(*v);
  if (id < 0 || id >= n) return make_error(ErrorCode::kCorrupt, "{} = {} is out of range (vocabulary has {} tokens)", key, id, n);
  return static_cast<int32_t>(id);
}


}  // namespace

Result<Vocab> vocab_from_metadata(const MetadataKv& kv) {
  Vocab vb;
  ASSIGN_OR_RETURN(vb.model, get_string(kv, "tokenizer.ggml.model", true));
  if (vb.model == "gpt2") {
    vb.kind = ModelKind::kBpe;
  } else if (vb.model == "llama") {
    vb.kind = ModelKind::kSpm;
  } else {
    return make_error(ErrorCode::kUnsupported, "tokenizer.ggml.model '{}' is not supported (gpt2, llama are)", vb.model);
  }
  ASSIGN_OR_RETURN(vb.pre, get_string(kv, "tokenizer.ggml.pre", false));
  if (vb.pre.empty()) vb.pre = "default";

  // tokens
  const Value* toks = find(kv, "tokenizer.ggml.tokens");
  if (!toks) return make_error(ErrorCode::kCorrupt, "missing tokenizer.ggml.tokens");
  if (toks->type != ValueType::kArray || toks->elem_type != ValueType::kString)
    return make_error(ErrorCode::kCorrupt, "tokenizer.ggml.tokens: expected an array of strings");
  const int64_t n = static_cast<int64_t>(toks->arr.size());
  if (n == 0) return make_error(ErrorCode::kCorrupt, "tokenizer.ggml.tokens is empty");
  if (n > kMaxVocab) return make_error(ErrorCode::kCorrupt, "tokenizer.ggml.tokens has {} entries (cap {})", n, kMaxVocab);
  vb.tokens.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const Value& t = toks->arr[static_cast<size_t>(i)];
    if (t.type != ValueType::kString) return make_error(ErrorCode::kCorrupt, "tokenizer.ggml.tokens[{}] is not a string", i);
    if (t.s.size() > kMaxTokenBytes)
      return make_error(ErrorCode::kCorrupt, "tokenizer.ggml.tokens[{}] is {} bytes long (cap {})", i, t.s.size(), kMaxTokenBytes);
    vb.tokens.push_back(t.s);
  }

  // scores (optional, float32)
  if (const Value* sc = find(kv, "tokenizer.ggml.scores")) {
    if (sc->type != ValueType::kArray || sc->elem_type != ValueType::kFloat32)
      return make_error(ErrorCode::kCorrupt, "tokenizer.ggml.scores: expected an array of float32");
    if (static_cast<int64_t>(sc->arr.size()) != n)
      return make_error(ErrorCode::kCorrupt, "tokenizer.ggml.scores has {} entries, tokens has {}", sc->arr.size(), n);
    vb.scores.reserve(static_cast<size_t>(n));
    for (const Value& s : sc->arr) vb.scores.push_back(static_cast<float>(s.f));
  }

  // token types (optional, int32)
  vb.types.assign(static_cast<size_t>(n), TokenType::kNormal);
  if (const Value* tt = find(kv, "tokenizer.ggml.token_type")) {
    if (tt->type != ValueType::kArray || !is_int_type(tt->elem_type))
      return make_error(ErrorCode::kCorrupt, "tokenizer.ggml.token_type: expected an array of int32");
    if (static_cast<int64_t>(tt->arr.size()) != n)
      return make_error(ErrorCode::kCorrupt, "tokenizer.ggml.token_type has {} entries, tokens has {}", tt->arr.size(), n);
    for (int64_t i = 0; i < n; ++i) {
      int64_t t = int_of(tt->arr[static_cast<size_t>(i)]);
      if (t < 0 || t > 6) return make_error(ErrorCode::kCorrupt, "tokenizer.ggml.token_type[{}] = {} is not a token type", i, t);
      vb.types[static_cast<size_t>(i)] = static_cast<TokenType>(t);
    }
  }

  // merges (optional for llama, required for gpt2)
  if (const Value* mg = find(kv, "tokenizer.ggml.merges")) {
    if (mg->type != ValueType::kArray || mg->elem_type != ValueType::kString)
      return make_error(ErrorCode::kCorrupt, "tokenizer.ggml.merges: expected an array of strings");
    if (static_cast<int64_t>(mg->arr.size()) > kMaxMerges)
      return make_error(ErrorCode::kCorrupt, "tokenizer.ggml.merges has {} entries (cap {})", mg->arr.size(), kMaxMerges);
    vb.merges.reserve(mg->arr.size());
    for (const Value& m : mg->arr) {
      if (m.s.size() > 2 * kMaxTokenBytes + 1) return make_error(ErrorCode::kCorrupt, "tokenizer.ggml.merges entry too long");
      vb.merges.push_back(m.s);
    }
  }
  if (vb.kind == ModelKind::kBpe && vb.merges.empty() && n > 256)
    return make_error(ErrorCode::kCorrupt, "tokenizer.ggml.merges is missing for a gpt2 (BPE) vocabulary");
  if (vb.kind == ModelKind::kSpm && vb.scores.empty() && vb.merges.empty())
    return make_error(ErrorCode::kCorrupt, "a llama (SentencePiece) vocabulary needs tokenizer.ggml.scores or merges");

  ASSIGN_OR_RETURN(vb.bos, get_id(kv, "tokenizer.ggml.bos_token_id", n));
  ASSIGN_OR_RETURN(vb.eos, get_id(kv, "tokenizer.ggml.eos_token_id", n));
  ASSIGN_OR_RETURN(vb.eot, get_id(kv, "tokenizer.ggml.eot_token_id", n));
  ASSIGN_OR_RETURN(vb.eom, get_id(kv, "tokenizer.ggml.eom_token_id", n));
  ASSIGN_OR_RETURN(vb.unk, get_id(kv, "tokenizer.ggml.unknown_token_id", n));
  ASSIGN_OR_RETURN(vb.pad, get_id(kv, "tokenizer.ggml.padding_token_id", n));
  const bool spm = vb.kind == ModelKind::kSpm;
  ASSIGN_OR_RETURN(vb.add_bos, get_bool(kv, "tokenizer.ggml.add_bos_token", spm));
  ASSIGN_OR_RETURN(vb.add_eos, get_bool(kv, "tokenizer.ggml.add_eos_token", false));
  ASSIGN_OR_RETURN(vb.add_space_prefix, get_bool(kv, "tokenizer.ggml.add_space_prefix", spm));
  if (vb.add_bos && vb.bos < 0) vb.add_bos = false;  // nothing to add
  if (vb.add_eos && vb.eos < 0) vb.add_eos = false;

  if (vb.kind == ModelKind::kBpe) {
    const PreTokenizerSpec* spec = find_pre_tokenizer(vb.pre);
    if (!spec) return make_error(ErrorCode::kUnsupported, "tokenizer.ggml.pre '{}' is not a known pre-tokenizer", vb.pre);
    ASSIGN_OR_RETURN(vb.nfc, get_bool(kv, "paddock.tokenizer.nfc", spec->nfc));
    ASSIGN_OR_RETURN(vb.ignore_merges, get_bool(kv, "paddock.tokenizer.ignore_merges", spec->ignore_merges));
  }

  ASSIGN_OR_RETURN(vb.chat_template, get_string(kv, "tokenizer.chat_template", false));
  if (vb.chat_template.size() > kMaxTemplateBytes)
    return make_error(ErrorCode::kCorrupt, "tokenizer.chat_template is {} bytes (cap {})", vb.chat_template.size(), kMaxTemplateBytes);
  return vb;
}

// ---- byte-level alphabet: printable bytes map to themselves, the rest to U+0100 upwards ----

namespace {
struct ByteMap {
  uint32_t to_cp[256];
  int16_t from_cp[512];  // code points used are all < 0x144
  ByteMap() {
    std::fill(std::begin(from_cp), std::end(from_cp), int16_t{-1});
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      to_cp[b] = printable ? static_cast<uint32_t>(b) : next++;
      from_cp[to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};
const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}
}  // namespace

uint32_t byte_to_codepoint(uint8_t b) { return byte_map().to_cp[b]; }
int byte_from_codepoint(uint32_t cp) { return cp < 512 ? byte_map().from_cp[cp] : -1; }

// ---- trie ----

void TokenTrie::insert(std::string_view text, int32_t id) {
  if (text.empty()) return;
  first_byte_[static_cast<uint8_t>(text[0])] = true;
  int32_t node = 0;
  for (char ch : text) {
    auto c = static_cast<uint8_t>(ch);
    auto& nx = nodes_[static_cast<size_t>(node)].next;
    auto it = std::lower_bound(nx.begin(), nx.end(), c, [](const auto& p, uint8_t v) { return p.first < v; });
    if (it != nx.end() && it->first == c) {
      node = it->second;
    } else {
      auto child = static_cast<int32_t>(nodes_.size());
      nx.insert(it, {c, child});  // invalidates nx only after use
      nodes_.emplace_back();
      node = child;
    }
  }
  nodes_[static_cast<size_t>(node)].id = id;
}

int32_t TokenTrie::longest(std::string_view text, size_t pos, size_t* len) const {
  if (pos >= text.size() || !first_byte_[static_cast<uint8_t>(text[pos])]) return -1;
  int32_t node = 0, best = -1;
  for (size_t i = pos; i < text.size(); ++i) {
    auto c = static_cast<uint8_t>(text[i]);
    const auto& nx = nodes_[static_cast<size_t>(node)].next;
    auto it = std::lower_bound(nx.begin(), nx.end(), c, [](const auto& p, uint8_t v) { return p.first < v; });
    if (it == nx.end() || it->first != c) break;
    node = it->second;
    if (nodes_[static_cast<size_t>(node)].id >= 0) {
      best = nodes_[static_cast<size_t>(node)].id;
      *len = i + 1 - pos;
    }
  }
  return best;
}

// ---- pair table ----

void PairTable::reserve(size_t n) {
  size_t cap = 16;
  while (cap < n * 2) cap <<= 1;
  slots_.assign(cap, Slot{});
  mask_ = cap - 1;
  used_ = 0;
}

void PairTable::put(int32_t a, int32_t b, int32_t rank, int32_t merged) {
  assert(used_ * 2 < slots_.size());
  uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
    if (slots_[i].key == ~0ull) {
      slots_[i] = {key, rank, merged};
      ++used_;
      return;
    }
    if (slots_[i].key == key) {
      slots_[i].rank = rank;
      slots_[i].merged = merged;
      return;
    }
  }
}

bool PairTable::get(int32_t a, int32_t b, int32_t* rank, int32_t* merged) const {
  if (slots_.empty()) return false;
  uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
    if (slots_[i].key == key) {
      *rank = slots_[i].rank;
      *merged = slots_[i].merged;
      return true;
    }
    if (slots_[i].key == ~0ull) return false;
  }
}

}  // namespace paddock::tokenizer
