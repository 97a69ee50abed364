// Grammar compilation (expressions -> byte-level rules, checks for left recursion and size), the
// vocabulary trie, and the matcher: a set of parse stacks advanced byte by byte, with interned
// stack nodes and states so each distinct (state, byte) transition is computed once.
#include "grammar/grammar.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <map>
#include <optional>
#include <unordered_set>

namespace paddock::grammar {

// ---- Expressions ------------------------------------------------------------------------------

GrammarExpr GrammarExpr::seq(std::vector<GrammarExpr> items) {
  GrammarExpr e;
  e.kind = Kind::kSeq;
  e.items = std::move(items);
  return e;
}
GrammarExpr GrammarExpr::alt(std::vector<GrammarExpr> items) {
  GrammarExpr e;
  e.kind = Kind::kAlt;
  e.items = std::move(items);
  return e;
}
GrammarExpr GrammarExpr::lit(std::string_view bytes) {
  GrammarExpr e;
  e.kind = Kind::kLiteral;
  e.literal = std::string(bytes);
  return e;
}
GrammarExpr GrammarExpr::cls(std::vector<std::pair<uint32_t, uint32_t>> ranges, bool negated) {
  GrammarExpr e;
  e.kind = Kind::kClass;
  e.ranges = std::move(ranges);
  e.negated = negated;
  return e;
}
GrammarExpr GrammarExpr::ref(uint32_t rule) {
  GrammarExpr e;
  e.kind = Kind::kRef;
  e.rule = rule;
  return e;
}
GrammarExpr GrammarExpr::repeat(GrammarExpr x, uint32_t min, uint32_t max) {
  GrammarExpr e;
  e.kind = Kind::kRepeat;
  e.items.push_back(std::move(x));
  e.min = min;
  e.max = max;
  return e;
}

uint32_t GrammarBuilder::rule(const std::string& name) {
  auto it = ids_.find(name);
  if (it != ids_.end()) return it->second;
  auto id = static_cast<uint32_t>(defs_.size());
  defs_.push_back({name, {}, false});
  ids_.emplace(name, id);
  return id;
}

void GrammarBuilder::define(uint32_t rule, GrammarExpr body) {
  assert(rule < defs_.size());
  defs_[rule].body = std::move(body);
  defs_[rule].has_value = true;
}

// ---- UTF-8 ------------------------------------------------------------------------------------

namespace {

constexpr uint32_t kMaxCodePoint = 0x10FFFF;

using ByteRange = std::pair<uint8_t, uint8_t>;
using ByteSeq = std::vector<ByteRange>;

int utf8_len(uint32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

void utf8_encode(uint32_t cp, uint8_t* out) {
  switch (utf8_len(cp)) {
    case 1: out[0] = static_cast<uint8_t>(cp); break;
    case 2:
      out[0] = static_cast<uint8_t>(0xC0 | (cp >> 6));
      out[1] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
      break;
    case 3:
      out[0] = static_cast<uint8_t>(0xE0 | (cp >> 12));
      out[1] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
      out[2] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
      break;
    default:
      out[0] = static_cast<uint8_t>(0xF0 | (cp >> 18));
      out[1] = static_cast<uint8_t>(0x80 | ((cp >> 12) & 0x3F));
      out[2] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
      out[3] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
  }
}

// Splits [lo, hi] (same encoded length, no surrogates) until each piece's UTF-8 forms are exactly
// the byte-wise ranges between the encodings of its ends.
void utf8_split(uint32_t lo, uint32_t hi, std::vector<ByteSeq>& out) {
  std::vector<std::pair<uint32_t, uint32_t>> ranges{{lo, hi}};
  while (!ranges.empty()) {
    auto [a, b] = ranges.back();
    ranges.pop_back();
    const int n = utf8_len(a);
    assert(n == utf8_len(b));
    bool split = false;
    for (int i = 1; i < n && !split; ++i) {
      const uint32_t m = (1u << (6 * i)) - 1;
      if ((a & ~m) == (b & ~m)) continue;
      if ((a & m) != 0) {
        ranges.push_back({(a | m) + 1, b});
        ranges.push_back({a, a | m});
        split = true;
      } else if ((b & m) != m) {
        ranges.push_back({b & ~m, b});
        ranges.push_back({a, (b & ~m) - 1});
        split = true;
      }
    }
    if (split) continue;
    uint8_t ea[4], eb[4];
    utf8_encode(a, ea);
    utf8_encode(b, eb);
    ByteSeq s;
    for (int i = 0; i < n; ++i) s.push_back({ea[i], eb[i]});
    out.push_back(std::move(s));
  }
}

// The UTF-8 byte sequences of a code point class, as alternatives of byte-range runs.
std::vector<ByteSeq> class_to_utf8(std::vector<std::pair<uint32_t, uint32_t>> ranges, bool negated) {
  std::vector<std::pair<uint32_t, uint32_t>> norm;
  for (auto [a, b] : ranges) {
    if (a > b || a > kMaxCodePoint) continue;
    norm.push_back({a, std::min(b, kMaxCodePoint)});
  }
  std::sort(norm.begin(), norm.end());
  std::vector<std::pair<uint32_t, uint32_t>> merged;
  for (auto r : norm) {
    if (!merged.empty() && r.first <= merged.back().second + 1)
      merged.back().second = std::max(merged.back().second, r.second);
    else
      merged.push_back(r);
  }
  if (negated) {
    std::vector<std::pair<uint32_t, uint32_t>> comp;
    uint32_t next = 0;
    for (auto [a, b] : merged) {
      if (a > next) comp.push_back({next, a - 1});
      next = b + 1;
    }
    if (next <= kMaxCodePoint) comp.push_back({next, kMaxCodePoint});
    merged.swap(comp);
  }
  std::vector<ByteSeq> out;
  static constexpr uint32_t kBreaks[] = {0x7F, 0x7FF, 0xFFFF, kMaxCodePoint};
  for (auto [a, b] : merged) {
    // Cut out the surrogates, then split by encoded length.
    std::vector<std::pair<uint32_t, uint32_t>> parts;
    if (a < 0xD800 && b > 0xDFFF) {
      parts = {{a, 0xD7FF}, {0xE000, b}};
    } else if (a >= 0xD800 && b <= 0xDFFF) {
      continue;
    } else if (a >= 0xD800 && a <= 0xDFFF) {
      parts = {{0xE000, b}};
    } else if (b >= 0xD800 && b <= 0xDFFF) {
      parts = {{a, 0xD7FF}};
    } else {
      parts = {{a, b}};
    }
    for (auto [x, y] : parts) {
      for (uint32_t brk : kBreaks) {
        if (x > y) break;
        if (x > brk) continue;
        uint32_t end = std::min(y, brk);
        utf8_split(x, end, out);
        x = end + 1;
      }
    }
  }
  // Merge single-byte runs into as few ranges as possible (they are sorted).
  return out;
}

}  // namespace

// ---- Lowering ---------------------------------------------------------------------------------

class GrammarLowering {
 public:
  using Elem = Grammar::Elem;
  using Alt = std::vector<Elem>;

