// The grammar matcher: code point classes against their definition over every code point, the
// builder's checks (left recursion, bounds, undefined rules), the JSON grammar against an
// independent parser (nlohmann::json::accept) on hand-picked, random and mutated documents, the
// prefix property, deep nesting through state compaction, and token masks on the real 128k
// Llama 3 vocabulary (mask == per-token check; timing printed).
#include "grammar/grammar.h"

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <random>

#include "engine/engine.h"
#include "grammar/json_schema.h"
#include "grammar_vocab.h"
#include "tokenizer/tokenizer.h"

namespace paddock::engine {
namespace {

using namespace paddock::grammar;  // what these tests exercise (src/grammar)

using json = nlohmann::json;
using E = GrammarExpr;

std::string utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

std::shared_ptr<const Grammar> build(const E& root_body) {
  GrammarBuilder b;
  uint32_t r = b.rule("root");
  b.define(r, root_body);
  auto g = b.build(r);
  EXPECT_TRUE(g.ok()) << g.error().message();
  return g.ok() ? *g : nullptr;
}

// Whole-string match: accepted and complete.
// An exponent of three or more digits ([eE][-+]?[0-9]{3}): outside our number bounds. (No
// std::regex: GCC 12 warns inside it under the sanitizer build.)
bool has_long_exponent(const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != 'e' && s[i] != 'E') continue;
    size_t j = i + 1;
    if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
    size_t d = 0;
    while (j + d < s.size() && s[j + d] >= '0' && s[j + d] <= '9') ++d;
    if (d >= 3) return true;
  }
  return false;
}

bool matches(const std::shared_ptr<const Grammar>& g, std::string_view s) {
  GrammarMatcher m(g);
  return m.accept(s) && m.is_complete();
}

TEST(Grammar, ClassesMatchEveryCodePointAsDefined) {
  const std::vector<std::pair<uint32_t, uint32_t>> ranges = {{'a', 'z'}, {0xE9, 0xE9}, {0x400, 0x4FF}, {0x7FF, 0x801},
                                                             {0xD000, 0xE100}, {0xFFFF, 0x10000}, {0x1F600, 0x1F64F}};
  for (bool negated : {false, true}) {
    auto g = build(E::cls(ranges, negated));
    GrammarMatcher m(g);
    for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
      if (cp >= 0xD800 && cp <= 0xDFFF) continue;
      bool in = false;
      for (auto [a, b] : ranges) in = in || (cp >= a && cp <= b);
      ASSERT_EQ(m.allows(utf8(cp)), in != negated) << std::hex << cp << " negated=" << negated;
    }
    // Never: surrogates, overlong forms, past U+10FFFF, stray continuation bytes.
    for (std::string bad : {"\xED\xA0\x80", "\xED\xBF\xBF", "\xC0\x80", "\xC1\xBF", "\xE0\x80\x80", "\xF0\x80\x80\x80",
                            "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\x80", "\xFF"})
      EXPECT_FALSE(matches(g, bad)) << negated;
  }
}

TEST(Grammar, RepetitionBounds) {
  auto g = build(E::seq({E::lit("<"), E::repeat(E::lit("ab"), 2, 4), E::lit(">")}));
  EXPECT_FALSE(matches(g, "<ab>"));
  EXPECT_TRUE(matches(g, "<abab>"));
  EXPECT_TRUE(matches(g, "<ababab>"));
  EXPECT_TRUE(matches(g, "<abababab>"));
  EXPECT_FALSE(matches(g, "<ababababab>"));
  EXPECT_FALSE(matches(g, "<aba>"));
  auto star = build(E::seq({E::repeat(E::cls({{'0', '9'}}), 1, E::kUnbounded), E::lit(";")}));
  EXPECT_TRUE(matches(star, "0;"));
  EXPECT_TRUE(matches(star, std::string(10000, '7') + ";"));
  EXPECT_FALSE(matches(star, ";"));
  auto zero = build(E::seq({E::lit("a"), E::repeat(E::lit("b"), 0, 0), E::lit("c")}));
  EXPECT_TRUE(matches(zero, "ac"));
  EXPECT_FALSE(matches(zero, "abc"));
}

