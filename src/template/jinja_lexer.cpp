// template (internal): Jinja lexer. Splits a template into text and tag tokens, applying the
// whitespace rules (a trailing newline dropped, trim_blocks, lstrip_blocks, {%- -%} {{- -}} {#- -#})
// on the original text so that every token keeps its true line:column.
#include "util/utf8.h"
#include <cctype>
#include <cstring>

#include "template/jinja_ast.h"

namespace paddock::chat_template::jinja {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

class Lexer {
 public:
  Lexer(const std::string& src, const LexOptions& opts) : src_(src), opts_(opts) {
    if (!src_.empty() && src_.back() == '\n') src_.pop_back();
  }

  Result<std::vector<Token>> run() {
    size_t n = src_.size();
    while (i_ < n) {
      size_t j = find_tag(i_);
      size_t text_end = j;
      if (j < n && opts_.lstrip_blocks && (src_[j + 1] == '%' || src_[j + 1] == '#')) {
        size_t k = j;
        while (k > i_ && (src_[k - 1] == ' ' || src_[k - 1] == '\t')) --k;
        if (k == 0 || src_[k - 1] == '\n') text_end = k;
      }
      if (text_end > i_) push(Tok::kText, src_.substr(i_, text_end - i_), i_);
      if (j >= n) break;
      if (src_[j + 1] == '#') {
        RETURN_IF_ERROR(comment(j));
      } else {
        RETURN_IF_ERROR(tag(j));
      }
    }
    tokens_.push_back(Token{Tok::kEnd, "", pos_of(n)});
    return std::move(tokens_);
  }

 private:
  size_t find_tag(size_t from) const {
    for (size_t k = from; k + 1 < src_.size(); ++k)
      if (src_[k] == '{' && (src_[k + 1] == '{' || src_[k + 1] == '%' || src_[k + 1] == '#')) return k;
    return src_.size();
  }

  Pos pos_of(size_t off) {
    // Positions are mostly requested in increasing order, so advance incrementally.
    if (off < line_off_) line_ = 1, line_start_ = 0, line_off_ = 0;
    while (line_off_ < off && line_off_ < src_.size()) {
      if (src_[line_off_] == '\n') {
        ++line_;
        line_start_ = line_off_ + 1;
      }
      ++line_off_;
    }
    return Pos{line_, static_cast<int>(off - line_start_) + 1};
  }

  void push(Tok t, std::string text, size_t off) { tokens_.push_back(Token{t, std::move(text), pos_of(off)}); }

  void strip_previous_text() {
    if (tokens_.empty() || tokens_.back().type != Tok::kText) return;
    std::string& t = tokens_.back().text;
    while (!t.empty() && is_space(t.back())) t.pop_back();
    if (t.empty()) tokens_.pop_back();
  }

  Error err(size_t off, const std::string& msg) {
    Pos p = pos_of(off);
    return make_error(ErrorCode::kInvalidArgument, "template:{}:{}: {}", p.line, p.col, msg);
  }

  Status comment(size_t j) {
    size_t e = src_.find("#}", j + 2);
    if (e == std::string::npos) return err(j, "unclosed comment");
    if (src_[j + 2] == '-') strip_previous_text();
    bool strip_after = e > j + 2 && src_[e - 1] == '-';
    i_ = e + 2;
    after_close(strip_after, true);
    return Status::Ok();
  }

  void after_close(bool strip_after, bool block) {
    if (strip_after) {
      while (i_ < src_.size() && is_space(src_[i_])) ++i_;
    } else if (block && opts_.trim_blocks && i_ < src_.size() && src_[i_] == '\n') {
      ++i_;
    }
  }

