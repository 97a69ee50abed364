// template (internal): executes the Go text/template subset over JSON-like data with Go's rules —
// truthiness, eq/lt/... comparisons, range over lists (and maps in key order), variables scoped
// to their block, printing as fmt.Sprint does (maps and lists as compact JSON, as the Stringer
// types in Ollama's data print), missing map keys as "<no value>". Bounded by RenderLimits.
#include <algorithm>
#include <charconv>
#include <cmath>

#include "template/go_ast.h"
#include "template/template.h"
#include "util/utf8.h"

namespace paddock::chat_template {
namespace gotmpl {
namespace {

using jinja::Kind;
using jinja::Value;

Error bad(const std::string& m) { return Error(ErrorCode::kInvalidArgument, m); }

// Shortest round-trip digits and decimal exponent of a finite, non-zero double.
void shortest(double d, std::string& digits, int& exp10) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, std::fabs(d), std::chars_format::scientific);
  std::string sci(buf, r.ptr);
  size_t e = sci.find('e');
  digits.clear();
  for (size_t k = 0; k < e; ++k)
    if (sci[k] != '.') digits.push_back(sci[k]);
  exp10 = std::atoi(sci.c_str() + e + 1);
}

std::string fixed_from(const std::string& digits, int exp10) {
  if (exp10 < 0) return "0." + std::string(static_cast<size_t>(-exp10 - 1), '0') + digits;
  if (static_cast<size_t>(exp10) + 1 >= digits.size())
    return digits + std::string(static_cast<size_t>(exp10) + 1 - digits.size(), '0');
  return digits.substr(0, static_cast<size_t>(exp10) + 1) + "." + digits.substr(static_cast<size_t>(exp10) + 1);
}

std::string exp_from(const std::string& digits, int exp10, bool two_digit_exp) {
  std::string s = digits.substr(0, 1);
  if (digits.size() > 1) s += "." + digits.substr(1);
  int a = std::abs(exp10);
  std::string es = std::to_string(a);
  if (two_digit_exp && es.size() < 2) es = "0" + es;
  return s + "e" + (exp10 < 0 ? "-" : "+") + es;
}

// fmt's %v for float64 (strconv 'g', shortest).
std::string go_float(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d < 0 ? "-Inf" : "+Inf";
  if (d == 0) return std::signbit(d) ? "-0" : "0";
  std::string digits;
  int e;
  shortest(d, digits, e);
  std::string body = (e < -4 || e >= 6) ? exp_from(digits, e, true) : fixed_from(digits, e);
  return (d < 0 ? "-" : "") + body;
}

// encoding/json's float format.
std::string json_float(double d) {
  if (d == 0) return "0";
  std::string digits;
  int e;
  shortest(d, digits, e);
  double a = std::fabs(d);
  std::string body = (a < 1e-6 || a >= 1e21) ? exp_from(digits, e, false) : fixed_from(digits, e);
  return (d < 0 ? "-" : "") + body;
}

void json_string(std::string& out, const std::string& s) {
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '<': out += "\\u003c"; break;
        case '>': out += "\\u003e"; break;
        case '&': out += "\\u0026"; break;
        default:
          if (c < 0x20) out += fmt::format("\\u{:04x}", c);
          else out.push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    int len = 1;
    int32_t cp = utf8::decode(s, i, &len);
    if (cp < 0) {
      out += "\\ufffd";
      i += 1;
    } else if (cp == 0x2028 || cp == 0x2029) {
      out += fmt::format("\\u{:04x}", cp);
      i += static_cast<size_t>(len);
    } else {
      out.append(s, i, static_cast<size_t>(len));
      i += static_cast<size_t>(len);
    }
  }
  out.push_back('"');
}

// strconv.Quote: printable characters kept, the rest escaped.
std::string go_quote(const std::string& s) {
  std::string out = "\"";
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int len = 1;
    int32_t cp = c < 0x80 ? c : utf8::decode(s, i, &len);
    if (cp < 0) {
      out += fmt::format("\\x{:02x}", c);
      ++i;
      continue;
    }
    switch (cp) {
      case '\a': out += "\\a"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\v': out += "\\v"; break;
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      default:
        if (cp < 0x20 || cp == 0x7f) out += fmt::format("\\x{:02x}", cp);
        else out.append(s, i, static_cast<size_t>(len));
    }
    i += static_cast<size_t>(len);
  }
  return out + "\"";
}

