// Unbounded recursion in both template engines: templates (a GGUF's chat_template, an Ollama
// TEMPLATE layer) that recurse at run time or build trees deeper than the parser's nesting bound
// must fail with a clear error, never overflow the stack. The crashing inputs are also in the
// fuzz corpora (tests/fuzz/corpus/{jinja,gotemplate}/recursion_*).
#include <gtest/gtest.h>

#include <string>

#include "../deadline.h"
#include "template/template.h"

namespace paddock::chat_template {
namespace {

using nlohmann::ordered_json;
using paddock::testing::within_seconds;

constexpr double kBound = 20;  // seconds (ASan, a loaded machine); the fixed engines need far less

ordered_json ctx() { return ordered_json::parse(R"({"messages": [{"role": "user", "content": "hi"}], "x": {}})"); }

Result<std::string> jinja(const std::string& source) {
  return within_seconds(kBound, "rendering the template", [&] { return render_jinja(source, ctx()); });
}

void expect_error(const Result<std::string>& r, const std::string& needle) {
  ASSERT_FALSE(r.ok()) << "rendered " << r.value().size() << " bytes";
  EXPECT_NE(r.error().message().find(needle), std::string::npos) << r.error().message();
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << r.error().message();
}

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// The fuzzer's find: caller() inside a call block calls the block itself, without end (no macro
// call in between, so the macro-call bound never saw it).
TEST(JinjaRecursion, CallerCallingItselfIsBounded) {
  auto r = jinja("{% macro wrap() %}[{{ caller() }}]{% endmacro %}{% call wrap() %}{{ caller() }}{% endcall %}");
  expect_error(r, "template recursion deeper than");
  EXPECT_NE(r.error().message().find("template:1:"), std::string::npos) << r.error().message();
  // Through a filter and an expression in between, and through a macro that the block calls.
  expect_error(
      jinja("{% macro w() %}{{ caller() }}{% endmacro %}{% call w() %}{{ (caller() | upper) ~ 'x' }}{% endcall %}"),
      "template recursion deeper than");
  auto via_macro = jinja(
      "{% macro w() %}{{ caller() }}{% endmacro %}{% macro v() %}{% call w() %}{{ v() }}{% endcall %}"
      "{% endmacro %}{{ v() }}");
  ASSERT_FALSE(via_macro.ok());
  EXPECT_NE(via_macro.error().message().find("deeper than"), std::string::npos) << via_macro.error().message();
  // A caller() used as it should be still works, nested too.
  auto ok = jinja(
      "{% macro w(t) %}<{{ t }}>{{ caller() }}</{{ t }}>{% endmacro %}"
      "{% call w('a') %}{% call w('b') %}x{% endcall %}{% endcall %}");
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_EQ(*ok, "<a><b>x</b></a>");
}

// Chains are parsed by loops, so before the tree height was bounded they made trees as deep as
// the template is long, which evaluating (and freeing) recursed through.
TEST(JinjaRecursion, LongChainsAreBoundedByHeight) {
  expect_error(jinja("{{ 1" + repeat(" + 1", 40000) + " }}"), "nested too deeply");
  expect_error(jinja("{{ 'a'" + repeat("|lower", 40000) + " }}"), "nested too deeply");
  expect_error(jinja("{{ x" + repeat(".a", 40000) + " }}"), "nested too deeply");
  expect_error(jinja("{{ x" + repeat("[0]", 40000) + " }}"), "nested too deeply");
  expect_error(jinja("{{ x" + repeat(" is defined == true", 20000) + " }}"), "nested too deeply");
  // Nesting and chains together count as one height: 150 nested lists, each holding a chain of 150.
  expect_error(jinja("{{ " + repeat("[1" + repeat(" + 1", 150) + ", ", 150) + repeat("]", 150) + " }}"),
               "nested too deeply");
  // Real templates stay far below the bound.
  auto ok = jinja("{{ 1" + repeat(" + 1", 200) + " }}{{ 'A'" + repeat("|lower", 100) + " }}");
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_EQ(*ok, "201a");
}

// The Go engine has no template calls ({{template}}/{{define}} are refused) and bounds nesting
// in the parser; long pipelines and field chains are loops, not recursion.
TEST(GoTemplateRecursion, DefinitionsAndLongChainsAreSafe) {
  ordered_json data = ordered_json::object();
  data["A"] = ordered_json::object();
  auto go = [&](const std::string& src) {
    return within_seconds(kBound, "rendering the Go template", [&] { return render_go(src, data); });
  };
  expect_error(go("{{ define \"a\" }}{{ template \"a\" }}{{ end }}{{ template \"a\" }}"), "not supported");
  expect_error(go("{{ block \"a\" . }}{{ template \"a\" }}{{ end }}"), "not supported");
  expect_error(go(repeat("{{ with .A }}", 5000)), "nested too deeply");
  expect_error(go(repeat("{{ range .A }}", 5000)), "nested too deeply");
  auto pipe = go("{{ 1" + repeat(" | print", 20000) + " }}");
  ASSERT_TRUE(pipe.ok()) << pipe.error().message();
  EXPECT_EQ(*pipe, "1");
  expect_error(go("{{ .A" + repeat(".B", 20000) + " }}"), "nil pointer evaluating");
}

// Values nested by a loop, one level per iteration, far deeper than any template text: printing,
// comparing and freeing them must not recurse once per level.
TEST(JinjaRecursion, DeepValuesBuiltByLoops) {
  auto build = [](int n) {
    return "{% set ns = namespace(x=[], d={}) %}{% for i in range(" + std::to_string(n) +
           ") %}{% set ns.x = [ns.x] %}{% set ns.d = {'k': ns.d} %}{% endfor %}";
  };
  // Freeing them at the end of the render (this overflowed the stack).
  auto len = jinja(build(100000) + "{{ ns.x | length }}{{ ns.d | length }}");
  ASSERT_TRUE(len.ok()) << len.error().message();
  EXPECT_EQ(*len, "11");
  // Printing and comparing stop at kMaxValueDepth (256).
  expect_error(jinja(build(2000) + "{{ ns.x }}"), "nested deeper than");
  expect_error(jinja(build(2000) + "{{ ns.d | tojson }}"), "nested deeper than");
  expect_error(jinja(build(2000) + "{{ [ns.x, ns.x] | sort }}"), "nested deeper than");
}

}  // namespace
}  // namespace paddock::chat_template
