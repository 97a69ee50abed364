// `paddock runner` (hidden): the per-model process the server starts; never run by hand.
#include "cli/command.h"
#include "runner/runner.h"

namespace paddock::cli {
namespace {

Registration reg({"runner", 900, [](CLI::App& app, std::function<int()>& run) {
  auto* sub = app.add_subcommand("runner", "");
  sub->group("");  // hidden from --help
  auto opts = std::make_shared<runner::RunnerOptions>();
  sub->add_option("--model", opts->model_path, "GGUF file")->required();
  sub->add_option("--fd", opts->fd, "connected socket");
  sub->add_option("--socket", opts->socket_path, "Unix socket path to connect to");
  sub->add_option("--num-parallel", opts->num_parallel)->check(CLI::Range(1, 1024));
  sub->add_option("--num-ctx", opts->num_ctx)->check(CLI::Range(1, 1 << 20));
  sub->add_option("--threads", opts->threads)->check(CLI::Range(0, 4096));
  sub->add_option("--device", opts->device);
  sub->add_flag("--embedding", opts->embedding);
  run = [opts] { return runner::run_runner(*opts); };
  return sub;
}});

}  // namespace
}  // namespace paddock::cli
