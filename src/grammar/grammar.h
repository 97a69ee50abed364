// Grammars for constrained generation: rules built from sequences, alternations, literals,
// code point classes and bounded repetition, compiled to a byte-level pushdown automaton; a
// matcher that follows the sampled bytes, and the token mask that keeps sampling inside it.
// JSON schemas compile into these (json_schema.h); GBNF-style grammars can later target it too.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "util/status.h"

namespace paddock::grammar {

// ---- Building ---------------------------------------------------------------------------------

// An expression over the input bytes. Literals are raw bytes (UTF-8 for text); classes are sets of
// Unicode code points (surrogates never match), optionally negated, matched as their UTF-8 forms.
struct GrammarExpr {
  enum class Kind { kSeq, kAlt, kLiteral, kClass, kRef, kRepeat } kind = Kind::kSeq;
  std::vector<GrammarExpr> items;                   // kSeq, kAlt; kRepeat: items[0]
  std::string literal;                              // kLiteral
  std::vector<std::pair<uint32_t, uint32_t>> ranges;  // kClass: inclusive code point ranges
  bool negated = false;                             // kClass
  uint32_t rule = 0;                                // kRef
  uint32_t min = 0, max = 0;                        // kRepeat; max == kUnbounded: no upper bound

  static constexpr uint32_t kUnbounded = UINT32_MAX;
  static GrammarExpr seq(std::vector<GrammarExpr> items);
  static GrammarExpr alt(std::vector<GrammarExpr> items);
  static GrammarExpr lit(std::string_view bytes);
  static GrammarExpr cls(std::vector<std::pair<uint32_t, uint32_t>> ranges, bool negated = false);
  static GrammarExpr ref(uint32_t rule);
  static GrammarExpr repeat(GrammarExpr e, uint32_t min, uint32_t max);
  static GrammarExpr opt(GrammarExpr e) { return repeat(std::move(e), 0, 1); }
  static GrammarExpr empty() { return seq({}); }
};

class Grammar;

// Rules are declared by name (so they can refer to each other, recursively), then defined.
class GrammarBuilder {
 public:
  // Limits on what build() accepts, so a hostile schema cannot make a huge automaton.
  static constexpr size_t kMaxElements = 4u << 20;
  static constexpr uint32_t kMaxRepeat = 100000;

  // The id of rule `name`, declaring it if new.
  uint32_t rule(const std::string& name);
  bool has_rule(const std::string& name) const { return ids_.count(name) != 0; }
  bool defined(uint32_t rule) const { return rule < defs_.size() && defs_[rule].has_value; }
  void define(uint32_t rule, GrammarExpr body);
  // Compiles with `root` as the start rule. Errors: an undefined rule, left recursion (a rule
  // that can reach itself without consuming input), repetition bounds, size limits.
  Result<std::shared_ptr<const Grammar>> build(uint32_t root) const;

 private:
  struct Def {
    std::string name;
    GrammarExpr body;
    bool has_value = false;
  };
  std::vector<Def> defs_;
  std::unordered_map<std::string, uint32_t> ids_;
};

// A grammar in GBNF, llama.cpp's grammar text format: `name ::= alternatives` rules; "literals"
// and [classes] (ranges, ^ negation) with \n \t \r \\ \" \] \xHH \uHHHH \UHHHHHHHH escapes;
// `.` any character; ( groups ); postfix * + ? {m} {m,} {m,n}; # comments. Errors name the line.
Result<std::shared_ptr<const Grammar>> parse_gbnf(std::string_view text, const std::string& root = "root");

// ---- The compiled grammar ----------------------------------------------------------------------

// Rules are lists of alternatives; an alternative is a run of elements ended by kEnd. A byte
// element matches one byte in [lo, hi]; a ref element descends into a rule.
class Grammar {
 public:
  struct Elem {
    enum Kind : uint8_t { kEnd, kByte, kRef } kind;
    uint8_t lo = 0, hi = 0;
    uint32_t rule = 0;
  };
  uint32_t root() const { return root_; }
  const std::vector<Elem>& elems() const { return elems_; }
  std::span<const uint32_t> alts(uint32_t rule) const {
    return {alt_starts_.data() + rule_alts_[rule], alt_starts_.data() + rule_alts_[rule + 1]};
  }
  size_t n_rules() const { return rule_alts_.size() - 1; }

