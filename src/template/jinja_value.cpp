// template (internal): Jinja values — truthiness, equality, ordering, printing and JSON
// conversion. Printing follows transformers.js (the oracle); tojson follows Python's json.dumps
// with ensure_ascii=False, as Hugging Face's chat templates use it.
#include "template/jinja_value.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace paddock::chat_template::jinja {

const Value* Object::find(std::string_view key) const {
  auto it = index_.find(std::string(key));
  return it == index_.end() ? nullptr : &items_[it->second].second;
}
Value* Object::find(std::string_view key) {
  auto it = index_.find(std::string(key));
  return it == index_.end() ? nullptr : &items_[it->second].second;
}
void Object::set(const std::string& key, Value v) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    items_[it->second].second = std::move(v);
    return;
  }
  index_.emplace(key, items_.size());
  items_.emplace_back(key, std::move(v));
}

const Value& CallArgs::get(size_t idx, std::string_view name) const {
  static const Value kUndef;
  if (!name.empty()) {
    for (const auto& [k, v] : kw)
      if (k == name) return v;
  }
  return idx < pos.size() ? pos[idx] : kUndef;
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kUndefined: return "undefined";
    case Kind::kNone: return "none";
    case Kind::kBool: return "boolean";
    case Kind::kInt: return "integer";
    case Kind::kFloat: return "float";
    case Kind::kString: return "string";
    case Kind::kArray: return "list";
    case Kind::kObject: return "dict";
    case Kind::kCallable: return "function";
  }
  return "?";
}

bool truthy(const Value& v) {
  switch (v.kind) {
    case Kind::kUndefined:
    case Kind::kNone: return false;
    case Kind::kBool: return v.b;
    case Kind::kInt: return v.i != 0;
    case Kind::kFloat: return v.f != 0;
    case Kind::kString: return !v.s().empty();
    case Kind::kArray: return !v.arr->empty();
    case Kind::kObject: return v.obj->size() != 0;
    case Kind::kCallable: return true;
  }
  return false;
}

namespace {
// Containers whose last reference went while another container was being freed (see FreeArray).
struct FreeQueue {
  std::vector<Array*> arrays;
  std::vector<Object*> objects;
  bool draining = false;
};
thread_local FreeQueue t_free;

void drain() {
  if (t_free.draining) return;  // the outer call frees it
  t_free.draining = true;
  while (!t_free.arrays.empty() || !t_free.objects.empty()) {
    if (!t_free.arrays.empty()) {
      Array* a = t_free.arrays.back();
      t_free.arrays.pop_back();
      delete a;  // may queue the containers it held
    } else {
      Object* o = t_free.objects.back();
      t_free.objects.pop_back();
      delete o;
    }
  }
  t_free.draining = false;
}
}  // namespace

void FreeArray::operator()(Array* a) const {
  t_free.arrays.push_back(a);
  drain();
}

void FreeObject::operator()(Object* o) const {
  t_free.objects.push_back(o);
  drain();
}

Value Value::object() {
  Value v;
  v.kind = Kind::kObject;
  v.obj = std::shared_ptr<Object>(new Object(), FreeObject{});
  return v;
}

static bool numeric_like(const Value& v) { return v.is_number() || v.kind == Kind::kBool; }
static double num_of(const Value& v) { return v.kind == Kind::kBool ? (v.b ? 1.0 : 0.0) : v.as_double(); }

bool equals(const Value& a, const Value& b, int depth) {
  if (depth > kMaxValueDepth) return false;
  if (numeric_like(a) && numeric_like(b)) {
    if (a.kind == Kind::kInt && b.kind == Kind::kInt) return a.i == b.i;
    return num_of(a) == num_of(b);
  }
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Kind::kUndefined:
    case Kind::kNone: return true;
    case Kind::kString: return a.s() == b.s();
    case Kind::kArray: {
      if (a.arr->size() != b.arr->size()) return false;
      for (size_t i = 0; i < a.arr->size(); ++i)
        if (!equals((*a.arr)[i], (*b.arr)[i], depth + 1)) return false;
      return true;
    }
    case Kind::kObject: {
      if (a.obj->size() != b.obj->size()) return false;
      for (const auto& [k, v] : a.obj->items()) {
        const Value* o = b.obj->find(k);
        if (!o || !equals(v, *o, depth + 1)) return false;
      }
      return true;
    }
    case Kind::kCallable: return a.fn == b.fn;
    default: return false;
  }
}

Result<int> compare(const Value& a, const Value& b, int depth) {
  if (depth > kMaxValueDepth)
    return make_error(ErrorCode::kInvalidArgument, "value nested deeper than {} levels", kMaxValueDepth);
  if (numeric_like(a) && numeric_like(b)) {
    if (a.kind == Kind::kInt && b.kind == Kind::kInt) return a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
    double x = num_of(a), y = num_of(b);
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    int c = a.s().compare(b.s());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_array() && b.is_array()) {
    size_t n = std::min(a.arr->size(), b.arr->size());
    for (size_t i = 0; i < n; ++i) {
      ASSIGN_OR_RETURN(int c, compare((*a.arr)[i], (*b.arr)[i], depth + 1));
      if (c != 0) return c;
    }
    return a.arr->size() < b.arr->size() ? -1 : (a.arr->size() > b.arr->size() ? 1 : 0);
  }
  return make_error(ErrorCode::kInvalidArgument, "cannot compare {} with {}", kind_name(a.kind),
                    kind_name(b.kind));
}

