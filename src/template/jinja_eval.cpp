// template (internal): the Jinja interpreter — statements (if, for with loop variables, set,
// namespace attributes, macro, call, filter blocks, break/continue) and expressions over Value.
#include <cmath>

#include "template/jinja_interp.h"

namespace paddock::chat_template::jinja {

Error Interp::at(const Pos& p, const Error& e) const {
  if (e.message().rfind("template:", 0) == 0) return e;
  return make_error(e.code(), "template:{}:{}: {}", p.line, p.col, e.message());
}

Status Interp::charge(uint64_t n) {
  steps_ += n;
  if (steps_ > limits_.max_steps)
    return make_error(ErrorCode::kResourceExhausted, "template exceeded its step limit ({} steps)", limits_.max_steps);
  return Status::Ok();
}

Status Interp::check_string(size_t bytes) {
  if (bytes > limits_.max_output)
    return make_error(ErrorCode::kResourceExhausted, "template built a string larger than the output limit ({} bytes)",
                      limits_.max_output);
  return charge(bytes / 16);
}

Status Interp::check_list(size_t len) {
  if (len > kMaxListLen)
    return make_error(ErrorCode::kResourceExhausted, "template built a list longer than {} items", kMaxListLen);
  return charge(len);
}

namespace {
// Leaves one level of Interp::enter when the frame ends.
struct Leave {
  int& depth;
  ~Leave() { --depth; }
};
}  // namespace

Status Interp::enter(const Pos& p) {
  if (depth_ >= kMaxRenderDepth)
    return at(p, make_error(ErrorCode::kInvalidArgument,
                            "template recursion deeper than {} levels (a macro, caller() or filter calling back "
                            "without end?)",
                            kMaxRenderDepth));
  ++depth_;
  return Status::Ok();
}

Status Interp::emit(const std::string& s) {
  if (out_.size() + s.size() > limits_.max_output)
    return make_error(ErrorCode::kResourceExhausted, "template output exceeds the limit of {} bytes", limits_.max_output);
  out_ += s;
  return Status::Ok();
}

Value Interp::lookup(const std::string& name) const {
  for (size_t k = frames_.size(); k > frame_base_; --k) {
    auto it = frames_[k - 1].find(name);
    if (it != frames_[k - 1].end()) return it->second;
  }
  auto it = frames_[0].find(name);
  if (it != frames_[0].end()) return it->second;
  return global_function(name);
}

Result<std::string> Interp::run(const Body& program, Value globals) {
  frames_.clear();
  frames_.emplace_back();
  if (globals.is_object()) {
    for (const auto& [k, v] : globals.obj->items()) frames_[0][k] = v;
  }
  frame_base_ = 1;
  RETURN_IF_ERROR(exec_body(program));
  return std::move(out_);
}

Result<std::string> Interp::capture(const Body& body) {
  std::string saved;
  std::swap(saved, out_);
  Status st = exec_body(body);
  std::swap(saved, out_);
  if (!st.ok()) return st.error();
  return saved;
}

Status Interp::exec_body(const Body& body) {
  for (const auto& n : body) {
    RETURN_IF_ERROR(exec(*n));
    if (flow_ != Flow::kNormal) break;
  }
  return Status::Ok();
}

Status Interp::exec(const Node& n) {
  RETURN_IF_ERROR(enter(n.pos));
  Leave leave{depth_};
  if (Status st = charge(1); !st.ok()) return at(n.pos, st.error());
  switch (n.kind) {
    case NodeKind::kText: return emit(n.text);
    case NodeKind::kOutput: {
      ASSIGN_OR_RETURN(Value v, eval(*n.expr));
      auto s = to_output(v);
      if (!s.ok()) return at(n.pos, s.error());
      if (Status st = emit(*s); !st.ok()) return at(n.pos, st.error());
      return Status::Ok();
    }
    case NodeKind::kIf:
      for (const auto& [cond, body] : n.branches) {
        ASSIGN_OR_RETURN(Value c, eval(*cond));
        if (truthy(c)) return exec_body(body);
      }
      return exec_body(n.else_body);
    case NodeKind::kFor: return exec_for(n);
    case NodeKind::kSet: return exec_set(n);
    case NodeKind::kMacro: {
      ASSIGN_OR_RETURN(Value m, make_macro(n));
      assign(n.text, std::move(m));
      return Status::Ok();
    }
    case NodeKind::kCallBlock: {
      // caller() renders the block body; the call itself is evaluated like {{ macro(...) }}.
      const Node* node = &n;
      Value caller = Value::callable("caller", [this, node](CallArgs& a) -> Result<Value> {
        frames_.emplace_back();
        for (size_t k = 0; k < node->params.size(); ++k) {
          const Value& v = a.get(k, node->params[k].first);
          assign(node->params[k].first, v);
        }
        auto s = capture(node->body);
        frames_.pop_back();
        if (!s.ok()) return s.error();
        return Value::str(std::move(*s));
      });
      frames_.emplace_back();
      assign("caller", caller);
      auto v = eval(*n.expr);
      frames_.pop_back();
      if (!v.ok()) return v.error();
      ASSIGN_OR_RETURN(std::string s, to_output(*v));
      return emit(s);
    }
    case NodeKind::kFilterBlock: {
      ASSIGN_OR_RETURN(std::string s, capture(n.body));
      CallArgs args;
      RETURN_IF_ERROR(args_of(*n.expr, args, nullptr));
      args.pos.insert(args.pos.begin(), Value::str(std::move(s)));
      auto r = apply_filter(*this, n.text, args);
      if (!r.ok()) return at(n.pos, r.error());
      ASSIGN_OR_RETURN(std::string text, to_output(*r));
      return emit(text);
    }
    case NodeKind::kBreak: flow_ = Flow::kBreak; return Status::Ok();
    case NodeKind::kContinue: flow_ = Flow::kContinue; return Status::Ok();
  }
  return Status::Ok();
}

Status Interp::exec_for(const Node& n) {
  ASSIGN_OR_RETURN(Value iterable, eval(*n.expr));
  auto items_r = iterate(iterable);
  if (!items_r.ok()) return at(n.expr->pos, items_r.error());
  std::vector<Value> items = std::move(*items_r);
  auto bind = [&](const Value& item) -> Status {
    if (n.targets.size() == 1) {
      assign(n.targets[0], item);
      return Status::Ok();
    }
    if (!item.is_array() || item.arr->size() != n.targets.size())
      return at(n.pos, make_error(ErrorCode::kInvalidArgument, "cannot unpack {} into {} loop variables",
                                  kind_name(item.kind), n.targets.size()));
    for (size_t k = 0; k < n.targets.size(); ++k) assign(n.targets[k], (*item.arr)[k]);
    return Status::Ok();
  };
  if (n.cond) {  // `for x in xs if cond`: filter first, so loop.length counts kept items
    std::vector<Value> kept;
    for (const auto& item : items) {
      RETURN_IF_ERROR(charge(1));
      frames_.emplace_back();
      Status st = bind(item);
      Result<Value> c = st.ok() ? eval(*n.cond) : Result<Value>(st.error());
      frames_.pop_back();
      if (!c.ok()) return c.error();
      if (truthy(*c)) kept.push_back(item);
    }
    items = std::move(kept);
  }
  if (items.empty()) return exec_body(n.else_body);
  const size_t len = items.size();
  for (size_t k = 0; k < len; ++k) {
    if (Status st = charge(1); !st.ok()) return at(n.pos, st.error());
    frames_.emplace_back();
    Value loop = Value::object();
    Object& o = *loop.obj;
    o.set("index", Value::integer(static_cast<int64_t>(k + 1)));
    o.set("index0", Value::integer(static_cast<int64_t>(k)));
    o.set("revindex", Value::integer(static_cast<int64_t>(len - k)));
    o.set("revindex0", Value::integer(static_cast<int64_t>(len - k - 1)));
    o.set("first", Value::boolean(k == 0));
    o.set("last", Value::boolean(k + 1 == len));
    o.set("length", Value::integer(static_cast<int64_t>(len)));
    o.set("previtem", k > 0 ? items[k - 1] : Value::undefined());
    o.set("nextitem", k + 1 < len ? items[k + 1] : Value::undefined());
    o.set("depth", Value::integer(1));
    o.set("depth0", Value::integer(0));
    o.set("cycle", Value::callable("cycle", [k](CallArgs& a) -> Result<Value> {
      if (a.pos.empty()) return make_error(ErrorCode::kInvalidArgument, "loop.cycle() needs arguments");
      return a.pos[k % a.pos.size()];
    }));
    assign("loop", loop);
    Status st = bind(items[k]);
    if (st.ok()) st = exec_body(n.body);
    frames_.pop_back();
    if (!st.ok()) return st;
    if (flow_ == Flow::kBreak) {
      flow_ = Flow::kNormal;
      break;
    }
    flow_ = Flow::kNormal;
  }
  return Status::Ok();
}

Status Interp::exec_set(const Node& n) {
  Value v;
  if (n.block_set) {
    ASSIGN_OR_RETURN(std::string s, capture(n.body));
    v = Value::str(std::move(s));
  } else {
    ASSIGN_OR_RETURN(v, eval(*n.expr));
  }
  if (!n.text.empty()) {  // ns.attr = value
    Value target = lookup(n.targets[0]);
    if (!target.is_object() || !target.is_namespace)
      return at(n.pos, make_error(ErrorCode::kInvalidArgument,
                                  "cannot assign attribute '{}' on '{}': it is not a namespace()", n.text,
                                  n.targets[0]));
    target.obj->set(n.text, std::move(v));
    if (assigned_seen_.insert(target.obj.get()).second) assigned_namespaces_.push_back(target.obj);
    return Status::Ok();
  }
  if (n.targets.size() == 1) {
    assign(n.targets[0], std::move(v));
    return Status::Ok();
  }
  if (!v.is_array() || v.arr->size() != n.targets.size())
    return at(n.pos, make_error(ErrorCode::kInvalidArgument, "cannot unpack {} into {} names", kind_name(v.kind),
                                n.targets.size()));
  for (size_t k = 0; k < n.targets.size(); ++k) assign(n.targets[k], (*v.arr)[k]);
  return Status::Ok();
}

Result<Value> Interp::make_macro(const Node& n) {
  const Node* node = &n;
  return Value::callable(n.text, [this, node](CallArgs& a) -> Result<Value> {
    if (call_depth_ >= kMaxCallDepth)
      return make_error(ErrorCode::kResourceExhausted, "macro calls nested deeper than {}", kMaxCallDepth);
    Value caller = lookup("caller");
    size_t saved_base = frame_base_;
    frames_.emplace_back();
    frame_base_ = frames_.size() - 1;
    ++call_depth_;
    auto finish = [&]() {
      --call_depth_;
      frames_.pop_back();
      frame_base_ = saved_base;
    };
    if (!caller.is_undefined()) assign("caller", caller);
    const auto& params = node->params;
    Value varargs = Value::array();
    for (size_t k = 0; k < a.pos.size(); ++k) {
      if (k < params.size()) assign(params[k].first, a.pos[k]);
      else varargs.arr->push_back(a.pos[k]);
    }
    Value kwargs = Value::object();
    for (const auto& [key, v] : a.kw) {
      bool known = false;
      for (const auto& p : params) known = known || p.first == key;
      if (known) assign(key, v);
      else kwargs.obj->set(key, v);
    }
    for (size_t k = 0; k < params.size(); ++k) {
      if (frames_.back().count(params[k].first)) continue;
      if (params[k].second) {
        auto d = eval(*params[k].second);
        if (!d.ok()) {
          finish();
          return d.error();
        }
        assign(params[k].first, *d);
      } else {
        assign(params[k].first, Value::undefined());
      }
    }
    assign("varargs", varargs);
    assign("kwargs", kwargs);
    auto s = capture(node->body);
    flow_ = Flow::kNormal;
    finish();
    if (!s.ok()) return s.error();
    return Value::str(std::move(*s));
  });
}

Status Interp::args_of(const Expr& e, CallArgs& args, const Value* first) {
  if (first) args.pos.push_back(*first);
  for (const auto& x : e.items) {
    ASSIGN_OR_RETURN(Value v, eval(*x));
    args.pos.push_back(std::move(v));
  }
  for (const auto& [k, x] : e.kwargs) {
    ASSIGN_OR_RETURN(Value v, eval(*x));
    args.kw.emplace_back(k, std::move(v));
  }
  args.steps = &steps_;
  args.max_steps = limits_.max_steps;
  return Status::Ok();
}

Result<Value> Interp::call(const Value& callee, CallArgs& args) {
  if (callee.kind != Kind::kCallable)
    return make_error(ErrorCode::kInvalidArgument, "{} is not callable", kind_name(callee.kind));
  return callee.fn->fn(args);
}

Result<Value> Interp::eval_call(const Expr& e) {
  Value callee;
  if (e.a->kind == ExprKind::kName) {
    callee = lookup(e.a->name);
    if (callee.is_undefined())
      return at(e.pos, make_error(ErrorCode::kInvalidArgument, "'{}' is undefined", e.a->name));
  } else {
    ASSIGN_OR_RETURN(callee, eval(*e.a));
  }
  CallArgs args;
  RETURN_IF_ERROR(args_of(e, args, nullptr));
  auto r = call(callee, args);
  if (!r.ok()) return at(e.pos, r.error());
  return r;
}

Result<Value> Interp::eval(const Expr& e) {
  RETURN_IF_ERROR(enter(e.pos));
  Leave leave{depth_};
  if (Status st = charge(1); !st.ok()) return at(e.pos, st.error());
  switch (e.kind) {
    case ExprKind::kLiteral: return e.value;
    case ExprKind::kName: return lookup(e.name);
    case ExprKind::kList:
    case ExprKind::kTuple: {
      Value v = Value::array();
      for (const auto& x : e.items) {
        ASSIGN_OR_RETURN(Value item, eval(*x));
        v.arr->push_back(std::move(item));
      }
      return v;
    }
    case ExprKind::kDict: {
      Value v = Value::object();
      for (size_t k = 0; k < e.keys.size(); ++k) {
        ASSIGN_OR_RETURN(Value key, eval(*e.keys[k]));
        ASSIGN_OR_RETURN(Value val, eval(*e.items[k]));
        if (!key.is_string())
          return at(e.keys[k]->pos, make_error(ErrorCode::kInvalidArgument, "dict keys must be strings"));
        v.obj->set(key.s(), std::move(val));
      }
      return v;
    }
    case ExprKind::kAttr: {
      ASSIGN_OR_RETURN(Value obj, eval(*e.a));
      auto r = get_attribute(*this, obj, e.name);
      if (!r.ok()) return at(e.pos, r.error());
      return r;
    }
    case ExprKind::kIndex: {
      ASSIGN_OR_RETURN(Value obj, eval(*e.a));
      ASSIGN_OR_RETURN(Value key, eval(*e.b));
      auto r = get_item(*this, obj, key);
      if (!r.ok()) return at(e.pos, r.error());
      return r;
    }
    case ExprKind::kSlice: {
      ASSIGN_OR_RETURN(Value obj, eval(*e.a));
      Value parts[3];
      const ExprPtr* src[3] = {&e.b, &e.c, &e.d};
      for (int k = 0; k < 3; ++k) {
        if (*src[k]) {
          ASSIGN_OR_RETURN(parts[k], eval(**src[k]));
        }
      }
      auto r = slice_value(*this, obj, parts[0], parts[1], parts[2]);
      if (!r.ok()) return at(e.pos, r.error());
      return r;
    }
    case ExprKind::kCall: return eval_call(e);
    case ExprKind::kFilter: {
      ASSIGN_OR_RETURN(Value operand, eval(*e.a));
      CallArgs args;
      RETURN_IF_ERROR(args_of(e, args, &operand));
      auto r = apply_filter(*this, e.name, args);
      if (!r.ok()) return at(e.pos, r.error());
      return r;
    }
    case ExprKind::kTest: {
      ASSIGN_OR_RETURN(Value operand, eval(*e.a));
      CallArgs args;
      RETURN_IF_ERROR(args_of(e, args, nullptr));
      auto r = apply_test(*this, e.name, operand, args);
      if (!r.ok()) return at(e.pos, r.error());
      return Value::boolean(*r != e.negate);
    }
    case ExprKind::kUnary: {
      ASSIGN_OR_RETURN(Value v, eval(*e.a));
      if (e.name == "not") return Value::boolean(!truthy(v));
      if (v.kind == Kind::kInt) {
        if (e.name == "+") return v;
        if (v.i == INT64_MIN) return Value::real(-static_cast<double>(v.i));
        return Value::integer(-v.i);
      }
      if (v.kind == Kind::kFloat) return e.name == "+" ? v : Value::real(-v.f);
      return at(e.pos, make_error(ErrorCode::kInvalidArgument, "bad operand type for unary {}: {}", e.name,
                                  kind_name(v.kind)));
    }
    case ExprKind::kBinary: return eval_binary(e);
    case ExprKind::kTernary: {
      ASSIGN_OR_RETURN(Value c, eval(*e.b));
      if (truthy(c)) return eval(*e.a);
      if (e.c) return eval(*e.c);
      return Value::undefined();
    }
  }
  return Value::undefined();
}

namespace {

Result<Value> arith(Interp& in, const std::string& op, const Value& l, const Value& r) {
  auto bad = [&]() {
    return make_error(ErrorCode::kInvalidArgument, "unsupported operand types for {}: {} and {}", op,
                      kind_name(l.kind), kind_name(r.kind));
  };
  if (op == "+") {
    if (l.is_string() && r.is_string()) {
      RETURN_IF_ERROR(in.check_string(l.s().size() + r.s().size()));
      return Value::str(l.s() + r.s());
    }
    if (l.is_array() && r.is_array()) {
      RETURN_IF_ERROR(in.check_list(l.arr->size() + r.arr->size()));
      Array a = *l.arr;
      a.insert(a.end(), r.arr->begin(), r.arr->end());
      return Value::array(std::move(a));
    }
  }
  if (op == "*") {
    const Value* seq = l.is_string() || l.is_array() ? &l : (r.is_string() || r.is_array() ? &r : nullptr);
    const Value* cnt = seq == &l ? &r : &l;
    if (seq && cnt->kind == Kind::kInt) {
      int64_t n = std::max<int64_t>(cnt->i, 0);
      if (seq->is_string()) {
        if (!seq->s().empty() && static_cast<uint64_t>(n) > (16ull << 30) / seq->s().size()) {
          return make_error(ErrorCode::kResourceExhausted, "string repetition too large");
        }
        RETURN_IF_ERROR(in.check_string(seq->s().size() * static_cast<size_t>(n)));
        std::string s;
        for (int64_t k = 0; k < n; ++k) s += seq->s();
        return Value::str(std::move(s));
      }
      if (!seq->arr->empty() && static_cast<uint64_t>(n) > kMaxListLen) return make_error(ErrorCode::kResourceExhausted, "list repetition too large");
      RETURN_IF_ERROR(in.check_list(seq->arr->size() * static_cast<size_t>(n)));
      Array a;
      for (int64_t k = 0; k < n; ++k) a.insert(a.end(), seq->arr->begin(), seq->arr->end());
      return Value::array(std::move(a));
    }
  }
  auto num = [](const Value& v) { return v.is_number() || v.kind == Kind::kBool; };
  if (!num(l) || !num(r)) return bad();
  auto as_int = [](const Value& v) { return v.kind == Kind::kBool ? int64_t(v.b) : v.i; };
  bool ints = l.kind != Kind::kFloat && r.kind != Kind::kFloat;
  double x = l.kind == Kind::kBool ? l.b : l.as_double(), y = r.kind == Kind::kBool ? r.b : r.as_double();
  if (ints) {
    int64_t a = as_int(l), b = as_int(r), res = 0;
    if (op == "+" && !__builtin_add_overflow(a, b, &res)) return Value::integer(res);
    if (op == "-" && !__builtin_sub_overflow(a, b, &res)) return Value::integer(res);
    if (op == "*" && !__builtin_mul_overflow(a, b, &res)) return Value::integer(res);
    if (op == "//" || op == "%") {
      if (b == 0) return make_error(ErrorCode::kInvalidArgument, "integer division or modulo by zero");
      if (a == INT64_MIN && b == -1) return op == "//" ? Value::real(-static_cast<double>(a)) : Value::integer(0);
      int64_t q = a / b, m = a % b;
      if (m != 0 && ((m < 0) != (b < 0))) {
        --q;
        m += b;
      }
      return Value::integer(op == "//" ? q : m);
    }
    if (op == "**" && b >= 0) {
      int64_t acc = 1;
      bool overflow = false;
      for (int64_t k = 0; k < b && !overflow; ++k) {
        overflow = __builtin_mul_overflow(acc, a, &acc);
        if (k > 64 && (a == 0 || a == 1 || a == -1)) break;
      }
      if (a == -1 && b > 64) acc = (b % 2) ? -1 : 1;
      if (!overflow) return Value::integer(acc);
    }
  }
  if (op == "+") return Value::real(x + y);
  if (op == "-") return Value::real(x - y);
  if (op == "*") return Value::real(x * y);
  if (op == "/") {
    if (y == 0) return make_error(ErrorCode::kInvalidArgument, "division by zero");
    return Value::real(x / y);
  }
  if (op == "//") {
    if (y == 0) return make_error(ErrorCode::kInvalidArgument, "division by zero");
    return Value::real(std::floor(x / y));
  }
  if (op == "%") {
    if (y == 0) return make_error(ErrorCode::kInvalidArgument, "modulo by zero");
    double m = std::fmod(x, y);
    if (m != 0 && ((m < 0) != (y < 0))) m += y;
    return Value::real(m);
  }
  if (op == "**") return Value::real(std::pow(x, y));
  return bad();
}

}  // namespace

Result<Value> Interp::eval_binary(const Expr& e) {
  const std::string& op = e.name;
  ASSIGN_OR_RETURN(Value l, eval(*e.a));
  if (op == "and") return truthy(l) ? eval(*e.b) : Result<Value>(l);
  if (op == "or") return truthy(l) ? Result<Value>(l) : eval(*e.b);
  ASSIGN_OR_RETURN(Value r, eval(*e.b));
  if (op == "==") return Value::boolean(equals(l, r));
  if (op == "!=") return Value::boolean(!equals(l, r));
  if (op == "<" || op == ">" || op == "<=" || op == ">=") {
    auto c = compare(l, r);
    if (!c.ok()) return at(e.pos, c.error());
    int v = *c;
    return Value::boolean(op == "<" ? v < 0 : op == ">" ? v > 0 : op == "<=" ? v <= 0 : v >= 0);
  }
  if (op == "in" || op == "notin") {
    CallArgs args;
    args.pos.push_back(r);
    auto res = apply_test(*this, "in", l, args);
    if (!res.ok()) return at(e.pos, res.error());
    return Value::boolean(*res == (op == "in"));
  }
  if (op == "~") {
    ASSIGN_OR_RETURN(std::string a, to_output(l));
    ASSIGN_OR_RETURN(std::string b, to_output(r));
    if (Status st = check_string(a.size() + b.size()); !st.ok()) return at(e.pos, st.error());
    return Value::str(a + b);
  }
  auto res = arith(*this, op, l, r);
  if (!res.ok()) return at(e.pos, res.error());
  return res;
}

}  // namespace paddock::chat_template::jinja
