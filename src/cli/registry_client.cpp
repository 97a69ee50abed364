// registry_client: `paddock pull|push MODEL [--insecure]` as a client of the server: one streamed
// request to /api/pull or /api/push, its status lines drawn as progress.
#include "cli/registry_client.h"

#include <iostream>
#include <memory>

#include "cli/client.h"

namespace paddock::cli {

CLI::App* add_registry_command(CLI::App& app, std::function<int()>& run, const std::string& name,
                               const std::string& description) {
  auto* sub = app.add_subcommand(name, description);
  auto model = std::make_shared<std::string>();
  auto insecure = std::make_shared<bool>(false);
  sub->add_option("model", *model, "Model name")->required();
  sub->add_flag("--insecure", *insecure, "Use an insecure registry");
  run = [model, insecure, path = "/api/" + name] {
    Progress p;
    auto st =
        Client::from_env().stream(path, nlohmann::json{{"model", *model}, {"insecure", *insecure}, {"stream", true}},
                                  [&](const nlohmann::json& line) {
                                    p.update(line);
                                    return true;
                                  });
    p.finish();
    if (!st.ok()) {
      std::cerr << "Error: " << st.error().message() << "\n";
      return 1;
    }
    return 0;
  };
  return sub;
}

}  // namespace paddock::cli
