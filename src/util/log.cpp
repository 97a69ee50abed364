// Logger set-up: stderr sink, level from the environment, optional JSON lines.
#include "util/log.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include <spdlog/sinks/stdout_sinks.h>

namespace paddock::log {

void init(const char* program) {
  const char* lvl = std::getenv("PADDOCK_DEBUG");
  if (!lvl) lvl = std::getenv("OLLAMA_DEBUG");
  auto level = spdlog::level::info;
  if (lvl && *lvl) {
    int v = std::atoi(lvl);
    if (v >= 2) level = spdlog::level::trace;
    else if (v == 1 || std::strcmp(lvl, "true") == 0) level = spdlog::level::debug;
  }
  spdlog::drop(program);
  auto logger = spdlog::stderr_logger_mt(program);
  const char* fmt = std::getenv("PADDOCK_LOG_FORMAT");
  if (fmt && std::strcmp(fmt, "json") == 0) {
    logger->set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","source":")" + std::string(program) +
                            R"(","msg":"%v"})",
                        spdlog::pattern_time_type::utc);
  } else {
    logger->set_pattern("time=%Y-%m-%dT%H:%M:%S.%e level=%l source=" + std::string(program) + " msg=\"%v\"");
  }
  logger->set_level(level);
  spdlog::set_default_logger(logger);
}

}  // namespace paddock::log
