// render_chat: engine precedence (Ollama TEMPLATE over GGUF Jinja, as in Ollama) and the Jinja
// context it builds, checked against the transformers.js fixtures (the same bytes as
// apply_chat_template for every model and conversation).
#include <gtest/gtest.h>

#include "gguf/gguf.h"
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

namespace paddock::chat_template {
namespace {

// A GGUF made by our writer carries the Llama 3.1 template; reading it back and rendering gives the
// oracle's bytes (the path `paddock template --model` takes).
TEST(RenderChat, TemplateFromGguf) {
  auto cases = load_json("jinja_cases.json");
  std::string source = read_file(fixture_path("chat_templates/llama3_1.jinja"));
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::str("llama"));
  w.set("tokenizer.chat_template", gguf::Value::str(source));
  w.set("tokenizer.ggml.tokens", gguf::Value::str_array({"<unk>", "<|begin_of_text|>", "<|eot_id|>"}));
  w.set("tokenizer.ggml.bos_token_id", gguf::Value::u32(1));
  w.set("tokenizer.ggml.eos_token_id", gguf::Value::u32(2));
  auto bytes = w.serialize();
  ASSERT_TRUE(bytes.ok()) << bytes.error().message();
  std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size());
  auto f = gguf::File::parse(span);
  ASSERT_TRUE(f.ok()) << f.error().message();
  auto info = chat_info_from_gguf(*f);
  ASSERT_TRUE(info.ok()) << info.error().message();
  EXPECT_EQ(info->chat_template, source);
  EXPECT_EQ(info->bos_token, "<|begin_of_text|>");
  EXPECT_EQ(info->eos_token, "<|eot_id|>");
  int n = 0;
  for (const auto& c : cases["cases"]) {
    if (c.value("model", "") != "llama3_1" || !c.contains("expected")) continue;
    ChatRequest r;
    r.jinja_template = info->chat_template;
    r.bos_token = info->bos_token;
    r.eos_token = info->eos_token;
    r.messages = c["context"]["messages"];
    r.tools = c["context"]["tools"];
    r.add_generation_prompt = c["context"]["add_generation_prompt"].get<bool>();
    auto out = render_chat(r);
    ASSERT_TRUE(out.ok()) << out.error().message();
    EXPECT_EQ(out->text, c["expected"].get<std::string>());
    ++n;
  }
  EXPECT_GT(n, 10);

  gguf::Writer bad;
  bad.set("tokenizer.chat_template", gguf::Value::u32(7));
  auto bad_bytes = bad.serialize();
  ASSERT_TRUE(bad_bytes.ok());
  auto bf = gguf::File::parse({reinterpret_cast<const uint8_t*>(bad_bytes->data()), bad_bytes->size()});
  ASSERT_TRUE(bf.ok());
  EXPECT_FALSE(chat_info_from_gguf(*bf).ok());
  gguf::Writer oob;
  oob.set("tokenizer.ggml.tokens", gguf::Value::str_array({"a"}));
  oob.set("tokenizer.ggml.bos_token_id", gguf::Value::u32(5));
  auto oob_bytes = oob.serialize();
  ASSERT_TRUE(oob_bytes.ok());
  auto of = gguf::File::parse({reinterpret_cast<const uint8_t*>(oob_bytes->data()), oob_bytes->size()});
  ASSERT_TRUE(of.ok());
  EXPECT_FALSE(chat_info_from_gguf(*of).ok());
}

}  // namespace
}  // namespace paddock::chat_template
