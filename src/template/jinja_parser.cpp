// template (internal): recursive-descent parser for the Jinja subset, with Jinja2's operator
// precedence (filters and tests bind tighter than arithmetic; `~` between + and *). Nesting is
// bounded so a hostile template cannot overflow the stack.
#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "template/jinja_ast.h"

namespace paddock::chat_template::jinja {
namespace {

constexpr int kMaxNesting = 200;
// Height of an expression tree. Chains (a.b.c, x|f|g, 1+1+1) are built by loops, not recursion,
// so nesting alone does not bound them; evaluating or freeing a tree recurses once per level.
constexpr int kMaxExprHeight = 256;

class Parser {
 public:
  explicit Parser(std::vector<Token> t) : t_(std::move(t)) {}

  Result<Body> program() {
    std::string end;
    ASSIGN_OR_RETURN(Body b, body({}, &end));
    return b;
  }

 private:
  const Token& peek(size_t k = 0) const { return t_[std::min(p_ + k, t_.size() - 1)]; }
  const Token& next() { const Token& t = t_[p_]; if (p_ + 1 < t_.size()) ++p_; return t; }
  bool is_op(const char* op, size_t k = 0) const { return peek(k).type == Tok::kOp && peek(k).text == op; }
  bool is_name(const char* n, size_t k = 0) const { return peek(k).type == Tok::kName && peek(k).text == n; }

  Error err(const Pos& p, const std::string& msg) const {
    return make_error(ErrorCode::kInvalidArgument, "template:{}:{}: {}", p.line, p.col, msg);
  }
  Error unexpected(const std::string& expected) const {
    const Token& t = peek();
    std::string got = t.type == Tok::kEnd ? "end of template"
                      : t.type == Tok::kCloseStmt ? "'%}'" : t.type == Tok::kCloseExpr ? "'}}'"
                      : "'" + t.text + "'";
    return err(t.pos, "expected " + expected + ", got " + got);
  }
  Status expect_op(const char* op) {
    if (!is_op(op)) return unexpected(std::string("'") + op + "'");
    next();
    return Status::Ok();
  }
  Status expect_close_stmt() {
    if (peek().type != Tok::kCloseStmt) return unexpected("'%}'");
    next();
    return Status::Ok();
  }
  Result<std::string> expect_name(const char* what) {
    if (peek().type != Tok::kName) return unexpected(what);
    return next().text;
  }

  // Parses nodes until a statement whose keyword is in `ends` (consumed: "{%" and the keyword).
  Result<Body> body(const std::vector<std::string>& ends, std::string* which) {
    if (++depth_ > kMaxNesting) return err(peek().pos, "blocks nested too deeply");
    Body out;
    while (true) {
      const Token& t = peek();
      if (t.type == Tok::kEnd) {
        if (!ends.empty()) return err(t.pos, "unexpected end of template, expected '{% " + ends.back() + " %}'");
        break;
      }
      if (t.type == Tok::kText) {
        auto n = std::make_unique<Node>();
        n->kind = NodeKind::kText;
        n->pos = t.pos;
        n->text = t.text;
        next();
        out.push_back(std::move(n));
        continue;
      }
      if (t.type == Tok::kOpenExpr) {
        auto n = std::make_unique<Node>();
        n->kind = NodeKind::kOutput;
        n->pos = t.pos;
        next();
        ASSIGN_OR_RETURN(n->expr, expr());
        if (peek().type != Tok::kCloseExpr) return unexpected("'}}'");
        next();
        out.push_back(std::move(n));
        continue;
      }
      if (t.type != Tok::kOpenStmt) return unexpected("text, '{{' or '{%'");
      const Token& kw = peek(1);
      if (kw.type != Tok::kName) {
        next();
        return unexpected("a statement keyword");
      }
      if (std::find(ends.begin(), ends.end(), kw.text) != ends.end()) {
        next();
        next();
        *which = kw.text;
        --depth_;
        return out;
      }
      next();
      ASSIGN_OR_RETURN(NodePtr n, statement());
      if (n) {
        out.push_back(std::move(n));
      }
    }
    --depth_;
    return out;
  }

