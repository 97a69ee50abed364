// `paddock push MODEL`: asks the server to push a model (registry support lands with the
// registry issue; until then the server answers with a clear error, shown here).
#include <iostream>

#include "cli/client.h"
#include "cli/command.h"

namespace paddock::cli {
namespace {

Registration reg({"push", 36, [](CLI::App& app, std::function<int()>& run) {
  auto* sub = app.add_subcommand("push", "Push a model to a registry");
  auto model = std::make_shared<std::string>();
  auto insecure = std::make_shared<bool>(false);
  sub->add_option("model", *model, "Model name")->required();
  sub->add_flag("--insecure", *insecure, "Use an insecure registry");
  run = [model, insecure] {
    Progress p;
    auto st = Client::from_env().stream("/api/push", nlohmann::json{{"model", *model}, {"insecure", *insecure}, {"stream", true}},
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
}});

}  // namespace
}  // namespace paddock::cli