TEST(Grammar, CompletenessAndContinuation) {
  auto g = build(E::seq({E::lit("x"), E::opt(E::lit("yz"))}));
  GrammarMatcher m(g);
  EXPECT_FALSE(m.is_complete());
  EXPECT_TRUE(m.accept("x"));
  EXPECT_TRUE(m.is_complete());
  EXPECT_TRUE(m.can_continue());
  EXPECT_FALSE(m.accept("yq"));  // all or nothing: state unchanged
  EXPECT_TRUE(m.is_complete());
  EXPECT_TRUE(m.accept("y"));
  EXPECT_FALSE(m.is_complete());
  EXPECT_TRUE(m.accept("z"));
  EXPECT_TRUE(m.is_complete());
  EXPECT_FALSE(m.can_continue());
}

TEST(Grammar, RecursionAndAmbiguity) {
  // Balanced parentheses (right-recursive), and an ambiguous grammar whose paths meet again.
  GrammarBuilder b;
  uint32_t p = b.rule("p");
  b.define(p, E::repeat(E::seq({E::lit("("), E::ref(p), E::lit(")")}), 0, E::kUnbounded));
  auto g = b.build(p);
  ASSERT_TRUE(g.ok()) << g.error().message();
  EXPECT_TRUE(matches(*g, ""));
  EXPECT_TRUE(matches(*g, "(()())(())"));
  EXPECT_FALSE(matches(*g, "(()"));
  EXPECT_FALSE(matches(*g, "())"));
  auto amb = build(E::repeat(E::alt({E::lit("a"), E::lit("aa"), E::seq({E::opt(E::lit("a")), E::lit("a")})}), 0,
                             E::kUnbounded));
  GrammarMatcher m(amb);
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(m.accept("a"));
  EXPECT_TRUE(m.is_complete());
  EXPECT_LT(m.n_states(), 16u);  // the stack sets collapse instead of multiplying
}

TEST(Grammar, BuilderRejectsBadGrammars) {
  {  // direct left recursion
    GrammarBuilder b;
    uint32_t r = b.rule("expr");
    b.define(r, E::alt({E::seq({E::ref(r), E::lit("+1")}), E::lit("1")}));
    auto g = b.build(r);
    ASSERT_FALSE(g.ok());
    EXPECT_NE(g.error().message().find("left-recursive"), std::string::npos) << g.error().message();
    EXPECT_NE(g.error().message().find("expr"), std::string::npos);
  }
  {  // indirect, through a nullable prefix
    GrammarBuilder b;
    uint32_t a = b.rule("a"), c = b.rule("c"), n = b.rule("n");
    b.define(n, E::opt(E::lit("x")));
    b.define(a, E::seq({E::ref(n), E::ref(c), E::lit("y")}));
    b.define(c, E::alt({E::seq({E::ref(a)}), E::lit("z")}));
    EXPECT_FALSE(b.build(a).ok());
  }
  {  // unbounded repetition of something that can be empty
    GrammarBuilder b;
    uint32_t r = b.rule("root");
    b.define(r, E::repeat(E::opt(E::lit("a")), 0, E::kUnbounded));
    EXPECT_FALSE(b.build(r).ok());
  }
  {  // undefined rule
    GrammarBuilder b;
    uint32_t r = b.rule("root");
    b.define(r, E::ref(b.rule("missing")));
    auto g = b.build(r);
    ASSERT_FALSE(g.ok());
    EXPECT_NE(g.error().message().find("missing"), std::string::npos);
  }
  {  // bounds
    GrammarBuilder b;
    uint32_t r = b.rule("root");
    b.define(r, E::repeat(E::lit("a"), 5, 2));
    EXPECT_FALSE(b.build(r).ok());
    b.define(r, E::repeat(E::lit("a"), 0, GrammarBuilder::kMaxRepeat + 1));
    EXPECT_FALSE(b.build(r).ok());
    b.define(r, E::cls({{0, 0x10FFFF}}, true));  // matches nothing
    EXPECT_FALSE(b.build(r).ok());
    std::vector<E> many;  // each bounded repetition is linear in its bound; 20 of them are too many
    for (int i = 0; i < 20; ++i) many.push_back(E::repeat(E::lit("a"), 0, GrammarBuilder::kMaxRepeat));
    b.define(r, E::alt(many));
    auto g = b.build(r);
    ASSERT_FALSE(g.ok());
    EXPECT_NE(g.error().message().find("too large"), std::string::npos) << g.error().message();
  }
}

