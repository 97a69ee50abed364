// template: the public header — chat prompt rendering. A Jinja subset (the chat_template of GGUF
// and Hugging Face models) and a Go text/template subset (Ollama TEMPLATE layers). Rendering is
// bounded (steps and output size) so a hostile template cannot hang or exhaust memory.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "util/status.h"

namespace paddock::chat_template {

struct RenderLimits {
  uint64_t max_steps = 10'000'000;
  uint64_t max_output = 16u << 20;  // bytes
};

// Jinja: `context` holds messages, tools, add_generation_prompt, bos_token, eos_token, and any
// extra keys (enable_thinking, ...). Errors name the template line:column.
Result<std::string> render_jinja(const std::string& source, const nlohmann::json& context,
                                 const RenderLimits& limits = {});

// Go text/template with Ollama's data shape: .System .Prompt .Response .Messages (.Role .Content
// .ToolCalls ...) .Tools .Think ...
Result<std::string> render_go(const std::string& source, const nlohmann::json& data,
                              const RenderLimits& limits = {});

}  // namespace paddock::chat_template
