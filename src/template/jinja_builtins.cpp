// template (internal): Jinja builtins — filters, tests, attribute/item access with Python's
// string, dict and list methods, slicing, and the globals (range, namespace, raise_exception,
// strftime_now). Strings are UTF-8; indexing, slicing and length count code points, as Python.
#include <algorithm>
#include <cmath>
#include <ctime>
#include <locale.h>
#include <wctype.h>

#include "template/jinja_interp.h"
#include "util/utf8.h"

namespace paddock::chat_template::jinja {
namespace {

Error bad_arg(const std::string& msg) { return Error(ErrorCode::kInvalidArgument, msg); }

std::vector<std::string_view> code_points(const std::string& s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    int len = 1;
    utf8::decode(s, i, &len);
    if (len < 1) len = 1;
    out.emplace_back(s.data() + i, std::min<size_t>(static_cast<size_t>(len), s.size() - i));
    i += out.back().size();
  }
  return out;
}

bool is_unicode_space(int32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}

// Python str.strip / lstrip / rstrip; `chars` undefined or none means whitespace.
std::string strip(const std::string& s, const Value& chars, bool left, bool right) {
  auto cps = code_points(s);
  std::vector<std::string_view> set;
  bool ws = !chars.is_string();
  if (!ws) set = code_points(chars.s());
  auto strip_it = [&](std::string_view c) {
    if (ws) {
      int len = 0;
      int32_t cp = utf8::decode(c, 0, &len);
      return is_unicode_space(cp);
    }
    return std::find(set.begin(), set.end(), c) != set.end();
  };
  size_t b = 0, e = cps.size();
  if (left)
    while (b < e && strip_it(cps[b])) ++b;
  if (right)
    while (e > b && strip_it(cps[e - 1])) --e;
  std::string out;
  for (size_t k = b; k < e; ++k) out += cps[k];
  return out;
}

// Simple (one-to-one) Unicode case mapping from the C.UTF-8 locale; ASCII only if it is missing.
std::string case_map(const std::string& s, bool to_upper) {
  static locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    int len = 1;
    int32_t cp = utf8::decode(s, i, &len);
    if (len < 1) len = 1;
    if (cp < 0) {
      out.push_back(s[i]);
    } else if (cp < 0x80 || !loc) {
      out.push_back(cp < 0x80 ? static_cast<char>(to_upper ? ::toupper(cp) : ::tolower(cp)) : s[i]);
      if (cp >= 0x80) out.append(s, i + 1, static_cast<size_t>(len) - 1);
    } else {
      wint_t m = to_upper ? towupper_l(static_cast<wint_t>(cp), loc) : towlower_l(static_cast<wint_t>(cp), loc);
      utf8::append(out, static_cast<uint32_t>(m));
    }
    i += static_cast<size_t>(len);
  }
  return out;
}
std::string upper(const std::string& s) { return case_map(s, true); }
std::string lower(const std::string& s) { return case_map(s, false); }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Python str.title(): a letter after a non-letter is upper-cased, the others lower-cased.
std::string py_title(const std::string& s) {
  std::string out = s;
  bool prev_cased = false;
  for (char& c : out) {
    if (is_alpha(c)) {
      c = static_cast<char>(prev_cased ? ::tolower(c) : ::toupper(c));
      prev_cased = true;
    } else {
      prev_cased = static_cast<unsigned char>(c) >= 0x80 && prev_cased;
    }
  }
  return out;
}

