// prompt: turns a generate/chat request into prompt text the way Ollama does — the model's Go
// TEMPLATE layer (or a request override) first, else the GGUF Jinja chat template, else the
// plain text; `raw` skips templating.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"
#include "util/status.h"

namespace paddock::runner {

// `req` is a runner "generate" message (mode, prompt, suffix, system, template, raw, messages,
// tools, think). kInvalidArgument for template errors (they come from user-supplied templates).
Result<std::string> render_prompt(const nlohmann::json& req, const tokenizer::Tokenizer& tok);

}  // namespace paddock::runner
