// template (internal): Jinja filters and tests. Argument names and defaults follow Jinja2's
// builtin filters (e.g. join(d, attribute), default(value, boolean), indent(width, first, blank)).
#include <algorithm>
#include <cmath>
#include <set>

#include "template/jinja_interp.h"
#include "util/utf8.h"

namespace paddock::chat_template::jinja {
namespace {

Error bad_arg(const std::string& msg) { return Error(ErrorCode::kInvalidArgument, msg); }
bool is_alpha_ascii(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

const std::set<std::string>& filter_names() {
  static const std::set<std::string> k = {
      "abs", "attr", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first", "float",
      "format", "indent", "int", "items", "join", "last", "length", "list", "lower", "map", "max", "min",
      "reject", "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "sort", "string",
      "sum", "title", "tojson", "trim", "unique", "upper", "wordcount"};
  return k;
}
const std::set<std::string>& test_names() {
  static const std::set<std::string> k = {
      "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "==", "escaped", "even", "false", "float",
      "ge", ">=", "gt", ">", "greaterthan", "in", "integer", "iterable", "le", "<=", "lower", "lt", "<", "lessthan",
      "mapping", "ne", "!=", "none", "number", "odd", "sameas", "sequence", "string", "true", "undefined", "upper"};
  return k;
}

int64_t cp_len(const std::string& s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

Result<Value> attr_path(Interp& in, const Value& v, const Value& attr) {
  if (attr.kind == Kind::kInt) return get_item(in, v, attr);
  if (!attr.is_string()) return bad_arg("attribute must be a string");
  Value cur = v;
  size_t i = 0;
  const std::string& path = attr.s();
  while (true) {  // "a.b" walks nested attributes, as Jinja's make_attrgetter does
    size_t j = path.find('.', i);
    std::string part = path.substr(i, j == std::string::npos ? std::string::npos : j - i);
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit) && part.size() < 10;
    ASSIGN_OR_RETURN(cur, digits ? get_item(in, cur, Value::integer(std::stoll(part))) : get_item(in, cur, Value::str(part)));
    if (j == std::string::npos) break;
    i = j + 1;
  }
  return cur;
}

Result<std::string> html_escape(const Value& v) {
  ASSIGN_OR_RETURN(std::string s, to_output(v));
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// select/reject/selectattr/rejectattr: test each item (or its attribute) with a named test.
Result<Value> select(Interp& in, CallArgs& a, bool by_attr, bool keep) {
  ASSIGN_OR_RETURN(std::vector<Value> items, iterate(a.pos[0]));
  size_t arg0 = 1;
  Value attr;
  if (by_attr) {
    attr = a.get(1, "");
    arg0 = 2;
  }
  std::string test;
  if (a.pos.size() > arg0) {
    if (!a.pos[arg0].is_string()) return bad_arg("test name must be a string");
    test = a.pos[arg0].s();
    if (!is_known_test(test)) return bad_arg("unknown test '" + test + "'");
  }
  CallArgs targs;
  for (size_t k = arg0 + 1; k < a.pos.size(); ++k) targs.pos.push_back(a.pos[k]);
  Value out = Value::array();
  for (const auto& item : items) {
    RETURN_IF_ERROR(in.charge(1));
    Value subject = item;
    if (by_attr) {
      ASSIGN_OR_RETURN(subject, attr_path(in, item, attr));
    }
    bool ok;
    if (test.empty()) {
      ok = truthy(subject);
    } else {
      ASSIGN_OR_RETURN(ok, apply_test(in, test, subject, targs));
    }
    if (ok == keep) out.arr->push_back(item);
  }
  return out;
}

Result<Value> sort_items(Interp& in, std::vector<Value> items, bool reverse, const Value& attr, bool case_sensitive) {
  RETURN_IF_ERROR(in.charge(items.size() * 8));
  std::vector<std::pair<Value, Value>> keyed;
  for (auto& it : items) {
    Value key = it;
    if (!attr.is_undefined() && !attr.is_none()) {
      ASSIGN_OR_RETURN(key, attr_path(in, it, attr));
    }
    if (!case_sensitive && key.is_string()) {
      std::string l = key.s();
      for (char& c : l) c = static_cast<char>(::tolower(static_cast<unsigned char>(c)));
      key = Value::str(l);
    }
    keyed.emplace_back(std::move(key), std::move(it));
  }
  Status failure;
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    auto c = compare(x.first, y.first);
    if (!c.ok()) {
      if (failure.ok()) failure = c.error();
      return false;
    }
    return reverse ? *c > 0 : *c < 0;
  });
  RETURN_IF_ERROR(failure);
  Value out = Value::array();
  for (auto& kv : keyed) out.arr->push_back(std::move(kv.second));
  return out;
}

}  // namespace

bool is_known_filter(const std::string& name) { return filter_names().count(name) > 0; }
bool is_known_test(const std::string& name) { return test_names().count(name) > 0; }

Result<bool> apply_test(Interp& in, const std::string& name, const Value& v, CallArgs& a) {
  const Value& arg = a.get(0, "");
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.kind == Kind::kInt;
  if (name == "float") return v.kind == Kind::kFloat;
  if (name == "boolean") return v.kind == Kind::kBool;
  if (name == "true") return v.kind == Kind::kBool && v.b;
  if (name == "false") return v.kind == Kind::kBool && !v.b;
  if (name == "mapping") return v.is_object();
  if (name == "iterable") return v.is_array() || v.is_string() || v.is_object();
  if (name == "sequence") return v.is_array() || v.is_string() || v.is_object();
  if (name == "callable") return v.kind == Kind::kCallable;
  if (name == "escaped") return false;
  if (name == "lower" || name == "upper") {
    if (!v.is_string()) return false;
    bool any = false;
    for (char c : v.s()) {
      if (is_alpha_ascii(c)) any = true;
      if (name == "lower" ? (c >= 'A' && c <= 'Z') : (c >= 'a' && c <= 'z')) return false;
    }
    return any;
  }
  if (name == "odd" || name == "even" || name == "divisibleby") {
    if (v.kind != Kind::kInt) return bad_arg(fmt::format("test '{}' needs an integer, got {}", name, kind_name(v.kind)));
    if (name == "divisibleby") {
      if (arg.kind != Kind::kInt || arg.i == 0) return bad_arg("divisibleby needs a non-zero integer");
      if (arg.i == -1) return true;
      return v.i % arg.i == 0;
    }
    bool odd = (v.i % 2) != 0;
    return name == "odd" ? odd : !odd;
  }
  if (name == "eq" || name == "equalto" || name == "==") return equals(v, arg);
  if (name == "ne" || name == "!=") return !equals(v, arg);
  if (name == "sameas") return equals(v, arg) && v.kind == arg.kind;
  if (name == "lt" || name == "<" || name == "lessthan" || name == "le" || name == "<=" || name == "gt" ||
      name == ">" || name == "greaterthan" || name == "ge" || name == ">=") {
    ASSIGN_OR_RETURN(int c, compare(v, arg));
    if (name == "lt" || name == "<" || name == "lessthan") return c < 0;
    if (name == "le" || name == "<=") return c <= 0;
    if (name == "gt" || name == ">" || name == "greaterthan") return c > 0;
    return c >= 0;
  }
  if (name == "in") {
    if (arg.is_string()) {
      if (!v.is_string()) return bad_arg(fmt::format("'in <string>' needs a string on the left, got {}", kind_name(v.kind)));
      return arg.s().find(v.s()) != std::string::npos;
    }
    if (arg.is_array()) {
      RETURN_IF_ERROR(in.charge(arg.arr->size()));
      for (const auto& x : *arg.arr)
        if (equals(x, v)) return true;
      return false;
    }
    if (arg.is_object()) return v.is_string() && arg.obj->find(v.s()) != nullptr;
    if (arg.is_undefined() || arg.is_none()) return false;
    return bad_arg(fmt::format("argument of type {} is not iterable", kind_name(arg.kind)));
  }
  return bad_arg("unknown test '" + name + "'");
}

Result<Value> apply_filter(Interp& in, const std::string& name, CallArgs& a) {
  const Value v = a.pos.empty() ? Value() : a.pos[0];
  auto arg = [&](size_t k, const char* kw) -> const Value& { return a.get(k, kw); };
  auto to_str = [&](const Value& x) { return to_output(x); };
  if (name == "safe") return v;
  if (name == "string") {
    ASSIGN_OR_RETURN(std::string s, to_str(v));
    return Value::str(std::move(s));
  }
  if (name == "trim") {
    if (!v.is_string()) return bad_arg(fmt::format("filter 'trim' needs a string, got {}", kind_name(v.kind)));
    ASSIGN_OR_RETURN(Value m, get_attribute(in, v, "strip"));
    CallArgs b;
    b.pos.push_back(arg(1, "chars"));
    return in.call(m, b);
  }
  if (name == "upper" || name == "lower" || name == "title" || name == "capitalize") {
    ASSIGN_OR_RETURN(std::string s, to_str(v));
    if (name == "title") {  // Jinja's title filter: words split at whitespace and -({[<
      std::string out = s;
      bool start = true;
      for (char& c : out) {
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '-' || c == '(' || c == '{' || c == '[' || c == '<') {
          start = true;
        } else {
          c = static_cast<char>(start ? ::toupper(static_cast<unsigned char>(c)) : ::tolower(static_cast<unsigned char>(c)));
          start = false;
        }
      }
      return Value::str(out);
    }
    ASSIGN_OR_RETURN(Value m, get_attribute(in, Value::str(s), name));
    CallArgs b;
    return in.call(m, b);
  }
  if (name == "length" || name == "count") {
    if (v.is_string()) return Value::integer(cp_len(v.s()));
    if (v.is_array()) return Value::integer(static_cast<int64_t>(v.arr->size()));
    if (v.is_object()) return Value::integer(static_cast<int64_t>(v.obj->size()));
    if (v.is_undefined()) return Value::integer(0);
    return bad_arg(fmt::format("object of type {} has no length", kind_name(v.kind)));
  }
  if (name == "default" || name == "d") {
    bool boolean = truthy(arg(2, "boolean"));
    if (v.is_undefined() || (boolean && !truthy(v))) {
      const Value& d = arg(1, "default_value");
      return d.is_undefined() ? Value::str("") : d;
    }
    return v;
  }
  if (name == "tojson") {
    const Value& ind = arg(1, "indent");
    int indent = -1;
    if (ind.kind == Kind::kInt) indent = static_cast<int>(std::clamp<int64_t>(ind.i, 0, 64));
    ASSIGN_OR_RETURN(std::string s, to_json(v, indent));
    RETURN_IF_ERROR(in.check_string(s.size()));
    return Value::str(std::move(s));
  }
  if (name == "join") {
    ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
    const Value& sep = arg(1, "d");
    std::string d = sep.is_string() ? sep.s() : "";
    const Value& attr = arg(2, "attribute");
    std::string out;
    for (size_t k = 0; k < items.size(); ++k) {
      Value x = items[k];
      if (!attr.is_undefined()) {
        ASSIGN_OR_RETURN(x, attr_path(in, x, attr));
      }
      ASSIGN_OR_RETURN(std::string s, to_str(x));
      if (k) out += d;
      out += s;
      RETURN_IF_ERROR(in.check_string(out.size()));
    }
    return Value::str(std::move(out));
  }
  if (name == "items") {
    if (v.is_undefined() || v.is_none()) return Value::array();
    if (!v.is_object()) return bad_arg(fmt::format("filter 'items' needs a dict, got {}", kind_name(v.kind)));
    ASSIGN_OR_RETURN(Value m, get_attribute(in, v, "items"));
    CallArgs b;
    return in.call(m, b);
  }
  if (name == "dictsort") {
    if (!v.is_object()) return bad_arg("filter 'dictsort' needs a dict");
    Value pairs = Value::array();
    for (const auto& [k, x] : v.obj->items()) pairs.arr->push_back(Value::array({Value::str(k), x}));
    bool by_value = arg(2, "by").is_string() && arg(2, "by").s() == "value";
    return sort_items(in, *pairs.arr, truthy(arg(3, "reverse")), Value::integer(by_value ? 1 : 0),
                      truthy(arg(1, "case_sensitive")));
  }
  if (name == "list") {
    ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
    return Value::array(std::move(items));
  }
  if (name == "first" || name == "last") {
    ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
    if (items.empty()) return Value::undefined();
    return name == "first" ? items.front() : items.back();
  }
  if (name == "reverse") {
    if (v.is_string()) {
      ASSIGN_OR_RETURN(std::vector<Value> cs, iterate(v));
      std::string out;
      for (auto it = cs.rbegin(); it != cs.rend(); ++it) out += it->s();
      return Value::str(out);
    }
    ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
    std::reverse(items.begin(), items.end());
    return Value::array(std::move(items));
  }
  if (name == "sort") {
    ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
    return sort_items(in, std::move(items), truthy(arg(1, "reverse")), arg(3, "attribute"),
                      truthy(arg(2, "case_sensitive")));
  }
  if (name == "unique") {
    ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
    RETURN_IF_ERROR(in.charge(items.size() * items.size() / 16 + items.size()));
    Value out = Value::array();
    for (const auto& x : items) {
      bool seen = false;
      for (const auto& y : *out.arr) seen = seen || equals(x, y);
      if (!seen) out.arr->push_back(x);
    }
    return out;
  }
  if (name == "min" || name == "max" || name == "sum") {
    ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
    if (name == "sum") {
      Value acc = arg(2, "start").is_undefined() ? Value::integer(0) : arg(2, "start");
      bool ints = acc.kind == Kind::kInt;
      double f = acc.as_double();
      int64_t i = acc.i;
      for (auto x : items) {
        if (!arg(1, "attribute").is_undefined()) {
          ASSIGN_OR_RETURN(x, attr_path(in, x, arg(1, "attribute")));
        }
        if (!x.is_number()) return bad_arg("sum() needs numbers");
        if (x.kind == Kind::kFloat || !ints || __builtin_add_overflow(i, x.i, &i)) ints = false;
        f += x.as_double();
      }
      return ints ? Value::integer(i) : Value::real(f);
    }
    if (items.empty()) return Value::undefined();
    Value best = items[0];
    for (const auto& x : items) {
      ASSIGN_OR_RETURN(int c, compare(x, best));
      if (name == "min" ? c < 0 : c > 0) best = x;
    }
    return best;
  }
  if (name == "map") {
    ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
    Value out = Value::array();
    const Value& attr = a.get(99, "attribute");
    if (!attr.is_undefined()) {
      const Value& def = a.get(99, "default");
      for (const auto& x : items) {
        ASSIGN_OR_RETURN(Value y, attr_path(in, x, attr));
        out.arr->push_back(y.is_undefined() && !def.is_undefined() ? def : y);
      }
      return out;
    }
    if (a.pos.size() < 2 || !a.pos[1].is_string()) return bad_arg("map() needs a filter name or attribute=");
    std::string f = a.pos[1].s();
    if (!is_known_filter(f)) return bad_arg("unknown filter '" + f + "'");
    for (const auto& x : items) {
      RETURN_IF_ERROR(in.charge(1));
      CallArgs b;
      b.pos.push_back(x);
      for (size_t k = 2; k < a.pos.size(); ++k) b.pos.push_back(a.pos[k]);
      b.kw = a.kw;
      ASSIGN_OR_RETURN(Value y, apply_filter(in, f, b));
      out.arr->push_back(std::move(y));
    }
    return out;
  }
  if (name == "select") return select(in, a, false, true);
  if (name == "reject") return select(in, a, false, false);
  if (name == "selectattr") return select(in, a, true, true);
  if (name == "rejectattr") return select(in, a, true, false);
  if (name == "attr") return attr_path(in, v, arg(1, "name"));
  if (name == "replace") {
    ASSIGN_OR_RETURN(std::string s, to_str(v));
    ASSIGN_OR_RETURN(Value m, get_attribute(in, Value::str(s), "replace"));
    CallArgs b;
    b.pos = {arg(1, "old"), arg(2, "new")};
    if (!arg(3, "count").is_undefined()) b.pos.push_back(arg(3, "count"));
    return in.call(m, b);
  }
  if (name == "int") {
    if (v.kind == Kind::kInt) return v;
    if (v.kind == Kind::kBool) return Value::integer(v.b);
    if (v.kind == Kind::kFloat && std::isfinite(v.f) && std::fabs(v.f) < 9.2e18) return Value::integer(static_cast<int64_t>(v.f));
    if (v.is_string()) {
      std::string s = v.s();
      char* end = nullptr;
      errno = 0;
      long long x = std::strtoll(s.c_str(), &end, 10);
      if (end && end != s.c_str() && *end == '\0' && errno == 0) return Value::integer(x);
      double d = std::strtod(s.c_str(), &end);
      if (end && end != s.c_str() && *end == '\0' && std::isfinite(d) && std::fabs(d) < 9.2e18)
        return Value::integer(static_cast<int64_t>(d));
    }
    return arg(1, "default").is_undefined() ? Value::integer(0) : arg(1, "default");
  }
  if (name == "float") {
    if (v.is_number()) return Value::real(v.as_double());
    if (v.kind == Kind::kBool) return Value::real(v.b);
    if (v.is_string()) {
      char* end = nullptr;
      double d = std::strtod(v.s().c_str(), &end);
      if (end && end != v.s().c_str() && *end == '\0') return Value::real(d);
    }
    return arg(1, "default").is_undefined() ? Value::real(0) : arg(1, "default");
  }
  if (name == "abs") {
    if (v.kind == Kind::kInt) return v.i == INT64_MIN ? Value::real(9223372036854775808.0) : Value::integer(std::llabs(v.i));
    if (v.kind == Kind::kFloat) return Value::real(std::fabs(v.f));
    return bad_arg(fmt::format("bad operand type for abs(): {}", kind_name(v.kind)));
  }
  if (name == "round") {
    if (!v.is_number()) return bad_arg(fmt::format("filter 'round' needs a number, got {}", kind_name(v.kind)));
    int64_t prec = arg(1, "precision").kind == Kind::kInt ? std::clamp<int64_t>(arg(1, "precision").i, -20, 20) : 0;
    std::string method = arg(2, "method").is_string() ? arg(2, "method").s() : "common";
    double p = std::pow(10.0, static_cast<double>(prec));
    double x = v.as_double() * p;
    double r = method == "ceil" ? std::ceil(x) : method == "floor" ? std::floor(x) : std::round(x);
    return Value::real(r / p);
  }
  if (name == "indent") {
    ASSIGN_OR_RETURN(std::string s, to_str(v));
    const Value& w = arg(1, "width");
    std::string pad = w.is_string() ? w.s() : std::string(static_cast<size_t>(w.kind == Kind::kInt ? std::clamp<int64_t>(w.i, 0, 256) : 4), ' ');
    bool first = truthy(arg(2, "first")), blank = truthy(arg(3, "blank"));
    std::string out;
    size_t i = 0;
    bool line_start = true;
    bool is_first = true;
    while (i <= s.size()) {
      size_t j = s.find('\n', i);
      std::string line = s.substr(i, j == std::string::npos ? std::string::npos : j - i);
      bool indent_it = (!is_first || first) && (blank || !line.empty());
      if (indent_it) out += pad;
      out += line;
      (void)line_start;
      is_first = false;
      if (j == std::string::npos) break;
      out += '\n';
      i = j + 1;
      RETURN_IF_ERROR(in.check_string(out.size()));
    }
    return Value::str(std::move(out));
  }
  if (name == "escape" || name == "e") {
    ASSIGN_OR_RETURN(std::string s, html_escape(v));
    return Value::str(std::move(s));
  }
  if (name == "wordcount") {
    ASSIGN_OR_RETURN(std::string s, to_str(v));
    int64_t n = 0;
    bool in_word = false;
    for (char c : s) {
      bool w = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || static_cast<unsigned char>(c) >= 0x80;
      if (w && !in_word) ++n;
      in_word = w;
    }
    return Value::integer(n);
  }
  if (name == "format") {
    // printf-style: "%s and %d" | format(a, b)
    ASSIGN_OR_RETURN(std::string f, to_str(v));
    std::string out;
    size_t next = 1;
    for (size_t i = 0; i < f.size(); ++i) {
      if (f[i] != '%' || i + 1 >= f.size()) { out += f[i]; continue; }
      char c = f[++i];
      if (c == '%') { out += '%'; continue; }
      if (next >= a.pos.size()) return bad_arg("not enough arguments for format string");
      const Value& x = a.pos[next++];
      if (c == 'd' || c == 'i') {
        if (!x.is_number()) return bad_arg("%d format: a number is required");
        out += std::to_string(x.kind == Kind::kInt ? x.i : static_cast<int64_t>(x.f));
      } else if (c == 'f') {
        if (!x.is_number()) return bad_arg("%f format: a number is required");
        out += fmt::format("{:.6f}", x.as_double());
      } else if (c == 's' || c == 'r') {
        ASSIGN_OR_RETURN(std::string s, to_str(x));
        out += s;
      } else {
        return bad_arg(std::string("unsupported format character '") + c + "'");
      }
      RETURN_IF_ERROR(in.check_string(out.size()));
    }
    return Value::str(std::move(out));
  }
  return bad_arg("unknown filter '" + name + "'");
}

}  // namespace paddock::chat_template::jinja
