// tokenizer_impl: building the lookup tables from a Vocab, the shared merge loop, byte-level BPE
// and SentencePiece-style encoding, added-token splitting and decoding.
#include "tokenizer/tokenizer_impl.h"

#include <algorithm>
#include <cstring>

#include "util/utf8.h"

namespace paddock::tokenizer {
namespace {

const std::string kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space

struct Sym {
  int32_t id;          // token id of this symbol, -1 if its text is not in the vocabulary
  int32_t prev, next;  // neighbours in the live list, -1 at the ends
  uint32_t start, len; // bytes of the word; len 0 once merged away
};

struct Cand {
  double key;  // lower merges first: merge rank, or minus the merged token's score
  int32_t left, right, id_l, id_r, merged;
};
struct CandAfter {  // heap order: smallest key, then leftmost
  bool operator()(const Cand& a, const Cand& b) const { return a.key > b.key || (a.key == b.key && a.left > b.left); }
};

// Repeatedly merges the best adjacent pair. pair(l, r, &key, &merged) says whether l r can merge.
// O(n log n) in the word length: each merge pushes at most two candidates.
template <typename PairFn>
void merge_symbols(std::vector<Sym>& syms, std::vector<Cand>& heap, PairFn&& pair) {
  heap.clear();
  auto try_add = [&](int32_t l, int32_t r) {
    double key;
    int32_t merged;
    if (pair(syms[static_cast<size_t>(l)], syms[static_cast<size_t>(r)], &key, &merged)) {
      heap.push_back({key, l, r, syms[static_cast<size_t>(l)].id, syms[static_cast<size_t>(r)].id, merged});
      std::push_heap(heap.begin(), heap.end(), CandAfter{});
    }
  };
  for (size_t i = 0; i + 1 < syms.size(); ++i) try_add(static_cast<int32_t>(i), static_cast<int32_t>(i + 1));
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), CandAfter{});
    Cand c = heap.back();
    heap.pop_back();
    Sym& l = syms[static_cast<size_t>(c.left)];
    Sym& r = syms[static_cast<size_t>(c.right)];
    if (l.len == 0 || r.len == 0 || l.next != c.right || l.id != c.id_l || r.id != c.id_r) continue;  // stale
    l.id = c.merged;
    l.len += r.len;
    l.next = r.next;
    if (r.next >= 0) syms[static_cast<size_t>(r.next)].prev = c.left;
    r.len = 0;
    r.id = -2;
    if (l.prev >= 0) try_add(l.prev, c.left);
    if (l.next >= 0) try_add(c.left, l.next);
  }
}

thread_local std::vector<Sym> t_syms;
thread_local std::vector<Cand> t_heap;

}  // namespace

Result<std::unique_ptr<Tokenizer>> TokenizerImpl::build(Vocab vb) {
  std::unique_ptr<TokenizerImpl> t(new TokenizerImpl());
  t->vb_ = std::move(vb);
  RETURN_IF_ERROR(t->init());
  return std::unique_ptr<Tokenizer>(std::move(t));
}

