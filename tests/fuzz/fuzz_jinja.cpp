// libFuzzer target: renders arbitrary bytes as a Jinja chat template over a fixed conversation,
// under tight limits. Any crash, sanitizer report, hang or runaway allocation is a bug; errors
// are fine.
#include <cstddef>
#include <cstdint>
#include <string>

#include "template/template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  static const nlohmann::ordered_json ctx = nlohmann::ordered_json::parse(R"({
    "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi <b>"},
                 {"role": "assistant", "content": "<think>r</think>ok", "tool_calls": [
                   {"type": "function", "function": {"name": "f", "arguments": {"x": 1}}}]},
                 {"role": "tool", "content": "{\"y\": 2}"}],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>", "enable_thinking": false})");
  paddock::chat_template::RenderLimits limits;
  limits.max_steps = 20000;
  limits.max_output = 64 * 1024;
  limits.now_unix = 0;
  std::string src(reinterpret_cast<const char*>(data), size);
  (void)paddock::chat_template::render_jinja(src, ctx, limits);
  return 0;
}
