// Robustness of both template engines: errors name line:column, and hostile templates (endless
// loops, huge output, exponential strings, deep nesting, recursion, cycles, sandbox escapes) fail
// cleanly and quickly under RenderLimits instead of hanging or exhausting memory.
#include <gtest/gtest.h>

#include <chrono>

#include "template/template.h"

namespace paddock::chat_template {
namespace {

nlohmann::ordered_json ctx() {
  return nlohmann::ordered_json::parse(R"({"messages": [{"role": "user", "content": "hi"}]})");
}

void expect_error(const Result<std::string>& r, const std::string& needle, ErrorCode code) {
  ASSERT_FALSE(r.ok()) << "rendered: " << r.value();
  EXPECT_NE(r.error().message().find(needle), std::string::npos) << r.error().message();
  EXPECT_EQ(r.error().code(), code) << r.error().message();
}

TEST(JinjaErrors, NameLineAndColumn) {
  expect_error(render_jinja("line one\n{{ x }}\n  {{ 'a' | nosuch }}", ctx()), "template:3:12: unknown filter 'nosuch'",
               ErrorCode::kInvalidArgument);
  expect_error(render_jinja("{% if true %}\n{% for x in y %}\n", ctx()), "template:", ErrorCode::kInvalidArgument);
  expect_error(render_jinja("ok\n{{ raise_exception('bad roles') }}", ctx()), "template:2:", ErrorCode::kInvalidArgument);
  expect_error(render_jinja("ok\n{{ raise_exception('bad roles') }}", ctx()), "bad roles", ErrorCode::kInvalidArgument);
  expect_error(render_jinja("{{ 1 +* 2 }}", ctx()), "template:1:", ErrorCode::kInvalidArgument);
  expect_error(render_jinja("{% endif %}", ctx()), "unexpected '{% endif %}'", ErrorCode::kInvalidArgument);
  expect_error(render_jinja("{{ 'unterminated }}", ctx()), "unterminated string", ErrorCode::kInvalidArgument);
  expect_error(render_jinja("{# never closed", ctx()), "unclosed comment", ErrorCode::kInvalidArgument);
}

TEST(JinjaErrors, SandboxAndUnsupportedStatements) {
  auto r = render_jinja("[{{ ''.__class__ }}][{{ messages.__class__.__mro__ }}][{{ messages[0]._x }}]", ctx());
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(*r, "[][][]");  // private attributes are undefined, as in Jinja's sandbox
  expect_error(render_jinja("{% import 'os' as os %}", ctx()), "unsupported statement 'import'", ErrorCode::kInvalidArgument);
  expect_error(render_jinja("{% include 'x' %}", ctx()), "unsupported statement", ErrorCode::kInvalidArgument);
  expect_error(render_jinja("{% extends 'x' %}", ctx()), "unsupported statement", ErrorCode::kInvalidArgument);
  expect_error(render_jinja("{{ cycler() }}", ctx()), "'cycler' is undefined", ErrorCode::kInvalidArgument);
}

TEST(JinjaLimits, EndlessLoopsHitTheStepLimit) {
  RenderLimits lim;
  lim.max_steps = 200000;
  auto start = std::chrono::steady_clock::now();
  expect_error(render_jinja("{% for i in range(100000) %}{% for j in range(100000) %}{{ '' }}{% endfor %}{% endfor %}",
                            ctx(), lim),
               "step limit", ErrorCode::kResourceExhausted);
  expect_error(render_jinja("{{ range(1000000000000) | length }}", ctx()), "range() longer than",
               ErrorCode::kResourceExhausted);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(JinjaLimits, OutputAndStringGrowthAreBounded) {
  RenderLimits lim;
  lim.max_output = 10000;
  expect_error(render_jinja("{% for i in range(1000) %}{{ 'x' * 100 }}{% endfor %}", ctx(), lim), "output exceeds",
               ErrorCode::kResourceExhausted);
  // Doubling a string 100 times would need 2^100 bytes.
  expect_error(render_jinja("{% set ns = namespace(s='x') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}"
                            "{% endfor %}{{ ns.s | length }}",
                            ctx(), lim),
               "larger than the output limit", ErrorCode::kResourceExhausted);
  expect_error(render_jinja("{{ 'ab' * 1000000000000 }}", ctx(), lim), "too large", ErrorCode::kResourceExhausted);
  expect_error(render_jinja("{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}"
                            "{% endfor %}",
                            ctx()),
               "longer than", ErrorCode::kResourceExhausted);
  auto ok = render_jinja("{{ 'x' * 100 }}", ctx(), lim);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->size(), 100u);
}

TEST(JinjaLimits, DeepNestingAndRecursionFailCleanly) {
  std::string parens = "{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}";
  expect_error(render_jinja(parens, ctx()), "nested too deeply", ErrorCode::kInvalidArgument);
  std::string nots = "{{ " + std::string(0, ' ');
  for (int i = 0; i < 5000; ++i) nots += "not ";
  nots += "1 }}";
  expect_error(render_jinja(nots, ctx()), "nested too deeply", ErrorCode::kInvalidArgument);
  std::string ifs;
  for (int i = 0; i < 5000; ++i) ifs += "{% if true %}";
  expect_error(render_jinja(ifs, ctx()), "nested too deeply", ErrorCode::kInvalidArgument);
  expect_error(render_jinja("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", ctx()), "nested deeper",
               ErrorCode::kResourceExhausted);
  // A namespace that contains itself cannot be printed forever.
  expect_error(render_jinja("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns | tojson }}", ctx()), "nested deeper",
               ErrorCode::kInvalidArgument);
  // A 10k-deep JSON context is refused, not recursed into.
  std::string deep;
  for (int i = 0; i < 10000; ++i) deep += "[";
  for (int i = 0; i < 10000; ++i) deep += "]";
  nlohmann::ordered_json c = ctx();
  c["deep"] = nlohmann::ordered_json::parse(deep);
  expect_error(render_jinja("{{ deep }}", c), "nested deeper", ErrorCode::kInvalidArgument);
}

TEST(JinjaValues, InvalidUtf8AndOddInputsDoNotCrash) {
  nlohmann::ordered_json c = ctx();
  std::string bad = "a\xff\xfe" "b";
  auto r = render_jinja(bad + "{{ 'x\xc3' | upper }}{{ '\xe2\x82' | length }}{{ '\xf0'[0] }}", c);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->substr(0, 4), bad);
  EXPECT_TRUE(render_jinja("", c).ok());
  EXPECT_TRUE(render_jinja("{{ messages }}", nlohmann::ordered_json()).ok());
  EXPECT_FALSE(render_jinja("{{ x }}", nlohmann::ordered_json::array()).ok());
  auto big = render_jinja("{{ 9223372036854775807 + 1 }} {{ -9223372036854775807 - 10 }} {{ 2 ** 70 }} {{ 7 // -2 }}", c);
  ASSERT_TRUE(big.ok()) << big.error().message();
}

TEST(GoTemplateLimits, HostileTemplatesFailCleanly) {
  nlohmann::ordered_json data = nlohmann::ordered_json::object();
  data["L"] = nlohmann::ordered_json::array();
  for (int i = 0; i < 1000; ++i) data["L"].push_back(i);
  RenderLimits lim;
  lim.max_steps = 100000;
  expect_error(render_go("{{ range .L }}{{ range $.L }}{{ range $.L }}x{{ end }}{{ end }}{{ end }}", data, lim),
               "step limit", ErrorCode::kResourceExhausted);
  RenderLimits small;
  small.max_output = 1000;
  expect_error(render_go("{{ range .L }}{{ . }}{{ end }}", data, small), "output exceeds", ErrorCode::kResourceExhausted);
  std::string parens = "{{ " + std::string(3000, '(') + "1" + std::string(3000, ')') + " }}";
  expect_error(render_go(parens, data), "nested too deeply", ErrorCode::kInvalidArgument);
  std::string ifs;
  for (int i = 0; i < 3000; ++i) ifs += "{{ if 1 }}";
  expect_error(render_go(ifs, data), "nested too deeply", ErrorCode::kInvalidArgument);
  expect_error(render_go("line\n  {{ nosuch }}", data), "template:2:", ErrorCode::kInvalidArgument);
  expect_error(render_go("{{ template \"x\" }}", data), "not supported", ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace paddock::chat_template