Status TokenizerImpl::init() {
  const auto n = static_cast<int32_t>(vb_.tokens.size());
  const bool spm = vb_.kind == ModelKind::kSpm;
  text_to_id_.reserve(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) text_to_id_.emplace(vb_.tokens[static_cast<size_t>(i)], i);

  // Pieces: the bytes each token stands for in output text.
  piece_.resize(static_cast<size_t>(n));
  std::fill(std::begin(byte_id_), std::end(byte_id_), -1);
  for (int32_t i = 0; i < n; ++i) {
    const std::string& t = vb_.tokens[static_cast<size_t>(i)];
    TokenType ty = vb_.types[static_cast<size_t>(i)];
    std::string& p = piece_[static_cast<size_t>(i)];
    if (ty == TokenType::kControl || ty == TokenType::kUnused) {
      p = t;
    } else if (spm) {
      if (ty == TokenType::kByte) {
        unsigned v = 0;
        if (t.size() != 6 || std::sscanf(t.c_str(), "<0x%2X>", &v) != 1)
          return make_error(ErrorCode::kCorrupt, "byte token {} is '{}', expected <0xNN>", i, t);
        p.assign(1, static_cast<char>(v));
        if (byte_id_[v] < 0) byte_id_[v] = i;
      } else {
        for (size_t pos = 0;;) {  // U+2581 -> space
          size_t q = t.find(kSpace, pos);
          p.append(t, pos, q == std::string::npos ? std::string::npos : q - pos);
          if (q == std::string::npos) break;
          p += ' ';
          pos = q + kSpace.size();
        }
      }
    } else if (ty == TokenType::kUserDefined) {
      p = t;
    } else {  // byte-level: every character stands for one byte
      bool ok = true;
      for (size_t pos = 0; pos < t.size();) {
        int len = 1;
        int32_t cp = utf8::decode(t, pos, &len);
        int b = cp < 0 ? -1 : byte_from_codepoint(static_cast<uint32_t>(cp));
        if (b < 0) { ok = false; break; }
        p.push_back(static_cast<char>(b));
        pos += static_cast<size_t>(len);
      }
      if (!ok) p = t;  // not byte-level text: emit as written
      if (ok && p.size() == 1 && byte_id_[static_cast<uint8_t>(p[0])] < 0) byte_id_[static_cast<uint8_t>(p[0])] = i;
      if (ok && vb_.ignore_merges && ty == TokenType::kNormal) bytes_to_id_.emplace(p, i);
    }
  }

  // Merges by id. Each "left right" entry must name two tokens whose concatenation is a token.
  if (!vb_.merges.empty()) {
    pairs_.reserve(vb_.merges.size());
    std::string cat;
    for (size_t r = 0; r < vb_.merges.size(); ++r) {
      const std::string& m = vb_.merges[r];
      int32_t a = -1, b = -1;
      for (size_t sp = m.find(' '); sp != std::string::npos; sp = m.find(' ', sp + 1)) {
        auto ia = text_to_id_.find(std::string_view(m).substr(0, sp));
        auto ib = text_to_id_.find(std::string_view(m).substr(sp + 1));
        if (ia != text_to_id_.end() && ib != text_to_id_.end()) {
          a = ia->second;
          b = ib->second;
          break;
        }
      }
      if (a < 0) return make_error(ErrorCode::kCorrupt, "tokenizer.ggml.merges[{}] = '{}' names unknown tokens", r, m);
      cat.assign(vb_.tokens[static_cast<size_t>(a)]).append(vb_.tokens[static_cast<size_t>(b)]);
      auto im = text_to_id_.find(cat);
      if (im == text_to_id_.end())
        return make_error(ErrorCode::kCorrupt, "tokenizer.ggml.merges[{}] = '{}' makes a token not in the vocabulary", r, m);
      pairs_.put(a, b, static_cast<int32_t>(r), im->second);
    }
  } else {
    use_scores_ = true;  // SentencePiece from GGUF: merge by the merged token's score
  }

  if (!spm) {
    const PreTokenizerSpec* spec = find_pre_tokenizer(vb_.pre);
    assert(spec);  // checked by vocab_from_metadata
    ASSIGN_OR_RETURN(splitter_, RegexSplitter::create(spec->regexes));
  }

  // Added tokens, and end-of-generation tokens.
  eog_.assign(static_cast<size_t>(n), 0);
  for (int32_t i = 0; i < n; ++i) {
    TokenType ty = vb_.types[static_cast<size_t>(i)];
    const std::string& t = vb_.tokens[static_cast<size_t>(i)];
    if (ty == TokenType::kControl || ty == TokenType::kUserDefined || ty == TokenType::kUnknown) trie_special_.insert(t, i);
    if (ty == TokenType::kUserDefined) trie_user_.insert(t, i);
    if (ty == TokenType::kControl) {
      for (const char* e : {"<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<end_of_turn>", "<|endoftext|>", "<|end|>",
                            "<|end_of_text|>", "<｜end▁of▁sentence｜>", "</s>", "<eos>"})
        if (t == e) eog_[static_cast<size_t>(i)] = 1;
    }
  }
  for (int32_t id : {vb_.eos, vb_.eot, vb_.eom})
    if (id >= 0) eog_[static_cast<size_t>(id)] = 1;
  return Status::Ok();
}