  Result<NodePtr> statement() {
    const Token kw = next();
    auto n = std::make_unique<Node>();
    n->pos = kw.pos;
    const std::string& k = kw.text;
    if (k == "if") {
      n->kind = NodeKind::kIf;
      std::string which = "elif";
      while (which == "elif") {
        ASSIGN_OR_RETURN(ExprPtr c, expr());
        RETURN_IF_ERROR(expect_close_stmt());
        ASSIGN_OR_RETURN(Body b, body({"elif", "else", "endif"}, &which));
        n->branches.emplace_back(std::move(c), std::move(b));
      }
      if (which == "else") {
        RETURN_IF_ERROR(expect_close_stmt());
        ASSIGN_OR_RETURN(n->else_body, body({"endif"}, &which));
      }
      RETURN_IF_ERROR(expect_close_stmt());
      return n;
    }
    if (k == "for") {
      n->kind = NodeKind::kFor;
      bool paren = is_op("(");
      if (paren) next();
      while (true) {
        ASSIGN_OR_RETURN(std::string name, expect_name("a loop variable"));
        n->targets.push_back(name);
        if (!is_op(",")) break;
        next();
      }
      if (paren) RETURN_IF_ERROR(expect_op(")"));
      if (!is_name("in")) return unexpected("'in'");
      next();
      ASSIGN_OR_RETURN(n->expr, or_expr());
      if (is_name("if")) {
        next();
        ASSIGN_OR_RETURN(n->cond, or_expr());
      }
      if (is_name("recursive")) return err(peek().pos, "recursive loops are not supported");
      RETURN_IF_ERROR(expect_close_stmt());
      std::string which;
      ASSIGN_OR_RETURN(n->body, body({"else", "endfor"}, &which));
      if (which == "else") {
        RETURN_IF_ERROR(expect_close_stmt());
        ASSIGN_OR_RETURN(n->else_body, body({"endfor"}, &which));
      }
      RETURN_IF_ERROR(expect_close_stmt());
      return n;
    }
    if (k == "set") {
      n->kind = NodeKind::kSet;
      ASSIGN_OR_RETURN(std::string name, expect_name("a variable name"));
      n->targets.push_back(name);
      if (is_op(".")) {
        next();
        ASSIGN_OR_RETURN(n->text, expect_name("an attribute name"));
      } else {
        while (is_op(",")) {
          next();
          ASSIGN_OR_RETURN(std::string more, expect_name("a variable name"));
          n->targets.push_back(more);
        }
      }
      if (is_op("=")) {
        next();
        ASSIGN_OR_RETURN(n->expr, tuple_or_expr());
        RETURN_IF_ERROR(expect_close_stmt());
        return n;
      }
      if (n->targets.size() != 1 || !n->text.empty()) return unexpected("'='");
      RETURN_IF_ERROR(expect_close_stmt());
      n->block_set = true;
      std::string which;
      ASSIGN_OR_RETURN(n->body, body({"endset"}, &which));
      RETURN_IF_ERROR(expect_close_stmt());
      return n;
    }
    if (k == "macro") {
      n->kind = NodeKind::kMacro;
      ASSIGN_OR_RETURN(n->text, expect_name("a macro name"));
      RETURN_IF_ERROR(params(n->params));
      RETURN_IF_ERROR(expect_close_stmt());
      std::string which;
      ASSIGN_OR_RETURN(n->body, body({"endmacro"}, &which));
      RETURN_IF_ERROR(expect_close_stmt());
      return n;
    }
    if (k == "call") {
      n->kind = NodeKind::kCallBlock;
      if (is_op("(")) RETURN_IF_ERROR(params(n->params));
      ASSIGN_OR_RETURN(n->expr, expr());
      if (n->expr->kind != ExprKind::kCall) return err(n->expr->pos, "{% call %} needs a macro call");
      RETURN_IF_ERROR(expect_close_stmt());
      std::string which;
      ASSIGN_OR_RETURN(n->body, body({"endcall"}, &which));
      RETURN_IF_ERROR(expect_close_stmt());
      return n;
    }
    if (k == "filter") {
      n->kind = NodeKind::kFilterBlock;
      ASSIGN_OR_RETURN(n->text, expect_name("a filter name"));
      if (!is_known_filter(n->text)) return err(kw.pos, "unknown filter '" + n->text + "'");
      auto holder = std::make_unique<Expr>();
      if (is_op("(")) RETURN_IF_ERROR(call_args(*holder));
      n->expr = std::move(holder);
      RETURN_IF_ERROR(expect_close_stmt());
      std::string which;
      ASSIGN_OR_RETURN(n->body, body({"endfilter"}, &which));
      RETURN_IF_ERROR(expect_close_stmt());
      return n;
    }
    if (k == "break" || k == "continue") {
      n->kind = k == "break" ? NodeKind::kBreak : NodeKind::kContinue;
      RETURN_IF_ERROR(expect_close_stmt());
      return n;
    }
    if (k == "generation") {  // HF's assistant-mask marker: renders its body unchanged
      RETURN_IF_ERROR(expect_close_stmt());
      std::string which;
      ASSIGN_OR_RETURN(Body b, body({"endgeneration"}, &which));
      RETURN_IF_ERROR(expect_close_stmt());
      n->kind = NodeKind::kIf;
      auto t = std::make_unique<Expr>();
      t->kind = ExprKind::kLiteral;
      t->value = Value::boolean(true);
      n->branches.emplace_back(std::move(t), std::move(b));
      return n;
    }
    static const char* kEnders[] = {"elif", "else", "endif", "endfor", "endset", "endmacro", "endcall",
                                    "endfilter", "endgeneration"};
    for (const char* e : kEnders)
      if (k == e) return err(kw.pos, "unexpected '{% " + k + " %}'");
    return err(kw.pos, "unsupported statement '" + k + "'");
  }