// Plain data behaves like Go's map[string]any (keys sorted); a value's repr is struct-shaped data
// already in field order (`typed`).
Status to_go_json(std::string& out, const Value& v, int depth, bool typed = false) {
  if (depth > jinja::kMaxValueDepth) return bad("value nested too deeply");
  if (v.repr) return to_go_json(out, *v.repr, depth + 1, true);
  switch (v.kind) {
    case Kind::kUndefined:
    case Kind::kNone: out += "null"; break;
    case Kind::kBool: out += v.b ? "true" : "false"; break;
    case Kind::kInt: out += std::to_string(v.i); break;
    case Kind::kFloat:
      if (!std::isfinite(v.f)) return bad("json: unsupported value: " + go_float(v.f));
      out += json_float(v.f);
      break;
    case Kind::kString: json_string(out, v.s()); break;
    case Kind::kArray: {
      out.push_back('[');
      for (size_t k = 0; k < v.arr->size(); ++k) {
        if (k) out.push_back(',');
        RETURN_IF_ERROR(to_go_json(out, (*v.arr)[k], depth + 1, typed));
      }
      out.push_back(']');
      break;
    }
    case Kind::kObject: {
      out.push_back('{');
      std::vector<const std::pair<std::string, Value>*> items;
      for (const auto& kv : v.obj->items()) items.push_back(&kv);
      if (!typed) std::sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->first < b->first; });
      bool first = true;
      for (const auto* kv : items) {
        if (!first) out.push_back(',');
        first = false;
        json_string(out, kv->first);
        out.push_back(':');
        RETURN_IF_ERROR(to_go_json(out, kv->second, depth + 1, typed));
      }
      out.push_back('}');
      break;
    }
    case Kind::kCallable: return bad("json: unsupported type: func");
  }
  return Status::Ok();
}

// fmt's %v of plain data ([a b] and map[k:v], nested nil as <nil>); a value with a repr prints
// as that repr's JSON (the String() of Ollama's tool and tool-call types).
Status go_fmt(std::string& out, const Value& v, int depth) {
  if (depth > jinja::kMaxValueDepth) return bad("value nested too deeply");
  if (v.repr) return to_go_json(out, *v.repr, depth + 1, true);
  switch (v.kind) {
    case Kind::kUndefined: out += "<no value>"; break;
    case Kind::kNone: out += "<nil>"; break;
    case Kind::kBool: out += v.b ? "true" : "false"; break;
    case Kind::kInt: out += std::to_string(v.i); break;
    case Kind::kFloat: out += go_float(v.f); break;
    case Kind::kString: out += v.s(); break;
    case Kind::kCallable: out += "<func>"; break;
    case Kind::kArray:
      out.push_back('[');
      for (size_t k = 0; k < v.arr->size(); ++k) {
        if (k) out.push_back(' ');
        RETURN_IF_ERROR(go_fmt(out, (*v.arr)[k], depth + 1));
      }
      out.push_back(']');
      break;
    case Kind::kObject: {
      std::vector<const std::pair<std::string, Value>*> items;
      for (const auto& kv : v.obj->items()) items.push_back(&kv);
      std::sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->first < b->first; });
      out += "map[";
      for (size_t k = 0; k < items.size(); ++k) {
        if (k) out.push_back(' ');
        out += items[k]->first + ":";
        RETURN_IF_ERROR(go_fmt(out, items[k]->second, depth + 1));
      }
      out.push_back(']');
      break;
    }
  }
  return Status::Ok();
}

Result<std::string> go_print(const Value& v) {
  if (v.kind == Kind::kNone) return std::string("<no value>");  // a nil interface in the data prints so
  std::string out;
  RETURN_IF_ERROR(go_fmt(out, v, 0));
  return out;
}

