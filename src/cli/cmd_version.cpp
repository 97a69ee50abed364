// `paddock version`: the client's version, and the server's (Paddock's own and the Ollama API
// version it serves) when one answers at PADDOCK_HOST / OLLAMA_HOST.
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/client.h"
#include "cli/command.h"
#include "util/version.h"

namespace paddock::cli {
namespace {

Registration reg({"version", 100, [](CLI::App& app, std::function<int()>& run) {
  auto* sub = app.add_subcommand("version", "Show the version of the client and of the server");
  run = [] {
    std::cout << "paddock version " << PADDOCK_VERSION << " (Ollama API " << kOllamaApiVersion << ")\n";
    Client c = Client::from_env();
    if (!c.reachable()) {
      std::cout << "no server at " << c.base() << "\n";
      return 0;
    }
    auto r = c.request("GET", "/api/version");
    auto j = r.ok() && r->status == 200 ? nlohmann::json::parse(r->body, nullptr, false) : nlohmann::json();
    if (!j.is_object() || !j.contains("version")) {
      std::cerr << "Error: the server at " << c.base() << " did not answer /api/version\n";
      return 1;
    }
    std::cout << "server at " << c.base() << ": ";
    if (j.contains("paddock_version")) std::cout << "paddock version " << j.value("paddock_version", "") << ", ";
    std::cout << "Ollama API " << j.value("version", "") << "\n";
    return 0;
  };
  return sub;
}});

}  // namespace
}  // namespace paddock::cli
