// `paddock stop MODEL`: unloads a running model (keep_alive 0, as Ollama's CLI does).
#include <iostream>

#include "cli/client.h"
#include "cli/command.h"

namespace paddock::cli {
namespace {

Registration reg({"stop", 41, [](CLI::App& app, std::function<int()>& run) {
  auto* sub = app.add_subcommand("stop", "Stop a running model");
  auto model = std::make_shared<std::string>();
  sub->add_option("model", *model, "Model name")->required();
  run = [model] {
    auto r = Client::from_env().request("POST", "/api/generate", nlohmann::json{{"model", *model}, {"keep_alive", 0}}.dump());
    if (!r.ok()) {
      std::cerr << "Error: " << r.error().message() << "\n";
      return 1;
    }
    if (r->status != 200) {
      std::cerr << "Error: " << server_error(*r) << "\n";
      return 1;
    }
    return 0;
  };
  return sub;
}});

}  // namespace
}  // namespace paddock::cli