std::string capitalize(const std::string& s) {
  std::string out = lower(s);
  if (!out.empty()) out[0] = static_cast<char>(::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

Result<int64_t> int_arg(const Value& v, const char* what, int64_t def) {
  if (v.is_undefined() || v.is_none()) return def;
  if (v.kind == Kind::kInt) return v.i;
  if (v.kind == Kind::kBool) return static_cast<int64_t>(v.b);
  return bad_arg(fmt::format("{} must be an integer, got {}", what, kind_name(v.kind)));
}

Result<std::vector<std::string>> split(const std::string& s, const Value& sep, int64_t maxsplit) {
  std::vector<std::string> out;
  if (!sep.is_string()) {  // whitespace split, empty pieces dropped
    size_t i = 0, n = s.size();
    auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; };
    while (i < n) {
      while (i < n && ws(s[i])) ++i;
      if (i >= n) break;
      if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
        size_t e = n;
        while (e > i && ws(s[e - 1])) --e;
        out.push_back(s.substr(i, e - i));
        break;
      }
      size_t j = i;
      while (j < n && !ws(s[j])) ++j;
      out.push_back(s.substr(i, j - i));
      i = j;
    }
    return out;
  }
  const std::string& d = sep.s();
  if (d.empty()) return bad_arg("empty separator");
  size_t i = 0;
  while (true) {
    size_t j = s.find(d, i);
    if (j == std::string::npos || (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit)) {
      out.push_back(s.substr(i));
      break;
    }
    out.push_back(s.substr(i, j - i));
    i = j + d.size();
  }
  return out;
}

Value str_list(const std::vector<std::string>& v) {
  Value a = Value::array();
  for (const auto& s : v) a.arr->push_back(Value::str(s));
  return a;
}

Result<std::string> replace_all(Interp& in, const std::string& s, const std::string& from, const std::string& to,
                                int64_t count) {
  std::string out;
  size_t i = 0;
  int64_t done = 0;
  if (from.empty()) {  // Python inserts `to` between every character
    auto cps = code_points(s);
    for (size_t k = 0; k <= cps.size(); ++k) {
      if (count < 0 || done < count) {
        out += to;
        ++done;
      }
      if (k < cps.size()) out += cps[k];
      RETURN_IF_ERROR(in.check_string(out.size()));
    }
    return out;
  }
  while (true) {
    size_t j = s.find(from, i);
    if (j == std::string::npos || (count >= 0 && done >= count)) break;
    out.append(s, i, j - i);
    out += to;
    RETURN_IF_ERROR(in.check_string(out.size()));
    i = j + from.size();
    ++done;
  }
  out.append(s, i, std::string::npos);
  RETURN_IF_ERROR(in.check_string(out.size()));
  return out;
}

bool starts_or_ends(const std::string& s, const Value& what, bool start) {
  auto one = [&](const std::string& p) {
    if (p.size() > s.size()) return false;
    return start ? s.compare(0, p.size(), p) == 0 : s.compare(s.size() - p.size(), p.size(), p) == 0;
  };
  if (what.is_string()) return one(what.s());
  if (what.is_array())
    for (const auto& p : *what.arr)
      if (p.is_string() && one(p.s())) return true;
  return false;
}

Value bound(const std::string& name, std::function<Result<Value>(CallArgs&)> f) {
  return Value::callable(name, std::move(f));
}

// Python's str.format with {} / {0} / {name} fields (no format specs).
Result<std::string> py_format(const std::string& f, const CallArgs& a) {
  std::string out;
  size_t auto_idx = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    char c = f[i];
    if (c == '{' && i + 1 < f.size() && f[i + 1] == '{') { out += '{'; ++i; continue; }
    if (c == '}' && i + 1 < f.size() && f[i + 1] == '}') { out += '}'; ++i; continue; }
    if (c != '{') { out += c; continue; }
    size_t e = f.find('}', i);
    if (e == std::string::npos) return bad_arg("unmatched '{' in format string");
    std::string field = f.substr(i + 1, e - i - 1);
    const Value* v = nullptr;
    if (field.empty()) {
      if (auto_idx < a.pos.size()) v = &a.pos[auto_idx++];
    } else if (std::all_of(field.begin(), field.end(), ::isdigit)) {
      size_t k = std::stoul(field);
      if (k < a.pos.size()) v = &a.pos[k];
    } else {
      for (const auto& [k, x] : a.kw) if (k == field) v = &x;
    }
    if (!v) return bad_arg("format field '" + field + "' has no argument");
    ASSIGN_OR_RETURN(std::string s, to_output(*v));
    out += s;
    i = e;
  }
  return out;
}

