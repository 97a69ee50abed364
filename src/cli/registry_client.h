// registry_client: the shared body of `paddock pull` and `paddock push` — both ask the server to
// move a model to or from a registry and show its progress lines (the server answers with a
// clear error until registry support lands).
#pragma once
#include <string>

#include "cli/command.h"

namespace paddock::cli {

// Registers subcommand `name` ("pull" or "push") posting to /api/<name>.
CLI::App* add_registry_command(CLI::App& app, std::function<int()>& run, const std::string& name,
                               const std::string& description);

}  // namespace paddock::cli
