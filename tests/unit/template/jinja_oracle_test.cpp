// Jinja chat templates against the oracle: every model's chat_template rendered over the committed
// conversations must equal transformers.js' output byte for byte (fixtures made by
// tools/template_oracle.mjs); where the oracle failed, we must fail too.
#include <gtest/gtest.h>

#include "template/template.h"
#include "test_util.h"

namespace paddock::chat_template {
namespace {

using testing::fixture_path;
using testing::load_json;
using testing::read_file;

TEST(JinjaOracle, ModelChatTemplates) {
  auto cases = load_json("jinja_cases.json");
  ASSERT_GE(cases["cases"].size(), 100u);
  int rendered = 0, failed_as_oracle = 0;
  for (const auto& c : cases["cases"]) {
    if (c.contains("note")) continue;  // model without a template
    std::string model = c["model"].get<std::string>();
    std::string label = model + "/" + c["conversation"].get<std::string>() + " " + c["options"].dump();
    std::string source = read_file(fixture_path("chat_templates/" + model + ".jinja"));
    ASSERT_FALSE(source.empty()) << model;
    auto out = render_jinja(source, c["context"]);
    // The fixtures only keep cases where transformers.js and Python Jinja2 agree.
    ASSERT_EQ(c.contains("expected"), c.contains("python_expected")) << label;
    if (c.contains("expected")) {
      ASSERT_EQ(c["expected"], c["python_expected"]) << label;
      ASSERT_TRUE(out.ok()) << label << ": " << out.error().message();
      EXPECT_EQ(*out, c["expected"].get<std::string>()) << label;
      ++rendered;
    } else {
      EXPECT_FALSE(out.ok()) << label << " should fail like the oracle (" << c["error"] << ") but gave: " << *out;
      ++failed_as_oracle;
    }
  }
  EXPECT_GE(rendered, 100);
  EXPECT_GT(failed_as_oracle, 0);
}

TEST(JinjaOracle, ParsedTemplateIsReusable) {
  auto cases = load_json("jinja_cases.json");
  std::string source = read_file(fixture_path("chat_templates/qwen3.jinja"));
  auto t = JinjaTemplate::parse(source);
  ASSERT_TRUE(t.ok()) << t.error().message();
  int n = 0;
  for (const auto& c : cases["cases"]) {
    if (c.value("model", "") != "qwen3" || !c.contains("expected")) continue;
    auto out = t->render(c["context"]);
    ASSERT_TRUE(out.ok()) << out.error().message();
    EXPECT_EQ(*out, c["expected"].get<std::string>());
    ++n;
  }
  EXPECT_GT(n, 20);
}

TEST(JinjaOracle, FeatureTemplates) {
  auto input = load_json("jinja_features.json");
  auto expected = load_json("jinja_features_expected.json");
  ASSERT_EQ(input["cases"].size(), expected["cases"].size());
  for (size_t i = 0; i < input["cases"].size(); ++i) {
    const auto& in = input["cases"][i];
    const auto& ex = expected["cases"][i];
    ASSERT_EQ(in["name"], ex["name"]);
    const auto& ctx = in.contains("context") ? in["context"] : input["default_context"];
    RenderLimits limits;
    limits.now_unix = 1700000000;  // 2023-11-14T22:13:20Z
    auto out = render_jinja(in["template"].get<std::string>(), ctx, limits);
    std::string name = in["name"].get<std::string>();
    // transformers.js is the oracle, except where the case says to follow Python Jinja2 (a
    // transformers.js bug or missing feature; the reason is in the fixture).
    bool python = in.contains("follow");
    const char* key = python ? "python_expected" : "expected";
    const char* err = python ? "python_error" : "error";
    if (ex.contains(key)) {
      ASSERT_TRUE(out.ok()) << name << ": " << out.error().message();
      EXPECT_EQ(*out, ex[key].get<std::string>()) << name;
    } else {
      EXPECT_FALSE(out.ok()) << name << " should fail (" << ex[err] << ") but gave: " << *out;
    }
  }
}

}  // namespace
}  // namespace paddock::chat_template
