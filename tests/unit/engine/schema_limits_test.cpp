// Hostile structured-output requests: schemas and grammars whose naive compilation grows
// exponentially, loops on a cycle, copies quadratically or recurses past the stack. Each must
// compile (or be refused naming the limit) within a few seconds; the schemas are also in the
// grammar fuzz corpus (tests/fuzz/corpus/grammar/hostile_*).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "../deadline.h"
#include "grammar/grammar.h"
#include "grammar/json_schema.h"

namespace paddock::engine {
namespace {

using namespace paddock::grammar;  // what these tests exercise (src/grammar)

using json = nlohmann::ordered_json;
using testing::within_seconds;

constexpr double kBound = 5;  // seconds; the fixed compiler needs well under one, even with ASan

Result<std::shared_ptr<const Grammar>> compile(const json& schema) {
  return within_seconds(kBound, "compiling the schema", [&] { return compile_json_schema(schema); });
}

bool accepts(const std::shared_ptr<const Grammar>& g, const std::string& text) {
  GrammarMatcher m(g);
  return m.accept(text) && m.is_complete();
}

std::string def(int i) { return "L" + std::to_string(i); }

// The probe's schema: n levels of $defs, each an object whose allOf holds the next level's $ref
// twice (3.7 KB at n = 40; the merge used to visit 2^n parts).
json doubling_all_of(int n) {
  json defs = json::object();
  for (int i = 0; i < n; ++i) {
    json next = {{"$ref", "#/$defs/" + def(i + 1)}};
    defs[def(i)] = {{"type", "object"},
                    {"properties", {{"p" + std::to_string(i), {{"type", "integer"}}}}},
                    {"allOf", json::array({next, next})}};
  }
  defs[def(n)] = {{"type", "object"}, {"properties", {{"end", {{"type", "string"}}}}}};
  return {{"$ref", "#/$defs/" + def(0)}, {"$defs", defs}};
}

TEST(SchemaLimits, AllOfDoublingCompilesOnce) {
  auto g = compile(doubling_all_of(40));
  ASSERT_TRUE(g.ok()) << g.error().message();
  // The merge of all 41 levels: every level's member, each optional, in level order.
  EXPECT_TRUE(accepts(*g, R"({"p0":1,"p39":2,"end":"x"})"));
  EXPECT_TRUE(accepts(*g, "{}"));
  EXPECT_FALSE(accepts(*g, R"({"p7":"x"})"));
  EXPECT_FALSE(accepts(*g, R"({"q":1})"));
}

// The same through members: each level's two members are allOf's of the next level, so a
// definition is merged from two places at every level (2^n merges without sharing).
TEST(SchemaLimits, MembersMergingTheNextLevelAreShared) {
  const int n = 40;
  json defs = json::object();
  for (int i = 0; i < n; ++i) {
    json merge = {{"allOf", json::array({{{"$ref", "#/$defs/" + def(i + 1)}}})}};
    defs[def(i)] = {{"type", "object"}, {"properties", {{"a", merge}, {"b", merge}}}};
  }
  defs[def(n)] = {{"type", "object"}, {"properties", {{"leaf", {{"type", "boolean"}}}}}};
  auto g = compile({{"$ref", "#/$defs/" + def(0)}, {"$defs", defs}});
  ASSERT_TRUE(g.ok()) << g.error().message();
  std::string deep = R"({"leaf":true})";
  for (int i = 0; i < n; ++i) deep = (i % 2 ? R"({"a":)" : R"({"b":)") + deep + "}";
  EXPECT_TRUE(accepts(*g, deep));
  EXPECT_FALSE(accepts(*g, R"({"a":{"leaf":1}})"));
}

// allOf that $refs itself, directly or through another definition: merging ends (it used to
// loop forever, growing its work list).
TEST(SchemaLimits, AllOfRefCyclesEnd) {
  auto self = compile(json::parse(R"({"type":"object","properties":{"a":{"type":"integer"}},"allOf":[{"$ref":"#"}]})"));
  ASSERT_TRUE(self.ok()) << self.error().message();
  EXPECT_TRUE(accepts(*self, R"({"a":1})"));
  auto mutual = compile(json::parse(R"({"$ref":"#/$defs/x","$defs":{
      "x":{"properties":{"x":{"type":"integer"}},"allOf":[{"$ref":"#/$defs/y"}]},
      "y":{"properties":{"y":{"type":"null"}},"allOf":[{"$ref":"#/$defs/x"}]}}})"));
  ASSERT_TRUE(mutual.ok()) << mutual.error().message();
  EXPECT_TRUE(accepts(*mutual, R"({"x":1,"y":null})"));
  EXPECT_FALSE(accepts(*mutual, R"({"y":1})"));
  // A member that merges its own enclosing definition recurses without end: refused by depth.
  auto member = compile(json::parse(
      R"({"$ref":"#/$defs/n","$defs":{"n":{"type":"object","properties":{"m":{"allOf":[{"$ref":"#/$defs/n"}]}}}}})"));
  ASSERT_FALSE(member.ok());
  EXPECT_NE(member.error().message().find("nested deeper than 64"), std::string::npos) << member.error().message();
}

// Work proportional to the schema is bounded too: a schema that needs more steps than
// SchemaLimits::kMaxSteps is refused (a 400 naming the limit), not compiled for seconds.
TEST(SchemaLimits, WideAnyOfIsRefusedNamingTheLimit) {
  json wide = {{"anyOf", json::array()}};
  for (size_t i = 0; i < SchemaLimits::kMaxSteps + 10; ++i) wide["anyOf"].push_back({{"const", i}});
  auto g = compile(wide);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(g.error().message().find("kMaxSchemaSteps"), std::string::npos) << g.error().message();
  EXPECT_NE(g.error().message().find(std::to_string(SchemaLimits::kMaxSteps)), std::string::npos);
  // Just under the limit compiles.
  json fits = {{"anyOf", json::array()}};
  for (int i = 0; i < 1000; ++i) fits["anyOf"].push_back({{"const", i}});
  auto ok = compile(fits);
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_TRUE(accepts(*ok, "999"));
  EXPECT_FALSE(accepts(*ok, "1000"));
}

// Deep nesting with long member names: the path of a node is not copied into each child (that
// was depth x name length bytes per node: gigabytes for a 3 MB schema), and an error quotes a
// bounded path.
TEST(SchemaLimits, LongPathsAreNotCopiedPerNode) {
  const std::string name(50000, 'n');
  json leaf = {{"anyOf", json::array()}};
  for (int i = 0; i < 20000; ++i) leaf["anyOf"].push_back({{"type", "integer"}});
  leaf["anyOf"].push_back({{"type", "string"}, {"pattern", "x"}});  // unsupported: an error at the end
  json s = leaf;
  for (int i = 0; i < 60; ++i) {
    json up = {{"type", "object"}};
    up["properties"][name] = std::move(s);
    s = std::move(up);
  }
  auto g = compile(s);
  ASSERT_FALSE(g.ok());
  const std::string& m = g.error().message();
  EXPECT_NE(m.find("'pattern'"), std::string::npos);
  EXPECT_NE(m.find("anyOf/20000"), std::string::npos);
  EXPECT_LT(m.size(), 8000u) << "the error quotes the whole 3 MB path";
}

// Deep schemas are refused by depth, whether nested inline or through a chain of $refs.
TEST(SchemaLimits, DeepNestingIsRefused) {
  json defs = json::object();
  for (int i = 0; i < 200; ++i) defs[def(i)] = {{"$ref", "#/$defs/" + def(i + 1)}};
  defs[def(200)] = {{"type", "null"}};
  auto chain = compile({{"$ref", "#/$defs/L0"}, {"$defs", defs}});
  ASSERT_FALSE(chain.ok());
  EXPECT_NE(chain.error().message().find("nested deeper than 64"), std::string::npos) << chain.error().message();
  json s = {{"type", "null"}};
  for (int i = 0; i < 200; ++i) s = {{"anyOf", json::array({s})}};
  auto inl = compile(s);
  ASSERT_FALSE(inl.ok());
  EXPECT_NE(inl.error().message().find("nested deeper than 64"), std::string::npos);
}

// GBNF: a postfix operator per nesting level would recurse once per operator when compiled and
// freed (a stack overflow for "a" followed by 100,000 '?').
TEST(GbnfLimits, StackedRepetitionOperatorsAreBounded) {
  const std::string text = "root ::= \"a\"" + std::string(100000, '?');
  auto g = within_seconds(kBound, "parsing the grammar", [&] { return parse_gbnf(text); });
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.error().message().find("nested too deeply"), std::string::npos) << g.error().message();
  auto fine = parse_gbnf("root ::= (\"a\"+)?\"b\"*");
  ASSERT_TRUE(fine.ok()) << fine.error().message();
  EXPECT_TRUE(accepts(*fine, "aab"));
}

// GBNF: deep groups are refused, and rules referring to each other in a cycle that consumes
// input compile (rules are references, never expanded).
TEST(GbnfLimits, DeepGroupsAndRuleCycles) {
  auto deep = parse_gbnf("root ::= " + std::string(100000, '(') + "\"a\"" + std::string(100000, ')'));
  ASSERT_FALSE(deep.ok());
  EXPECT_NE(deep.error().message().find("nested too deeply"), std::string::npos) << deep.error().message();
  std::string rules = "root ::= r0\n";
  for (int i = 0; i < 5000; ++i)
    rules += "r" + std::to_string(i) + " ::= \"x\" r" + std::to_string(i + 1) + " \"y\" r" + std::to_string(i + 1) +
             " | \"z\"\n";
  rules += "r5000 ::= \"(\" root \")\"\n";
  auto g = within_seconds(kBound, "compiling the grammar", [&] { return parse_gbnf(rules); });
  ASSERT_TRUE(g.ok()) << g.error().message();
  EXPECT_TRUE(accepts(*g, "xzyz"));
}

}  // namespace
}  // namespace paddock::engine
