// template (internal): lexer and parser of the Go text/template subset. Handles {{- -}} trimming,
// {{/* comments */}}, if/else if/else, range (with $i, $v :=, else, break, continue), with/else,
// variable declaration and assignment, pipelines and parenthesized sub-pipelines.
#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <set>

#include "template/go_ast.h"
#include "util/utf8.h"

namespace paddock::chat_template::gotmpl {
namespace {

constexpr int kMaxNesting = 100;

enum class T : uint8_t { kIdent, kField, kDot, kVar, kString, kInt, kFloat, kLParen, kRParen, kPipe, kDeclare, kAssign,
                         kComma, kEnd };

struct Tok {
  T type;
  std::string text;
  Pos pos;
  bool space_before = false;
};

struct Item {  // a text run or the tokens of one action
  bool is_text;
  std::string text;
  Pos pos;
  std::vector<Tok> toks;
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

const std::set<std::string>& functions() {
  static const std::set<std::string> k = {"and", "or", "not", "len", "index", "slice", "eq", "ne", "lt", "le", "gt",
                                          "ge", "print", "printf", "println", "json", "html"};
  return k;
}

class Lexer {
 public:
  explicit Lexer(const std::string& s) : s_(s) {}

  Result<std::vector<Item>> run() {
    std::vector<Item> items;
    size_t n = s_.size();
    size_t i = 0;
    bool trim_next = false;
    while (i <= n) {
      size_t j = s_.find("{{", i);
      if (j == std::string::npos) j = n;
      std::string text = s_.substr(i, j - i);
      Pos tpos = pos_of(i);
      if (trim_next) {
        size_t k = 0;
        while (k < text.size() && is_space(text[k])) ++k;
        text.erase(0, k);
      }
      bool trim_left = j + 3 < n && s_[j + 2] == '-' && is_space(s_[j + 3]);
      if (j < n && trim_left) {
        while (!text.empty() && is_space(text.back())) text.pop_back();
      }
      if (!text.empty()) items.push_back(Item{true, std::move(text), tpos, {}});
      if (j >= n) break;
      size_t k = j + 2 + (trim_left ? 2 : 0);
      // Comment: {{/* ... */}} (with optional trim markers).
      size_t c = k;
      while (c < n && is_space(s_[c])) ++c;
      if (s_.compare(c, 2, "/*") == 0) {
        size_t e = s_.find("*/", c + 2);
        if (e == std::string::npos) return err(j, "unclosed comment");
        size_t m = e + 2;
        bool trim_right = false;
        if (s_.compare(m, 4, " -}}") == 0) {
          trim_right = true;
          m += 4;
        } else if (s_.compare(m, 2, "}}") == 0) {
          m += 2;
        } else {
          return err(j, "comment ends before closing delimiter");
        }
        trim_next = trim_right;
        i = m;
        continue;
      }
      Item action{false, "", pos_of(j), {}};
      ASSIGN_OR_RETURN(size_t end, lex_action(k, action.toks, trim_next));
      items.push_back(std::move(action));
      i = end;
    }
    return items;
  }

 private:
  Pos pos_of(size_t off) {
    if (off < off_) line_ = 1, line_start_ = 0, off_ = 0;
    while (off_ < off && off_ < s_.size()) {
      if (s_[off_] == '\n') {
        ++line_;
        line_start_ = off_ + 1;
      }
      ++off_;
    }
    return Pos{line_, static_cast<int>(off - line_start_) + 1};
  }
  Error err(size_t off, const std::string& msg) {
    Pos p = pos_of(off);
    return make_error(ErrorCode::kInvalidArgument, "template:{}:{}: {}", p.line, p.col, msg);
  }