Result<Value> string_method(Interp& in, const Value& obj, const std::string& name) {
  const std::string s = obj.s();
  auto str_fn = [&](std::function<Result<Value>(CallArgs&)> f) { return bound(name, std::move(f)); };
  if (name == "startswith" || name == "endswith") {
    bool start = name == "startswith";
    return str_fn([s, start](CallArgs& a) -> Result<Value> { return Value::boolean(starts_or_ends(s, a.get(0, ""), start)); });
  }
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    bool l = name != "rstrip", r = name != "lstrip";
    return str_fn([s, l, r](CallArgs& a) -> Result<Value> { return Value::str(strip(s, a.get(0, "chars"), l, r)); });
  }
  if (name == "split" || name == "rsplit") {
    return str_fn([s](CallArgs& a) -> Result<Value> {
      ASSIGN_OR_RETURN(int64_t m, int_arg(a.get(1, "maxsplit"), "maxsplit", -1));
      ASSIGN_OR_RETURN(auto parts, split(s, a.get(0, "sep"), m));
      return str_list(parts);
    });
  }
  if (name == "upper") return str_fn([s](CallArgs&) -> Result<Value> { return Value::str(upper(s)); });
  if (name == "lower") return str_fn([s](CallArgs&) -> Result<Value> { return Value::str(lower(s)); });
  if (name == "title") return str_fn([s](CallArgs&) -> Result<Value> { return Value::str(py_title(s)); });
  if (name == "capitalize") return str_fn([s](CallArgs&) -> Result<Value> { return Value::str(capitalize(s)); });
  if (name == "replace") {
    Interp* ip = &in;
    return str_fn([s, ip](CallArgs& a) -> Result<Value> {
      const Value& from = a.get(0, "old");
      const Value& to = a.get(1, "new");
      if (!from.is_string() || !to.is_string()) return bad_arg("replace() needs two strings");
      ASSIGN_OR_RETURN(int64_t c, int_arg(a.get(2, "count"), "count", -1));
      ASSIGN_OR_RETURN(std::string r, replace_all(*ip, s, from.s(), to.s(), c));
      return Value::str(std::move(r));
    });
  }
  if (name == "find" || name == "count" || name == "index") {
    return str_fn([s, name](CallArgs& a) -> Result<Value> {
      const Value& sub = a.get(0, "");
      if (!sub.is_string()) return bad_arg(name + "() needs a string");
      if (name == "count") {
        if (sub.s().empty()) return Value::integer(static_cast<int64_t>(code_points(s).size() + 1));
        int64_t n = 0;
        for (size_t i = s.find(sub.s()); i != std::string::npos; i = s.find(sub.s(), i + sub.s().size())) ++n;
        return Value::integer(n);
      }
      size_t i = s.find(sub.s());
      if (i == std::string::npos) {
        if (name == "index") return bad_arg("substring not found");
        return Value::integer(-1);
      }
      return Value::integer(static_cast<int64_t>(code_points(s.substr(0, i)).size()));
    });
  }
  if (name == "join") {
    Interp* ip = &in;
    return str_fn([s, ip](CallArgs& a) -> Result<Value> {
      CallArgs b;
      b.pos = {a.get(0, ""), Value::str(s)};
      return apply_filter(*ip, "join", b);
    });
  }
  if (name == "splitlines") {
    return str_fn([s](CallArgs&) -> Result<Value> {
      std::vector<std::string> lines;
      size_t i = 0;
      while (i < s.size()) {
        size_t j = s.find_first_of("\r\n", i);
        if (j == std::string::npos) { lines.push_back(s.substr(i)); break; }
        lines.push_back(s.substr(i, j - i));
        i = j + ((s[j] == '\r' && j + 1 < s.size() && s[j + 1] == '\n') ? 2 : 1);
      }
      return str_list(lines);
    });
  }
  if (name == "format") {
    return str_fn([s](CallArgs& a) -> Result<Value> {
      ASSIGN_OR_RETURN(std::string r, py_format(s, a));
      return Value::str(std::move(r));
    });
  }
  auto char_test = [&](auto pred) {
    return str_fn([s, pred](CallArgs&) -> Result<Value> {
      if (s.empty()) return Value::boolean(false);
      return Value::boolean(std::all_of(s.begin(), s.end(), [&](char c) { return pred(static_cast<unsigned char>(c)); }));
    });
  };
  if (name == "isdigit") return char_test([](unsigned char c) { return std::isdigit(c) != 0; });
  if (name == "isalpha") return char_test([](unsigned char c) { return std::isalpha(c) != 0; });
  if (name == "isalnum") return char_test([](unsigned char c) { return std::isalnum(c) != 0; });
  if (name == "isspace") return char_test([](unsigned char c) { return std::isspace(c) != 0; });
  if (name == "islower") return str_fn([s](CallArgs&) -> Result<Value> { return Value::boolean(lower(s) == s && upper(s) != s); });
  if (name == "isupper") return str_fn([s](CallArgs&) -> Result<Value> { return Value::boolean(upper(s) == s && lower(s) != s); });
  return Value::undefined();
}

}  // namespace

