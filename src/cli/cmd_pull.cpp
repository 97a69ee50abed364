// `paddock pull MODEL`: asks the server to pull a model from a registry (registry_client.cpp).
#include "cli/registry_client.h"

namespace paddock::cli {
namespace {

Registration reg({"pull", 35, [](CLI::App& app, std::function<int()>& run) {
                    return add_registry_command(app, run, "pull", "Pull a model from a registry");
                  }});

}  // namespace
}  // namespace paddock::cli