  // Lexes tokens from i to the closing "}}"; returns the offset after it.
  Result<size_t> lex_action(size_t i, std::vector<Tok>& out, bool& trim_next) {
    size_t n = s_.size();
    int parens = 0;
    while (true) {
      bool space = false;
      while (i < n && is_space(s_[i])) {
        ++i;
        space = true;
      }
      if (i >= n) return err(i, "unclosed action");
      if (space && s_.compare(i, 3, "-}}") == 0) {
        trim_next = true;
        out.push_back(Tok{T::kEnd, "", pos_of(i), space});
        return i + 3;
      }
      if (s_.compare(i, 2, "}}") == 0) {
        if (parens > 0) return err(i, "unclosed left paren");
        trim_next = false;
        out.push_back(Tok{T::kEnd, "", pos_of(i), space});
        return i + 2;
      }
      char c = s_[i];
      size_t start = i;
      Pos p = pos_of(i);
      auto push = [&](T t, std::string text) { out.push_back(Tok{t, std::move(text), p, space}); };
      if (c == '.') {
        if (i + 1 < n && is_ident_start(s_[i + 1])) {
          ++i;
          while (i < n && is_ident_char(s_[i])) ++i;
          push(T::kField, s_.substr(start + 1, i - start - 1));
        } else if (i + 1 < n && std::isdigit(static_cast<unsigned char>(s_[i + 1]))) {
          ASSIGN_OR_RETURN(i, number(i, out, p, space));
        } else {
          ++i;
          push(T::kDot, ".");
        }
      } else if (c == '$') {
        ++i;
        while (i < n && is_ident_char(s_[i])) ++i;
        push(T::kVar, s_.substr(start, i - start));
      } else if (is_ident_start(c)) {
        while (i < n && is_ident_char(s_[i])) ++i;
        push(T::kIdent, s_.substr(start, i - start));
      } else if (std::isdigit(static_cast<unsigned char>(c)) ||
                 ((c == '-' || c == '+') && i + 1 < n && std::isdigit(static_cast<unsigned char>(s_[i + 1])))) {
        ASSIGN_OR_RETURN(i, number(i, out, p, space));
      } else if (c == '"') {
        std::string v;
        ASSIGN_OR_RETURN(i, quoted(i, v));
        push(T::kString, std::move(v));
      } else if (c == '`') {
        size_t e = s_.find('`', i + 1);
        if (e == std::string::npos) return err(i, "unterminated raw quoted string");
        push(T::kString, s_.substr(i + 1, e - i - 1));
        i = e + 1;
      } else if (c == '\'') {
        std::string v;
        ASSIGN_OR_RETURN(i, quoted(i, v));
        int len = 0;
        int32_t cp = utf8::decode(v, 0, &len);
        if (v.empty() || static_cast<size_t>(len) != v.size() || cp < 0) return err(start, "malformed character constant");
        push(T::kInt, std::to_string(cp));
      } else if (c == '(') {
        ++parens;
        ++i;
        push(T::kLParen, "(");
      } else if (c == ')') {
        if (--parens < 0) return err(i, "unexpected right paren");
        ++i;
        push(T::kRParen, ")");
      } else if (c == '|') {
        ++i;
        push(T::kPipe, "|");
      } else if (c == ',') {
        ++i;
        push(T::kComma, ",");
      } else if (c == ':' && i + 1 < n && s_[i + 1] == '=') {
        i += 2;
        push(T::kDeclare, ":=");
      } else if (c == '=') {
        ++i;
        push(T::kAssign, "=");
      } else {
        return err(i, fmt::format("unexpected \"{}\" in command", c));
      }
    }
  }

  Result<size_t> number(size_t i, std::vector<Tok>& out, Pos p, bool space) {
    size_t start = i;
    size_t n = s_.size();
    if (s_[i] == '+' || s_[i] == '-') ++i;
    bool is_float = false;
    if (s_.compare(i, 2, "0x") == 0 || s_.compare(i, 2, "0X") == 0) {
      i += 2;
      while (i < n && std::isxdigit(static_cast<unsigned char>(s_[i]))) ++i;
    } else {
      while (i < n && (std::isdigit(static_cast<unsigned char>(s_[i])) || s_[i] == '.' || s_[i] == 'e' || s_[i] == 'E' ||
                       ((s_[i] == '+' || s_[i] == '-') && (s_[i - 1] == 'e' || s_[i - 1] == 'E')))) {
        if (s_[i] == '.' || s_[i] == 'e' || s_[i] == 'E') is_float = true;
        ++i;
      }
    }
    if (i < n && is_ident_char(s_[i])) return err(start, "bad number syntax: " + s_.substr(start, i - start + 1));
    std::string text = s_.substr(start, i - start);
    out.push_back(Tok{is_float ? T::kFloat : T::kInt, text, p, space});
    return i;
  }

