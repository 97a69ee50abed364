// JSON schema -> grammar. Each schema node becomes an expression; shared pieces (whitespace,
// strings, numbers, any value) are named rules, and every $ref target is a rule of its own so
// recursive schemas work. Keywords that would change what is valid but have no translation here
// are errors, never silently ignored.
#include "grammar/json_schema.h"

#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace paddock::grammar {
namespace {

using json = nlohmann::ordered_json;  // keeps the schema's member order
using E = GrammarExpr;

constexpr int kMaxSchemaDepth = SchemaLimits::kMaxDepth;
constexpr size_t kMaxPrefixItems = SchemaLimits::kMaxPrefixItems;
constexpr size_t kMaxPathSegment = 64;  // bytes of one member name quoted in an error

// Keywords that constrain validity and are not translated: rejected so a client knows.
const std::set<std::string> kUnsupported = {
    "pattern", "patternProperties",
    "multipleOf", "minProperties", "maxProperties", "propertyNames", "not", "if", "then", "else",
    "dependentRequired", "dependentSchemas", "dependencies", "contains", "minContains", "maxContains",
    "unevaluatedProperties", "unevaluatedItems", "$dynamicRef", "$recursiveRef", "contentSchema"};

// Numeric bounds: supported on integers only (anywhere else they are an error).
const char* const kNumericBounds[] = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"};
constexpr int64_t kMaxBound = 999999999999999;  // 15 digits: exact in a double

// Keywords that say nothing about validity (or only about other types' values).
const std::set<std::string> kAnnotations = {
    "title", "description", "$schema", "$id", "$comment", "default", "examples", "deprecated", "readOnly",
    "writeOnly", "format", "$defs", "definitions", "$anchor", "contentEncoding", "contentMediaType", "strict"};

// Where a schema node is, for error messages ("#/properties/a/anyOf/1"): a chain through the
// callers' frames, turned into text only when an error names it (a string per node would copy
// the whole path into every child).
struct Path {
  const Path* up = nullptr;
  std::string_view key;     // "#", a $ref target, or a keyword
  std::string_view name;    // a member name after the keyword, if any
  size_t index = SIZE_MAX;  // an array position after the keyword, if any

  std::string str() const {
    std::vector<const Path*> chain;
    for (const Path* p = this; p; p = p->up) chain.push_back(p);
    std::string out;
    for (size_t k = chain.size(); k-- > 0;) {
      const Path& p = *chain[k];
      if (!out.empty()) out += '/';
      out += p.key;
      if (!p.name.empty()) {
        out += '/';
        out += p.name.substr(0, kMaxPathSegment);
        if (p.name.size() > kMaxPathSegment) out += "...";
      }
      if (p.index != SIZE_MAX) out += "/" + std::to_string(p.index);
    }
    return out;
  }
};

E lit(std::string_view s) { return E::lit(s); }
E cls(std::vector<std::pair<uint32_t, uint32_t>> r, bool neg = false) { return E::cls(std::move(r), neg); }
E seq(std::vector<E> v) { return E::seq(std::move(v)); }
E alt(std::vector<E> v) { return E::alt(std::move(v)); }

class SchemaCompiler {
 public:
  explicit SchemaCompiler(const json& root) : root_(root) {}

  Result<std::shared_ptr<const Grammar>> compile_schema() {
    uint32_t r = b_.rule("root");
    ASSIGN_OR_RETURN(E body, visit(root_, Path{nullptr, "#"}, 0));
    b_.define(r, seq({ws(), std::move(body)}));
    return b_.build(r);
  }

  Result<std::shared_ptr<const Grammar>> compile_any_object() {
    uint32_t r = b_.rule("root");
    b_.define(r, seq({ws(), any_object()}));
    return b_.build(r);
  }

 private:
  // A named shared rule, defined on first use (the body may refer back to it).
  E named(const std::string& name, const std::function<E()>& body) {
    uint32_t id = b_.rule(name);
    if (!b_.defined(id) && started_.insert(id).second) b_.define(id, body());
    return E::ref(id);
  }
  uint32_t fresh(const std::string& prefix) { return b_.rule(prefix + "#" + std::to_string(n_fresh_++)); }