  explicit GrammarLowering(size_t n_named) : rules_(n_named) {}

  Status lower_rule(uint32_t id, const GrammarExpr& body) {
    std::vector<Alt> alts;
    if (body.kind == GrammarExpr::Kind::kAlt) {
      for (const GrammarExpr& x : body.items) {
        Alt a;
        RETURN_IF_ERROR(lower(x, a));
        alts.push_back(std::move(a));
      }
    } else {
      Alt a;
      RETURN_IF_ERROR(lower(body, a));
      alts.push_back(std::move(a));
    }
    rules_[id] = std::move(alts);
    return Status::Ok();
  }

  Result<std::shared_ptr<const Grammar>> finish(uint32_t root, const std::vector<std::string>& names) {
    RETURN_IF_ERROR(check_left_recursion(names));
    auto g = std::make_shared<Grammar>();
    g->root_ = root;
    g->rule_alts_.push_back(0);
    // Element 0 is a kEnd sentinel so that no alternative starts at 0 (not needed, but keeps
    // indices of real elements non-zero, which makes dumps easier to read).
    g->elems_.push_back({Elem::kEnd, 0, 0, 0});
    for (const auto& alts : rules_) {
      for (const Alt& a : alts) {
        g->alt_starts_.push_back(static_cast<uint32_t>(g->elems_.size()));
        g->elems_.insert(g->elems_.end(), a.begin(), a.end());
        g->elems_.push_back({Elem::kEnd, 0, 0, 0});
      }
      g->rule_alts_.push_back(static_cast<uint32_t>(g->alt_starts_.size()));
    }
    return std::shared_ptr<const Grammar>(std::move(g));
  }