  Result<size_t> quoted(size_t i, std::string& out) {
    char q = s_[i];
    size_t n = s_.size();
    ++i;
    while (i < n && s_[i] != q) {
      if (s_[i] == '\n') return err(i, "unterminated quoted string");
      if (s_[i] != '\\') {
        out.push_back(s_[i++]);
        continue;
      }
      if (i + 1 >= n) break;
      char e = s_[i + 1];
      i += 2;
      switch (e) {
        case 'a': out.push_back('\a'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'v': out.push_back('\v'); break;
        case '\\': out.push_back('\\'); break;
        case '"': out.push_back('"'); break;
        case '\'': out.push_back('\''); break;
        case 'x':
        case 'u':
        case 'U': {
          size_t len = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          if (i + len > n) return err(i, "bad escape");
          uint32_t v = 0;
          for (size_t k = 0; k < len; ++k) {
            char h = s_[i + k];
            if (!std::isxdigit(static_cast<unsigned char>(h))) return err(i, "bad escape");
            v = v * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
          }
          i += len;
          if (e == 'x') out.push_back(static_cast<char>(v));
          else if (v > 0x10FFFF) return err(i, "bad escape");
          else utf8::append(out, v);
          break;
        }
        default:
          if (e >= '0' && e <= '7' && i + 1 < n) {
            int v = (e - '0') * 64 + (s_[i] - '0') * 8 + (s_[i + 1] - '0');
            if (v > 255) return err(i, "bad escape");
            out.push_back(static_cast<char>(v));
            i += 2;
            break;
          }
          return err(i - 2, std::string("unknown escape sequence \\") + e);
      }
    }
    if (i >= n) return err(i, "unterminated quoted string");
    return i + 1;
  }

  const std::string& s_;
  int line_ = 1;
  size_t line_start_ = 0;
  size_t off_ = 0;
};

class Parser {
 public:
  explicit Parser(std::vector<Item> items) : items_(std::move(items)) {}

  Result<Template> run() {
    Template t;
    tmpl_ = &t;
    std::string term;
    ASSIGN_OR_RETURN(t.root, list(&term));
    if (!term.empty()) return err(term_pos_, "unexpected {{" + term + "}}");
    return t;
  }

 private:
  Error err(const Pos& p, const std::string& msg) const {
    return make_error(ErrorCode::kInvalidArgument, "template:{}:{}: {}", p.line, p.col, msg);
  }

  // Parses nodes until {{end}} or {{else ...}}; `term` receives "end", "else", "else if", "else with" or "".
  Result<List> list(std::string* term) {
    if (++depth_ > kMaxNesting) return err(items_.empty() ? Pos{} : items_[std::min(k_, items_.size() - 1)].pos, "control structures nested too deeply");
    List out;
    *term = "";
    while (k_ < items_.size()) {
      Item& it = items_[k_++];
      if (it.is_text) {
        auto n = std::make_unique<Node>();
        n->kind = NodeKind::kText;
        n->pos = it.pos;
        n->id = tmpl_->next_id++;
        n->text = std::move(it.text);
        out.push_back(std::move(n));
        continue;
      }
      toks_ = &it.toks;
      p_ = 0;
      const Tok& first = tok();
      if (first.type == T::kIdent) {
        const std::string& w = first.text;
        if (w == "end") {
          ++p_;
          RETURN_IF_ERROR(expect_end("end"));
          *term = "end";
          term_pos_ = first.pos;
          --depth_;
          return out;
        }
        if (w == "else") {
          ++p_;
          term_pos_ = first.pos;
          if (tok().type == T::kIdent && (tok().text == "if" || tok().text == "with")) {
            *term = "else " + tok().text;
            ++p_;  // the pipeline that follows is parsed by the caller
          } else {
            RETURN_IF_ERROR(expect_end("else"));
            *term = "else";
          }
          --depth_;
          return out;
        }
        if (w == "if" || w == "range" || w == "with") {
          ++p_;
          ASSIGN_OR_RETURN(auto n, control(w == "if" ? NodeKind::kIf : w == "range" ? NodeKind::kRange : NodeKind::kWith, first.pos));
          out.push_back(std::move(n));
          continue;
        }
        if (w == "break" || w == "continue") {
          if (range_depth_ == 0) return err(first.pos, "{{" + w + "}} outside {{range}}");
          ++p_;
          RETURN_IF_ERROR(expect_end(w));
          auto n = std::make_unique<Node>();
          n->kind = w == "break" ? NodeKind::kBreak : NodeKind::kContinue;
          n->pos = first.pos;
          n->id = tmpl_->next_id++;
          out.push_back(std::move(n));
          continue;
        }
        if (w == "define" || w == "template" || w == "block")
          return err(first.pos, "{{" + w + "}} is not supported");
      }
      auto n = std::make_unique<Node>();
      n->kind = NodeKind::kAction;
      n->pos = first.pos;
      n->id = tmpl_->next_id++;
      ASSIGN_OR_RETURN(n->pipe, pipeline(true, "command"));
      if (tmpl_->response_cut < 0 && pipe_reads_response(*n->pipe)) tmpl_->response_cut = n->id;
      out.push_back(std::move(n));
    }
    --depth_;
    return out;
  }

