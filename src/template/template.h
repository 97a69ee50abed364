// template: the public header — chat prompt rendering. A Jinja subset (the chat_template of GGUF
// and Hugging Face models) and a Go text/template subset (Ollama TEMPLATE layers). Rendering is
// bounded (steps and output size) so a hostile template cannot hang or exhaust memory.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "util/status.h"

namespace paddock::gguf {
class File;
}

namespace paddock::chat_template {

struct RenderLimits {
  uint64_t max_steps = 10'000'000;
  uint64_t max_output = 16u << 20;  // bytes
  int64_t now_unix = -1;            // clock for strftime_now (seconds since epoch, UTC); -1 = now
};

// ---- Jinja (Hugging Face chat_template) ----
// Semantics follow transformers.js' Jinja (the oracle of our tests): trim_blocks and lstrip_blocks
// on, one trailing newline dropped, `true`/`false` printed lower-case, lists/dicts printed as JSON,
// tojson as Python json.dumps(ensure_ascii=False). Attribute names starting with "__", and the
// statements import/include/extends, are rejected. Errors name the template line:column.

// `context` holds messages, tools, add_generation_prompt, bos_token, eos_token, and any extra keys
// (enable_thinking, ...). Key order matters (tojson, items()), so prefer ordered_json.
Result<std::string> render_jinja(const std::string& source, const nlohmann::ordered_json& context,
                                 const RenderLimits& limits = {});
Result<std::string> render_jinja(const std::string& source, const nlohmann::json& context,
                                 const RenderLimits& limits = {});

// A parsed Jinja template, reusable across renders (the runner parses a model's template once).
class JinjaTemplate {
 public:
  static Result<JinjaTemplate> parse(const std::string& source);
  Result<std::string> render(const nlohmann::ordered_json& context, const RenderLimits& limits = {}) const;

 private:
  struct Program;
  std::shared_ptr<const Program> program_;
};

// ---- Go text/template (Ollama TEMPLATE layers) ----
// Actions {{ }}, {{- -}} trimming, comments, if/else if/else, range (with $i, $v :=, else), with,
// variables ($x := / $x =, $ = root), pipelines, and the functions Ollama's templates use:
// eq ne lt le gt ge and or not len slice index print printf println json html urlquery js
// (plus Ollama's `json`/`currentDate`). Maps and lists print as compact JSON (as Ollama's Tool and
// argument types do). Errors name line:column.
Result<std::string> render_go(const std::string& source, const nlohmann::ordered_json& data,
                              const RenderLimits& limits = {});
Result<std::string> render_go(const std::string& source, const nlohmann::json& data,
                              const RenderLimits& limits = {});
// True when the template refers to .Messages (Ollama then passes the whole conversation;
// otherwise it renders one .System/.Prompt/.Response turn at a time).
Result<bool> go_template_uses_messages(const std::string& source);

// ---- choosing the engine and data shape for a chat request ----
// Precedence (as in Ollama): a model's Ollama TEMPLATE layer (go_template) wins over the GGUF's
// Jinja tokenizer.chat_template; with neither, rendering fails with kNotFound.
//
// Jinja context (as transformers.js apply_chat_template builds it): messages, tools (null when
// absent), documents (null), add_generation_prompt, bos_token, eos_token, enable_thinking (when
// `think` is set), then `extra` keys.
// Go data (as Ollama builds it): .System = the system messages' contents joined by "\n\n",
// .Messages = all messages with consecutive same-role messages merged ("\n\n"), each with .Role,
// .Content, .Thinking, .ToolCalls (.Function.Name / .Function.Arguments), .ToolName; .Tools;
// .Response = ""; .Think / .IsThinkSet. Templates that do not mention .Messages are rendered
// the legacy way: one execution per system/user/assistant turn with .System .Prompt .Response,
// and the last turn cut right after {{ .Response }} so the prompt ends where the reply begins.
struct ChatRequest {
  std::string go_template;
  std::string jinja_template;
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();  // [{role, content, ...}]
  nlohmann::ordered_json tools;                                        // array or null
  bool add_generation_prompt = true;
  std::optional<bool> think;
  std::string bos_token;
  std::string eos_token;
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();     // more Jinja context keys
};

enum class TemplateEngine { kGo, kJinja };
struct RenderedPrompt {
  std::string text;
  TemplateEngine engine;
};
Result<RenderedPrompt> render_chat(const ChatRequest& request, const RenderLimits& limits = {});

// What a GGUF says about chat formatting: tokenizer.chat_template (empty if absent) and the text
// of the BOS/EOS tokens (templates print them). A wrongly typed key is an error.
struct GgufChatInfo {
  std::string chat_template;
  std::string bos_token;
  std::string eos_token;
};
Result<GgufChatInfo> chat_info_from_gguf(const gguf::File& file);

}  // namespace paddock::chat_template