Result<std::vector<Value>> iterate(const Value& v) {
  std::vector<Value> out;
  switch (v.kind) {
    case Kind::kUndefined:
    case Kind::kNone: return out;
    case Kind::kArray: return *v.arr;
    case Kind::kObject:
      for (const auto& kv : v.obj->items()) out.push_back(Value::str(kv.first));
      return out;
    case Kind::kString:
      for (auto c : code_points(v.s())) out.push_back(Value::str(std::string(c)));
      return out;
    default: return bad_arg(fmt::format("cannot iterate over {}", kind_name(v.kind)));
  }
}

Result<Value> get_attribute(Interp& in, const Value& obj, const std::string& name) {
  // Like Jinja's sandbox (and transformers.js): private attributes (__class__, _x) are undefined.
  if (!name.empty() && name[0] == '_') return Value::undefined();
  if (obj.is_object()) {
    if (!obj.is_namespace && (name == "items" || name == "keys" || name == "values" || name == "get")) {
      Value o = obj;
      return bound(name, [o, name](CallArgs& a) -> Result<Value> {
        if (name == "get") {
          const Value* v = a.get(0, "").is_string() ? o.obj->find(a.get(0, "").s()) : nullptr;
          if (v) return *v;
          const Value& d = a.get(1, "default");
          return d.is_undefined() ? Value::none() : d;
        }
        Value out = Value::array();
        for (const auto& [k, v] : o.obj->items()) {
          if (name == "items") out.arr->push_back(Value::array({Value::str(k), v}));
          else if (name == "keys") out.arr->push_back(Value::str(k));
          else out.arr->push_back(v);
        }
        return out;
      });
    }
    const Value* v = obj.obj->find(name);
    return v ? *v : Value::undefined();
  }
  if (obj.is_string()) return string_method(in, obj, name);
  if (obj.is_array()) {
    Value o = obj;
    // append/pop are absent on purpose: HF renders in an immutable sandbox, so they fail there too.
    if (name == "index" || name == "count")
      return bound(name, [o, name](CallArgs& a) -> Result<Value> {
        int64_t n = 0;
        for (size_t k = 0; k < o.arr->size(); ++k) {
          if (equals((*o.arr)[k], a.get(0, ""))) {
            if (name == "index") return Value::integer(static_cast<int64_t>(k));
            ++n;
          }
        }
        if (name == "index") return bad_arg("value is not in list");
        return Value::integer(n);
      });
  }
  return Value::undefined();
}

Result<Value> get_item(Interp& in, const Value& obj, const Value& key) {
  if (obj.is_object()) {
    if (!key.is_string()) return Value::undefined();
    const Value* v = obj.obj->find(key.s());
    return v ? *v : Value::undefined();
  }
  if ((obj.is_array() || obj.is_string()) && (key.kind == Kind::kInt || key.kind == Kind::kBool)) {
    int64_t i = key.kind == Kind::kBool ? key.b : key.i;
    if (obj.is_array()) {
      int64_t n = static_cast<int64_t>(obj.arr->size());
      if (i < 0) i += n;
      if (i < 0 || i >= n) return Value::undefined();
      return (*obj.arr)[static_cast<size_t>(i)];
    }
    auto cps = code_points(obj.s());
    int64_t n = static_cast<int64_t>(cps.size());
    if (i < 0) i += n;
    if (i < 0 || i >= n) return Value::undefined();
    return Value::str(std::string(cps[static_cast<size_t>(i)]));
  }
  if (key.is_string()) return get_attribute(in, obj, key.s());
  return Value::undefined();
}