// ---- JSON against nlohmann::json::accept -------------------------------------------------------

std::shared_ptr<const Grammar> any_json() {
  auto g = compile_json_schema(json(true));
  EXPECT_TRUE(g.ok()) << g.error().message();
  return *g;
}

// Valid documents within our bounds (whitespace runs, number lengths): the grammar must accept
// exactly what the parser accepts.
const char* const kValid[] = {
    "{}", "[]", "0", "-0", "1", "-1", "12.5", "1e5", "1E+5", "1e-05", "-0.0e0", "123456789.000001", "true", "false",
    "null", "\"\"", "\"a\"", R"("\"\\\/\b\f\n\r\t")", R"("\u0000\u001f\u00e9\uFFFF")", R"("\ud83d\ude00")",
    "\"h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80\"", R"({"a":1})", R"({"a" : [1, 2 ,3] , "b":{"c":null}})",
    "[[[[[]]]]]", "[{}, {}, []]", "{\n  \"k\": \"v\",\n  \"n\": [\n    1,\n    2\n  ]\n}", "[1,\t2]", " {}",
    "\n[true]", R"({"":""})", R"({"a":{"a":{"a":{}}}})", "[-1.5e+30]", "\"\x7F\"",
};
const char* const kInvalid[] = {
    "", "{", "}", "[", "[1,]", "[,1]", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{a:1}", "{'a':1}", "01", "-", "1.",
    ".5", "1e", "1e+", "+1", "0x10", "NaN", "Infinity", "tru", "nul", "True", "\"", "\"abc", "\"\\x\"", "\"\\u12\"",
    "\"\\u12G4\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"a\nb\"", "\"\t\"", "\"\x01\"", "[1 2]",
    "{\"a\":1 \"b\":2}", "[]]", "{}}", "\"\xC3\"", "\"\xED\xA0\x80\"", "\"\xC0\xAF\"", "\"\xFF\"", "[1]x", "1 2",
    "[\"a\",]", "{,}",
};

TEST(JsonGrammar, AgreesWithParserOnCorpus) {
  auto g = any_json();
  for (const char* s : kValid) {
    ASSERT_TRUE(json::accept(s)) << "corpus entry is not valid JSON: " << s;
    EXPECT_TRUE(matches(g, s)) << s;
  }
  for (const char* s : kInvalid) {
    ASSERT_FALSE(json::accept(s)) << "corpus entry is valid JSON: " << s;
    EXPECT_FALSE(matches(g, s)) << s;
  }
}

json random_value(std::mt19937_64& rng, int depth) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  auto random_string = [&] {
    static const std::vector<std::string> pieces = {"a", "Z", " ", "\"", "\\", "/", "\n", "\t", "\x01", "\x1f",
                                                    "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xEF\xBF\xBF", "0",
                                                    "\x7f", "}", "]", ",", ":"};
    std::string s;
    for (int i = pick(8); i > 0; --i) s += pieces[pick(static_cast<int>(pieces.size()))];
    return s;
  };
  switch (depth > 4 ? pick(5) : pick(7)) {
    case 0: return nullptr;
    case 1: return pick(2) == 1;
    case 2: return static_cast<int64_t>(rng() % 2000000) - 1000000;
    case 3: return static_cast<double>(static_cast<int64_t>(rng() % 2000000) - 1000000) / 1024.0;
    case 4: return random_string();
    case 5: {
      json a = json::array();
      for (int i = pick(4); i > 0; --i) a.push_back(random_value(rng, depth + 1));
      return a;
    }
    default: {
      json o = json::object();
      for (int i = pick(4); i > 0; --i) o[random_string()] = random_value(rng, depth + 1);
      return o;
    }
  }
}

