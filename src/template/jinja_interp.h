// template (internal): the Jinja interpreter's state and the builtins it calls (filters, tests,
// attribute lookup and methods, global functions). Every unit of work is charged against the
// step budget; every string or list created is checked against the size limits.
#pragma once
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "template/jinja_ast.h"
#include "template/template.h"

namespace paddock::chat_template::jinja {

constexpr size_t kMaxListLen = 1u << 18;  // elements in any list a template builds
constexpr int kMaxCallDepth = 64;         // macro calls
// Statements and expressions being evaluated inside each other at once: bounds every recursion at
// run time (caller() calling itself, macros and filters calling back), whatever the parser allowed.
// A level takes about 10 KB of stack in the sanitizer build (1 KB in release): 2.5 MB at most.
constexpr int kMaxRenderDepth = 256;

class Interp {
 public:
  explicit Interp(const RenderLimits& limits) : limits_(limits) {}
  // Namespace attributes are the only mutation, so every reference cycle (ns.me = ns) runs
  // through an assigned namespace: emptying those breaks the cycles and frees the values.
  ~Interp() {
    for (auto& o : assigned_namespaces_) o->clear();
  }
  Interp(const Interp&) = delete;
  Interp& operator=(const Interp&) = delete;

  Result<std::string> run(const Body& program, Value globals);

  // For builtins.
  Status charge(uint64_t n);
  Status check_string(size_t bytes);  // a new string of `bytes` bytes: size cap + work charge
  Status check_list(size_t len);
  Result<Value> call(const Value& callee, CallArgs& args);
  int64_t now_unix() const { return limits_.now_unix; }

 private:
  enum class Flow { kNormal, kBreak, kContinue };
  using Frame = std::unordered_map<std::string, Value>;

  Status exec_body(const Body& body);
  Status exec(const Node& n);
  Status exec_for(const Node& n);
  Status exec_set(const Node& n);
  Result<std::string> capture(const Body& body);
  Result<Value> eval(const Expr& e);
  Result<Value> eval_binary(const Expr& e);
  Result<Value> eval_call(const Expr& e);
  Result<Value> make_macro(const Node& n);
  Status emit(const std::string& s);
  Value lookup(const std::string& name) const;
  void assign(const std::string& name, Value v) { frames_.back()[name] = std::move(v); }
  Error at(const Pos& p, const Error& e) const;
  Status args_of(const Expr& e, CallArgs& args, const Value* first);
  Status enter(const Pos& p);  // depth_ + 1, or the error past kMaxRenderDepth

  RenderLimits limits_;
  uint64_t steps_ = 0;
  std::string out_;
  std::vector<Frame> frames_;
  size_t frame_base_ = 1;  // lookups see frames_[frame_base_..] and frames_[0] (globals)
  Flow flow_ = Flow::kNormal;
  int call_depth_ = 0;
  int depth_ = 0;                                             // exec/eval frames now active (kMaxRenderDepth)
  std::vector<std::shared_ptr<Object>> assigned_namespaces_;  // each once (see ~Interp)
  std::unordered_set<const Object*> assigned_seen_;
};

// Builtins (jinja_builtins.cpp). Errors carry no position; the interpreter adds it.
Result<Value> apply_filter(Interp& in, const std::string& name, CallArgs& args);  // args.pos[0]: operand
Result<bool> apply_test(Interp& in, const std::string& name, const Value& v, CallArgs& args);
Result<Value> get_attribute(Interp& in, const Value& obj, const std::string& name);
Result<Value> get_item(Interp& in, const Value& obj, const Value& key);
Result<Value> slice_value(Interp& in, const Value& obj, const Value& start, const Value& stop, const Value& step);
Value global_function(const std::string& name);  // range, namespace, ...; undefined if none
Result<std::vector<Value>> iterate(const Value& v);  // for-loop items (dict: keys; string: characters)

}  // namespace paddock::chat_template::jinja
