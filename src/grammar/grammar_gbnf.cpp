// GBNF text -> GrammarBuilder rules: a small recursive-descent parser over the text (see
// grammar.h for the syntax). A rule's body runs until the next `name ::=` or the end, so rules
// may span lines freely.
#include <cctype>

#include "grammar/grammar.h"

namespace paddock::grammar {
namespace {

// Groups inside groups, plus repetition operators stacked on one item (each wraps the item one
// level deeper, and compiling or freeing an expression recurses once per level).
constexpr int kMaxNesting = 256;

class GbnfParser {
 public:
  explicit GbnfParser(std::string_view text) : t_(text) {}

  Result<std::shared_ptr<const Grammar>> parse(const std::string& root) {
    skip_space();
    if (at_end()) return fail("the grammar is empty");
    while (!at_end()) {
      std::string name = identifier();
      if (name.empty()) return fail("expected a rule name");
      skip_space();
      if (t_.substr(pos_, 3) != "::=") return fail("expected '::=' after rule name '" + name + "'");
      pos_ += 3;
      uint32_t id = b_.rule(name);
      if (defined_.size() <= id) defined_.resize(id + 1, false);
      if (defined_[id]) return fail("rule '" + name + "' is defined twice");
      defined_[id] = true;
      ASSIGN_OR_RETURN(GrammarExpr body, alternatives(0));
      b_.define(id, std::move(body));
      skip_space();
    }
    if (!b_.has_rule(root)) return make_error(ErrorCode::kInvalidArgument, "the grammar has no rule '{}'", root);
    uint32_t r = b_.rule(root);
    return b_.build(r);
  }

 private:
  bool at_end() const { return pos_ >= t_.size(); }
  char peek() const { return at_end() ? '\0' : t_[pos_]; }

  Error fail(const std::string& what) const {
    size_t line = 1;
    for (size_t i = 0; i < pos_ && i < t_.size(); ++i) line += t_[i] == '\n';
    return make_error(ErrorCode::kInvalidArgument, "grammar line {}: {}", line, what);
  }

  void skip_space() {
    while (!at_end()) {
      char c = t_[pos_];
      if (c == '#') {
        while (!at_end() && t_[pos_] != '\n') ++pos_;
      } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++pos_;
      } else {
        break;
      }
    }
  }

  static bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'; }

  std::string identifier() {
    size_t start = pos_;
    while (!at_end() && name_char(t_[pos_])) ++pos_;
    return std::string(t_.substr(start, pos_ - start));
  }

  // Whether the text at pos_ starts a new rule (`name ::=`).
  bool at_rule_start() const {
    size_t p = pos_;
    while (p < t_.size() && name_char(t_[p])) ++p;
    if (p == pos_) return false;
    while (p < t_.size() && (t_[p] == ' ' || t_[p] == '\t')) ++p;
    return t_.substr(p, 3) == "::=";
  }

  Result<GrammarExpr> alternatives(int depth) {
    if (depth > kMaxNesting) return fail("groups nested too deeply");
    std::vector<GrammarExpr> alts;
    for (;;) {
      ASSIGN_OR_RETURN(GrammarExpr s, sequence(depth));
      alts.push_back(std::move(s));
      skip_space();
      if (peek() != '|') break;
      ++pos_;
    }
    return alts.size() == 1 ? std::move(alts[0]) : GrammarExpr::alt(std::move(alts));
  }

  Result<GrammarExpr> sequence(int depth) {
    std::vector<GrammarExpr> items;
    for (;;) {
      skip_space();
      if (at_end() || peek() == '|' || peek() == ')') break;
      if (depth == 0 && at_rule_start()) break;
      GrammarExpr item;
      char c = peek();
      if (c == '"') {
        ++pos_;
        std::string bytes;
        while (peek() != '"') {
          if (at_end()) return fail("unterminated string literal");
          ASSIGN_OR_RETURN(uint32_t cp, character());
          append_utf8(bytes, cp);
        }
        ++pos_;
        item = GrammarExpr::lit(bytes);
      } else if (c == '[') {
        ++pos_;
        bool negated = false;
        if (peek() == '^') {
          negated = true;
          ++pos_;
        }
        std::vector<std::pair<uint32_t, uint32_t>> ranges;
        while (peek() != ']') {
          if (at_end()) return fail("unterminated character class");
          ASSIGN_OR_RETURN(uint32_t lo, character());
          uint32_t hi = lo;
          if (peek() == '-' && pos_ + 1 < t_.size() && t_[pos_ + 1] != ']') {
            ++pos_;
            ASSIGN_OR_RETURN(hi, character());
            if (hi < lo) return fail("character range out of order");
          }
          ranges.push_back({lo, hi});
        }
        ++pos_;
        item = GrammarExpr::cls(std::move(ranges), negated);
      } else if (c == '.') {
        ++pos_;
        item = GrammarExpr::cls({}, true);
      } else if (c == '(') {
        ++pos_;
        ASSIGN_OR_RETURN(item, alternatives(depth + 1));
        skip_space();
        if (peek() != ')') return fail("expected ')'");
        ++pos_;
      } else if (name_char(c)) {
        item = GrammarExpr::ref(b_.rule(identifier()));
      } else {
        return fail(std::string("unexpected character '") + c + "'");
      }
      ASSIGN_OR_RETURN(item, postfix(std::move(item), depth));
      items.push_back(std::move(item));
    }
    return items.size() == 1 ? std::move(items[0]) : GrammarExpr::seq(std::move(items));
  }