// Go's truth (false, 0, nil, empty string/slice/map) is Jinja's truthiness: one definition.
bool go_truth(const Value& v) { return jinja::truthy(v); }

const char* go_type(const Value& v) {
  switch (v.kind) {
    case Kind::kUndefined: return "<no value>";
    case Kind::kNone: return "<nil>";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float64";
    case Kind::kString: return "string";
    case Kind::kArray: return "[]interface {}";
    case Kind::kObject: return "map[string]interface {}";
    default: return "func";
  }
}

Result<bool> go_eq(const Value& a, const Value& b) {
  bool a_num = a.is_number(), b_num = b.is_number();
  if (a_num && b_num) return a.as_double() == b.as_double();
  bool a_nil = a.is_undefined() || a.is_none(), b_nil = b.is_undefined() || b.is_none();
  if (a_nil || b_nil) return a_nil && b_nil && a.kind == b.kind;
  if (a.kind != b.kind) return bad("incompatible types for comparison");
  if (a.is_string()) return a.s() == b.s();
  if (a.kind == Kind::kBool) return a.b == b.b;
  return bad(fmt::format("non-comparable type {}", go_type(a)));
}

Result<int> go_cmp(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.kind == Kind::kInt && b.kind == Kind::kInt) return a.i < b.i ? -1 : a.i > b.i;
    double x = a.as_double(), y = b.as_double();
    return x < y ? -1 : x > y;
  }
  if (a.is_string() && b.is_string()) {
    int c = a.s().compare(b.s());
    return c < 0 ? -1 : c > 0;
  }
  if (a.kind != b.kind) return bad("incompatible types for comparison");
  return bad(fmt::format("invalid type for comparison: {}", go_type(a)));
}

// fmt.Sprint: spaces between operands when neither side is a string.
Result<std::string> sprint(const std::vector<Value>& args, bool ln) {
  std::string out;
  for (size_t k = 0; k < args.size(); ++k) {
    if (k > 0 && (ln || (!args[k].is_string() && !args[k - 1].is_string()))) out.push_back(' ');
    ASSIGN_OR_RETURN(std::string s, go_print(args[k]));
    out += s;
  }
  if (ln) out.push_back('\n');
  return out;
}

Result<std::string> sprintf(const std::vector<Value>& args) {
  if (args.empty() || !args[0].is_string()) return bad("printf: format must be a string");
  const std::string& f = args[0].s();
  std::string out;
  size_t next = 1;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] != '%') {
      out.push_back(f[i]);
      continue;
    }
    size_t j = i + 1;
    std::string spec;
    while (j < f.size() && std::strchr("+-# 0123456789.", f[j])) spec.push_back(f[j++]);
    if (j >= f.size()) {
      out += "%!(NOVERB)";
      break;
    }
    char verb = f[j];
    i = j;
    if (verb == '%') {
      out.push_back('%');
      continue;
    }
    if (next >= args.size()) {
      out += std::string("%!") + verb + "(MISSING)";
      continue;
    }
    const Value& v = args[next++];
    std::string piece;
    switch (verb) {
      case 'v':
      case 's': {
        ASSIGN_OR_RETURN(piece, go_print(v));
        break;
      }
      case 'q': {
        if (!v.is_string()) return bad("printf: %q needs a string");
        piece = go_quote(v.s());
        break;
      }
      case 'd':
        if (v.kind != Kind::kInt) piece = std::string("%!d(") + go_type(v) + ")";
        else piece = std::to_string(v.i);
        break;
      case 't':
        if (v.kind != Kind::kBool) piece = std::string("%!t(") + go_type(v) + ")";
        else piece = v.b ? "true" : "false";
        break;
      case 'f': {
        if (!v.is_number()) {
          piece = std::string("%!f(") + go_type(v) + ")";
          break;
        }
        int prec = 6;
        size_t dot = spec.find('.');
        if (dot != std::string::npos) prec = std::clamp(std::atoi(spec.c_str() + dot + 1), 0, 30);
        piece = fmt::format("{:.{}f}", v.as_double(), prec);
        break;
      }
      default: return bad(std::string("printf: unsupported verb %") + verb);
    }
    // width (right-aligned, or left with '-')
    int width = 0;
    bool left = spec.find('-') != std::string::npos;
    for (char c : spec.substr(0, spec.find('.')))
      if (c >= '0' && c <= '9') width = std::min(width * 10 + (c - '0'), 1000);
    if (static_cast<int>(piece.size()) < width) {
      std::string pad(static_cast<size_t>(width) - piece.size(), ' ');
      piece = left ? piece + pad : pad + piece;
    }
    out += piece;
  }
  if (next < args.size()) out += "%!(EXTRA)";
  return out;
}