 private:
  Status grow(size_t n) {
    n_elems_ += n;
    if (n_elems_ > GrammarBuilder::kMaxElements)
      return make_error(ErrorCode::kInvalidArgument, "the grammar is too large (more than {} elements)",
                        GrammarBuilder::kMaxElements);
    return Status::Ok();
  }

  uint32_t new_rule(std::vector<Alt> alts) {
    rules_.push_back(std::move(alts));
    return static_cast<uint32_t>(rules_.size() - 1);
  }

  Status lower(const GrammarExpr& e, Alt& out) {
    switch (e.kind) {
      case GrammarExpr::Kind::kSeq:
        for (const GrammarExpr& x : e.items) RETURN_IF_ERROR(lower(x, out));
        return Status::Ok();
      case GrammarExpr::Kind::kLiteral:
        RETURN_IF_ERROR(grow(e.literal.size()));
        for (char c : e.literal) {
          auto b = static_cast<uint8_t>(c);
          out.push_back({Elem::kByte, b, b, 0});
        }
        return Status::Ok();
      case GrammarExpr::Kind::kRef:
        RETURN_IF_ERROR(grow(1));
        out.push_back({Elem::kRef, 0, 0, e.rule});
        return Status::Ok();
      case GrammarExpr::Kind::kClass: {
        std::string key(e.negated ? "!" : "=");
        for (auto [a, b] : e.ranges) key += std::to_string(a) + "-" + std::to_string(b) + ",";
        auto it = classes_.find(key);
        std::optional<uint32_t> rid;
        if (it != classes_.end()) {
          rid = it->second;
        } else {
          std::vector<ByteSeq> seqs = class_to_utf8(e.ranges, e.negated);
          if (seqs.empty()) return make_error(ErrorCode::kInvalidArgument, "a character class matches nothing");
          if (seqs.size() == 1) {
            RETURN_IF_ERROR(grow(seqs[0].size()));
            for (auto [lo, hi] : seqs[0]) out.push_back({Elem::kByte, lo, hi, 0});
            return Status::Ok();
          }
          std::vector<Alt> alts;
          for (const ByteSeq& s : seqs) {
            RETURN_IF_ERROR(grow(s.size() + 1));
            Alt a;
            for (auto [lo, hi] : s) a.push_back({Elem::kByte, lo, hi, 0});
            alts.push_back(std::move(a));
          }
          rid = new_rule(std::move(alts));
          classes_.emplace(key, *rid);
        }
        RETURN_IF_ERROR(grow(1));
        out.push_back({Elem::kRef, 0, 0, *rid});
        return Status::Ok();
      }
      case GrammarExpr::Kind::kAlt: {
        if (e.items.size() == 1) return lower(e.items[0], out);
        std::vector<Alt> alts;
        for (const GrammarExpr& x : e.items) {
          Alt a;
          RETURN_IF_ERROR(lower(x, a));
          alts.push_back(std::move(a));
        }
        RETURN_IF_ERROR(grow(alts.size() + 1));
        out.push_back({Elem::kRef, 0, 0, new_rule(std::move(alts))});
        return Status::Ok();
      }
      case GrammarExpr::Kind::kRepeat: {
        const bool unbounded = e.max == GrammarExpr::kUnbounded;
        if (!unbounded && e.max < e.min)
          return make_error(ErrorCode::kInvalidArgument, "repetition bounds {{{},{}}}: the maximum is below the minimum",
                            e.min, e.max);
        if (e.min > GrammarBuilder::kMaxRepeat || (!unbounded && e.max > GrammarBuilder::kMaxRepeat))
          return make_error(ErrorCode::kInvalidArgument, "repetition bound over {} is not supported",
                            GrammarBuilder::kMaxRepeat);
        if (e.max == 0) return Status::Ok();
        Alt x;
        RETURN_IF_ERROR(lower(e.items[0], x));
        if (x.size() > 1) {  // repeat a reference, not a copy
          RETURN_IF_ERROR(grow(x.size() + 2));
          x = Alt{{Elem::kRef, 0, 0, new_rule({std::move(x)})}};
        }
        if (x.empty()) return Status::Ok();
        for (uint32_t i = 0; i < e.min; ++i) {
          RETURN_IF_ERROR(grow(1));
          out.push_back(x[0]);
        }
        if (unbounded) {
          // R ::= x R | (empty)
          uint32_t r = new_rule({});
          RETURN_IF_ERROR(grow(4));
          rules_[r] = {Alt{x[0], {Elem::kRef, 0, 0, r}}, Alt{}};
          out.push_back({Elem::kRef, 0, 0, r});
        } else if (e.max > e.min) {
          // O_1 ::= x | (empty); O_k ::= x O_{k-1} | (empty)
          uint32_t prev = new_rule({Alt{x[0]}, Alt{}});
          RETURN_IF_ERROR(grow(3));
          for (uint32_t k = 2; k <= e.max - e.min; ++k) {
            RETURN_IF_ERROR(grow(4));
            prev = new_rule({Alt{x[0], {Elem::kRef, 0, 0, prev}}, Alt{}});
          }
          out.push_back({Elem::kRef, 0, 0, prev});
        }
        return Status::Ok();
      }
    }
    return Status::Ok();
  }