const std::string& TokenizerImpl::token_text(int32_t id) const {
  static const std::string kEmpty;
  return id >= 0 && id < n_vocab() ? vb_.tokens[static_cast<size_t>(id)] : kEmpty;
}

TokenType TokenizerImpl::token_type(int32_t id) const {
  return id >= 0 && id < n_vocab() ? vb_.types[static_cast<size_t>(id)] : TokenType::kUndefined;
}

bool TokenizerImpl::is_eog(int32_t id) const { return id >= 0 && id < n_vocab() && eog_[static_cast<size_t>(id)]; }

bool TokenizerImpl::is_control(int32_t id) const {
  TokenType t = token_type(id);
  return t == TokenType::kControl || t == TokenType::kUnknown || t == TokenType::kUnused || t == TokenType::kUndefined;
}

int32_t TokenizerImpl::token_to_id(std::string_view text) const {
  auto it = text_to_id_.find(text);
  return it == text_to_id_.end() ? -1 : it->second;
}

std::string TokenizerImpl::token_to_piece(int32_t id) const {
  return id >= 0 && id < n_vocab() ? piece_[static_cast<size_t>(id)] : std::string();
}

// ---- encoding ----

std::vector<int32_t> TokenizerImpl::encode(std::string_view text, bool add_special, bool parse_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special && vb_.add_bos) out.push_back(vb_.bos);
  const TokenTrie& trie = parse_special ? trie_special_ : trie_user_;
  size_t start = 0;
  if (!trie.empty()) {
    for (size_t pos = 0; pos < text.size();) {
      size_t len = 0;
      int32_t id = trie.longest(text, pos, &len);
      if (id < 0) {
        ++pos;
        continue;
      }
      if (pos > start) encode_segment(text.substr(start, pos - start), &out);
      out.push_back(id);
      pos += len;
      start = pos;
    }
  }
  if (start < text.size()) encode_segment(text.substr(start), &out);
  if (add_special && vb_.add_eos) out.push_back(vb_.eos);
  return out;
}

void TokenizerImpl::encode_segment(std::string_view text, std::vector<int32_t>* out) const {
  if (vb_.kind == ModelKind::kBpe) {
    encode_bpe(text, out);
  } else {
    encode_spm(text, out);
  }
}

void TokenizerImpl::encode_bpe(std::string_view text, std::vector<int32_t>* out) const {
  std::string normalized;
  if (vb_.nfc && !is_nfc_quick(text)) {
    normalized = nfc_normalize(text);
    text = normalized;
  }
  std::vector<Piece> pieces;
  splitter_->split(text, &pieces);
  // Long inputs repeat words: remember where each short word's ids already sit in `out`.
  const bool use_cache = text.size() > 4096;
  std::unordered_map<std::string_view, std::pair<size_t, size_t>> cache;
  for (const Piece& p : pieces) {
    std::string_view w = text.substr(p.off, p.len);
    if (use_cache && w.size() <= 64) {
      auto it = cache.find(w);
      if (it != cache.end()) {
        auto [at, cnt] = it->second;
        for (size_t k = 0; k < cnt; ++k) out->push_back((*out)[at + k]);
        continue;
      }
      size_t at = out->size();
      bpe_word(w, out);
      cache.emplace(w, std::make_pair(at, out->size() - at));
    } else {
      bpe_word(w, out);
    }
  }
}