class Exec {
 public:
  Exec(const Template& t, const RenderLimits& limits, bool cut) : t_(t), limits_(limits), cut_(cut) {}

  Result<std::string> run(const Value& root) {
    vars_.emplace_back("$", root);
    RETURN_IF_ERROR(list(t_.root, root));
    return std::move(out_);
  }

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  Error at(const Pos& p, const Error& e) const {
    if (e.message().rfind("template:", 0) == 0) return e;
    return make_error(e.code(), "template:{}:{}: {}", p.line, p.col, e.message());
  }
  Status charge(const Pos& p, uint64_t n = 1) {
    steps_ += n;
    if (steps_ > limits_.max_steps)
      return at(p, make_error(ErrorCode::kResourceExhausted, "template exceeded its step limit ({} steps)", limits_.max_steps));
    return Status::Ok();
  }
  Status emit(const Pos& p, const std::string& s) {
    if (out_.size() + s.size() > limits_.max_output)
      return at(p, make_error(ErrorCode::kResourceExhausted, "template output exceeds the limit of {} bytes", limits_.max_output));
    out_ += s;
    return Status::Ok();
  }
  bool skipped(const Node& n) const { return cut_ && t_.response_cut >= 0 && n.id > t_.response_cut; }

  Value lookup(const std::string& name) const {
    for (auto it = vars_.rbegin(); it != vars_.rend(); ++it)
      if (it->first == name) return it->second;
    return Value();
  }
  void set_var(const std::string& name, Value v) {
    for (auto it = vars_.rbegin(); it != vars_.rend(); ++it)
      if (it->first == name) {
        it->second = std::move(v);
        return;
      }
    vars_.emplace_back(name, std::move(v));
  }

  Status list(const List& l, const Value& dot) {
    for (const auto& n : l) {
      if (skipped(*n)) continue;
      RETURN_IF_ERROR(node(*n, dot));
      if (flow_ != Flow::kNormal) break;
    }
    return Status::Ok();
  }

  Status node(const Node& n, const Value& dot) {
    RETURN_IF_ERROR(charge(n.pos));
    switch (n.kind) {
      case NodeKind::kText: return emit(n.pos, n.text);
      case NodeKind::kAction: {
        ASSIGN_OR_RETURN(Value v, pipe(*n.pipe, dot, true));
        if (!n.pipe->decl.empty()) return Status::Ok();
        auto s = go_print(v);
        if (!s.ok()) return at(n.pos, s.error());
        return emit(n.pos, *s);
      }
      case NodeKind::kIf:
      case NodeKind::kWith: {
        size_t mark = vars_.size();
        ASSIGN_OR_RETURN(Value v, pipe(*n.pipe, dot, true));
        Status st;
        if (go_truth(v)) st = list(n.list, n.kind == NodeKind::kWith ? v : dot);
        else st = list(n.else_list, dot);
        vars_.erase(vars_.begin() + static_cast<std::ptrdiff_t>(mark), vars_.end());
        return st;
      }
      case NodeKind::kRange: return range(n, dot);
      case NodeKind::kBreak: flow_ = Flow::kBreak; return Status::Ok();
      case NodeKind::kContinue: flow_ = Flow::kContinue; return Status::Ok();
    }
    return Status::Ok();
  }