  E ws() {
    return named("ws", [] {
      E blank = cls({{' ', ' '}, {'\t', '\t'}});
      return E::opt(alt({blank, seq({lit("\n"), E::repeat(blank, 0, kMaxIndent)})}));
    });
  }
  E hex() { return cls({{'0', '9'}, {'a', 'f'}, {'A', 'F'}}); }
  E str_char() {
    return named("char", [this] {
      // \uXXXX: any BMP code point but a surrogate, or a surrogate pair (what strict parsers accept).
      E esc_u = alt({seq({cls({{'0', '9'}, {'a', 'c'}, {'A', 'C'}, {'e', 'f'}, {'E', 'F'}}), hex(), hex(), hex()}),
                     seq({cls({{'d', 'd'}, {'D', 'D'}}), cls({{'0', '7'}}), hex(), hex()}),
                     seq({cls({{'d', 'd'}, {'D', 'D'}}), cls({{'8', '9'}, {'a', 'b'}, {'A', 'B'}}), hex(), hex(),
                          lit("\\u"), cls({{'d', 'd'}, {'D', 'D'}}), cls({{'c', 'f'}, {'C', 'F'}}), hex(), hex()})});
      return alt({cls({{'"', '"'}, {'\\', '\\'}, {0, 0x1F}}, true),
                  seq({lit("\\"), alt({cls({{'"', '"'}, {'\\', '\\'}, {'/', '/'}, {'b', 'b'}, {'f', 'f'}, {'n', 'n'},
                                            {'r', 'r'}, {'t', 't'}}),
                                       seq({lit("u"), esc_u})})})});
    });
  }
  E string(uint32_t min = 0, uint32_t max = E::kUnbounded) {
    if (min == 0 && max == E::kUnbounded)
      return named("string", [this] { return seq({lit("\""), E::repeat(str_char(), 0, E::kUnbounded), lit("\"")}); });
    return seq({lit("\""), E::repeat(str_char(), min, max), lit("\"")});
  }
  E int_part() {
    return named("int-part", [] {
      return alt({lit("0"), seq({cls({{'1', '9'}}), E::repeat(cls({{'0', '9'}}), 0, kMaxIntDigits - 1)})});
    });
  }
  E integer() { return named("integer", [this] { return seq({E::opt(lit("-")), int_part()}); }); }
  E number() {
    return named("number", [this] {
      E digit = cls({{'0', '9'}});
      return seq({E::opt(lit("-")), int_part(), E::opt(seq({lit("."), E::repeat(digit, 1, kMaxFracDigits)})),
                  E::opt(seq({cls({{'e', 'e'}, {'E', 'E'}}), E::opt(cls({{'+', '+'}, {'-', '-'}})),
                              E::repeat(digit, 1, kMaxExpDigits)}))});
    });
  }
  E boolean() { return named("boolean", [] { return alt({lit("true"), lit("false")}); }); }
  E any_value() {
    return named("value", [this] {
      return alt({any_object(), any_array(), string(), number(), lit("true"), lit("false"), lit("null")});
    });
  }
  E any_object() {
    return named("object", [this] {
      E member = seq({string(), ws(), lit(":"), ws(), any_value(), ws()});
      return seq({lit("{"), ws(), E::opt(seq({member, E::repeat(seq({lit(","), ws(), member}), 0, E::kUnbounded)})),
                  lit("}")});
    });
  }
  E any_array() {
    return named("array", [this] {
      E item = seq({any_value(), ws()});
      return seq({lit("["), ws(), E::opt(seq({item, E::repeat(seq({lit(","), ws(), item}), 0, E::kUnbounded)})),
                  lit("]")});
    });
  }

  static Error err(const Path& path, const std::string& what) {
    return make_error(ErrorCode::kInvalidArgument, "invalid format schema at {}: {}", path.str(), what);
  }