  Status tag(size_t j) {
    bool stmt = src_[j + 1] == '%';
    if (src_[j + 2] == '-') strip_previous_text();
    push(stmt ? Tok::kOpenStmt : Tok::kOpenExpr, stmt ? "{%" : "{{", j);
    i_ = j + 2 + (src_[j + 2] == '-' ? 1 : 0);
    int depth = 0;  // bracket depth, so "}}" inside a dict literal is not the end
    size_t n = src_.size();
    while (true) {
      while (i_ < n && is_space(src_[i_])) ++i_;
      if (i_ >= n) return err(j, stmt ? "unclosed '{%' tag" : "unclosed '{{' expression");
      const char* close = stmt ? "%}" : "}}";
      if (src_[i_] == '-' && src_.compare(i_ + 1, 2, close) == 0 && (stmt || depth == 0)) {
        push(stmt ? Tok::kCloseStmt : Tok::kCloseExpr, close, i_);
        i_ += 3;
        after_close(true, stmt);
        return Status::Ok();
      }
      if (src_.compare(i_, 2, close) == 0 && (stmt || depth == 0)) {
        push(stmt ? Tok::kCloseStmt : Tok::kCloseExpr, close, i_);
        i_ += 2;
        after_close(false, stmt);
        return Status::Ok();
      }
      char c = src_[i_];
      size_t start = i_;
      if (is_name_start(c)) {
        while (i_ < n && is_name_char(src_[i_])) ++i_;
        push(Tok::kName, src_.substr(start, i_ - start), start);
      } else if (is_digit(c)) {
        while (i_ < n && is_digit(src_[i_])) ++i_;
        bool is_float = false;
        bool after_dot = !tokens_.empty() && tokens_.back().type == Tok::kOp && tokens_.back().text == ".";
        if (!after_dot && i_ + 1 < n && src_[i_] == '.' && is_digit(src_[i_ + 1])) {
          is_float = true;
          ++i_;
          while (i_ < n && is_digit(src_[i_])) ++i_;
        }
        if (!after_dot && i_ < n && (src_[i_] == 'e' || src_[i_] == 'E')) {
          size_t k = i_ + 1;
          if (k < n && (src_[k] == '+' || src_[k] == '-')) ++k;
          if (k < n && is_digit(src_[k])) {
            is_float = true;
            i_ = k;
            while (i_ < n && is_digit(src_[i_])) ++i_;
          }
        }
        push(is_float ? Tok::kFloat : Tok::kInt, src_.substr(start, i_ - start), start);
      } else if (c == '\'' || c == '"') {
        std::string s;
        RETURN_IF_ERROR(string_literal(c, s));
        push(Tok::kString, std::move(s), start);
      } else {
        static const char* kOps2[] = {"//", "**", "==", "!=", "<=", ">="};
        bool matched = false;
        for (const char* op : kOps2) {
          if (src_.compare(i_, 2, op) == 0) {
            push(Tok::kOp, op, start);
            i_ += 2;
            matched = true;
            break;
          }
        }
        if (matched) continue;
        if (std::strchr("+-*/%~<>=()[]{},.:|", c) == nullptr || c == '\0')
          return err(i_, fmt::format("unexpected character '{}'", c));
        if (c == '(' || c == '[' || c == '{') ++depth;
        if (c == ')' || c == ']' || c == '}') --depth;
        push(Tok::kOp, std::string(1, c), start);
        ++i_;
      }
    }
  }

  Status string_literal(char quote, std::string& out) {
    size_t start = i_;
    ++i_;
    size_t n = src_.size();
    while (i_ < n && src_[i_] != quote) {
      char c = src_[i_];
      if (c != '\\') {
        out.push_back(c);
        ++i_;
        continue;
      }
      if (i_ + 1 >= n) break;
      char e = src_[i_ + 1];
      i_ += 2;
      switch (e) {
        case 'n': out.push_back('\n'); break;
        case 't': out.push_back('\t'); break;
        case 'r': out.push_back('\r'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'v': out.push_back('\v'); break;
        case 'a': out.push_back('\a'); break;
        case '0': out.push_back('\0'); break;
        case '\\': out.push_back('\\'); break;
        case '\'': out.push_back('\''); break;
        case '"': out.push_back('"'); break;
        case '\n': break;  // line continuation
        case 'x':
        case 'u':
        case 'U': {
          size_t len = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
          if (i_ + len > n) return err(i_ - 2, "bad escape in string literal");
          uint32_t cp = 0;
          for (size_t k = 0; k < len; ++k) {
            char h = src_[i_ + k];
            int d = is_digit(h) ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
            if (d < 0) return err(i_ - 2, "bad escape in string literal");
            cp = cp * 16 + static_cast<uint32_t>(d);
          }
          if (cp > 0x10FFFF) return err(i_ - 2, "bad escape in string literal");
          i_ += len;
          utf8::append(out, cp);
          break;
        }
        default:  // Python keeps unknown escapes verbatim
          out.push_back('\\');
          out.push_back(e);
      }
    }
    if (i_ >= n) return err(start, "unterminated string literal");
    ++i_;
    return Status::Ok();
  }

  std::string src_;
  LexOptions opts_;
  size_t i_ = 0;
  std::vector<Token> tokens_;
  int line_ = 1;
  size_t line_start_ = 0;
  size_t line_off_ = 0;
};

}  // namespace

Result<std::vector<Token>> lex(const std::string& source, const LexOptions& opts) {
  return Lexer(source, opts).run();
}

}  // namespace paddock::chat_template::jinja
