// cli: subcommand registry. Each cmd_<name>.cpp defines a static Registration that adds its
// subcommand to the CLI11 app; main() parses and runs the chosen one. Errors: one line on
// stderr and a non-zero exit.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace paddock::cli {

struct CommandDef {
  std::string name;
  int order;  // position in --help
  // Adds the subcommand to `app` and returns it; `run` is set to what to do when it is chosen.
  std::function<CLI::App*(CLI::App& app, std::function<int()>& run)> setup;
};

std::vector<CommandDef>& registry();

struct Registration {
  explicit Registration(CommandDef def) { registry().push_back(std::move(def)); }
};

// The model store directory: --models, else PADDOCK_MODELS, else OLLAMA_MODELS, else ~/.paddock/models.
std::string default_models_dir();

}  // namespace paddock::cli
