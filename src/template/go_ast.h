// template (internal): syntax tree of the Go text/template subset used by Ollama TEMPLATE layers.
// Nodes carry line:column for errors and a document-order id (Ollama's legacy rendering cuts a
// template after its first {{ .Response }}, which needs that order).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "template/jinja_value.h"
#include "util/status.h"

namespace paddock::chat_template::gotmpl {

struct Pos {
  int line = 1;
  int col = 1;
};

struct Pipe;

enum class ArgKind : uint8_t { kField, kVariable, kDot, kNil, kBool, kInt, kFloat, kString, kIdent, kPipe };

struct Arg {
  ArgKind kind;
  Pos pos;
  std::vector<std::string> chain;  // kField: .A.B; kVariable: fields after $x; kPipe: fields after (...)
  std::string name;                // kVariable ("$", "$x"), kIdent (function), kString value
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::unique_ptr<Pipe> pipe;      // kPipe
};

struct Command {
  Pos pos;
  std::vector<Arg> args;
};

struct Pipe {
  Pos pos;
  std::vector<std::string> decl;  // variables declared ($x := ...) or assigned ($x = ...)
  bool assign = false;            // "=" rather than ":="
  std::vector<Command> cmds;
};

enum class NodeKind : uint8_t { kText, kAction, kIf, kRange, kWith, kBreak, kContinue };

struct Node;
using List = std::vector<std::unique_ptr<Node>>;

struct Node {
  NodeKind kind;
  Pos pos;
  int id = 0;           // document order, as Ollama's deleteNode walks the tree
  std::string text;     // kText
  std::unique_ptr<Pipe> pipe;
  List list;
  List else_list;
  bool has_else = false;
};

struct Template {
  List root;
  bool uses_messages = false;   // any .Messages / $.Messages identifier (Ollama's Vars())
  bool uses_response = false;
  int response_cut = -1;        // id of the first action whose pipeline reads a field "Response"
  int next_id = 0;
};

Result<Template> parse(const std::string& source);
// Appends {{ .Response }} (Ollama does this to templates that mention neither .Messages nor
// .Response, so a legacy template's last turn ends where the reply begins).
void append_response_action(Template& t);

}  // namespace paddock::chat_template::gotmpl

namespace paddock::chat_template {
struct RenderLimits;
namespace gotmpl {
// Runs a parsed template; with `cut_after_response`, every node after the first action that
// reads .Response is skipped (Ollama's legacy last-turn rendering).
Result<std::string> execute(const Template& t, const jinja::Value& data, const RenderLimits& limits,
                            bool cut_after_response);
}  // namespace gotmpl
}  // namespace paddock::chat_template
