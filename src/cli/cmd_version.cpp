// `paddock version`: prints the version (and the server's, once a server answers).
#include <iostream>

#include "cli/command.h"

namespace paddock::cli {
namespace {

Registration reg({"version", 100, [](CLI::App& app, std::function<int()>& run) {
  auto* sub = app.add_subcommand("version", "Show the version");
  run = [] {
    std::cout << "paddock version " << PADDOCK_VERSION << "\n";
    return 0;
  };
  return sub;
}});

}  // namespace
}  // namespace paddock::cli