  // A rule that can reach itself before consuming a byte would make the matcher loop.
  Status check_left_recursion(const std::vector<std::string>& names) {
    const size_t n = rules_.size();
    std::vector<uint8_t> nullable(n, 0);
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t r = 0; r < n; ++r) {
        if (nullable[r]) continue;
        for (const Alt& a : rules_[r]) {
          bool all = std::all_of(a.begin(), a.end(), [&](const Elem& x) { return x.kind == Elem::kRef && nullable[x.rule]; });
          if (all) {
            nullable[r] = 1;
            changed = true;
            break;
          }
        }
      }
    }
    std::vector<std::vector<uint32_t>> left(n);
    for (size_t r = 0; r < n; ++r)
      for (const Alt& a : rules_[r])
        for (const Elem& x : a) {
          if (x.kind != Elem::kRef) break;
          left[r].push_back(x.rule);
          if (!nullable[x.rule]) break;
        }
    // Iterative DFS: 0 new, 1 on the path, 2 done.
    std::vector<uint8_t> color(n, 0);
    std::vector<std::pair<uint32_t, size_t>> path;
    for (size_t s = 0; s < n; ++s) {
      if (color[s] != 0) continue;
      path.push_back({static_cast<uint32_t>(s), 0});
      color[s] = 1;
      while (!path.empty()) {
        auto& [r, i] = path.back();
        if (i == left[r].size()) {
          color[r] = 2;
          path.pop_back();
          continue;
        }
        uint32_t t = left[r][i++];
        if (color[t] == 1) {
          // Name the first user-named rule on the cycle.
          std::string name = "(internal)";
          for (auto it = path.rbegin(); it != path.rend(); ++it)
            if (it->first < names.size()) {
              name = names[it->first];
              break;
            }
          return make_error(ErrorCode::kInvalidArgument, "the grammar is left-recursive (rule '{}' can reach itself without consuming input)",
                            name);
        }
        if (color[t] == 0) {
          color[t] = 1;
          path.push_back({t, 0});
        }
      }
    }
    return Status::Ok();
  }

