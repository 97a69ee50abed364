// template (internal): tokens and syntax tree of the Jinja subset, shared by the lexer, parser
// and interpreter. Every node keeps its source position so errors can name line:column.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "template/jinja_value.h"
#include "util/status.h"

namespace paddock::chat_template::jinja {

struct Pos {
  int line = 1;
  int col = 1;
};

enum class Tok : uint8_t {
  kText,        // literal template text
  kOpenExpr,    // {{
  kCloseExpr,   // }}
  kOpenStmt,    // {%
  kCloseStmt,   // %}
  kName,
  kString,
  kInt,
  kFloat,
  kOp,          // operators and punctuation: + - * / // % ** ~ == != < > <= >= = ( ) [ ] { } , . : |
  kEnd,
};

struct Token {
  Tok type;
  std::string text;
  Pos pos;
};

struct LexOptions {
  bool trim_blocks = true;   // as Hugging Face and transformers.js configure Jinja
  bool lstrip_blocks = true;
};

Result<std::vector<Token>> lex(const std::string& source, const LexOptions& opts = {});

// ---- expressions ----
struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind : uint8_t {
  kLiteral,    // value
  kName,       // name
  kList,       // items
  kTuple,      // items
  kDict,       // keys / items (pairs)
  kAttr,       // a.name
  kIndex,      // a[b]
  kSlice,      // a[b:c:d] (null parts are absent)
  kCall,       // a(args)
  kFilter,     // a | name(args)
  kTest,       // a is [not] name(args)
  kUnary,      // op a  ("not", "-", "+")
  kBinary,     // a op b
  kTernary,    // a if cond else b
};

struct Expr {
  ExprKind kind;
  Pos pos;
  Value value;                 // kLiteral
  std::string name;            // kName, kAttr, kFilter, kTest, op for unary/binary
  bool negate = false;         // kTest: "is not"
  ExprPtr a, b, c;             // operands; kTernary: a=then, b=cond, c=else; kSlice: b,c,d=a? see parser
  ExprPtr d;
  std::vector<ExprPtr> items;  // list/tuple elements, call positional args, dict values
  std::vector<ExprPtr> keys;   // dict keys
  std::vector<std::pair<std::string, ExprPtr>> kwargs;  // call keyword args
  int height = 1;                                       // levels of the tree from here down (the parser bounds it)
};

// ---- statements ----
struct Node;
using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

enum class NodeKind : uint8_t {
  kText,      // text
  kOutput,    // {{ expr }}
  kIf,        // branches: (cond, body)..., else_body
  kFor,       // targets in iter [if filter] body else_body
  kSet,       // target(s) = expr, or ns.attr = expr, or block set
  kMacro,     // name(params) body
  kCallBlock, // {% call macro(args) %} body
  kFilterBlock,
  kBreak,
  kContinue,
};

struct Node {
  NodeKind kind;
  Pos pos;
  std::string text;                 // kText; kMacro name; kSet attr (ns.attr); kFilterBlock filter name
  ExprPtr expr;                     // kOutput, kFor iterable, kSet value, kCallBlock call
  ExprPtr cond;                     // kFor inline filter
  std::vector<std::string> targets; // kFor/kSet names
  std::vector<std::pair<ExprPtr, Body>> branches;  // kIf
  Body body;
  Body else_body;
  // kMacro parameters: name and default (null when none)
  std::vector<std::pair<std::string, ExprPtr>> params;
  std::vector<std::pair<std::string, ExprPtr>> filter_args;  // kFilterBlock args (name unused)
  bool block_set = false;
};

// Parses tokens into a program. Errors name line:column.
Result<Body> parse(std::vector<Token> tokens);

// Names of the filters and tests the interpreter knows (the parser rejects others up front).
bool is_known_filter(const std::string& name);
bool is_known_test(const std::string& name);

}  // namespace paddock::chat_template::jinja