 private:
  friend class GrammarLowering;
  uint32_t root_ = 0;
  std::vector<Elem> elems_;
  std::vector<uint32_t> alt_starts_;  // element index of each alternative, grouped by rule
  std::vector<uint32_t> rule_alts_;   // rule r's alternatives: alt_starts_[rule_alts_[r]..rule_alts_[r+1])
};

// ---- Vocabulary -------------------------------------------------------------------------------

// Every token's bytes, arranged as a byte trie so a mask walks shared prefixes once.
class TokenTrie {
 public:
  enum class Kind : uint8_t { kText, kEndOfGeneration, kNever };
  // pieces[i]: token i's bytes; kinds[i]: how grammar masks treat it (kNever: special/control
  // tokens and empty pieces are never allowed).
  TokenTrie(const std::vector<std::string>& pieces, const std::vector<Kind>& kinds);

  int32_t n_vocab() const { return static_cast<int32_t>(kinds_.size()); }
  Kind kind(int32_t id) const { return kinds_[id]; }
  std::string_view piece(int32_t id) const {
    return std::string_view(bytes_).substr(piece_off_[id], piece_off_[id + 1] - piece_off_[id]);
  }

  struct Node {
    uint32_t first_child, n_children;  // into edges_
    uint32_t first_token, n_tokens;    // into tokens_: tokens whose bytes end here
  };
  struct Edge {
    uint8_t byte;
    uint32_t child;
  };
  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<Edge>& edges() const { return edges_; }
  const std::vector<int32_t>& tokens() const { return tokens_; }
  const std::vector<int32_t>& eog_tokens() const { return eog_; }

 private:
  std::vector<Kind> kinds_;
  std::string bytes_;
  std::vector<uint32_t> piece_off_;
  std::vector<Node> nodes_;
  std::vector<Edge> edges_;
  std::vector<int32_t> tokens_;
  std::vector<int32_t> eog_;
};

// ---- Matching ---------------------------------------------------------------------------------

// Follows the bytes of one sequence's output. The parse state is a set of stacks (a pushdown
// automaton) kept as interned nodes, and every distinct state reached gets a cached transition
// row, so re-visiting a state (the common case: inside a string, between digits) costs one table
// lookup per byte. Not thread-safe: one per sequence.
class GrammarMatcher {
 public:
  explicit GrammarMatcher(std::shared_ptr<const Grammar> g);

  // Consumes the bytes if the grammar allows them all (then true); otherwise nothing changes.
  bool accept(std::string_view bytes);
  // Whether accept(bytes) would succeed, without changing anything.
  bool allows(std::string_view bytes);
  // The bytes so far form a complete sentence of the grammar.
  bool is_complete() const { return states_[cur_].complete; }
  // Some byte can still follow.
  bool can_continue() const { return !states_[cur_].stacks.empty(); }

  // allowed[t] = 1 for every token t the grammar allows next: text tokens whose bytes it accepts,
  // end-of-generation tokens when complete; 0 otherwise. Returns how many are allowed.
  int32_t fill_mask(const TokenTrie& trie, std::vector<uint8_t>& allowed);
  // Whether token `id` is allowed next (the same rule as fill_mask, for one token).
  bool allows_token(const TokenTrie& trie, int32_t id);

  size_t n_states() const { return states_.size(); }

 private:
  static constexpr uint32_t kRoot = UINT32_MAX;
  static constexpr int32_t kUnknown = -1;
  static constexpr int32_t kDead = 0;  // state 0: no stacks, not complete
  struct State {
    std::vector<uint64_t> stacks;  // (elem << 32 | parent node), sorted; elem is a byte element
    bool complete = false;
  };
  struct Node {
    uint32_t elem;    // continuation: where the parent resumes
    uint32_t parent;  // kRoot at the bottom
  };
  int32_t step(int32_t state, uint8_t byte);
  // The state after `bytes` from the current one (kDead if the grammar refuses any of them).
  int32_t walk(std::string_view bytes);
  int32_t intern_state(State&& s);
  uint32_t intern_node(uint32_t elem, uint32_t parent);
  void expand(uint32_t elem, uint32_t parent, State& out);
  void maybe_compact();

  std::shared_ptr<const Grammar> g_;
  std::vector<Node> nodes_;
  std::unordered_map<uint64_t, uint32_t> node_ids_;
  std::vector<State> states_;
  std::unordered_map<std::string, int32_t> state_ids_;  // key: the stacks' bytes + complete
  std::vector<int32_t> trans_;  // [state * 256 + byte]: next state, kUnknown until computed
  int32_t cur_ = 0;
  // Scratch for expand().
  std::vector<std::pair<uint32_t, uint32_t>> work_;
  std::unordered_set<uint64_t> seen_;
  std::vector<int32_t> walk_;
};

}  // namespace paddock::grammar
