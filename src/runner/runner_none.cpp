// runner_none: a build without the engine modules cannot host a model; the runner answers the
// server with one clear error frame and exits.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <iostream>

#include "runner/runner.h"

namespace paddock::runner {

int run_runner(const RunnerOptions& opts) {
  const char* msg = "this build of paddock has no inference engine (the engine modules were not compiled in)";
  if (opts.fd >= 0) (void)write_frame(opts.fd, nlohmann::json{{"type", "error"}, {"message", msg}});
  std::cerr << "Error: " << msg << "\n";
  return 1;
}

}  // namespace paddock::runner