  // Work is counted as it is done; a schema that needs more is refused, whatever its size.
  Status charge(const Path& path, size_t n = 1) {
    steps_ += n;
    if (steps_ > SchemaLimits::kMaxSteps)
      return err(path, "the schema is too complex: compiling it takes more than " +
                           std::to_string(SchemaLimits::kMaxSteps) + " steps (limit kMaxSchemaSteps)");
    return Status::Ok();
  }

  Result<uint32_t> bound(const json& s, const char* key, const Path& path, uint32_t dflt) {
    auto it = s.find(key);
    if (it == s.end()) return dflt;
    if (!it->is_number_integer() && !(it->is_number_float() && it->get<double>() == static_cast<double>(static_cast<int64_t>(it->get<double>()))))
      return err(path, std::string("'") + key + "' must be a non-negative integer");
    double v = it->get<double>();
    if (v < 0) return err(path, std::string("'") + key + "' must be a non-negative integer");
    if (v > GrammarBuilder::kMaxRepeat)
      return err(path, std::string("'") + key + "' = " + it->dump() + " is larger than the supported " +
                           std::to_string(GrammarBuilder::kMaxRepeat));
    return static_cast<uint32_t>(v);
  }

  // Validity-changing keywords other than `allowed` (plus annotations) present in s.
  static std::string extra_keyword(const json& s, const std::set<std::string>& allowed) {
    for (auto it = s.begin(); it != s.end(); ++it)
      if (!allowed.count(it.key()) && !kAnnotations.count(it.key())) return it.key();
    return {};
  }

  Result<E> visit(const json& s, const Path& path, int depth) {
    RETURN_IF_ERROR(charge(path));
    if (depth > kMaxSchemaDepth) return err(path, "schemas nested deeper than " + std::to_string(kMaxSchemaDepth));
    if (s.is_boolean()) {
      if (s.get<bool>()) return any_value();
      return err(path, "the schema 'false' accepts no value");
    }
    if (!s.is_object()) return err(path, "a schema must be an object or a boolean");
    for (auto it = s.begin(); it != s.end(); ++it) {
      if (kUnsupported.count(it.key())) return err(path, "the keyword '" + it.key() + "' is not supported");
      if (it.key() == "uniqueItems" && it->is_boolean() && it->get<bool>())
        return err(path, "the keyword 'uniqueItems' is not supported");
    }
    if (auto r = s.find("$ref"); r != s.end()) {
      std::string k = extra_keyword(s, {"$ref"});
      if (!k.empty()) return err(path, "'$ref' next to '" + k + "' is not supported");
      if (!r->is_string()) return err(path, "'$ref' must be a string");
      return ref(r->get<std::string>(), path, depth);
    }
    if (s.contains("const") || s.contains("enum") || !s.contains("type"))
      for (const char* k : kNumericBounds)
        if (s.contains(k))
          return err(path, std::string("'") + k + "' is supported only with \"type\": \"integer\"");
    if (auto c = s.find("const"); c != s.end()) return lit(c->dump());
    if (auto en = s.find("enum"); en != s.end()) {
      if (!en->is_array() || en->empty()) return err(path, "'enum' must be a non-empty array");
      RETURN_IF_ERROR(charge(path, en->size()));
      std::vector<E> alts;
      for (const json& v : *en) alts.push_back(lit(v.dump()));
      return alt(std::move(alts));
    }
    for (const char* key : {"anyOf", "oneOf"}) {
      auto a = s.find(key);
      if (a == s.end()) continue;
      // oneOf is compiled as anyOf: outputs satisfy at least one branch (docs/API.md).
      if (!a->is_array() || a->empty()) return err(path, std::string("'") + key + "' must be a non-empty array");
      std::string k = extra_keyword(s, {key});
      if (!k.empty()) return err(path, std::string("'") + key + "' next to '" + k + "' is not supported");
      std::vector<E> alts;
      for (size_t i = 0; i < a->size(); ++i) {
        ASSIGN_OR_RETURN(E x, visit((*a)[i], Path{&path, key, {}, i}, depth + 1));
        alts.push_back(std::move(x));
      }
      return alt(std::move(alts));
    }
    if (s.contains("allOf")) return all_of(s, path, depth);
    if (auto t = s.find("type"); t != s.end()) {
      if (t->is_string()) return typed(s, t->get<std::string>(), path, depth);
      if (!t->is_array() || t->empty()) return err(path, "'type' must be a string or a non-empty array of strings");
      std::vector<E> alts;
      for (const json& x : *t) {
        if (!x.is_string()) return err(path, "'type' must be a string or a non-empty array of strings");
        RETURN_IF_ERROR(charge(path));
        ASSIGN_OR_RETURN(E e, typed(s, x.get<std::string>(), path, depth));
        alts.push_back(std::move(e));
      }
      return alt(std::move(alts));
    }
    // No type: infer it from the keywords present, else any value.
    if (s.contains("properties") || s.contains("required") || s.contains("additionalProperties"))
      return typed(s, "object", path, depth);
    if (s.contains("items") || s.contains("prefixItems") || s.contains("minItems") || s.contains("maxItems"))
      return typed(s, "array", path, depth);
    if (s.contains("minLength") || s.contains("maxLength")) return typed(s, "string", path, depth);
    return any_value();
  }