  static bool pipe_reads_response(const Pipe& p) {
    for (const auto& c : p.cmds)
      for (const auto& a : c.args) {
        if (a.kind == ArgKind::kField && std::find(a.chain.begin(), a.chain.end(), "Response") != a.chain.end()) return true;
        if (a.kind == ArgKind::kPipe && a.chain.empty() && pipe_reads_response(*a.pipe)) return true;
      }
    return false;
  }

  // After the keyword: pipeline, body, optional else (or else if / else with), end.
  Result<std::unique_ptr<Node>> control(NodeKind kind, Pos pos) {
    auto n = std::make_unique<Node>();
    n->kind = kind;
    n->pos = pos;
    n->id = tmpl_->next_id++;
    size_t scope = vars_.size();  // variables declared here live until the matching {{end}}
    ASSIGN_OR_RETURN(n->pipe, pipeline(kind == NodeKind::kRange || kind == NodeKind::kIf || kind == NodeKind::kWith,
                                       kind == NodeKind::kIf ? "if" : kind == NodeKind::kRange ? "range" : "with"));
    if (kind == NodeKind::kRange) ++range_depth_;
    std::string term;
    ASSIGN_OR_RETURN(n->list, list(&term));
    if (kind == NodeKind::kRange) --range_depth_;
    if (term.empty()) return err(pos, "unexpected EOF: missing {{end}}");
    if (term == "else") {
      n->has_else = true;
      ASSIGN_OR_RETURN(n->else_list, list(&term));
      if (term != "end") return err(term_pos_, term.empty() ? "unexpected EOF: missing {{end}}" : "expected {{end}}");
    } else if (term == "else if" || term == "else with") {
      if ((term == "else if") != (kind == NodeKind::kIf) && !(term == "else with" && kind == NodeKind::kWith))
        return err(term_pos_, "{{" + term + "}} does not match this block");
      n->has_else = true;
      // {{else if x}} ... {{end}} is {{else}}{{if x}} ... {{end}}{{end}}: one shared {{end}}.
      ASSIGN_OR_RETURN(auto nested, control(term == "else if" ? NodeKind::kIf : NodeKind::kWith, term_pos_));
      n->else_list.push_back(std::move(nested));
    }
    vars_.resize(scope);
    return n;
  }

  const Tok& tok(size_t ahead = 0) const { return (*toks_)[std::min(p_ + ahead, toks_->size() - 1)]; }

  Status expect_end(const std::string& what) {
    if (tok().type != T::kEnd) return err(tok().pos, "unexpected \"" + tok().text + "\" in " + what);
    ++p_;
    return Status::Ok();
  }

  Result<std::unique_ptr<Pipe>> pipeline(bool allow_decl, const std::string& ctx) {
    auto pipe = std::make_unique<Pipe>();
    pipe->pos = tok().pos;
    // Declarations: $x := / $x = / $i, $v :=
    if (allow_decl && tok().type == T::kVar) {
      if (tok(1).type == T::kDeclare || tok(1).type == T::kAssign) {
        pipe->decl.push_back(tok().text);
        pipe->assign = tok(1).type == T::kAssign;
        p_ += 2;
      } else if (tok(1).type == T::kComma && tok(2).type == T::kVar &&
                 (tok(3).type == T::kDeclare || tok(3).type == T::kAssign)) {
        pipe->decl.push_back(tok().text);
        pipe->decl.push_back(tok(2).text);
        pipe->assign = tok(3).type == T::kAssign;
        p_ += 4;
      }
    }
    for (const auto& v : pipe->decl) {
      if (pipe->assign) {
        if (std::find(vars_.begin(), vars_.end(), v) == vars_.end()) return err(pipe->pos, "undefined variable: " + v);
      } else {
        vars_.push_back(v);
      }
    }
    while (true) {
      Command cmd;
      cmd.pos = tok().pos;
      while (tok().type != T::kEnd && tok().type != T::kPipe && tok().type != T::kRParen) {
        ASSIGN_OR_RETURN(Arg a, operand());
        cmd.args.push_back(std::move(a));
      }
      if (cmd.args.empty()) return err(tok().pos, "missing value for " + ctx);
      pipe->cmds.push_back(std::move(cmd));
      if (tok().type == T::kPipe) {
        ++p_;
        continue;
      }
      break;
    }
    if (toks_ && depth_paren_ == 0) RETURN_IF_ERROR(expect_end(ctx));
    return pipe;
  }