std::string format_double(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  // Shortest round-trip digits, then laid out the way Python's repr() does.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  bool neg = sci[0] == '-';
  if (neg) sci.erase(0, 1);
  size_t epos = sci.find('e');
  std::string mant = sci.substr(0, epos);
  int exp = std::atoi(sci.c_str() + epos + 1);
  std::string digits;
  for (char c : mant)
    if (c != '.') digits.push_back(c);
  std::string out = neg ? "-" : "";
  if (exp >= -4 && exp < 16) {
    if (exp < 0) {
      out += "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    } else if (static_cast<size_t>(exp) + 1 >= digits.size()) {
      out += digits + std::string(static_cast<size_t>(exp) + 1 - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, static_cast<size_t>(exp) + 1) + "." + digits.substr(static_cast<size_t>(exp) + 1);
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  char e[16];
  std::snprintf(e, sizeof e, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
  return out + e;
}

static void json_string(std::string& out, const std::string& s) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

static Status json_rec(std::string& out, const Value& v, int indent, int level) {
  if (level > kMaxValueDepth)
    return make_error(ErrorCode::kInvalidArgument, "value nested deeper than {} levels", kMaxValueDepth);
  auto newline = [&](int lvl) {
    out.push_back('\n');
    out.append(static_cast<size_t>(indent) * static_cast<size_t>(lvl), ' ');
  };
  switch (v.kind) {
    case Kind::kUndefined:
    case Kind::kNone: out += "null"; break;
    case Kind::kBool: out += v.b ? "true" : "false"; break;
    case Kind::kInt: out += std::to_string(v.i); break;
    case Kind::kFloat:
      if (std::isnan(v.f)) out += "NaN";
      else if (std::isinf(v.f)) out += v.f < 0 ? "-Infinity" : "Infinity";
      else out += format_double(v.f);
      break;
    case Kind::kString: json_string(out, v.s()); break;
    case Kind::kCallable: return make_error(ErrorCode::kInvalidArgument, "cannot convert a function to JSON");
    case Kind::kArray: {
      if (v.arr->empty()) { out += "[]"; break; }
      out.push_back('[');
      bool first = true;
      for (const auto& e : *v.arr) {
        if (!first) out += indent >= 0 ? "," : ", ";
        first = false;
        if (indent >= 0) newline(level + 1);
        RETURN_IF_ERROR(json_rec(out, e, indent, level + 1));
      }
      if (indent >= 0) newline(level);
      out.push_back(']');
      break;
    }
    case Kind::kObject: {
      if (v.obj->size() == 0) { out += "{}"; break; }
      out.push_back('{');
      bool first = true;
      for (const auto& [k, e] : v.obj->items()) {
        if (!first) out += indent >= 0 ? "," : ", ";
        first = false;
        if (indent >= 0) newline(level + 1);
        json_string(out, k);
        out += ": ";
        RETURN_IF_ERROR(json_rec(out, e, indent, level + 1));
      }
      if (indent >= 0) newline(level);
      out.push_back('}');
      break;
    }
  }
  return Status::Ok();
}

Result<std::string> to_json(const Value& v, int indent) {
  std::string out;
  RETURN_IF_ERROR(json_rec(out, v, indent, 0));
  return out;
}

Result<std::string> to_output(const Value& v) {
  switch (v.kind) {
    case Kind::kUndefined:
    case Kind::kNone: return std::string();
    case Kind::kBool: return std::string(v.b ? "true" : "false");
    case Kind::kInt: return std::to_string(v.i);
    case Kind::kFloat: return format_double(v.f);
    case Kind::kString: return v.s();
    case Kind::kCallable: return std::string();
    default: return to_json(v, -1);
  }
}

Result<Value> from_json(const nlohmann::ordered_json& j, int depth) {
  if (depth > kMaxValueDepth)
    return make_error(ErrorCode::kInvalidArgument, "template context nested deeper than {} levels",
                      kMaxValueDepth);
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return Value::none();
    case nlohmann::ordered_json::value_t::boolean: return Value::boolean(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return Value::integer(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value::real(static_cast<double>(u));
      return Value::integer(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float: return Value::real(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return Value::str(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      Value v = Value::array();
      v.arr->reserve(j.size());
      for (const auto& e : j) {
        ASSIGN_OR_RETURN(Value x, from_json(e, depth + 1));
        v.arr->push_back(std::move(x));
      }
      return v;
    }
    case nlohmann::ordered_json::value_t::object: {
      Value v = Value::object();
      for (auto it = j.begin(); it != j.end(); ++it) {
        ASSIGN_OR_RETURN(Value x, from_json(it.value(), depth + 1));
        v.obj->set(it.key(), std::move(x));
      }
      return v;
    }
    default: return Value::none();
  }
}

}  // namespace paddock::chat_template::jinja