  // A member's schema. The same node can be reached again through allOf merges (two parts that
  // $ref one definition, or definitions whose members merge the next one), so its expression is
  // kept and, from the second use on, shared as a rule instead of compiled again (which would
  // grow exponentially with the nesting).
  Result<E> visit_member(const json& s, const Path& path, int depth) {
    if (auto it = members_.find(&s); it != members_.end()) {
      RETURN_IF_ERROR(charge(path));
      if (it->second.kind != E::Kind::kRef) {
        uint32_t id = fresh("shared");
        b_.define(id, std::move(it->second));
        it->second = E::ref(id);
      }
      return it->second;
    }
    ASSIGN_OR_RETURN(E e, visit(s, path, depth));
    members_.emplace(&s, e);
    return e;
  }

  Result<E> ref(const std::string& target, const Path& path, int depth) {
    if (target.empty() || target[0] != '#')
      return err(path, "'$ref' to '" + target + "': only references inside the schema ('#...') are supported");
    const std::string name = "ref:" + target;
    bool known = b_.has_rule(name);
    uint32_t id = b_.rule(name);
    if (known) return E::ref(id);
    const json* node = resolve(target);
    if (!node) return err(path, "'$ref' to '" + target + "' does not resolve");
    ASSIGN_OR_RETURN(E body, visit(*node, Path{nullptr, target}, depth + 1));
    b_.define(id, std::move(body));
    return E::ref(id);
  }

  const json* resolve(const std::string& target) const {
    if (target.empty() || target[0] != '#') return nullptr;
    try {
      return &root_.at(json::json_pointer(target.substr(1)));
    } catch (const std::exception&) {
      return nullptr;
    }
  }

  // The object keywords of a schema, or of allOf's parts merged. Member schemas point into the
  // schema document (never copies), so a member reached twice is recognized (visit_member).
  struct ObjectSpec {
    std::vector<std::pair<std::string, const json*>> props;  // in the order written
    std::unordered_map<std::string, size_t> prop_index;
    std::vector<std::string> required;  // in the order written
    const json* additional = nullptr;   // additionalProperties, when present
  };

  // Adds schema s's object keywords to spec (`merging`: s is one of allOf's parts).
  Status add_object_keywords(const json& s, ObjectSpec& spec, const Path& path, bool merging) {
    if (auto r = s.find("required"); r != s.end()) {
      if (!r->is_array()) return err(path, "'required' must be an array of strings");
      RETURN_IF_ERROR(charge(path, r->size()));
      for (const json& x : *r) {
        if (!x.is_string()) return err(path, "'required' must be an array of strings");
        spec.required.push_back(x.get<std::string>());
      }
    }
    if (auto p = s.find("properties"); p != s.end()) {
      if (!p->is_object()) return err(path, "'properties' must be an object");
      RETURN_IF_ERROR(charge(path, p->size()));
      for (auto it = p->begin(); it != p->end(); ++it) {
        auto [at, added] = spec.prop_index.emplace(it.key(), spec.props.size());
        if (added) {
          spec.props.emplace_back(it.key(), &it.value());
        } else if (!same_schema(spec.props[at->second].second, &it.value())) {
          return err(path, "'allOf' parts define property '" + it.key() + "' differently");
        }
      }
    }
    if (auto ap = s.find("additionalProperties"); ap != s.end()) {
      if (merging && spec.additional && !same_schema(spec.additional, &*ap))
        return err(path, "'allOf' parts disagree on 'additionalProperties'");
      spec.additional = &*ap;
    }
    return Status::Ok();
  }

