// gguf::Value: constructors, comparison and type names for metadata values, and File's typed
// metadata accessors (which convert between integer widths only when the value fits).
#include <cmath>
#include <cstring>
#include <limits>

#include "gguf/gguf.h"

namespace paddock::gguf {

const char* value_type_name(ValueType t) {
  switch (t) {
    case ValueType::kUint8: return "uint8";
    case ValueType::kInt8: return "int8";
    case ValueType::kUint16: return "uint16";
    case ValueType::kInt16: return "int16";
    case ValueType::kUint32: return "uint32";
    case ValueType::kInt32: return "int32";
    case ValueType::kFloat32: return "float32";
    case ValueType::kBool: return "bool";
    case ValueType::kString: return "string";
    case ValueType::kArray: return "array";
    case ValueType::kUint64: return "uint64";
    case ValueType::kInt64: return "int64";
    case ValueType::kFloat64: return "float64";
  }
  return "invalid";
}

namespace {
Value make(ValueType t) {
  Value v;
  v.type = t;
  return v;
}
bool is_unsigned_type(ValueType t) {
  return t == ValueType::kUint8 || t == ValueType::kUint16 || t == ValueType::kUint32 || t == ValueType::kUint64;
}
bool is_signed_type(ValueType t) {
  return t == ValueType::kInt8 || t == ValueType::kInt16 || t == ValueType::kInt32 || t == ValueType::kInt64;
}
}  // namespace

Value Value::u8(uint8_t v) { Value r = make(ValueType::kUint8); r.u = v; return r; }
Value Value::i8(int8_t v) { Value r = make(ValueType::kInt8); r.i = v; return r; }
Value Value::u16(uint16_t v) { Value r = make(ValueType::kUint16); r.u = v; return r; }
Value Value::i16(int16_t v) { Value r = make(ValueType::kInt16); r.i = v; return r; }
Value Value::u32(uint32_t v) { Value r = make(ValueType::kUint32); r.u = v; return r; }
Value Value::i32(int32_t v) { Value r = make(ValueType::kInt32); r.i = v; return r; }
Value Value::u64(uint64_t v) { Value r = make(ValueType::kUint64); r.u = v; return r; }
Value Value::i64(int64_t v) { Value r = make(ValueType::kInt64); r.i = v; return r; }
Value Value::f32(float v) { Value r = make(ValueType::kFloat32); r.f = v; return r; }
Value Value::f64(double v) { Value r = make(ValueType::kFloat64); r.f = v; return r; }
Value Value::boolean(bool v) { Value r = make(ValueType::kBool); r.u = v ? 1 : 0; return r; }
Value Value::str(std::string v) { Value r = make(ValueType::kString); r.s = std::move(v); return r; }

Value Value::array(ValueType elem, std::vector<Value> items) {
  Value r = make(ValueType::kArray);
  r.elem_type = elem;
  r.arr = std::move(items);
  return r;
}

Value Value::str_array(const std::vector<std::string>& items) {
  std::vector<Value> v;
  v.reserve(items.size());
  for (const auto& s : items) v.push_back(str(s));
  return array(ValueType::kString, std::move(v));
}

Value Value::f32_array(const std::vector<float>& items) {
  std::vector<Value> v;
  v.reserve(items.size());
  for (float f : items) v.push_back(f32(f));
  return array(ValueType::kFloat32, std::move(v));
}

Value Value::i32_array(const std::vector<int32_t>& items) {
  std::vector<Value> v;
  v.reserve(items.size());
  for (int32_t x : items) v.push_back(i32(x));
  return array(ValueType::kInt32, std::move(v));
}

bool Value::is_integer() const { return is_unsigned_type(type) || is_signed_type(type); }
bool Value::is_float() const { return type == ValueType::kFloat32 || type == ValueType::kFloat64; }

bool Value::operator==(const Value& o) const {
  if (type != o.type) return false;
  switch (type) {
    case ValueType::kString: return s == o.s;
    case ValueType::kArray: return elem_type == o.elem_type && arr == o.arr;
    case ValueType::kFloat32:
    case ValueType::kFloat64: {
      // Bitwise, so NaN payloads and -0.0 compare as what was stored.
      return std::memcmp(&f, &o.f, sizeof f) == 0;
    }
    default: return is_unsigned_type(type) || type == ValueType::kBool ? u == o.u : i == o.i;
  }
}

// ---- File's metadata accessors ----------------------------------------------------------------

const Value* File::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

namespace {

Error not_found(std::string_view key) { return make_error(ErrorCode::kNotFound, "gguf: key {} not found", key); }

Error wrong_type(std::string_view key, const Value& v, const char* want) {
  if (v.type == ValueType::kArray)
    return make_error(ErrorCode::kCorrupt, "gguf: key {} is an array of {}, expected {}", key,
                      value_type_name(v.elem_type), want);
  return make_error(ErrorCode::kCorrupt, "gguf: key {} has type {}, expected {}", key, value_type_name(v.type), want);
}

// Integer value as uint64 if non-negative; false if negative or not an integer.
bool as_u64(const Value& v, uint64_t* out) {
  if (is_unsigned_type(v.type)) { *out = v.u; return true; }
  if (is_signed_type(v.type) && v.i >= 0) { *out = static_cast<uint64_t>(v.i); return true; }
  return false;
}

bool as_i64(const Value& v, int64_t* out) {
  if (is_signed_type(v.type)) { *out = v.i; return true; }
  if (is_unsigned_type(v.type) && v.u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    *out = static_cast<int64_t>(v.u);
    return true;
  }
  return false;
}

bool as_double(const Value& v, double* out) {
  if (v.is_float()) { *out = v.f; return true; }
  if (is_unsigned_type(v.type)) { *out = static_cast<double>(v.u); return true; }
  if (is_signed_type(v.type)) { *out = static_cast<double>(v.i); return true; }
  return false;
}

}  // namespace

Result<uint64_t> File::get_uint(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return not_found(key);
  uint64_t r = 0;
  if (!as_u64(*v, &r)) {
    if (v->is_integer())
      return make_error(ErrorCode::kCorrupt, "gguf: key {} is {}, expected a non-negative integer", key, v->i);
    return wrong_type(key, *v, "an unsigned integer");
  }
  return r;
}

Result<int64_t> File::get_int(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return not_found(key);
  int64_t r = 0;
  if (!as_i64(*v, &r)) {
    if (v->is_integer())
      return make_error(ErrorCode::kCorrupt, "gguf: key {} is {}, which does not fit in int64", key, v->u);
    return wrong_type(key, *v, "an integer");
  }
  return r;
}

Result<double> File::get_float(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return not_found(key);
  double r = 0;
  if (!as_double(*v, &r)) return wrong_type(key, *v, "a number");
  return r;
}

Result<bool> File::get_bool(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return not_found(key);
  if (v->type != ValueType::kBool) return wrong_type(key, *v, "bool");
  return v->u != 0;
}

Result<std::string> File::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return not_found(key);
  if (v->type != ValueType::kString) return wrong_type(key, *v, "string");
  return v->s;
}

