// settings: the one table of `paddock serve` settings — each with its flag, environment variables
// (PADDOCK_* first, then the OLLAMA_* name where Ollama's meaning is the same), config-file key,
// parser and printer — and the layering of defaults < config file < environment < flags.
// docs/OPERATIONS.md "Configuration reference" lists the same table.
#pragma once
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "server/server.h"
#include "util/status.h"

namespace paddock::server {

struct Setting {
  enum class Kind { kValue, kBool, kList };
  std::string key;                // flag without "--"; also the config-file key
  std::vector<std::string> alias;  // other flag names
  std::vector<std::string> env;   // first one set wins
  Kind kind = Kind::kValue;
  bool secret = false;            // masked by --print-config
  std::string help;
  std::function<Status(ServerConfig&, const std::string&)> set;  // lists arrive comma-joined
  std::function<std::string(const ServerConfig&)> get;           // a value `set` accepts back
};

const std::vector<Setting>& serve_settings();

struct ConfigInputs {
  std::string file;                          // config file ("" = none)
  std::map<std::string, std::string> flags;  // key -> value given on the command line
  std::function<const char*(const char*)> getenv = [](const char* n) { return std::getenv(n); };
};

struct EffectiveConfig {
  ServerConfig cfg;
  std::map<std::string, std::string> source;  // key -> "default", "flag", "env NAME", "file PATH"
};

// Layers the sources over `defaults`; an error names the setting and where its value came from.
Result<EffectiveConfig> resolve_config(const ConfigInputs& in, ServerConfig defaults = {});

// `paddock serve --print-config`: every setting as `key: value  # source`, secrets masked; the
// output is itself a valid config file.
std::string print_config(const EffectiveConfig& eff);

// Reads a YAML config file into key -> value (lists comma-joined; one level of nesting joins keys
// with '-': `tls: {cert: x}` is `tls-cert`). Unknown keys are errors.
Result<std::map<std::string, std::string>> read_config_file(const std::string& path);

}  // namespace paddock::server