  // Deep equality of two schema nodes, each pair compared once.
  bool same_schema(const json* a, const json* b) {
    if (a == b) return true;
    auto key = std::make_pair(std::min(a, b), std::max(a, b));
    auto it = compared_.find(key);
    if (it == compared_.end()) it = compared_.emplace(key, *a == *b).first;
    return it->second;
  }

  // allOf: the object keywords of the schema and its parts merged (properties, required,
  // additionalProperties). Each part is merged once however often parts $ref it, which also
  // ends a cycle of allOf $refs.
  Result<E> all_of(const json& s, const Path& path, int depth) {
    const json& parts = s["allOf"];
    if (!parts.is_array() || parts.empty()) return err(path, "'allOf' must be a non-empty array");
    std::vector<const json*> pending{&s};
    std::unordered_set<const json*> seen{&s};
    ObjectSpec spec;
    for (size_t i = 0; i < pending.size(); ++i) {
      RETURN_IF_ERROR(charge(path));
      const json* p = pending[i];
      // A part that is a $ref is merged where it stands (members keep the order written), once.
      bool merged_before = false;
      for (int hops = 0; p->is_object() && p->contains("$ref") && !merged_before; ++hops) {
        const json& r = *p->find("$ref");
        const json* target = r.is_string() ? resolve(r.get<std::string>()) : nullptr;
        if (!target) return err(path, "'allOf' holds a '$ref' that does not resolve");
        if (hops >= kMaxSchemaDepth)
          return err(path, "'allOf' holds $refs nested deeper than " + std::to_string(kMaxSchemaDepth));
        p = target;
        merged_before = !seen.insert(p).second;
      }
      if (merged_before) continue;
      if (p->is_boolean() && p->get<bool>()) continue;
      if (!p->is_object()) return err(path, "'allOf' parts must be object schemas");
      if (auto nested = p->find("allOf"); nested != p->end()) {
        if (!nested->is_array() || nested->empty()) return err(path, "'allOf' must be a non-empty array");
        for (const json& q : *nested)
          if (seen.insert(&q).second) pending.push_back(&q);
      }
      for (auto it = p->begin(); it != p->end(); ++it) {
        const std::string& k = it.key();
        if (k == "allOf" || k == "$ref" || k == "properties" || k == "required" || k == "additionalProperties" ||
            kAnnotations.count(k))
          continue;
        if (k == "type") {
          if (*it != "object") return err(path, "'allOf' is supported only for object schemas");
        } else {
          return err(path, "'allOf' with '" + k + "' in a part is not supported (only object properties are merged)");
        }
      }
      RETURN_IF_ERROR(add_object_keywords(*p, spec, path, true));
    }
    return object(spec, path, depth);
  }

  Result<E> typed(const json& s, const std::string& type, const Path& path, int depth) {
    if (type == "string") {
      ASSIGN_OR_RETURN(uint32_t lo, bound(s, "minLength", path, 0));
      ASSIGN_OR_RETURN(uint32_t hi, bound(s, "maxLength", path, E::kUnbounded));
      if (hi != E::kUnbounded && hi < lo) return err(path, "'maxLength' is below 'minLength'");
      return string(lo, hi);
    }
    if (type == "number") {
      for (const char* k : kNumericBounds)
        if (s.contains(k))
          return err(path, std::string("'") + k + "' is supported only with \"type\": \"integer\", not \"number\"");
      return number();
    }
    if (type == "integer") return integer_in(s, path);
    if (type == "boolean") return boolean();
    if (type == "null") return lit("null");
    if (type == "object") {
      ObjectSpec spec;
      RETURN_IF_ERROR(add_object_keywords(s, spec, path, false));
      return object(spec, path, depth);
    }
    if (type == "array") return array(s, path, depth);
    return err(path, "unknown type '" + type + "'");
  }