  Result<Arg> operand() {
    const Tok& t = tok();
    Arg a;
    a.pos = t.pos;
    switch (t.type) {
      case T::kField:
        a.kind = ArgKind::kField;
        a.chain.push_back(t.text);
        ++p_;
        break;
      case T::kDot:
        a.kind = ArgKind::kDot;
        ++p_;
        break;
      case T::kVar:
        a.kind = ArgKind::kVariable;
        a.name = t.text;
        if (std::find(vars_.begin(), vars_.end(), t.text) == vars_.end() && t.text != "$")
          return err(t.pos, "undefined variable \"" + t.text + "\"");
        ++p_;
        break;
      case T::kString:
        a.kind = ArgKind::kString;
        a.name = t.text;
        ++p_;
        break;
      case T::kInt: {
        a.kind = ArgKind::kInt;
        const std::string& s = t.text;
        bool hex = s.find("0x") != std::string::npos || s.find("0X") != std::string::npos;
        errno = 0;
        char* end = nullptr;
        a.i = std::strtoll(s.c_str(), &end, hex ? 16 : 10);
        if (errno != 0 || !end || *end != '\0') return err(t.pos, "bad number syntax: " + s);
        ++p_;
        break;
      }
      case T::kFloat:
        a.kind = ArgKind::kFloat;
        a.f = std::strtod(t.text.c_str(), nullptr);
        ++p_;
        break;
      case T::kIdent:
        if (t.text == "true" || t.text == "false") {
          a.kind = ArgKind::kBool;
          a.b = t.text == "true";
        } else if (t.text == "nil") {
          a.kind = ArgKind::kNil;
        } else {
          if (!functions().count(t.text)) return err(t.pos, "function \"" + t.text + "\" not defined");
          a.kind = ArgKind::kIdent;
          a.name = t.text;
        }
        ++p_;
        break;
      case T::kLParen: {
        if (++depth_ > kMaxNesting) return err(t.pos, "expression nested too deeply");
        ++p_;
        a.kind = ArgKind::kPipe;
        ++depth_paren_;
        ASSIGN_OR_RETURN(a.pipe, pipeline(false, "parenthesized pipeline"));
        --depth_paren_;
        if (tok().type != T::kRParen) return err(tok().pos, "unclosed left paren");
        ++p_;
        --depth_;
        break;
      }
      default:
        return err(t.pos, "unexpected \"" + t.text + "\" in operand");
    }
    // Field chain directly attached: .A.B, $x.A, (pipe).A
    while (tok().type == T::kField && !tok().space_before &&
           (a.kind == ArgKind::kField || a.kind == ArgKind::kVariable || a.kind == ArgKind::kPipe || a.kind == ArgKind::kDot)) {
      if (a.kind == ArgKind::kDot) a.kind = ArgKind::kField;
      a.chain.push_back(tok().text);
      ++p_;
    }
    if (a.kind == ArgKind::kField || a.kind == ArgKind::kVariable) {
      for (const auto& f : a.chain) {  // Ollama's Vars(): identifiers compared lower-cased
        std::string l = f;
        for (char& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (l == "messages" || l == "document") tmpl_->uses_messages = true;
        if (l == "response") tmpl_->uses_response = true;
      }
    }
    return a;
  }

  std::vector<Item> items_;
  size_t k_ = 0;
  std::vector<Tok>* toks_ = nullptr;
  size_t p_ = 0;
  Template* tmpl_ = nullptr;
  std::vector<std::string> vars_{"$"};
  int depth_ = 0;
  int depth_paren_ = 0;
  int range_depth_ = 0;
  Pos term_pos_;
};

}  // namespace

Result<Template> parse(const std::string& source) {
  ASSIGN_OR_RETURN(auto items, Lexer(source).run());
  return Parser(std::move(items)).run();
}

}  // namespace paddock::chat_template::gotmpl

namespace paddock::chat_template::gotmpl {

void append_response_action(Template& t) {
  auto n = std::make_unique<Node>();
  n->kind = NodeKind::kAction;
  n->id = t.next_id++;
  n->pipe = std::make_unique<Pipe>();
  Command c;
  Arg a;
  a.kind = ArgKind::kField;
  a.chain.push_back("Response");
  c.args.push_back(std::move(a));
  n->pipe->cmds.push_back(std::move(c));
  if (t.response_cut < 0) t.response_cut = n->id;
  t.uses_response = true;
  t.root.push_back(std::move(n));
}

}  // namespace paddock::chat_template::gotmpl