Result<Value> slice_value(Interp& in, const Value& obj, const Value& start, const Value& stop, const Value& step) {
  ASSIGN_OR_RETURN(int64_t st, int_arg(step, "slice step", 1));
  if (st == 0) return bad_arg("slice step cannot be zero");
  std::vector<std::string_view> cps;
  int64_t n;
  if (obj.is_array()) {
    n = static_cast<int64_t>(obj.arr->size());
  } else if (obj.is_string()) {
    cps = code_points(obj.s());
    n = static_cast<int64_t>(cps.size());
  } else if (obj.is_undefined() || obj.is_none()) {
    return Value::undefined();
  } else {
    return bad_arg(fmt::format("cannot slice {}", kind_name(obj.kind)));
  }
  // Python's slice.indices().
  auto norm = [&](const Value& v, int64_t def, bool is_start) -> Result<int64_t> {
    if (v.is_undefined() || v.is_none()) return def;
    ASSIGN_OR_RETURN(int64_t x, int_arg(v, "slice index", def));
    if (x < 0) x = std::max<int64_t>(x + n, st < 0 ? -1 : 0);
    else x = std::min<int64_t>(x, st < 0 ? n - 1 : n);
    (void)is_start;
    return x;
  };
  ASSIGN_OR_RETURN(int64_t b, norm(start, st < 0 ? n - 1 : 0, true));
  ASSIGN_OR_RETURN(int64_t e, norm(stop, st < 0 ? -1 : n, false));
  RETURN_IF_ERROR(in.charge(static_cast<uint64_t>(n)));
  Value out = obj.is_array() ? Value::array() : Value::str("");
  std::string s;
  for (int64_t i = b; st > 0 ? i < e : i > e; i += st) {
    if (obj.is_array()) out.arr->push_back((*obj.arr)[static_cast<size_t>(i)]);
    else s += cps[static_cast<size_t>(i)];
  }
  if (obj.is_string()) return Value::str(std::move(s));
  return out;
}

Value global_function(const std::string& name) {
  if (name == "range") {
    return Value::callable(name, [](CallArgs& a) -> Result<Value> {
      int64_t b = 0, e = 0, st = 1;
      for (const auto& v : a.pos)
        if (v.kind != Kind::kInt) return bad_arg("range() arguments must be integers");
      if (a.pos.size() == 1) e = a.pos[0].i;
      else if (a.pos.size() == 2 || a.pos.size() == 3) {
        b = a.pos[0].i;
        e = a.pos[1].i;
        if (a.pos.size() == 3) st = a.pos[2].i;
      } else {
        return bad_arg("range() takes 1 to 3 arguments");
      }
      if (st == 0) return bad_arg("range() step cannot be zero");
      Value out = Value::array();
      for (int64_t i = b; st > 0 ? i < e : i > e;) {
        if (out.arr->size() >= kMaxListLen)
          return Error(ErrorCode::kResourceExhausted, fmt::format("range() longer than {} items", kMaxListLen));
        if (a.steps && ++*a.steps > a.max_steps) return Error(ErrorCode::kResourceExhausted, "template exceeded its step limit");
        out.arr->push_back(Value::integer(i));
        if (__builtin_add_overflow(i, st, &i)) break;
      }
      return out;
    });
  }
  if (name == "namespace" || name == "dict") {
    bool ns = name == "namespace";
    return Value::callable(name, [ns](CallArgs& a) -> Result<Value> {
      Value o = Value::object();
      o.is_namespace = ns;
      for (const auto& p : a.pos) {
        if (!p.is_object()) return bad_arg("namespace()/dict() takes a dict or keyword arguments");
        for (const auto& [k, v] : p.obj->items()) o.obj->set(k, v);
      }
      for (const auto& [k, v] : a.kw) o.obj->set(k, v);
      return o;
    });
  }
  if (name == "raise_exception") {
    return Value::callable(name, [](CallArgs& a) -> Result<Value> {
      const Value& m = a.get(0, "");
      return Error(ErrorCode::kInvalidArgument, "raise_exception: " + (m.is_string() ? m.s() : std::string("error")));
    });
  }
  return Value::undefined();
}

}  // namespace paddock::chat_template::jinja