  // ---- Integer ranges ----
  // Decimal strings (no leading zeros) of the integers in [lo, hi], either end open.
  Result<E> integer_in(const json& s, const Path& path) {
    std::optional<int64_t> lo, hi;
    for (const char* k : kNumericBounds) {
      auto it = s.find(k);
      if (it == s.end()) continue;
      if (!it->is_number()) return err(path, std::string("'") + k + "' must be a number");
      double v = it->get<double>();
      if (!(std::fabs(v) <= static_cast<double>(kMaxBound)))
        return err(path, std::string("'") + k + "' = " + it->dump() + " is out of the supported range (|x| <= 10^15)");
      const std::string key = k;
      if (key == "minimum" || key == "exclusiveMinimum") {
        auto b = static_cast<int64_t>(key == "minimum" ? std::ceil(v) : std::floor(v) + 1);
        lo = lo ? std::max(*lo, b) : b;
      } else {
        auto b = static_cast<int64_t>(key == "maximum" ? std::floor(v) : std::ceil(v) - 1);
        hi = hi ? std::min(*hi, b) : b;
      }
    }
    if (!lo && !hi) return integer();
    if (lo && hi && *lo > *hi) return err(path, "no integer lies within the bounds");
    std::vector<E> alts;
    // Non-negative part.
    if (!hi || *hi >= 0) {
      int64_t a = lo ? std::max<int64_t>(*lo, 0) : 0;
      alts.push_back(nonneg_range(a, hi));
    }
    // Negative part: "-" and the magnitudes.
    if (!lo || *lo < 0) {
      int64_t a = hi ? std::max<int64_t>(-std::min<int64_t>(*hi, -1), 1) : 1;
      std::optional<int64_t> b;
      if (lo) b = -*lo;
      alts.push_back(seq({lit("-"), nonneg_range(a, b)}));
    }
    return alt(std::move(alts));
  }

  // [a, b] (b open when absent; then at most max(kMaxIntDigits, digits of a) digits).
  E nonneg_range(int64_t a, std::optional<int64_t> b) {
    const std::string sa = std::to_string(a);
    const size_t max_len = b ? std::to_string(*b).size() : std::max<size_t>(kMaxIntDigits, sa.size());
    std::vector<E> alts;
    for (size_t len = sa.size(); len <= max_len; ++len) {
      std::string lo_s = len == sa.size() ? sa : "1" + std::string(len - 1, '0');
      if (len == 1 && len != sa.size()) lo_s = "0";
      std::string hi_s = std::string(len, '9');
      if (b && len == max_len) hi_s = std::to_string(*b);
      if (lo_s > hi_s) continue;  // same length: string order is numeric order
      alts.push_back(fixed_range(lo_s, hi_s));
    }
    return alt(std::move(alts));
  }

  // Digit strings of one length between lo and hi (inclusive, leading zeros as given).
  E fixed_range(const std::string& lo, const std::string& hi) {
    const size_t n = lo.size();
    if (n == 0) return E::empty();
    const auto all = [](const std::string& x, char c) { return x.find_first_not_of(c) == std::string::npos; };
    auto digits = [](char a, char b) { return cls({{static_cast<uint32_t>(a), static_cast<uint32_t>(b)}}); };
    const std::string lo_rest = lo.substr(1), hi_rest = hi.substr(1);
    if (all(lo_rest, '0') && all(hi_rest, '9'))
      return seq({digits(lo[0], hi[0]), E::repeat(digits('0', '9'), static_cast<uint32_t>(n - 1),
                                                      static_cast<uint32_t>(n - 1))});
    if (lo[0] == hi[0]) return seq({lit(std::string(1, lo[0])), fixed_range(lo_rest, hi_rest)});
    std::vector<E> alts;
    alts.push_back(seq({lit(std::string(1, lo[0])), fixed_range(lo_rest, std::string(n - 1, '9'))}));
    if (lo[0] + 1 <= hi[0] - 1)
      alts.push_back(seq({digits(static_cast<char>(lo[0] + 1), static_cast<char>(hi[0] - 1)),
                          E::repeat(digits('0', '9'), static_cast<uint32_t>(n - 1), static_cast<uint32_t>(n - 1))}));
    alts.push_back(seq({lit(std::string(1, hi[0])), fixed_range(std::string(n - 1, '0'), hi_rest)}));
    return alt(std::move(alts));
  }

