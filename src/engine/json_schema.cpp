// JSON schema -> grammar. Each schema node becomes an expression; shared pieces (whitespace,
// strings, numbers, any value) are named rules, and every $ref target is a rule of its own so
// recursive schemas work. Keywords that would change what is valid but have no translation here
// are errors, never silently ignored.
#include "engine/json_schema.h"

#include <cmath>
#include <functional>
#include <optional>
#include <set>
#include <unordered_set>

namespace paddock::engine {
namespace {

using json = nlohmann::ordered_json;  // keeps the schema's member order
using E = GrammarExpr;

constexpr int kMaxSchemaDepth = 64;
constexpr size_t kMaxPrefixItems = 1024;  // each nests one level deeper in the expression

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

E lit(std::string_view s) { return E::lit(s); }
E cls(std::vector<std::pair<uint32_t, uint32_t>> r, bool neg = false) { return E::cls(std::move(r), neg); }
E seq(std::vector<E> v) { return E::seq(std::move(v)); }
E alt(std::vector<E> v) { return E::alt(std::move(v)); }

class SchemaCompiler {
 public:
  explicit SchemaCompiler(const json& root) : root_(root) {}

  Result<std::shared_ptr<const Grammar>> compile_schema() {
    uint32_t r = b_.rule("root");
    ASSIGN_OR_RETURN(E body, visit(root_, "#", 0));
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

  static Error err(const std::string& path, const std::string& what) {
    return make_error(ErrorCode::kInvalidArgument, "invalid format schema at {}: {}", path, what);
  }

  Result<uint32_t> bound(const json& s, const char* key, const std::string& path, uint32_t dflt) {
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

  Result<E> visit(const json& s, const std::string& path, int depth) {
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
        ASSIGN_OR_RETURN(E x, visit((*a)[i], path + "/" + key + "/" + std::to_string(i), depth + 1));
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

  Result<E> ref(const std::string& target, const std::string& path, int depth) {
    if (target.empty() || target[0] != '#')
      return err(path, "'$ref' to '" + target + "': only references inside the schema ('#...') are supported");
    const std::string name = "ref:" + target;
    bool known = b_.has_rule(name);
    uint32_t id = b_.rule(name);
    if (known) return E::ref(id);
    const json* node = nullptr;
    try {
      node = &root_.at(json::json_pointer(target.substr(1)));
    } catch (const std::exception&) {
      return err(path, "'$ref' to '" + target + "' does not resolve");
    }
    ASSIGN_OR_RETURN(E body, visit(*node, target, depth + 1));
    b_.define(id, std::move(body));
    return E::ref(id);
  }

  // allOf: the parts' object keywords merged (properties, required, additionalProperties).
  Result<E> all_of(const json& s, const std::string& path, int depth) {
    const json& parts = s["allOf"];
    if (!parts.is_array() || parts.empty()) return err(path, "'allOf' must be a non-empty array");
    json merged = s;
    merged.erase("allOf");
    std::vector<const json*> pending;
    for (const json& p : parts) pending.push_back(&p);
    for (size_t i = 0; i < pending.size(); ++i) {
      const json* p = pending[i];
      int hops = 0;
      while (p->is_object() && p->contains("$ref") && hops++ < kMaxSchemaDepth) {
        const std::string t = (*p)["$ref"].is_string() ? (*p)["$ref"].get<std::string>() : "";
        try {
          if (t.empty() || t[0] != '#') throw std::runtime_error("");
          p = &root_.at(json::json_pointer(t.substr(1)));
        } catch (const std::exception&) {
          return err(path, "'allOf' holds a '$ref' that does not resolve");
        }
      }
      if (p->is_boolean() && p->get<bool>()) continue;
      if (!p->is_object()) return err(path, "'allOf' parts must be object schemas");
      if (auto nested = p->find("allOf"); nested != p->end() && nested->is_array())
        for (const json& q : *nested) pending.push_back(&q);
      for (auto it = p->begin(); it != p->end(); ++it) {
        const std::string& k = it.key();
        if (k == "allOf" || k == "$ref" || kAnnotations.count(k)) continue;
        if (k == "properties") {
          if (!it->is_object()) return err(path, "'properties' must be an object");
          for (auto pr = it->begin(); pr != it->end(); ++pr) {
            if (merged["properties"].contains(pr.key()) && merged["properties"][pr.key()] != *pr)
              return err(path, "'allOf' parts define property '" + pr.key() + "' differently");
            merged["properties"][pr.key()] = *pr;
          }
        } else if (k == "required") {
          if (!it->is_array()) return err(path, "'required' must be an array");
          for (const json& r : *it) merged["required"].push_back(r);
        } else if (k == "type") {
          if (*it != "object") return err(path, "'allOf' is supported only for object schemas");
          merged["type"] = "object";
        } else if (k == "additionalProperties") {
          if (merged.contains(k) && merged[k] != *it) return err(path, "'allOf' parts disagree on 'additionalProperties'");
          merged[k] = *it;
        } else {
          return err(path, "'allOf' with '" + k + "' in a part is not supported (only object properties are merged)");
        }
      }
    }
    merged["type"] = "object";
    return typed(merged, "object", path, depth);
  }

  Result<E> typed(const json& s, const std::string& type, const std::string& path, int depth) {
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
    if (type == "object") return object(s, path, depth);
    if (type == "array") return array(s, path, depth);
    return err(path, "unknown type '" + type + "'");
  }

  // ---- Integer ranges ----
  // Decimal strings (no leading zeros) of the integers in [lo, hi], either end open.
  Result<E> integer_in(const json& s, const std::string& path) {
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

  Result<E> object(const json& s, const std::string& path, int depth) {
    struct Prop {
      std::string name;
      const json* schema;
      bool required;
    };
    static const json kAny = true;
    std::vector<Prop> props;
    std::unordered_set<std::string> required;
    if (auto r = s.find("required"); r != s.end()) {
      if (!r->is_array()) return err(path, "'required' must be an array of strings");
      for (const json& x : *r) {
        if (!x.is_string()) return err(path, "'required' must be an array of strings");
        required.insert(x.get<std::string>());
      }
    }
    std::unordered_set<std::string> declared;
    if (auto p = s.find("properties"); p != s.end()) {
      if (!p->is_object()) return err(path, "'properties' must be an object");
      for (auto it = p->begin(); it != p->end(); ++it) {
        props.push_back({it.key(), &it.value(), required.count(it.key()) != 0});
        declared.insert(it.key());
      }
    }
    // Required names without a declared schema: any value.
    if (auto r = s.find("required"); r != s.end())
      for (const json& x : *r)
        if (!declared.count(x.get<std::string>())) {
          props.push_back({x.get<std::string>(), &kAny, true});
          declared.insert(x.get<std::string>());
        }
    // additionalProperties: false -> none; a schema -> extra members of that schema. Absent: no
    // extra members when properties are declared (the output stays valid), any when none are.
    std::optional<E> extra;
    auto ap = s.find("additionalProperties");
    if (ap == s.end()) {
      if (props.empty()) extra = any_value();
    } else if (!(ap->is_boolean() && !ap->get<bool>())) {
      ASSIGN_OR_RETURN(E v, visit(*ap, path + "/additionalProperties", depth + 1));
      extra = std::move(v);
    }
    std::vector<E> member;
    for (size_t i = 0; i < props.size(); ++i) {
      ASSIGN_OR_RETURN(E v, visit(*props[i].schema, path + "/properties/" + props[i].name, depth + 1));
      // A rule per member: the member appears in two alternatives below, so refer, do not copy.
      uint32_t m = fresh("member");
      b_.define(m, seq({lit(json(props[i].name).dump()), ws(), lit(":"), ws(), std::move(v), ws()}));
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

  Result<E> array(const json& s, const std::string& path, int depth) {
    ASSIGN_OR_RETURN(uint32_t min, bound(s, "minItems", path, 0));
    ASSIGN_OR_RETURN(uint32_t max, bound(s, "maxItems", path, E::kUnbounded));
    if (max != E::kUnbounded && max < min) return err(path, "'maxItems' is below 'minItems'");
    std::vector<E> prefix;
    std::optional<E> rest;  // items after the prefix; none: no more allowed
    const json* prefix_items = nullptr;
    const json* rest_schema = nullptr;
    std::string rest_path;
    if (auto p = s.find("prefixItems"); p != s.end()) {
      if (!p->is_array()) return err(path, "'prefixItems' must be an array");
      prefix_items = &*p;
      if (auto it = s.find("items"); it != s.end()) rest_schema = &*it, rest_path = path + "/items";
    } else if (auto it = s.find("items"); it != s.end() && it->is_array()) {
      prefix_items = &*it;  // draft 4-7 tuple form
      if (auto ai = s.find("additionalItems"); ai != s.end()) rest_schema = &*ai, rest_path = path + "/additionalItems";
    } else if (it != s.end()) {
      rest_schema = &*it;
      rest_path = path + "/items";
    }
    if (prefix_items && prefix_items->size() > kMaxPrefixItems)
      return err(path, "more than " + std::to_string(kMaxPrefixItems) + " prefixItems are not supported");
    if (prefix_items)
      for (size_t i = 0; i < prefix_items->size() && i < max; ++i) {
        ASSIGN_OR_RETURN(E e, visit((*prefix_items)[i], path + "/prefixItems/" + std::to_string(i), depth + 1));
        prefix.push_back(std::move(e));
      }
    if (rest_schema == nullptr) {
      rest = any_value();
    } else if (!(rest_schema->is_boolean() && !rest_schema->get<bool>())) {
      ASSIGN_OR_RETURN(E e, visit(*rest_schema, rest_path, depth + 1));
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

}  // namespace paddock::engine