TEST(JsonGrammar, AgreesWithParserOnRandomAndMutatedDocuments) {
  auto g = any_json();
  std::mt19937_64 rng(1234);
  int mutated_valid = 0, mutated_invalid = 0;
  for (int iter = 0; iter < 1500; ++iter) {
    json v = random_value(rng, 0);
    // Compact, and pretty-printed with indentation inside our whitespace bound.
    for (const std::string& doc : {v.dump(), v.dump(2), v.dump(1, '\t')}) {
      ASSERT_TRUE(json::accept(doc));
      ASSERT_TRUE(matches(g, doc)) << doc;
      // Prefix property: every prefix is accepted (not necessarily complete).
      GrammarMatcher m(g);
      for (size_t i = 0; i < doc.size(); ++i) ASSERT_TRUE(m.accept(doc.substr(i, 1))) << doc << " at " << i;
      ASSERT_TRUE(m.is_complete());
    }
    // Mutations: whatever the grammar accepts the parser must accept; documents the parser
    // accepts that stay within the bounds (no run of blanks, no long numbers) the grammar accepts.
    std::string doc = v.dump();
    for (int k = 0; k < 4 && !doc.empty(); ++k) {
      std::string m = doc;
      size_t pos = rng() % m.size();
      static const char kBytes[] = "{}[],:\"\\0123456789.eE+-tfnul \x01\xC3\xA9";
      switch (rng() % 3) {
        case 0: m.erase(pos, 1); break;
        case 1: m.insert(pos, 1, kBytes[rng() % (sizeof kBytes - 1)]); break;
        default: m[pos] = kBytes[rng() % (sizeof kBytes - 1)];
      }
      bool ours = matches(g, m);
      bool theirs = json::accept(m);
      if (ours) {
        ASSERT_TRUE(theirs) << m;
      }
      // Exponents are bounded to two digits (so every output fits a double; the parser rejects
      // what overflows), runs of blanks to one.
      bool in_bounds = m.find("  ") == std::string::npos && m.back() != ' ' && !has_long_exponent(m);
      if (theirs && in_bounds) {
        ASSERT_TRUE(ours) << m;
      }
      (theirs ? mutated_valid : mutated_invalid)++;
    }
  }
  EXPECT_GT(mutated_valid, 100);  // the mutations exercise both sides
  EXPECT_GT(mutated_invalid, 1000);
}

TEST(JsonGrammar, FormatJsonIsAnObject) {
  auto g = compile_format("json");
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(matches(*g, R"({"a": [1, {"b": null}]})"));
  EXPECT_TRUE(matches(*g, "\n{}"));
  EXPECT_FALSE(matches(*g, "[1]"));
  EXPECT_FALSE(matches(*g, "1"));
  EXPECT_FALSE(matches(*g, "{} "));  // nothing after the object: generation ends there
  GrammarMatcher m(*g);
  ASSERT_TRUE(m.accept("{}"));
  EXPECT_FALSE(m.can_continue());
  // Whitespace is bounded: a model cannot pad forever.
  GrammarMatcher w(*g);
  EXPECT_TRUE(w.accept("{\n" + std::string(kMaxIndent, ' ')));
  EXPECT_FALSE(w.accept(" "));
  EXPECT_FALSE(compile_format("yaml").ok());
  EXPECT_FALSE(compile_format(json::array()).ok());
}

TEST(JsonGrammar, DeepNestingSurvivesStateCompaction) {
  auto g = any_json();
  GrammarMatcher m(g);
  const int depth = 6000;  // more distinct states than the matcher caches: it compacts
  for (int i = 0; i < depth; ++i) ASSERT_TRUE(m.accept(i % 2 ? "[" : "{\"k\":"));
  ASSERT_TRUE(m.accept("1"));
  for (int i = depth; i-- > 0;) ASSERT_TRUE(m.accept(i % 2 ? "]" : "}")) << i;
  EXPECT_TRUE(m.is_complete());
  EXPECT_FALSE(m.can_continue());
  EXPECT_LT(m.n_states(), 8192u);
}

// ---- GBNF text ---------------------------------------------------------------------------------