  Status range(const Node& n, const Value& dot) {
    size_t mark = vars_.size();
    ASSIGN_OR_RETURN(Value v, pipe(*n.pipe, dot, false));
    std::vector<std::pair<Value, Value>> items;  // (index or key, element)
    if (v.is_array()) {
      for (size_t k = 0; k < v.arr->size(); ++k) items.emplace_back(Value::integer(static_cast<int64_t>(k)), (*v.arr)[k]);
    } else if (v.is_object()) {
      std::vector<std::string> keys;
      for (const auto& kv : v.obj->items()) keys.push_back(kv.first);
      std::sort(keys.begin(), keys.end());  // Go ranges over maps in key order
      for (const auto& k : keys) items.emplace_back(Value::str(k), *v.obj->find(k));
    } else if (!v.is_undefined() && !v.is_none()) {
      return at(n.pos, bad(fmt::format("range can't iterate over {}", *go_print(v))));
    }
    const auto& decl = n.pipe->decl;
    Status st;
    if (items.empty()) {
      st = list(n.else_list, dot);
    } else {
      for (const auto& [key, elem] : items) {
        RETURN_IF_ERROR(charge(n.pos));
        if (decl.size() == 1) set_var(decl[0], elem);
        if (decl.size() == 2) {
          set_var(decl[0], key);
          set_var(decl[1], elem);
        }
        st = list(n.list, elem);
        if (!st.ok()) break;
        if (flow_ == Flow::kBreak) {
          flow_ = Flow::kNormal;
          break;
        }
        flow_ = Flow::kNormal;
      }
    }
    vars_.erase(vars_.begin() + static_cast<std::ptrdiff_t>(mark), vars_.end());
    return st;
  }

  // Evaluates a pipeline; `declare` assigns its value to the declared variables (range binds them
  // per element instead).
  Result<Value> pipe(const Pipe& p, const Value& dot, bool declare) {
    Value v;
    bool has = false;
    for (const auto& c : p.cmds) {
      RETURN_IF_ERROR(charge(c.pos));
      ASSIGN_OR_RETURN(v, command(c, dot, has ? &v : nullptr));
      has = true;
    }
    if (declare && !p.decl.empty()) {
      if (p.decl.size() != 1) return at(p.pos, bad("too many declarations"));
      if (p.assign) set_var(p.decl[0], v);
      else vars_.emplace_back(p.decl[0], v);
    } else if (!declare && !p.decl.empty() && !p.assign) {
      for (const auto& d : p.decl) vars_.emplace_back(d, Value());
    }
    return v;
  }

  Result<Value> field(const Value& v, const std::string& name, const Pos& pos) {
    if (v.is_object()) {
      const Value* x = v.obj->find(name);
      return x ? *x : Value();  // missingkey=zero on map[string]any prints "<no value>"
    }
    if (v.is_undefined() || v.is_none()) return at(pos, bad("nil pointer evaluating interface {}." + name));
    return at(pos, bad(fmt::format("can't evaluate field {} in type {}", name, go_type(v))));
  }

  Result<Value> arg(const Arg& a, const Value& dot) {
    Value v;
    switch (a.kind) {
      case ArgKind::kDot: return dot;
      case ArgKind::kNil: return Value::none();
      case ArgKind::kBool: return Value::boolean(a.b);
      case ArgKind::kInt: return Value::integer(a.i);
      case ArgKind::kFloat: return Value::real(a.f);
      case ArgKind::kString: return Value::str(a.name);
      case ArgKind::kIdent: return call(a.name, {}, nullptr, dot, a.pos);
      case ArgKind::kField: v = dot; break;
      case ArgKind::kVariable: v = lookup(a.name); break;
      case ArgKind::kPipe: {
        ASSIGN_OR_RETURN(v, pipe(*a.pipe, dot, false));
        break;
      }
    }
    for (const auto& f : a.chain) {
      ASSIGN_OR_RETURN(v, field(v, f, a.pos));
    }
    return v;
  }

  Result<Value> command(const Command& c, const Value& dot, const Value* final) {
    const Arg& first = c.args[0];
    if (first.kind == ArgKind::kIdent) return call(first.name, c.args, final, dot, first.pos);
    if (c.args.size() > 1 || final) {
      if (first.kind == ArgKind::kField || first.kind == ArgKind::kVariable)
        return at(first.pos, bad("can't give argument to non-function " + (first.chain.empty() ? first.name : "." + first.chain.back())));
      return at(first.pos, bad("can't give argument to non-function"));
    }
    return arg(first, dot);
  }