  std::vector<std::vector<Alt>> rules_;
  std::map<std::string, uint32_t> classes_;
  size_t n_elems_ = 0;
};

Result<std::shared_ptr<const Grammar>> GrammarBuilder::build(uint32_t root) const {
  if (root >= defs_.size()) return make_error(ErrorCode::kInvalidArgument, "the grammar has no root rule");
  std::vector<std::string> names;
  for (const Def& d : defs_) {
    if (!d.has_value) return make_error(ErrorCode::kInvalidArgument, "grammar rule '{}' is used but not defined", d.name);
    names.push_back(d.name);
  }
  GrammarLowering low(defs_.size());
  for (size_t i = 0; i < defs_.size(); ++i) RETURN_IF_ERROR(low.lower_rule(static_cast<uint32_t>(i), defs_[i].body));
  return low.finish(root, names);
}

// ---- Token trie -------------------------------------------------------------------------------

TokenTrie::TokenTrie(const std::vector<std::string>& pieces, const std::vector<Kind>& kinds) : kinds_(kinds) {
  assert(pieces.size() == kinds.size());
  const size_t n = pieces.size();
  piece_off_.reserve(n + 1);
  for (size_t i = 0; i < n; ++i) {
    piece_off_.push_back(static_cast<uint32_t>(bytes_.size()));
    bytes_ += pieces[i];
    if (kinds_[i] == Kind::kText && pieces[i].empty()) kinds_[i] = Kind::kNever;
    if (kinds_[i] == Kind::kEndOfGeneration) eog_.push_back(static_cast<int32_t>(i));
  }
  piece_off_.push_back(static_cast<uint32_t>(bytes_.size()));
  std::vector<int32_t> order;
  for (size_t i = 0; i < n; ++i)
    if (kinds_[i] == Kind::kText) order.push_back(static_cast<int32_t>(i));
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    std::string_view pa = piece(a), pb = piece(b);
    return pa < pb || (pa == pb && a < b);
  });
  // Each work item is a node and the sorted range of tokens below it; tokens that end at the node
  // sort first, then groups by the next byte become its children (contiguous edges).
  struct Work {
    uint32_t node;
    size_t lo, hi, depth;
  };
  nodes_.push_back({0, 0, 0, 0});
  std::vector<Work> work{{0, 0, order.size(), 0}};
  while (!work.empty()) {
    Work w = work.back();
    work.pop_back();
    size_t i = w.lo;
    nodes_[w.node].first_token = static_cast<uint32_t>(tokens_.size());
    while (i < w.hi && piece(order[i]).size() == w.depth) tokens_.push_back(order[i++]);
    nodes_[w.node].n_tokens = static_cast<uint32_t>(tokens_.size()) - nodes_[w.node].first_token;
    nodes_[w.node].first_child = static_cast<uint32_t>(edges_.size());
    size_t n_children = 0;
    for (size_t j = i; j < w.hi;) {
      auto b = static_cast<uint8_t>(piece(order[j])[w.depth]);
      size_t k = j;
      while (k < w.hi && static_cast<uint8_t>(piece(order[k])[w.depth]) == b) ++k;
      auto child = static_cast<uint32_t>(nodes_.size());
      nodes_.push_back({0, 0, 0, 0});
      edges_.push_back({b, child});
      work.push_back({child, j, k, w.depth + 1});
      ++n_children;
      j = k;
    }
    nodes_[w.node].n_children = static_cast<uint32_t>(n_children);
  }
}

