// render_chat: engine precedence (Ollama TEMPLATE over GGUF Jinja, as in Ollama) and the Jinja
// context it builds, checked against the transformers.js fixtures (the same bytes as
// apply_chat_template for every model and conversation).
#include <gtest/gtest.h>

#include "template/template.h"
#include "test_util.h"

namespace paddock::chat_template {
namespace {

using testing::fixture_path;
using testing::load_json;
using testing::read_file;

TEST(RenderChat, JinjaPathMatchesApplyChatTemplate) {
  auto cases = load_json("jinja_cases.json");
  int n = 0;
  for (const auto& c : cases["cases"]) {
    if (c.contains("note") || !c.contains("expected")) continue;
    const auto& ctx = c["context"];
    ChatRequest r;
    r.jinja_template = read_file(fixture_path("chat_templates/" + c["model"].get<std::string>() + ".jinja"));
    r.messages = ctx["messages"];
    r.tools = ctx["tools"];
    r.add_generation_prompt = ctx["add_generation_prompt"].get<bool>();
    if (ctx.contains("bos_token")) r.bos_token = ctx["bos_token"].get<std::string>();
    if (ctx.contains("eos_token")) r.eos_token = ctx["eos_token"].get<std::string>();
    if (ctx.contains("enable_thinking")) r.think = ctx["enable_thinking"].get<bool>();
    for (const char* k : {"unk_token", "pad_token"})
      if (ctx.contains(k)) r.extra[k] = ctx[k];
    auto out = render_chat(r);
    ASSERT_TRUE(out.ok()) << out.error().message();
    EXPECT_EQ(out->engine, TemplateEngine::kJinja);
    EXPECT_EQ(out->text, c["expected"].get<std::string>()) << c["model"] << "/" << c["conversation"];
    ++n;
  }
  EXPECT_GE(n, 100);
}

TEST(RenderChat, OllamaTemplateTakesPrecedence) {
  ChatRequest r;
  r.messages = nlohmann::ordered_json::parse(R"([{"role": "user", "content": "hi"}])");
  r.jinja_template = "J:{{ messages[0].content }}";
  auto j = render_chat(r);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j->engine, TemplateEngine::kJinja);
  EXPECT_EQ(j->text, "J:hi");
  r.go_template = "G:{{ range .Messages }}{{ .Content }}{{ end }}";
  auto g = render_chat(r);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->engine, TemplateEngine::kGo);
  EXPECT_EQ(g->text, "G:hi");
  ChatRequest none;
  auto e = render_chat(none);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code(), ErrorCode::kNotFound);
}

TEST(RenderChat, BadMessagesAreErrors) {
  ChatRequest r;
  r.go_template = "{{ range .Messages }}{{ .Content }}{{ end }}";
  r.messages = nlohmann::ordered_json::parse(R"({"role": "user"})");
  EXPECT_FALSE(render_chat(r).ok());
  r.messages = nlohmann::ordered_json::parse(R"([{"role": "user", "content": [{"type": "text", "text": "x"}]}])");
  EXPECT_FALSE(render_chat(r).ok());
  r.messages = nlohmann::ordered_json::parse(
      R"([{"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": "{not json"}}]}])");
  EXPECT_FALSE(render_chat(r).ok());
  r.tools = "not a list";
  r.messages = nlohmann::ordered_json::parse(R"([{"role": "user", "content": "x"}])");
  EXPECT_FALSE(render_chat(r).ok());
}

}  // namespace
}  // namespace paddock::chat_template
