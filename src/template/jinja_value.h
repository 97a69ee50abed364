// template (internal): the value model of the Jinja interpreter — a JSON-like dynamic value with
// reference semantics for lists, dicts and namespaces (as in Python), plus conversions to text
// (printing, tojson) that follow transformers.js / Python's json.dumps formatting.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/status.h"

namespace paddock::chat_template::jinja {

struct Value;
using Array = std::vector<Value>;

class Object;
struct CallArgs;

// Lists and dicts are freed through these: one that becomes free while another is being freed
// waits in a queue, so freeing a value nested 100,000 deep (a loop can build one) does not
// recurse once per level.
struct FreeArray {
  void operator()(Array* a) const;
};
struct FreeObject {
  void operator()(Object* o) const;
};
using NativeFn = std::function<Result<Value>(CallArgs& args)>;
struct Callable {
  std::string name;
  NativeFn fn;
};

enum class Kind : uint8_t { kUndefined, kNone, kBool, kInt, kFloat, kString, kArray, kObject, kCallable };

struct Value {
  Kind kind = Kind::kUndefined;
  bool is_namespace = false;  // an Object made by namespace(): attributes may be assigned
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::shared_ptr<const std::string> sp;  // strings are shared: copies are cheap
  std::shared_ptr<Array> arr;
  std::shared_ptr<Object> obj;
  std::shared_ptr<Callable> fn;
  // Go engine only: when set, printing and JSON encoding use this value instead (the data's
  // Stringer / json-tag form, e.g. an Ollama Tool prints as its JSON with lower-case keys).
  std::shared_ptr<const Value> repr;

  static Value undefined() { return Value(); }
  static Value none() { Value v; v.kind = Kind::kNone; return v; }
  static Value boolean(bool x) { Value v; v.kind = Kind::kBool; v.b = x; return v; }
  static Value integer(int64_t x) { Value v; v.kind = Kind::kInt; v.i = x; return v; }
  static Value real(double x) { Value v; v.kind = Kind::kFloat; v.f = x; return v; }
  static Value str(std::string x) {
    Value v; v.kind = Kind::kString; v.sp = std::make_shared<const std::string>(std::move(x)); return v;
  }
  static Value array(Array a = {}) {
    Value v;
    v.kind = Kind::kArray;
    v.arr = std::shared_ptr<Array>(new Array(std::move(a)), FreeArray{});
    return v;
  }
  static Value object();  // an empty dict
  static Value callable(std::string name, NativeFn f) {
    Value v; v.kind = Kind::kCallable;
    v.fn = std::make_shared<Callable>(Callable{std::move(name), std::move(f)});
    return v;
  }

  bool is_undefined() const { return kind == Kind::kUndefined; }
  bool is_none() const { return kind == Kind::kNone; }
  bool is_number() const { return kind == Kind::kInt || kind == Kind::kFloat; }
  bool is_string() const { return kind == Kind::kString; }
  bool is_array() const { return kind == Kind::kArray; }
  bool is_object() const { return kind == Kind::kObject; }
  const std::string& s() const { static const std::string kEmpty; return sp ? *sp : kEmpty; }
  double as_double() const { return kind == Kind::kInt ? static_cast<double>(i) : f; }
};

// Insertion-ordered dict (key order matters for tojson and items()).
class Object {
 public:
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  void set(const std::string& key, Value v);
  const std::vector<std::pair<std::string, Value>>& items() const { return items_; }
  size_t size() const { return items_.size(); }
  void clear() {
    items_.clear();
    index_.clear();
  }

 private:
  std::vector<std::pair<std::string, Value>> items_;
  std::unordered_map<std::string, size_t> index_;
};

// Positional and keyword arguments of a call (filters get the filtered value as args[0]).
struct CallArgs {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
  uint64_t* steps = nullptr;  // budget charged by builtins that do work proportional to size
  uint64_t max_steps = 0;
  // Argument `idx` or keyword `name`, else undefined.
  const Value& get(size_t idx, std::string_view name) const;
};

constexpr int kMaxValueDepth = 256;  // nesting of lists/dicts (guards cycles and hostile JSON)

const char* kind_name(Kind k);
bool truthy(const Value& v);
// Deep equality with Python semantics (1 == 1.0, [1] == [1]).
bool equals(const Value& a, const Value& b, int depth = 0);
// Ordering for sort/comparisons; error if the kinds are not comparable or nested past kMaxValueDepth.
Result<int> compare(const Value& a, const Value& b, int depth = 0);

// Text of a value inside {{ }} (transformers.js style: true/false, lists as JSON).
Result<std::string> to_output(const Value& v);
// Python json.dumps(v, ensure_ascii=False, indent=indent) (indent < 0: one line, ", " and ": ").
Result<std::string> to_json(const Value& v, int indent);
std::string format_double(double d);  // Python repr of a float: 1.0, 0.1, 1e+16, inf

Result<Value> from_json(const nlohmann::ordered_json& j, int depth = 0);

}  // namespace paddock::chat_template::jinja