  Result<GrammarExpr> postfix(GrammarExpr item, int depth) {
    for (int n = 0;; ++n) {
      char c = peek();
      if ((c == '*' || c == '+' || c == '?' || c == '{') && depth + n >= kMaxNesting)
        return fail("repetition operators nested too deeply");
      if (c == '*') {
        item = GrammarExpr::repeat(std::move(item), 0, GrammarExpr::kUnbounded);
      } else if (c == '+') {
        item = GrammarExpr::repeat(std::move(item), 1, GrammarExpr::kUnbounded);
      } else if (c == '?') {
        item = GrammarExpr::opt(std::move(item));
      } else if (c == '{') {
        ++pos_;
        ASSIGN_OR_RETURN(uint32_t lo, number());
        uint32_t hi = lo;
        if (peek() == ',') {
          ++pos_;
          hi = GrammarExpr::kUnbounded;
          if (peek() != '}') {
            ASSIGN_OR_RETURN(hi, number());
          }
        }
        if (peek() != '}') return fail("expected '}' to close a repetition");
        item = GrammarExpr::repeat(std::move(item), lo, hi);
      } else {
        return item;
      }
      ++pos_;
    }
  }

  Result<uint32_t> number() {
    size_t start = pos_;
    uint64_t v = 0;
    while (!at_end() && std::isdigit(static_cast<unsigned char>(t_[pos_]))) {
      v = v * 10 + static_cast<uint64_t>(t_[pos_] - '0');
      if (v > GrammarBuilder::kMaxRepeat) return fail("repetition bound is too large");
      ++pos_;
    }
    if (pos_ == start) return fail("expected a number in a repetition");
    return static_cast<uint32_t>(v);
  }

  // One character of a literal or class: an escape or one UTF-8 encoded code point.
  Result<uint32_t> character() {
    auto c = static_cast<unsigned char>(t_[pos_]);
    if (c == '\\') {
      if (pos_ + 1 >= t_.size()) return fail("dangling escape");
      char e = t_[pos_ + 1];
      pos_ += 2;
      switch (e) {
        case 'n': return uint32_t{'\n'};
        case 't': return uint32_t{'\t'};
        case 'r': return uint32_t{'\r'};
        case '\\': return uint32_t{'\\'};
        case '"': return uint32_t{'"'};
        case '[': return uint32_t{'['};
        case ']': return uint32_t{']'};
        case '-': return uint32_t{'-'};
        case '^': return uint32_t{'^'};
        case 'x': return hex(2);
        case 'u': return hex(4);
        case 'U': return hex(8);
        default: return fail(std::string("unknown escape '\\") + e + "'");
      }
    }
    // Decode one UTF-8 code point.
    int n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || pos_ + static_cast<size_t>(n) > t_.size()) return fail("invalid UTF-8 in the grammar");
    uint32_t cp = n == 1 ? c : c & (0x7F >> n);
    for (int i = 1; i < n; ++i) {
      auto b = static_cast<unsigned char>(t_[pos_ + static_cast<size_t>(i)]);
      if ((b & 0xC0) != 0x80) return fail("invalid UTF-8 in the grammar");
      cp = cp << 6 | (b & 0x3F);
    }
    pos_ += static_cast<size_t>(n);
    return cp;
  }

  Result<uint32_t> hex(int digits) {
    uint32_t v = 0;
    for (int i = 0; i < digits; ++i, ++pos_) {
      char h = peek();
      int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
      if (d < 0) return fail("bad hex escape");
      v = v << 4 | static_cast<uint32_t>(d);
    }
    if (v > 0x10FFFF) return fail("escape beyond U+10FFFF");
    return v;
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::string_view t_;
  size_t pos_ = 0;
  GrammarBuilder b_;
  std::vector<bool> defined_;
};

}  // namespace

Result<std::shared_ptr<const Grammar>> parse_gbnf(std::string_view text, const std::string& root) {
  return GbnfParser(text).parse(root);
}

}  // namespace paddock::grammar
