// runner_client: the server's side of one runner process — spawns `paddock runner` on one end of
// a socketpair, waits for "ready", then multiplexes requests by id over the framed protocol.
// Events for a request arrive on the client's reader thread, in order, ending with done/error.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/status.h"

namespace paddock::server {

struct SpawnSpec {
  std::string exe;  // the paddock binary
  std::string model_path;
  std::string display_name;  // for messages
  int num_parallel = 1;
  int num_ctx = 4096;
  int threads = 0;
  std::string device = "auto";
  bool embedding = false;
  int load_timeout_ms = 300000;
  std::vector<std::string> extra_args;
};

class RunnerClient : public std::enable_shared_from_this<RunnerClient> {
 public:
  using EventFn = std::function<void(const nlohmann::json&)>;
  // Blocks until the runner says ready (or fails, or the load timeout passes).
  static Result<std::shared_ptr<RunnerClient>> spawn(const SpawnSpec& spec, std::function<void()> on_exit);
  ~RunnerClient();

  // Sends a request (its "id" is set here). If the runner is gone, fn gets an error at once.
  uint64_t submit(nlohmann::json req, EventFn fn);
  void cancel(uint64_t id);
  Result<nlohmann::json> stats(int timeout_ms = 2000);
  // Asks the runner to exit, waits briefly, then kills it. Idempotent.
  void shutdown();
  bool alive() const { return alive_.load(); }
  // Waits until the reader thread has delivered every event and the exit callback (bounded).
  void wait_finished(int timeout_ms) const;
  pid_t pid() const { return pid_; }
  const nlohmann::json& ready() const { return ready_; }
  size_t in_flight() const;
  // Why the process ended, once it has, if nobody asked it to: "killed" (SIGKILL, as the OOM
  // killer sends), "crashed" (another signal), "exited" (a non-zero status), "protocol" (it sent
  // a bad frame); "" while it runs or when it was stopped on purpose or exited 0.
  std::string unexpected_exit() const;

 private:
  RunnerClient() = default;
  void reader_loop();
  void fail_all(const std::string& why);

  SpawnSpec spec_;
  int fd_ = -1;
  pid_t pid_ = -1;
  nlohmann::json ready_;
  std::atomic<bool> alive_{false};
  std::atomic<uint64_t> next_id_{1};
  mutable std::mutex mu_;
  std::mutex write_mu_;
  std::map<uint64_t, EventFn> pending_;
  std::thread reader_;
  std::function<void()> on_exit_;
  // One stats query at a time.
  std::mutex stats_mu_;
  std::condition_variable stats_cv_;
  bool stats_ready_ = false;
  nlohmann::json stats_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> finished_{false};
  std::string exit_reason_;
  mutable std::mutex exit_mu_;   // a leaf lock: read by the manager under its own lock
  std::string unexpected_exit_;
};

}  // namespace paddock::server
