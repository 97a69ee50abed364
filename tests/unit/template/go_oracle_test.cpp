// Go text/template subset against Go itself: feature templates over plain JSON data, and Ollama-
// style TEMPLATE layers rendered through render_chat (collation, typed tools, legacy turns cut
// after {{ .Response }}), byte for byte with tools/gotemplate/main.go's output.
#include <gtest/gtest.h>

#include "template/template.h"
#include "test_util.h"

namespace paddock::chat_template {
namespace {

using testing::fixture_path;
using testing::load_json;
using testing::read_file;

TEST(GoOracle, FeatureTemplates) {
  auto input = load_json("go_features.json");
  auto expected = load_json("go_features_expected.json");
  ASSERT_EQ(input["cases"].size(), expected["cases"].size());
  ASSERT_GE(input["cases"].size(), 40u);
  for (size_t i = 0; i < input["cases"].size(); ++i) {
    const auto& in = input["cases"][i];
    const auto& ex = expected["cases"][i];
    std::string name = in["name"].get<std::string>();
    ASSERT_EQ(name, ex["name"].get<std::string>());
    auto out = render_go(in["template"].get<std::string>(), in["data"]);
    if (ex.contains("expected")) {
      ASSERT_TRUE(out.ok()) << name << ": " << out.error().message();
      EXPECT_EQ(*out, ex["expected"].get<std::string>()) << name;
    } else {
      EXPECT_FALSE(out.ok()) << name << " should fail (" << ex["error"] << ") but gave: " << *out;
      if (!out.ok()) {
        EXPECT_NE(out.error().message().find("template:"), std::string::npos) << out.error().message();
      }
    }
  }
}

TEST(GoOracle, OllamaTemplatesThroughRenderChat) {
  auto conv = load_json("conversations.json");
  auto cases = load_json("go_cases.json");
  ASSERT_GE(cases["cases"].size(), 90u);
  int rendered = 0;
  for (const auto& c : cases["cases"]) {
    ChatRequest r;
    std::string name = c["template"].get<std::string>();
    r.go_template = read_file(fixture_path("go_templates/" + name + ".gotmpl"));
    ASSERT_FALSE(r.go_template.empty()) << name;
    r.jinja_template = "{{ 'the Go template must win' }}";
    r.messages = conv["conversations"][c["conversation"].get<std::string>()];
    if (c["with_tools"].get<bool>()) r.tools = conv["tools"];
    if (c.contains("think")) r.think = c["think"].get<bool>();
    std::string label = name + "/" + c["conversation"].get<std::string>() + (c.contains("think") ? c["think"].dump() : "");
    auto out = render_chat(r);
    if (c.contains("expected")) {
      ASSERT_TRUE(out.ok()) << label << ": " << out.error().message();
      EXPECT_EQ(out->engine, TemplateEngine::kGo);
      EXPECT_EQ(out->text, c["expected"].get<std::string>()) << label;
      ++rendered;
    } else {
      EXPECT_FALSE(out.ok()) << label << " should fail (" << c["error"] << ")";
    }
  }
  EXPECT_GE(rendered, 80);
}

TEST(GoOracle, UsesMessagesDetection) {
  auto a = go_template_uses_messages("{{ range .Messages }}{{ .Content }}{{ end }}");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(*a);
  auto b = go_template_uses_messages("{{ range $i, $_ := $.messages }}{{ end }}");
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(*b);
  auto c = go_template_uses_messages("{{ .System }} {{ .Prompt }}");
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(*c);
  EXPECT_FALSE(go_template_uses_messages("{{ if }}").ok());
}

}  // namespace
}  // namespace paddock::chat_template