// ---- Matcher ----------------------------------------------------------------------------------

namespace {
constexpr size_t kMaxStates = 4096;
constexpr size_t kMaxNodes = 1u << 20;
}  // namespace

GrammarMatcher::GrammarMatcher(std::shared_ptr<const Grammar> g) : g_(std::move(g)) {
  states_.push_back({});  // kDead
  trans_.assign(256, kDead);
  State init;
  for (uint32_t a : g_->alts(g_->root())) expand(a, kRoot, init);
  cur_ = intern_state(std::move(init));
}

uint32_t GrammarMatcher::intern_node(uint32_t elem, uint32_t parent) {
  uint64_t key = uint64_t{elem} << 32 | parent;
  auto [it, fresh] = node_ids_.emplace(key, static_cast<uint32_t>(nodes_.size()));
  if (fresh) nodes_.push_back({elem, parent});
  return it->second;
}

void GrammarMatcher::expand(uint32_t elem, uint32_t parent, State& out) {
  // Worklist over (position, parent node); `seen_` stops the same item being expanded twice
  // (alternatives that meet again), and the absence of left recursion bounds the walk.
  const auto& elems = g_->elems();
  auto push = [&](uint32_t p, uint32_t par) {
    uint64_t key = uint64_t{p} << 32 | par;
    if (!seen_.insert(key).second) return;
    work_.push_back({p, par});
  };
  push(elem, parent);
  while (!work_.empty()) {
    auto [p, par] = work_.back();
    work_.pop_back();
    const Grammar::Elem& e = elems[p];
    switch (e.kind) {
      case Grammar::Elem::kByte: out.stacks.push_back(uint64_t{p} << 32 | par); break;
      case Grammar::Elem::kEnd:
        if (par == kRoot)
          out.complete = true;
        else
          push(nodes_[par].elem, nodes_[par].parent);
        break;
      case Grammar::Elem::kRef: {
        // A reference in tail position needs no return node: the rule returns straight to `par`.
        uint32_t np = elems[p + 1].kind == Grammar::Elem::kEnd ? par : intern_node(p + 1, par);
        for (uint32_t a : g_->alts(e.rule)) push(a, np);
        break;
      }
    }
  }
}

int32_t GrammarMatcher::intern_state(State&& s) {
  std::sort(s.stacks.begin(), s.stacks.end());
  s.stacks.erase(std::unique(s.stacks.begin(), s.stacks.end()), s.stacks.end());
  if (s.stacks.empty() && !s.complete) return kDead;
  std::string key(s.stacks.size() * sizeof(uint64_t) + 1, '\0');
  if (!s.stacks.empty()) std::memcpy(key.data(), s.stacks.data(), s.stacks.size() * sizeof(uint64_t));
  key.back() = s.complete ? '\1' : '\0';
  auto [it, fresh] = state_ids_.emplace(std::move(key), static_cast<int32_t>(states_.size()));
  if (fresh) {
    states_.push_back(std::move(s));
    trans_.resize(states_.size() * 256, kUnknown);
  }
  return it->second;
}

int32_t GrammarMatcher::step(int32_t state, uint8_t byte) {
  int32_t& slot = trans_[static_cast<size_t>(state) * 256 + byte];
  if (slot != kUnknown) return slot;
  State next;
  seen_.clear();
  const auto& elems = g_->elems();
  for (uint64_t st : states_[state].stacks) {
    auto p = static_cast<uint32_t>(st >> 32);
    auto par = static_cast<uint32_t>(st);
    const Grammar::Elem& e = elems[p];
    if (byte >= e.lo && byte <= e.hi) expand(p + 1, par, next);
  }
  int32_t id = intern_state(std::move(next));
  trans_[static_cast<size_t>(state) * 256 + byte] = id;  // `slot` may dangle after a resize
  return id;
}