  Result<E> object(const ObjectSpec& spec, const Path& path, int depth) {
    struct Prop {
      std::string_view name;
      const json* schema;
      bool required;
    };
    static const json kAny = true;
    std::unordered_set<std::string_view> required(spec.required.begin(), spec.required.end());
    std::vector<Prop> props;
    std::unordered_set<std::string_view> declared;
    for (const auto& [name, schema] : spec.props) {
      props.push_back({name, schema, required.count(name) != 0});
      declared.insert(name);
    }
    // Required names without a declared schema: any value.
    for (const std::string& name : spec.required)
      if (declared.insert(name).second) props.push_back({name, &kAny, true});
    const json* ap = spec.additional;
    // additionalProperties: false -> none; a schema -> extra members of that schema. Absent: no
    // extra members when properties are declared (the output stays valid), any when none are.
    std::optional<E> extra;
    if (ap == nullptr) {
      if (props.empty()) extra = any_value();
    } else if (!(ap->is_boolean() && !ap->get<bool>())) {
      ASSIGN_OR_RETURN(E v, visit_member(*ap, Path{&path, "additionalProperties"}, depth + 1));
      extra = std::move(v);
    }
    std::vector<E> member;
    for (size_t i = 0; i < props.size(); ++i) {
      RETURN_IF_ERROR(charge(path));
      ASSIGN_OR_RETURN(E v, visit_member(*props[i].schema, Path{&path, "properties", props[i].name}, depth + 1));
      // A rule per member: the member appears in two alternatives below, so refer, do not copy.
      uint32_t m = fresh("member");
      b_.define(m, seq({lit(json(std::string(props[i].name)).dump()), ws(), lit(":"), ws(), std::move(v), ws()}));
      member.push_back(E::ref(m));
    }
    std::optional<E> extra_member;
    if (extra) {
      uint32_t m = fresh("extra-member");
      b_.define(m, seq({string(), ws(), lit(":"), ws(), *extra, ws()}));
      extra_member = E::ref(m);
    }
    // after(i): members i.. when one was already written (each needs a comma); first(i): none yet.
    const size_t n = props.size();
    std::vector<uint32_t> after(n + 1), first(n + 1);
    for (size_t i = 0; i <= n; ++i) {
      after[i] = fresh("obj-after");
      first[i] = fresh("obj-first");
    }
    if (extra_member) {
      E more = E::repeat(seq({lit(","), ws(), *extra_member}), 0, E::kUnbounded);
      b_.define(after[n], more);
      b_.define(first[n], E::opt(seq({*extra_member, more})));
    } else {
      b_.define(after[n], E::empty());
      b_.define(first[n], E::empty());
    }
    for (size_t i = n; i-- > 0;) {
      E with_after = seq({lit(","), ws(), member[i], E::ref(after[i + 1])});
      E first_here = seq({member[i], E::ref(after[i + 1])});
      if (props[i].required) {
        b_.define(after[i], with_after);
        b_.define(first[i], first_here);
      } else {
        b_.define(after[i], alt({with_after, E::ref(after[i + 1])}));
        b_.define(first[i], alt({first_here, E::ref(first[i + 1])}));
      }
    }
    return seq({lit("{"), ws(), E::ref(first[0]), lit("}")});
  }

