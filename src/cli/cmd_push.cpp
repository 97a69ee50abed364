// `paddock push MODEL`: asks the server to push a model to a registry (registry_client.cpp).
#include "cli/registry_client.h"

namespace paddock::cli {
namespace {

Registration reg({"push", 36, [](CLI::App& app, std::function<int()>& run) {
                    return add_registry_command(app, run, "push", "Push a model to a registry");
                  }});

}  // namespace
}  // namespace paddock::cli