  Status params(std::vector<std::pair<std::string, ExprPtr>>& out) {
    RETURN_IF_ERROR(expect_op("("));
    while (!is_op(")")) {
      ASSIGN_OR_RETURN(std::string name, expect_name("a parameter name"));
      ExprPtr def;
      if (is_op("=")) {
        next();
        ASSIGN_OR_RETURN(def, expr());
      }
      out.emplace_back(name, std::move(def));
      if (!is_op(",")) break;
      next();
    }
    return expect_op(")");
  }

  // ---- expressions ----
  Result<ExprPtr> tuple_or_expr() {
    Pos pos = peek().pos;
    ASSIGN_OR_RETURN(ExprPtr first, expr());
    if (!is_op(",")) return first;
    auto t = make(ExprKind::kTuple, pos);
    t->items.push_back(std::move(first));
    while (is_op(",")) {
      next();
      ASSIGN_OR_RETURN(ExprPtr e, expr());
      t->items.push_back(std::move(e));
    }
    return sealed(std::move(t));
  }

  static ExprPtr make(ExprKind k, Pos p) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->pos = p;
    return e;
  }

  // Records e's height from its children's; past kMaxExprHeight is an error.
  Result<ExprPtr> sealed(ExprPtr e) {
    int h = 0;
    for (const ExprPtr* c : {&e->a, &e->b, &e->c, &e->d})
      if (*c) h = std::max(h, (*c)->height);
    for (const auto& x : e->items) h = std::max(h, x->height);
    for (const auto& x : e->keys) h = std::max(h, x->height);
    for (const auto& kv : e->kwargs) h = std::max(h, kv.second->height);
    e->height = h + 1;
    if (e->height > kMaxExprHeight)
      return err(e->pos, "expression nested too deeply (more than " + std::to_string(kMaxExprHeight) + " levels)");
    return e;
  }

  struct DepthGuard {
    int& d;
    explicit DepthGuard(int& x) : d(x) { ++d; }
    ~DepthGuard() { --d; }
  };

  Result<ExprPtr> expr() {
    DepthGuard g(depth_);
    if (depth_ > kMaxNesting) return err(peek().pos, "expression nested too deeply");
    Pos pos = peek().pos;
    ASSIGN_OR_RETURN(ExprPtr then, or_expr());
    if (!is_name("if")) return then;
    next();
    auto t = make(ExprKind::kTernary, pos);
    t->a = std::move(then);
    ASSIGN_OR_RETURN(t->b, or_expr());
    if (is_name("else")) {
      next();
      ASSIGN_OR_RETURN(t->c, expr());
    }
    return sealed(std::move(t));
  }

