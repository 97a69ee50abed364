// libFuzzer target: renders arbitrary bytes as an Ollama Go TEMPLATE through render_chat (the
// Ollama data shape, including the legacy per-turn path) under tight limits.
#include <cstddef>
#include <cstdint>
#include <string>

#include "template/template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  paddock::chat_template::ChatRequest r;
  r.go_template.assign(reinterpret_cast<const char*>(data), size);
  if (r.go_template.empty()) return 0;
  r.messages = nlohmann::ordered_json::parse(R"([
    {"role": "system", "content": "sys"}, {"role": "user", "content": "hi"},
    {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": {"b": [1, 2], "a": "x"}}}]},
    {"role": "tool", "content": "r", "tool_name": "f"}, {"role": "user", "content": "again"}])");
  r.tools = nlohmann::ordered_json::parse(
      R"([{"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object",
          "properties": {"a": {"type": "string"}}, "required": ["a"]}}}])");
  r.think = true;
  paddock::chat_template::RenderLimits limits;
  limits.max_steps = 20000;
  limits.max_output = 64 * 1024;
  (void)paddock::chat_template::render_chat(r, limits);
  return 0;
}