  Result<E> array(const json& s, const Path& path, int depth) {
    ASSIGN_OR_RETURN(uint32_t min, bound(s, "minItems", path, 0));
    ASSIGN_OR_RETURN(uint32_t max, bound(s, "maxItems", path, E::kUnbounded));
    if (max != E::kUnbounded && max < min) return err(path, "'maxItems' is below 'minItems'");
    std::vector<E> prefix;
    std::optional<E> rest;  // items after the prefix; none: no more allowed
    const json* prefix_items = nullptr;
    const json* rest_schema = nullptr;
    const char* rest_key = "items";
    if (auto p = s.find("prefixItems"); p != s.end()) {
      if (!p->is_array()) return err(path, "'prefixItems' must be an array");
      prefix_items = &*p;
      if (auto it = s.find("items"); it != s.end()) rest_schema = &*it;
    } else if (auto it = s.find("items"); it != s.end() && it->is_array()) {
      prefix_items = &*it;  // draft 4-7 tuple form
      if (auto ai = s.find("additionalItems"); ai != s.end()) rest_schema = &*ai, rest_key = "additionalItems";
    } else if (it != s.end()) {
      rest_schema = &*it;
    }
    if (prefix_items && prefix_items->size() > kMaxPrefixItems)
      return err(path, "more than " + std::to_string(kMaxPrefixItems) + " prefixItems are not supported");
    if (prefix_items)
      for (size_t i = 0; i < prefix_items->size() && i < max; ++i) {
        ASSIGN_OR_RETURN(E e, visit((*prefix_items)[i], Path{&path, "prefixItems", {}, i}, depth + 1));
        prefix.push_back(std::move(e));
      }
    if (rest_schema == nullptr) {
      rest = any_value();
    } else if (!(rest_schema->is_boolean() && !rest_schema->get<bool>())) {
      ASSIGN_OR_RETURN(E e, visit(*rest_schema, Path{&path, rest_key}, depth + 1));
      rest = std::move(e);
    }
    const auto n_prefix = static_cast<uint32_t>(prefix.size());
    if (!rest) max = std::min(max, n_prefix);
    if (max < min) return err(path, "'minItems' asks for more items than the schema allows");
    if (max == 0) return seq({lit("["), ws(), lit("]")});
    auto item = [&](uint32_t k) { return k < n_prefix ? prefix[k] : *rest; };
    // tail(k): what may follow after k items.
    std::function<E(uint32_t)> tail = [&](uint32_t k) -> E {
      if (max != E::kUnbounded && k >= max) return E::empty();
      if (k >= n_prefix) {
        uint32_t need = min > k ? min - k : 0;
        return E::repeat(seq({lit(","), ws(), *rest, ws()}), need,
                         max == E::kUnbounded ? E::kUnbounded : max - k);
      }
      E next = seq({lit(","), ws(), item(k), ws(), tail(k + 1)});
      if (k >= min) return E::opt(std::move(next));
      return next;
    };
    E body = seq({item(0), ws(), tail(1)});
    if (min == 0) body = E::opt(std::move(body));
    return seq({lit("["), ws(), std::move(body), lit("]")});
  }

  const json& root_;
  GrammarBuilder b_;
  std::unordered_set<uint32_t> started_;
  uint32_t n_fresh_ = 0;
  size_t steps_ = 0;
  std::unordered_map<const json*, E> members_;                    // see visit_member
  std::map<std::pair<const json*, const json*>, bool> compared_;  // see same_schema
};

}  // namespace

Result<std::shared_ptr<const Grammar>> compile_json_schema(const nlohmann::ordered_json& schema) {
  return SchemaCompiler(schema).compile_schema();
}

Result<std::shared_ptr<const Grammar>> compile_format(const nlohmann::ordered_json& format) {
  if (format.is_string()) {
    if (format.get<std::string>() != "json")
      return make_error(ErrorCode::kInvalidArgument, "invalid format '{}': expected \"json\" or a JSON schema object",
                        format.get<std::string>());
    static const auto any = SchemaCompiler(json(nullptr)).compile_any_object();
    return any;
  }
  if (!format.is_object())
    return make_error(ErrorCode::kInvalidArgument, "invalid format: expected \"json\" or a JSON schema object");
  return compile_json_schema(format);
}

}  // namespace paddock::grammar