int32_t GrammarMatcher::walk(std::string_view bytes) {
  int32_t s = cur_;
  for (char c : bytes) {
    s = step(s, static_cast<uint8_t>(c));
    if (s == kDead) return kDead;
  }
  return s;
}

bool GrammarMatcher::allows(std::string_view bytes) { return walk(bytes) != kDead; }

bool GrammarMatcher::accept(std::string_view bytes) {
  const int32_t s = walk(bytes);
  if (s == kDead) return false;
  cur_ = s;
  maybe_compact();
  return true;
}

bool GrammarMatcher::allows_token(const TokenTrie& trie, int32_t id) {
  switch (trie.kind(id)) {
    case TokenTrie::Kind::kNever: return false;
    case TokenTrie::Kind::kEndOfGeneration: return is_complete();
    case TokenTrie::Kind::kText: return allows(trie.piece(id));
  }
  return false;
}

int32_t GrammarMatcher::fill_mask(const TokenTrie& trie, std::vector<uint8_t>& allowed) {
  allowed.assign(static_cast<size_t>(trie.n_vocab()), 0);
  int32_t count = 0;
  if (is_complete())
    for (int32_t t : trie.eog_tokens()) {
      allowed[t] = 1;
      ++count;
    }
  const auto& nodes = trie.nodes();
  const auto& edges = trie.edges();
  const auto& tokens = trie.tokens();
  // Depth-first over the trie; walk_ holds (node, state) pairs flattened.
  walk_.clear();
  walk_.push_back(0);
  walk_.push_back(cur_);
  while (!walk_.empty()) {
    int32_t state = walk_.back();
    walk_.pop_back();
    uint32_t node = static_cast<uint32_t>(walk_.back());
    walk_.pop_back();
    const TokenTrie::Node& nd = nodes[node];
    if (node != 0)
      for (uint32_t i = 0; i < nd.n_tokens; ++i) {
        allowed[tokens[nd.first_token + i]] = 1;
        ++count;
      }
    for (uint32_t i = 0; i < nd.n_children; ++i) {
      const TokenTrie::Edge& ed = edges[nd.first_child + i];
      int32_t next = trans_[static_cast<size_t>(state) * 256 + ed.byte];
      if (next == kUnknown) next = step(state, ed.byte);
      if (next == kDead) continue;
      walk_.push_back(static_cast<int32_t>(ed.child));
      walk_.push_back(next);
    }
  }
  return count;
}

void GrammarMatcher::maybe_compact() {
  if (states_.size() <= kMaxStates && nodes_.size() <= kMaxNodes) return;
  // Keep only the current state: copy its stacks' node chains into a fresh arena and forget the
  // cached states and transitions (they are rebuilt on demand).
  State cur = states_[cur_];
  std::vector<Node> old = std::move(nodes_);
  nodes_.clear();
  node_ids_.clear();
  std::unordered_map<uint32_t, uint32_t> remap;
  auto copy = [&](uint32_t n) {
    // Collect the chain bottom-up, then intern from the bottom.
    std::vector<uint32_t> chain;
    for (uint32_t x = n; x != kRoot && !remap.count(x); x = old[x].parent) chain.push_back(x);
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      uint32_t parent = old[*it].parent == kRoot ? kRoot : remap.at(old[*it].parent);
      remap[*it] = intern_node(old[*it].elem, parent);
    }
    return n == kRoot ? kRoot : remap.at(n);
  };
  for (uint64_t& st : cur.stacks) {
    auto par = static_cast<uint32_t>(st);
    st = (st & 0xFFFFFFFF00000000ull) | copy(par);
  }
  states_.clear();
  state_ids_.clear();
  states_.push_back({});
  trans_.assign(256, kDead);
  cur_ = intern_state(std::move(cur));
}

}  // namespace paddock::grammar
