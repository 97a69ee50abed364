// JSON schema -> grammar, checked against an independent validator: for every schema in
// tests/fixtures/grammar/schemas.json, random token choices from the real Llama 3 vocabulary under
// the grammar mask (fixed seeds) must reproduce byte for byte the outputs that ajv validated
// (tools/schema_oracle.mjs wrote schema_outputs.json), every completed one valid; the fixture's
// invalid instances, which ajv rejects, our grammar rejects too. Plus the errors for schemas we
// cannot honour.
//
// PADDOCK_SCHEMA_DUMP=<file> makes the fixture test write the outputs instead of comparing them
// (that is how tools/schema_oracle.mjs gets them to validate); the test then reports itself skipped.
#include "grammar/json_schema.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include "grammar_vocab.h"
#include "util/util.h"

namespace paddock::engine {
namespace {

using namespace paddock::grammar;  // what these tests exercise (src/grammar)

using json = nlohmann::json;

const std::string kFixtures = "../../fixtures/grammar/";
constexpr int kSeeds = 6;
constexpr int kMaxTokens = 160;

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Sample {
  std::string text;
  bool complete = false;
};

// Random walk through the grammar: at each step a uniformly random allowed text token; once the
// output is complete, stop with probability 1/2 (always when nothing may follow).
Sample generate(const std::shared_ptr<const Grammar>& g, const TokenTrie& trie, uint64_t seed) {
  GrammarMatcher m(g);
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> mask;
  std::vector<int32_t> allowed;
  Sample s;
  for (int step = 0; step < kMaxTokens; ++step) {
    if (m.is_complete() && (!m.can_continue() || rng() % 2 == 0)) break;
    m.fill_mask(trie, mask);
    allowed.clear();
    for (int32_t id = 0; id < trie.n_vocab(); ++id)
      if (mask[id] && trie.kind(id) == TokenTrie::Kind::kText) allowed.push_back(id);
    if (allowed.empty()) break;
    int32_t t = allowed[rng() % allowed.size()];
    EXPECT_TRUE(m.accept(trie.piece(t)));
    s.text += trie.piece(t);
  }
  s.complete = m.is_complete();
  return s;
}

bool grammar_accepts(const std::shared_ptr<const Grammar>& g, const std::string& text) {
  GrammarMatcher m(g);
  return m.accept(text) && m.is_complete();
}

TEST(JsonSchema, RandomOutputsMatchAjvValidatedFixture) {
  auto trie = testing::llama3_trie();
  ASSERT_TRUE(trie);
  const std::string schemas_text = slurp(kFixtures + "schemas.json");
  // Ordered, as the server forwards a schema: members compile in the written order.
  const auto schemas = nlohmann::ordered_json::parse(schemas_text);
  const char* dump = std::getenv("PADDOCK_SCHEMA_DUMP");
  json out = json::array();
  json fixture;
  if (!dump) {
    fixture = json::parse(slurp(kFixtures + "schema_outputs.json"));
    // Prove we compare against the schemas the oracle saw.
    ASSERT_EQ(sha256_hex(schemas_text), fixture["meta"]["schemas_sha256"].get<std::string>());
    ASSERT_EQ(fixture["results"].size(), schemas.size());
  }
  int n_complete = 0;
  for (size_t i = 0; i < schemas.size(); ++i) {
    const auto& entry = schemas[i];
    const std::string name = entry["name"];
    auto g = compile_json_schema(entry["schema"]);
    ASSERT_TRUE(g.ok()) << name << ": " << g.error().message();
    json outputs = json::array();
    for (int seed = 0; seed < kSeeds; ++seed) {
      Sample s = generate(*g, *trie, 1000 * i + seed);
      outputs.push_back({{"seed", seed}, {"text", s.text}, {"complete", s.complete}});
      if (dump) continue;
      const json& want = fixture["results"][i]["outputs"][seed];
      EXPECT_EQ(s.text, want["text"].get<std::string>()) << name << " seed " << seed;
      EXPECT_EQ(s.complete, want["complete"].get<bool>()) << name << " seed " << seed;
      if (s.complete) {
        ++n_complete;
        EXPECT_TRUE(want["valid"].get<bool>()) << name << " seed " << seed << ": ajv rejects " << s.text << ": "
                                               << want["errors"].dump();
        EXPECT_TRUE(json::accept(s.text)) << s.text;
      }
    }
    out.push_back({{"name", name}, {"outputs", outputs}});
    if (dump) continue;
    const json& invalid = fixture["results"][i]["invalid"];
    ASSERT_EQ(invalid.size(), entry["invalid"].size());
    for (size_t k = 0; k < invalid.size(); ++k) {
      const std::string text = entry["invalid"][k];
      EXPECT_FALSE(invalid[k]["valid"].get<bool>()) << name << ": ajv accepts " << text;
      EXPECT_FALSE(grammar_accepts(*g, text)) << name << ": grammar accepts " << text;
    }
  }
  if (dump) {
    std::ofstream(dump) << out.dump(1) << "\n";
    GTEST_SKIP() << "PADDOCK_SCHEMA_DUMP is set: outputs written to " << dump << ", not compared with the fixture";
  }
  EXPECT_GE(n_complete, static_cast<int>(schemas.size()) * kSeeds * 2 / 3);  // most walks finish
}

// Errors: a schema we cannot honour is refused with a message naming the problem and where.
TEST(JsonSchema, RejectsWhatItCannotHonour) {
  struct Case {
    const char* schema;
    const char* needle;
  };
  const Case cases[] = {
      {R"({"type":"string","pattern":"^a+$"})", "'pattern'"},
      {R"({"type":"number","minimum":0})", "'minimum'"},
      {R"({"minimum":0})", "'minimum'"},
      {R"({"enum":[1,2],"maximum":1})", "'maximum'"},
      {R"({"type":"integer","minimum":5,"maximum":4})", "no integer"},
      {R"({"type":"integer","minimum":1e300})", "out of the supported range"},
      {R"({"type":"integer","exclusiveMinimum":true})", "must be a number"},
      {R"({"type":"object","properties":{"n":{"type":"number","maximum":3}}})", "#/properties/n"},
      {R"({"type":"array","uniqueItems":true})", "uniqueItems"},
      {R"({"not":{"type":"null"}})", "'not'"},
      {R"({"type":"object","patternProperties":{"^x":{}}})", "patternProperties"},
      {R"({"type":"wat"})", "unknown type 'wat'"},
      {R"({"type":7})", "'type'"},
      {R"({"$ref":"#/$defs/missing"})", "does not resolve"},
      {R"({"$ref":"https://example.com/s.json"})", "only references inside"},
      {R"({"$ref":"#"})", "left-recursive"},
      {R"({"enum":[]})", "'enum'"},
      {R"({"anyOf":[]})", "'anyOf'"},
      {R"({"type":"array","minItems":3,"maxItems":2})", "'maxItems' is below"},
      {R"({"type":"array","prefixItems":[{}],"items":false,"minItems":2})", "more items"},
      {R"({"type":"string","maxLength":1000000})", "maxLength"},
      {R"({"type":"string","minLength":-1})", "non-negative"},
      {R"({"type":"object","properties":{"a":false},"required":["a"]})", "'false'"},
      {R"({"allOf":[{"type":"string"}]})", "allOf"},
      {R"({"anyOf":[{"type":"null"}],"minimum":1})", "'minimum'"},
      {R"({"oneOf":[{"type":"null"}],"properties":{}})", "next to 'properties'"},
      {R"({"$ref":"#/$defs/a","type":"object","$defs":{"a":{}}})", "next to 'type'"},
      {R"(false)", "'false'"},
      {R"(1)", "must be an object"},
  };
  for (const Case& c : cases) {
    auto g = compile_json_schema(json::parse(c.schema));
    ASSERT_FALSE(g.ok()) << c.schema;
    EXPECT_NE(g.error().message().find(c.needle), std::string::npos) << c.schema << " -> " << g.error().message();
    EXPECT_EQ(g.error().code(), ErrorCode::kInvalidArgument);
  }
  json tuple = {{"type", "array"}, {"prefixItems", json::array()}};
  for (int i = 0; i < 5000; ++i) tuple["prefixItems"].push_back(json::object());
  auto t = compile_json_schema(tuple);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message().find("prefixItems"), std::string::npos);
  // Deeply nested schemas are refused, not a stack overflow.
  json deep = {{"type", "string"}};
  for (int i = 0; i < 100; ++i) deep = {{"type", "array"}, {"items", deep}};
  auto g = compile_json_schema(deep);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.error().message().find("nested deeper"), std::string::npos) << g.error().message();
}

// Integer bounds, against arithmetic: every integer near the bounds (and a sweep of small ones)
// is accepted exactly when it lies in the range.
TEST(JsonSchema, IntegerRanges) {
  struct Range {
    const char* schema;
    int64_t lo, hi;  // INT64_MIN / INT64_MAX: open
  };
  const int64_t kOpenLo = INT64_MIN, kOpenHi = INT64_MAX;
  const Range ranges[] = {
      {R"({"type":"integer","minimum":0,"maximum":100})", 0, 100},
      {R"({"type":"integer","minimum":18,"maximum":130})", 18, 130},
      {R"({"type":"integer","minimum":-37,"maximum":1234})", -37, 1234},
      {R"({"type":"integer","minimum":-1234,"maximum":-37})", -1234, -37},
      {R"({"type":"integer","exclusiveMinimum":-5.5,"exclusiveMaximum":3})", -5, 2},
      {R"({"type":"integer","minimum":0.5,"maximum":9.99})", 1, 9},
      {R"({"type":"integer","minimum":7})", 7, kOpenHi},
      {R"({"type":"integer","maximum":-3})", kOpenLo, -3},
      {R"({"type":"integer","exclusiveMaximum":10})", kOpenLo, 9},
      {R"({"type":"integer","minimum":999,"maximum":1000})", 999, 1000},
      {R"({"type":"integer","minimum":1000,"maximum":99999,"exclusiveMinimum":2000})", 2001, 99999},
      {R"({"type":"integer","minimum":0,"maximum":0})", 0, 0},
  };
  for (const Range& r : ranges) {
    auto g = compile_json_schema(json::parse(r.schema));
    ASSERT_TRUE(g.ok()) << r.schema << ": " << g.error().message();
    std::vector<int64_t> probe;
    for (int64_t v = -3000; v <= 3000; ++v) probe.push_back(v);
    for (int64_t edge : {r.lo, r.hi})
      if (edge != kOpenLo && edge != kOpenHi)
        for (int64_t d = -2; d <= 2; ++d) probe.push_back(edge + d);
    for (int64_t big : {int64_t{99999}, int64_t{100000}, int64_t{123456789012}, int64_t{-123456789012},
                        int64_t{9999999999999999}, int64_t{-9999999999999999}})
      probe.push_back(big);
    for (int64_t v : probe) {
      bool in = v >= r.lo && v <= r.hi;
      ASSERT_EQ(grammar_accepts(*g, std::to_string(v)), in) << r.schema << " value " << v;
    }
    EXPECT_FALSE(grammar_accepts(*g, "-0"));
    EXPECT_FALSE(grammar_accepts(*g, "007"));
    EXPECT_FALSE(grammar_accepts(*g, "1.0"));
  }
}

TEST(JsonSchema, OrderedSchemaKeepsWrittenMemberOrder) {
  // As Ollama does: members come in the order the schema was written (a model should write
  // "reasoning" before "answer" when the schema lists them so); a sorted json sorts them.
  const std::string text =
      R"({"type":"object","properties":{"zeta":{"type":"boolean"},"alpha":{"type":"null"}},"required":["zeta","alpha"],"additionalProperties":false})";
  auto written = compile_json_schema(nlohmann::ordered_json::parse(text));
  ASSERT_TRUE(written.ok()) << written.error().message();
  EXPECT_TRUE(grammar_accepts(*written, R"({"zeta":true,"alpha":null})"));
  EXPECT_FALSE(grammar_accepts(*written, R"({"alpha":null,"zeta":true})"));
  auto sorted = compile_json_schema(json::parse(text));
  ASSERT_TRUE(sorted.ok()) << sorted.error().message();
  EXPECT_TRUE(grammar_accepts(*sorted, R"({"alpha":null,"zeta":true})"));
  auto fmt = compile_format(nlohmann::ordered_json::parse(text));
  ASSERT_TRUE(fmt.ok());
  EXPECT_TRUE(grammar_accepts(*fmt, R"({"zeta":false,"alpha":null})"));
}

TEST(JsonSchema, AnnotationsAndDraftVariants) {
  // Annotations (including "format", an annotation by default in JSON Schema 2020-12) do not
  // change what is generated; "definitions" works like "$defs"; the draft 4-7 tuple form of items.
  auto a = compile_json_schema(json::parse(
      R"({"title":"T","description":"d","$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
          "properties":{"when":{"type":"string","format":"date","description":"x"},"p":{"$ref":"#/definitions/p"}},
          "required":["when","p"],"definitions":{"p":{"type":"array","items":[{"type":"integer"}],"additionalItems":false}}})"));
  ASSERT_TRUE(a.ok()) << a.error().message();
  EXPECT_TRUE(grammar_accepts(*a, R"({"p":[3],"when":"2024-01-01"})"));  // properties in key order
  EXPECT_FALSE(grammar_accepts(*a, R"({"p":[3,4],"when":"x"})"));
  EXPECT_FALSE(grammar_accepts(*a, R"({"when":"x","p":[3]})"));  // one fixed member order
  // Required names without a declared schema take any value; whitespace between tokens.
  auto b = compile_json_schema(json::parse(R"({"type":"object","required":["z"],"additionalProperties":false})"));
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(grammar_accepts(*b, "{ \"z\" : [1, {\"q\": null}] }"));
  EXPECT_FALSE(grammar_accepts(*b, "{}"));
  // Recursion through $ref "#" inside an object is fine (consumes input first).
  auto c = compile_json_schema(json::parse(
      R"({"type":"object","properties":{"next":{"anyOf":[{"$ref":"#"},{"type":"null"}]}},"required":["next"]})"));
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_TRUE(grammar_accepts(*c, R"({"next":{"next":{"next":null}}})"));
  EXPECT_FALSE(grammar_accepts(*c, R"({"next":{}})"));
  // Integers: no fraction or exponent; numbers are bounded in length.
  auto i = compile_json_schema(json::parse(R"({"type":"integer"})"));
  ASSERT_TRUE(i.ok());
  EXPECT_TRUE(grammar_accepts(*i, "-120"));
  EXPECT_FALSE(grammar_accepts(*i, "1.0"));
  EXPECT_FALSE(grammar_accepts(*i, "012"));
  EXPECT_FALSE(grammar_accepts(*i, std::string(kMaxIntDigits + 1, '9')));
}

}  // namespace
}  // namespace paddock::engine