Result<std::vector<std::string>> File::get_string_array(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return not_found(key);
  if (v->type != ValueType::kArray || v->elem_type != ValueType::kString) return wrong_type(key, *v, "an array of string");
  std::vector<std::string> out;
  out.reserve(v->arr.size());
  for (const auto& e : v->arr) out.push_back(e.s);
  return out;
}

Result<std::vector<float>> File::get_float_array(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return not_found(key);
  if (v->type != ValueType::kArray || v->elem_type == ValueType::kArray || v->elem_type == ValueType::kString ||
      v->elem_type == ValueType::kBool)
    return wrong_type(key, *v, "an array of numbers");
  std::vector<float> out;
  out.reserve(v->arr.size());
  for (const auto& e : v->arr) {
    double d = 0;
    as_double(e, &d);
    out.push_back(static_cast<float>(d));
  }
  return out;
}

Result<std::vector<int64_t>> File::get_int_array(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return not_found(key);
  if (v->type != ValueType::kArray || !(is_signed_type(v->elem_type) || is_unsigned_type(v->elem_type)))
    return wrong_type(key, *v, "an array of integers");
  std::vector<int64_t> out;
  out.reserve(v->arr.size());
  for (size_t k = 0; k < v->arr.size(); ++k) {
    int64_t x = 0;
    if (!as_i64(v->arr[k], &x))
      return make_error(ErrorCode::kCorrupt, "gguf: key {} element {} ({}) does not fit in int64", key, k, v->arr[k].u);
    out.push_back(x);
  }
  return out;
}

std::string File::architecture() const {
  const Value* v = find("general.architecture");
  return v && v->type == ValueType::kString ? v->s : std::string();
}

const TensorInfo* File::tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace paddock::gguf