  Result<ExprPtr> binary(ExprPtr l, const std::string& op, ExprPtr r, Pos pos) {
    auto b = make(ExprKind::kBinary, pos);
    b->name = op;
    b->a = std::move(l);
    b->b = std::move(r);
    return sealed(std::move(b));
  }

  Result<ExprPtr> or_expr() {
    ASSIGN_OR_RETURN(ExprPtr l, and_expr());
    while (is_name("or")) {
      Pos pos = next().pos;
      ASSIGN_OR_RETURN(ExprPtr r, and_expr());
      ASSIGN_OR_RETURN(l, binary(std::move(l), "or", std::move(r), pos));
    }
    return l;
  }
  Result<ExprPtr> and_expr() {
    ASSIGN_OR_RETURN(ExprPtr l, not_expr());
    while (is_name("and")) {
      Pos pos = next().pos;
      ASSIGN_OR_RETURN(ExprPtr r, not_expr());
      ASSIGN_OR_RETURN(l, binary(std::move(l), "and", std::move(r), pos));
    }
    return l;
  }
  Result<ExprPtr> not_expr() {
    if (is_name("not")) {
      DepthGuard g(depth_);
      if (depth_ > kMaxNesting) return err(peek().pos, "expression nested too deeply");
      auto u = make(ExprKind::kUnary, next().pos);
      u->name = "not";
      ASSIGN_OR_RETURN(u->a, not_expr());
      return sealed(std::move(u));
    }
    return compare();
  }
  Result<ExprPtr> compare() {
    ASSIGN_OR_RETURN(ExprPtr l, math1());
    while (true) {
      Pos pos = peek().pos;
      std::string op;
      if (peek().type == Tok::kOp && (peek().text == "==" || peek().text == "!=" || peek().text == "<" ||
                                      peek().text == ">" || peek().text == "<=" || peek().text == ">=")) {
        op = next().text;
      } else if (is_name("in")) {
        next();
        op = "in";
      } else if (is_name("not") && is_name("in", 1)) {
        next();
        next();
        op = "notin";
      } else {
        break;
      }
      ASSIGN_OR_RETURN(ExprPtr r, math1());
      ASSIGN_OR_RETURN(l, binary(std::move(l), op, std::move(r), pos));
    }
    return l;
  }
  Result<ExprPtr> math1() {
    ASSIGN_OR_RETURN(ExprPtr l, concat());
    while (is_op("+") || is_op("-")) {
      const Token& t = next();
      ASSIGN_OR_RETURN(ExprPtr r, concat());
      ASSIGN_OR_RETURN(l, binary(std::move(l), t.text, std::move(r), t.pos));
    }
    return l;
  }
  Result<ExprPtr> concat() {
    ASSIGN_OR_RETURN(ExprPtr l, math2());
    while (is_op("~")) {
      const Token& t = next();
      ASSIGN_OR_RETURN(ExprPtr r, math2());
      ASSIGN_OR_RETURN(l, binary(std::move(l), "~", std::move(r), t.pos));
    }
    return l;
  }
  Result<ExprPtr> math2() {
    ASSIGN_OR_RETURN(ExprPtr l, pow_expr());
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& t = next();
      ASSIGN_OR_RETURN(ExprPtr r, pow_expr());
      ASSIGN_OR_RETURN(l, binary(std::move(l), t.text, std::move(r), t.pos));
    }
    return l;
  }
  Result<ExprPtr> pow_expr() {
    ASSIGN_OR_RETURN(ExprPtr l, unary(true));
    while (is_op("**")) {
      const Token& t = next();
      ASSIGN_OR_RETURN(ExprPtr r, unary(true));
      ASSIGN_OR_RETURN(l, binary(std::move(l), "**", std::move(r), t.pos));
    }
    return l;
  }
  Result<ExprPtr> unary(bool with_filter) {
    DepthGuard g(depth_);
    if (depth_ > kMaxNesting) return err(peek().pos, "expression nested too deeply");
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      const Token& t = next();
      auto u = make(ExprKind::kUnary, t.pos);
      u->name = t.text;
      ASSIGN_OR_RETURN(u->a, unary(false));
      ASSIGN_OR_RETURN(node, sealed(std::move(u)));
    } else {
      ASSIGN_OR_RETURN(node, primary());
      ASSIGN_OR_RETURN(node, postfix(std::move(node)));
    }
    if (with_filter) return filter_chain(std::move(node));
    return node;
  }

  Status call_args(Expr& target) {
    RETURN_IF_ERROR(expect_op("("));
    while (!is_op(")")) {
      if (peek().type == Tok::kName && is_op("=", 1)) {
        std::string name = next().text;
        next();
        ASSIGN_OR_RETURN(ExprPtr v, expr());
        target.kwargs.emplace_back(name, std::move(v));
      } else {
        if (!target.kwargs.empty()) return err(peek().pos, "positional argument after keyword argument");
        ASSIGN_OR_RETURN(ExprPtr v, expr());
        target.items.push_back(std::move(v));
      }
      if (!is_op(",")) break;
      next();
    }
    return expect_op(")");
  }

  Result<ExprPtr> postfix(ExprPtr node) {
    while (true) {
      if (is_op(".")) {
        Pos pos = next().pos;
        auto a = make(ExprKind::kAttr, pos);
        if (peek().type == Tok::kName) {
          a->name = next().text;
        } else if (peek().type == Tok::kInt) {  // foo.0 is foo[0] in Jinja
          a->kind = ExprKind::kIndex;
          a->b = make(ExprKind::kLiteral, peek().pos);
          a->b->value = Value::integer(std::atoll(next().text.c_str()));
        } else {
          return unexpected("an attribute name");
        }
        a->a = std::move(node);
        ASSIGN_OR_RETURN(node, sealed(std::move(a)));
      } else if (is_op("[")) {
        Pos pos = next().pos;
        ExprPtr parts[3];
        int n_parts = 0;
        bool is_slice = false;
        while (true) {
          if (is_op(":")) {
            is_slice = true;
            next();
            if (++n_parts > 2) return err(pos, "too many ':' in slice");
            continue;
          }
          if (is_op("]")) break;
          if (parts[n_parts]) return unexpected("']'");
          ASSIGN_OR_RETURN(parts[n_parts], expr());
        }
        next();
        if (!is_slice) {
          if (!parts[0]) return err(pos, "empty subscript");
          auto a = make(ExprKind::kIndex, pos);
          a->a = std::move(node);
          a->b = std::move(parts[0]);
          ASSIGN_OR_RETURN(node, sealed(std::move(a)));
        } else {
          auto a = make(ExprKind::kSlice, pos);
          a->a = std::move(node);
          a->b = std::move(parts[0]);
          a->c = std::move(parts[1]);
          a->d = std::move(parts[2]);
          ASSIGN_OR_RETURN(node, sealed(std::move(a)));
        }
      } else if (is_op("(")) {
        auto c = make(ExprKind::kCall, peek().pos);
        RETURN_IF_ERROR(call_args(*c));
        c->a = std::move(node);
        ASSIGN_OR_RETURN(node, sealed(std::move(c)));
      } else {
        return node;
      }
    }
  }

  Result<ExprPtr> filter_chain(ExprPtr node) {
    while (true) {
      if (is_op("|")) {
        next();
        Pos pos = peek().pos;
        ASSIGN_OR_RETURN(std::string name, expect_name("a filter name"));
        if (!is_known_filter(name)) return err(pos, "unknown filter '" + name + "'");
        auto f = make(ExprKind::kFilter, pos);
        f->name = name;
        f->a = std::move(node);
        if (is_op("(")) RETURN_IF_ERROR(call_args(*f));
        ASSIGN_OR_RETURN(node, sealed(std::move(f)));
      } else if (is_name("is")) {
        next();
        auto t = make(ExprKind::kTest, peek().pos);
        if (is_name("not")) {
          next();
          t->negate = true;
        }
        Pos pos = peek().pos;
        std::string name;
        if (peek().type == Tok::kName) {
          name = next().text;
        } else if (is_op("==") || is_op("!=") || is_op("<") || is_op(">") || is_op("<=") || is_op(">=")) {
          name = next().text;  // `x is == 3` is odd but legal in Jinja: aliases of eq/ne/...
        } else {
          return unexpected("a test name");
        }
        if (!is_known_test(name)) return err(pos, "unknown test '" + name + "'");
        t->name = name;
        t->a = std::move(node);
        if (is_op("(")) {
          RETURN_IF_ERROR(call_args(*t));
        } else if (peek().type == Tok::kString || peek().type == Tok::kInt || peek().type == Tok::kFloat ||
                   is_op("[") || is_op("{") ||
                   (peek().type == Tok::kName && !is_name("and") && !is_name("or") && !is_name("else") &&
                    !is_name("if") && !is_name("in") && !is_name("not") && !is_name("is"))) {
          ASSIGN_OR_RETURN(ExprPtr arg, primary());
          ASSIGN_OR_RETURN(arg, postfix(std::move(arg)));
          t->items.push_back(std::move(arg));
        }
        ASSIGN_OR_RETURN(node, sealed(std::move(t)));
      } else {
        return node;
      }
    }
  }

  Result<ExprPtr> primary() {
    const Token& t = peek();
    switch (t.type) {
      case Tok::kString: {
        auto e = make(ExprKind::kLiteral, t.pos);
        std::string s = next().text;
        while (peek().type == Tok::kString) s += next().text;  // adjacent literals concatenate
        e->value = Value::str(std::move(s));
        return e;
      }
      case Tok::kInt: {
        auto e = make(ExprKind::kLiteral, t.pos);
        int64_t v = 0;
        const std::string& s = t.text;
        auto r = std::from_chars(s.data(), s.data() + s.size(), v);
        e->value = r.ec == std::errc() ? Value::integer(v) : Value::real(std::strtod(s.c_str(), nullptr));
        next();
        return e;
      }
      case Tok::kFloat: {
        auto e = make(ExprKind::kLiteral, t.pos);
        e->value = Value::real(std::strtod(t.text.c_str(), nullptr));
        next();
        return e;
      }
      case Tok::kName: {
        const std::string& n = t.text;
        auto e = make(ExprKind::kLiteral, t.pos);
        if (n == "true" || n == "True") e->value = Value::boolean(true);
        else if (n == "false" || n == "False") e->value = Value::boolean(false);
        else if (n == "none" || n == "None") e->value = Value::none();
        else {
          e->kind = ExprKind::kName;
          e->name = n;
        }
        next();
        return e;
      }
      case Tok::kOp: {
        if (t.text == "(") {
          Pos pos = next().pos;
          if (is_op(")")) {
            next();
            return make(ExprKind::kTuple, pos);
          }
          ASSIGN_OR_RETURN(ExprPtr inner, expr());
          if (is_op(",")) {
            auto tup = make(ExprKind::kTuple, pos);
            tup->items.push_back(std::move(inner));
            while (is_op(",")) {
              next();
              if (is_op(")")) break;
              ASSIGN_OR_RETURN(ExprPtr e, expr());
              tup->items.push_back(std::move(e));
            }
            ASSIGN_OR_RETURN(inner, sealed(std::move(tup)));
          }
          RETURN_IF_ERROR(expect_op(")"));
          return inner;
        }
        if (t.text == "[") {
          auto l = make(ExprKind::kList, next().pos);
          while (!is_op("]")) {
            ASSIGN_OR_RETURN(ExprPtr e, expr());
            l->items.push_back(std::move(e));
            if (!is_op(",")) break;
            next();
          }
          RETURN_IF_ERROR(expect_op("]"));
          return sealed(std::move(l));
        }
        if (t.text == "{") {
          auto d = make(ExprKind::kDict, next().pos);
          while (!is_op("}")) {
            ASSIGN_OR_RETURN(ExprPtr k, expr());
            RETURN_IF_ERROR(expect_op(":"));
            ASSIGN_OR_RETURN(ExprPtr v, expr());
            d->keys.push_back(std::move(k));
            d->items.push_back(std::move(v));
            if (!is_op(",")) break;
            next();
          }
          RETURN_IF_ERROR(expect_op("}"));
          return sealed(std::move(d));
        }
        break;
      }
      default: break;
    }
    return unexpected("an expression");
  }

  std::vector<Token> t_;
  size_t p_ = 0;
  int depth_ = 0;
};

}  // namespace

Result<Body> parse(std::vector<Token> tokens) { return Parser(std::move(tokens)).program(); }

}  // namespace paddock::chat_template::jinja