// JSON written as GBNF (unbounded whitespace and numbers): must agree with the parser exactly.
const char* const kJsonGbnf = R"gbnf(
# JSON, any value
root   ::= ws value ws
value  ::= object | array | string | number | ("true" | "false" | "null")
object ::= "{" ws ( member ( "," ws member )* )? "}"
member ::= string ws ":" ws value ws
array  ::= "[" ws ( value ws ( "," ws value ws )* )? "]"
string ::= "\"" (
             [^"\\\x00-\x1F] |
             "\\" ( ["\\/bfnrt] | "u" esc )
           )* "\""
esc    ::= [0-9a-cA-Ce-fE-F] hex{3} | [dD] [0-7] hex{2}
         | [dD] [89abAB] hex{2} "\\u" [dD] [c-fC-F] hex{2}
hex    ::= [0-9a-fA-F]
number ::= "-"? ("0" | [1-9] [0-9]*) ("." [0-9]+)? ([eE] [-+]? [0-9]{1,2})?
ws     ::= [ \t\n\r]*
)gbnf";

TEST(Gbnf, JsonGrammarAgreesWithParser) {
  auto g = parse_gbnf(kJsonGbnf);
  ASSERT_TRUE(g.ok()) << g.error().message();
  for (const char* s : kValid) EXPECT_TRUE(matches(*g, s)) << s;
  for (const char* s : kInvalid) EXPECT_FALSE(matches(*g, s)) << s;
  std::mt19937_64 rng(99);
  for (int iter = 0; iter < 300; ++iter) {
    std::string doc = random_value(rng, 0).dump(iter % 3);
    ASSERT_TRUE(matches(*g, doc)) << doc;
    std::string m = doc;
    static const std::string kInsert = "{}[],:\" \n0e-";
    m.insert(rng() % (m.size() + 1), 1, kInsert[rng() % kInsert.size()]);
    if (!has_long_exponent(m)) {
      ASSERT_EQ(matches(*g, m), json::accept(m)) << m;
    }
  }
}

TEST(Gbnf, Syntax) {
  auto g = parse_gbnf(R"(root ::= greeting " " name{1,2} "!"? tail
greeting ::= "hi" | "hello"   # a comment
name ::= [A-Z] [a-z]+
tail ::= "\u00e9"* . [^a-c\]]
)");
  ASSERT_TRUE(g.ok()) << g.error().message();
  EXPECT_TRUE(matches(*g, "hi Bob\xC3\xA9\xC3\xA9xd"));
  EXPECT_TRUE(matches(*g, "hello AnnBob!\xF0\x9F\x98\x80Z"));
  EXPECT_FALSE(matches(*g, "hello AnnBobCid!xd"));  // name{1,2}
  EXPECT_FALSE(matches(*g, "hi Bob!xb"));             // [^a-c\]]
  EXPECT_FALSE(matches(*g, "hi Bob!x]"));
  auto root2 = parse_gbnf("a ::= \"x\"\nb ::= a a", "b");
  ASSERT_TRUE(root2.ok());
  EXPECT_TRUE(matches(*root2, "xx"));
}

TEST(Gbnf, ErrorsNameTheLine) {
  struct Case {
    const char* text;
    const char* needle;
  };
  const Case cases[] = {
      {"", "empty"},
      {"root ::= \"a", "line 1: unterminated string"},
      {"root ::= a\n\na ::= [b", "line 3: unterminated character class"},
      {"root ::= ( \"a\" ", "expected ')'"},
      {"root ::= \"a\"{2,1}", "maximum is below"},
      {"root ::= \"a\"{1", "expected '}'"},
      {"root ::= \"a\"{99999999}", "too large"},
      {"root ::= missing", "'missing' is used but not defined"},
      {"root ::= root \"a\"", "left-recursive"},
      {"root ::= \"a\"\nroot ::= \"b\"", "defined twice"},
      {"root = \"a\"", "expected '::='"},
      {"other ::= \"a\"", "no rule 'root'"},
      {"root ::= \"\\q\"", "unknown escape"},
      {"root ::= \"\\xZZ\"", "bad hex"},
      {"root ::= [z-a]", "out of order"},
      {"root ::= \"a\" @", "unexpected character"},
      {"root ::= \"\xC3\"", "invalid UTF-8"},
  };
  for (const Case& c : cases) {
    auto g = parse_gbnf(c.text);
    ASSERT_FALSE(g.ok()) << c.text;
    EXPECT_NE(g.error().message().find(c.needle), std::string::npos) << c.text << " -> " << g.error().message();
  }
  std::string deep = "root ::= " + std::string(1000, '(') + "\"a\"" + std::string(1000, ')');
  EXPECT_FALSE(parse_gbnf(deep).ok());
}

// ---- Token masks on a real vocabulary ----------------------------------------------------------

using testing::llama3;

TEST(TokenMask, MaskEqualsPerTokenCheckOnLlama3Vocab) {
  auto tok = llama3();
  auto trie = testing::llama3_trie();
  ASSERT_GE(trie->n_vocab(), 128000);
  EXPECT_FALSE(trie->eog_tokens().empty());
  auto g = any_json();
  // States to test: start, inside a string, after a key, inside a number, complete-or-continue.
  for (std::string prefix : {"", "{\"na", "{\"name\":", "[12", "[1.5e", "{\"a\":\"\\u00", "{\"a\":tr", "3"}) {
    GrammarMatcher m(g);
    ASSERT_TRUE(m.accept(prefix));
    std::vector<uint8_t> mask;
    auto t0 = std::chrono::steady_clock::now();
    int32_t n = m.fill_mask(*trie, mask);
    auto t1 = std::chrono::steady_clock::now();
    int32_t n2 = m.fill_mask(*trie, mask);  // warm: every transition already cached
    auto t2 = std::chrono::steady_clock::now();
    EXPECT_EQ(n, n2);
    GrammarMatcher check(g);  // a separate matcher, so the trie walk and byte steps share no cache
    ASSERT_TRUE(check.accept(prefix));
    int32_t count = 0;
    for (int32_t id = 0; id < trie->n_vocab(); ++id) {
      bool expect = trie->kind(id) == TokenTrie::Kind::kText
                        ? check.allows(trie->piece(id))
                        : trie->kind(id) == TokenTrie::Kind::kEndOfGeneration && check.is_complete();
      ASSERT_EQ(mask[id] != 0, expect) << "prefix '" << prefix << "' token " << id << " '" << trie->piece(id) << "'";
      count += expect;
    }
    EXPECT_EQ(count, n);
    EXPECT_GT(n, 0);
    auto us = [](auto d) { return std::chrono::duration_cast<std::chrono::microseconds>(d).count(); };
    std::printf("mask after '%s': %d of %d tokens allowed; cold %lld us, warm %lld us\n", prefix.c_str(), n,
                trie->n_vocab(), static_cast<long long>(us(t1 - t0)), static_cast<long long>(us(t2 - t1)));
  }
}

TEST(TokenMask, SingleTokenCheckIsCheap) {
  auto tok = llama3();
  auto trie = testing::llama3_trie();
  auto g = any_json();
  GrammarMatcher m(g);
  ASSERT_TRUE(m.accept("{\"text\": \"Once upon a time"));
  std::vector<int32_t> ids = tok->encode(" there was a little robot who liked to sing", false, false);
  ASSERT_FALSE(ids.empty());
  const int reps = 20000;
  auto t0 = std::chrono::steady_clock::now();
  int ok = 0;
  for (int i = 0; i < reps; ++i) ok += m.allows_token(*trie, ids[i % ids.size()]);
  auto t1 = std::chrono::steady_clock::now();
  EXPECT_EQ(ok, reps);
  double ns = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()) / reps;
  std::printf("allows_token: %.0f ns per check\n", ns);
  EXPECT_LT(ns, 100000.0);  // generous: sanitizer builds on a loaded machine
  // Control tokens never; end of generation only when complete.
  EXPECT_FALSE(m.allows_token(*trie, tok->eos()));
  GrammarMatcher done(g);
  ASSERT_TRUE(done.accept("{}"));
  EXPECT_TRUE(done.allows_token(*trie, tok->eos()));
  int32_t bos = tok->bos();
  if (bos >= 0) {
    EXPECT_FALSE(done.allows_token(*trie, bos));
  }
}

}  // namespace
}  // namespace paddock::engine
