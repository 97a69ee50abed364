// `paddock ps`: models loaded in the server, with size and when they will be unloaded.
#include <cstdio>
#include <ctime>
#include <iostream>

#include "cli/client.h"
#include "cli/command.h"

namespace paddock::cli {
namespace {

std::string until(const std::string& rfc3339) {
  std::tm tm{};
  if (!strptime(rfc3339.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return rfc3339;
  time_t t = timegm(&tm);
  long secs = long(t - std::time(nullptr));
  if (secs > 100L * 365 * 86400) return "Forever";
  if (secs <= 0) return "Stopping...";
  char b[64];
  if (secs < 60) std::snprintf(b, sizeof b, "%ld seconds from now", secs);
  else if (secs < 3600) std::snprintf(b, sizeof b, "%ld minutes from now", secs / 60);
  else std::snprintf(b, sizeof b, "%ld hours from now", secs / 3600);
  return b;
}

Registration reg({"ps", 40, [](CLI::App& app, std::function<int()>& run) {
  auto* sub = app.add_subcommand("ps", "List running models");
  run = [] {
    auto r = Client::from_env().request("GET", "/api/ps");
    if (!r.ok()) {
      std::cerr << "Error: " << r.error().message() << "\n";
      return 1;
    }
    if (r->status != 200) {
      std::cerr << "Error: " << server_error(*r) << "\n";
      return 1;
    }
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    std::printf("%-32s %-14s %-10s %-10s %-8s %s\n", "NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL");
    if (j.is_object() && j["models"].is_array())
      for (auto& m : j["models"])
        std::printf("%-32s %-14s %-10s %-10s %-8d %s\n", m.value("name", "").c_str(),
                    m.value("digest", "").substr(0, 12).c_str(), human_bytes(m.value("size", uint64_t(0))).c_str(),
                    "100% CPU", m.value("context_length", 0), until(m.value("expires_at", "")).c_str());
    return 0;
  };
  return sub;
}});

}  // namespace
}  // namespace paddock::cli
