// paddock: one binary with subcommands (serve, run, list, ..., and the offline tools).
#include <algorithm>
#include <cstdlib>
#include <deque>
#include <iostream>

#include "cli/command.h"
#include "util/log.h"

namespace paddock::cli {

std::vector<CommandDef>& registry() {
  static std::vector<CommandDef> r;
  return r;
}

std::string default_models_dir() {
  if (const char* p = std::getenv("PADDOCK_MODELS"); p && *p) return p;
  if (const char* p = std::getenv("OLLAMA_MODELS"); p && *p) return p;
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.paddock/models";
}

}  // namespace paddock::cli

int main(int argc, char** argv) {
  using namespace paddock::cli;
  paddock::log::init("paddock");
  CLI::App app{"Paddock: private, self-hosted LLM serving (Ollama and OpenAI APIs)", "paddock"};
  app.require_subcommand(1);
  app.set_version_flag("-v,--version", std::string("paddock version ") + PADDOCK_VERSION);
  auto& defs = registry();
  std::sort(defs.begin(), defs.end(), [](const CommandDef& a, const CommandDef& b) {
    return a.order != b.order ? a.order < b.order : a.name < b.name;
  });
  std::function<int()> run;
  std::deque<std::function<int()>> slots;  // stable addresses, one per subcommand
  for (auto& d : defs) {
    std::function<int()>* slot = &slots.emplace_back();
    CLI::App* sub = d.setup(app, *slot);
    sub->callback([slot, &run] { run = *slot; });
  }
  // An unknown subcommand is named as such (as the ollama CLI does), not as a stray argument.
  if (argc > 1 && argv[1][0] != '-') {
    auto subs = app.get_subcommands([&](CLI::App* s) { return s->check_name(argv[1]); });
    if (subs.empty()) {
      std::cerr << "Error: unknown command \"" << argv[1] << "\" for \"paddock\" (paddock --help lists them)\n";
      return 1;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (!run) return 0;
  try {
    return run();
  } catch (const std::exception& e) {
    std::cerr << "Error: " << e.what() << "\n";
    return 1;
  }
}