void TokenizerImpl::bpe_word(std::string_view w, std::vector<int32_t>* out) const {
  if (w.empty()) return;
  if (vb_.ignore_merges) {
    auto it = bytes_to_id_.find(w);
    if (it != bytes_to_id_.end()) {
      out->push_back(it->second);
      return;
    }
  }
  if (w.size() == 1) {
    int32_t id = byte_id_[static_cast<uint8_t>(w[0])];
    if (id >= 0) out->push_back(id);
    return;
  }
  std::vector<Sym>& syms = t_syms;
  syms.resize(w.size());
  for (size_t i = 0; i < w.size(); ++i)
    syms[i] = {byte_id_[static_cast<uint8_t>(w[i])], static_cast<int32_t>(i) - 1,
               i + 1 < w.size() ? static_cast<int32_t>(i + 1) : -1, static_cast<uint32_t>(i), 1};
  merge_symbols(syms, t_heap, [&](const Sym& l, const Sym& r, double* key, int32_t* merged) {
    int32_t rank;
    if (l.id < 0 || r.id < 0 || !pairs_.get(l.id, r.id, &rank, merged)) return false;
    *key = rank;
    return true;
  });
  for (int32_t i = 0; i >= 0; i = syms[static_cast<size_t>(i)].next)
    if (syms[static_cast<size_t>(i)].id >= 0) out->push_back(syms[static_cast<size_t>(i)].id);
}

void TokenizerImpl::encode_spm(std::string_view text, std::vector<int32_t>* out) const {
  if (text.empty()) return;
  std::string norm;
  norm.reserve(text.size() + 8);
  if (vb_.add_space_prefix) norm += kSpace;
  for (char c : text) {
    if (c == ' ') {
      norm += kSpace;
    } else {
      norm += c;
    }
  }
  std::vector<Sym>& syms = t_syms;
  syms.clear();
  for (size_t pos = 0; pos < norm.size();) {
    int len = 1;
    utf8::decode(norm, pos, &len);
    auto it = text_to_id_.find(std::string_view(norm).substr(pos, static_cast<size_t>(len)));
    int32_t idx = static_cast<int32_t>(syms.size());
    syms.push_back({it == text_to_id_.end() ? -1 : it->second, idx - 1, -1, static_cast<uint32_t>(pos), static_cast<uint32_t>(len)});
    if (idx > 0) syms[static_cast<size_t>(idx - 1)].next = idx;
    pos += static_cast<size_t>(len);
  }
  if (use_scores_) {
    const bool have_scores = !vb_.scores.empty();
    merge_symbols(syms, t_heap, [&](const Sym& l, const Sym& r, double* key, int32_t* merged) {
      auto it = text_to_id_.find(std::string_view(norm).substr(l.start, l.len + r.len));
      if (it == text_to_id_.end()) return false;
      *merged = it->second;
      *key = have_scores ? -static_cast<double>(vb_.scores[static_cast<size_t>(it->second)]) : 0.0;
      return true;
    });
  } else {
    merge_symbols(syms, t_heap, [&](const Sym& l, const Sym& r, double* key, int32_t* merged) {
      int32_t rank;
      if (l.id < 0 || r.id < 0 || !pairs_.get(l.id, r.id, &rank, merged)) return false;
      *key = rank;
      return true;
    });
  }
  for (int32_t i = 0; i >= 0; i = syms[static_cast<size_t>(i)].next) {
    const Sym& s = syms[static_cast<size_t>(i)];
    if (s.id >= 0) {
      out->push_back(s.id);
      continue;
    }
    // Byte fallback: every byte must have a <0xNN> token, else the whole piece is <unk>.
    bool all = true;
    for (uint32_t k = 0; k < s.len; ++k) all = all && byte_id_[static_cast<uint8_t>(norm[s.start + k])] >= 0;
    if (all) {
      for (uint32_t k = 0; k < s.len; ++k) out->push_back(byte_id_[static_cast<uint8_t>(norm[s.start + k])]);
    } else if (vb_.unk >= 0) {
      out->push_back(vb_.unk);
    }
  }
}

// ---- decoding ----

std::string TokenizerImpl::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  std::string out;
  for (int32_t id : ids) {
    if (id < 0 || id >= n_vocab()) continue;
    if (skip_special && is_control(id)) continue;
    out += piece_[static_cast<size_t>(id)];
  }
  if (add_space_prefix() && !out.empty() && out[0] == ' ') out.erase(0, 1);
  return out;
}

}  // namespace paddock::tokenizer