  Result<Value> call(const std::string& fn, const std::vector<Arg>& all, const Value* final, const Value& dot, const Pos& pos) {
    // all[0] is the function name itself (when called as a command).
    size_t from = all.empty() ? 0 : 1;
    if (fn == "and" || fn == "or") {  // short-circuit, returning the deciding operand
      size_t n = all.size() - from + (final ? 1 : 0);
      if (n < 1) return at(pos, bad("wrong number of args for " + fn + ": want at least 1 got 0"));
      Value v;
      for (size_t k = from; k < all.size(); ++k) {
        ASSIGN_OR_RETURN(v, arg(all[k], dot));
        if (go_truth(v) != (fn == "and")) return v;
      }
      if (final) v = *final;
      return v;
    }
    std::vector<Value> args;
    for (size_t k = from; k < all.size(); ++k) {
      ASSIGN_OR_RETURN(Value v, arg(all[k], dot));
      args.push_back(std::move(v));
    }
    if (final) args.push_back(*final);
    auto r = builtin(fn, args);
    if (!r.ok()) return at(pos, r.error().wrap("error calling " + fn));
    return r;
  }

  Result<Value> builtin(const std::string& fn, std::vector<Value>& a) {
    auto want = [&](size_t n) -> Status {
      if (a.size() != n) return bad(fmt::format("wrong number of args for {}: want {} got {}", fn, n, a.size()));
      return Status::Ok();
    };
    if (fn == "not") {
      RETURN_IF_ERROR(want(1));
      return Value::boolean(!go_truth(a[0]));
    }
    if (fn == "len") {
      RETURN_IF_ERROR(want(1));
      if (a[0].is_string()) return Value::integer(static_cast<int64_t>(a[0].s().size()));
      if (a[0].is_array()) return Value::integer(static_cast<int64_t>(a[0].arr->size()));
      if (a[0].is_object()) return Value::integer(static_cast<int64_t>(a[0].obj->size()));
      return bad(fmt::format("len of type {}", go_type(a[0])));
    }
    if (fn == "eq") {
      if (a.size() < 2) return bad("missing argument for comparison");
      for (size_t k = 1; k < a.size(); ++k) {
        ASSIGN_OR_RETURN(bool e, go_eq(a[0], a[k]));
        if (e) return Value::boolean(true);
      }
      return Value::boolean(false);
    }
    if (fn == "ne") {
      RETURN_IF_ERROR(want(2));
      ASSIGN_OR_RETURN(bool e, go_eq(a[0], a[1]));
      return Value::boolean(!e);
    }
    if (fn == "lt" || fn == "le" || fn == "gt" || fn == "ge") {
      RETURN_IF_ERROR(want(2));
      ASSIGN_OR_RETURN(int c, go_cmp(a[0], a[1]));
      return Value::boolean(fn == "lt" ? c < 0 : fn == "le" ? c <= 0 : fn == "gt" ? c > 0 : c >= 0);
    }
    if (fn == "index") {
      if (a.empty()) return bad("wrong number of args for index: want at least 1 got 0");
      Value v = a[0];
      for (size_t k = 1; k < a.size(); ++k) {
        const Value& ix = a[k];
        if (v.is_array() || v.is_string()) {
          if (ix.kind != Kind::kInt) return bad(fmt::format("cannot index slice/array with type {}", go_type(ix)));
          int64_t n = v.is_array() ? static_cast<int64_t>(v.arr->size()) : static_cast<int64_t>(v.s().size());
          if (ix.i < 0 || ix.i >= n) return bad(fmt::format("index out of range: {}", ix.i));
          v = v.is_array() ? (*v.arr)[static_cast<size_t>(ix.i)]
                           : Value::integer(static_cast<unsigned char>(v.s()[static_cast<size_t>(ix.i)]));
        } else if (v.is_object()) {
          if (!ix.is_string()) return bad(fmt::format("value has type {}; should be string", go_type(ix)));
          const Value* x = v.obj->find(ix.s());
          v = x ? *x : Value();  // zero value: prints "<no value>"
        } else if (v.is_undefined() || v.is_none()) {
          return bad("index of untyped nil");
        } else {
          return bad(fmt::format("can't index item of type {}", go_type(v)));
        }
      }
      return v;
    }
    if (fn == "slice") {
      if (a.empty() || a.size() > 4) return bad("wrong number of args for slice");
      const Value& v = a[0];
      int64_t n;
      if (v.is_array()) n = static_cast<int64_t>(v.arr->size());
      else if (v.is_string()) n = static_cast<int64_t>(v.s().size());
      else return bad(fmt::format("can't slice item of type {}", go_type(v)));
      if (v.is_string() && a.size() == 4) return bad("cannot 3-index slice a string");
      int64_t idx[2] = {0, n};
      for (size_t k = 1; k < a.size() && k < 3; ++k) {
        if (a[k].kind != Kind::kInt) return bad(fmt::format("cannot index slice/array with type {}", go_type(a[k])));
        if (a[k].i < 0 || a[k].i > n) return bad(fmt::format("index out of range: {}", a[k].i));
        idx[k - 1] = a[k].i;
      }
      if (idx[0] > idx[1]) return bad(fmt::format("invalid slice index: {} > {}", idx[0], idx[1]));
      if (v.is_string()) return Value::str(v.s().substr(static_cast<size_t>(idx[0]), static_cast<size_t>(idx[1] - idx[0])));
      return Value::array(jinja::Array(v.arr->begin() + idx[0], v.arr->begin() + idx[1]));
    }
    if (fn == "print" || fn == "println") {
      ASSIGN_OR_RETURN(std::string s, sprint(a, fn == "println"));
      return Value::str(std::move(s));
    }
    if (fn == "printf") {
      ASSIGN_OR_RETURN(std::string s, sprintf(a));
      return Value::str(std::move(s));
    }
    if (fn == "json") {
      RETURN_IF_ERROR(want(1));
      std::string out;
      RETURN_IF_ERROR(to_go_json(out, a[0], 0));
      return Value::str(std::move(out));
    }
    if (fn == "html") {
      ASSIGN_OR_RETURN(std::string s, sprint(a, false));
      std::string out;
      for (char c : s) {
        switch (c) {
          case '<': out += "&lt;"; break;
          case '>': out += "&gt;"; break;
          case '&': out += "&amp;"; break;
          case '\'': out += "&#39;"; break;
          case '"': out += "&#34;"; break;
          case '\0': out += "\xEF\xBF\xBD"; break;
          default: out.push_back(c);
        }
      }
      return Value::str(std::move(out));
    }
    return bad("function \"" + fn + "\" not defined");
  }

  const Template& t_;
  RenderLimits limits_;
  bool cut_;
  uint64_t steps_ = 0;
  std::string out_;
  std::vector<std::pair<std::string, Value>> vars_;
  Flow flow_ = Flow::kNormal;
};

}  // namespace

Result<std::string> execute(const Template& t, const Value& data, const RenderLimits& limits, bool cut_after_response) {
  Exec e(t, limits, cut_after_response);
  return e.run(data);
}

}  // namespace gotmpl

Result<std::string> render_go(const std::string& source, const nlohmann::ordered_json& data, const RenderLimits& limits) {
  ASSIGN_OR_RETURN(gotmpl::Template t, gotmpl::parse(source));
  ASSIGN_OR_RETURN(jinja::Value v, jinja::from_json(data));
  return gotmpl::execute(t, v, limits, false);
}

Result<std::string> render_go(const std::string& source, const nlohmann::json& data, const RenderLimits& limits) {
  return render_go(source,
                   nlohmann::ordered_json::parse(data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)),
                   limits);
}

Result<bool> go_template_uses_messages(const std::string& source) {
  ASSIGN_OR_RETURN(gotmpl::Template t, gotmpl::parse(source));
  return t.uses_messages;
}

}  // namespace paddock::chat_template
