// Structured, quiet-by-default logging on spdlog. Level from PADDOCK_DEBUG (0 info, 1 debug,
// 2 trace) or OLLAMA_DEBUG; `PADDOCK_LOG_FORMAT=json` writes one JSON object per line.
#pragma once
#include <spdlog/spdlog.h>

namespace paddock::log {

// Call once at program start; safe to call again (reconfigures).
void init(const char* program);

using spdlog::debug;
using spdlog::error;
using spdlog::info;
using spdlog::trace;
using spdlog::warn;

}  // namespace paddock::log
