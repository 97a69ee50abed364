// manager: which models are loaded and who may use them. One runner per loaded model; slots per
// model (num_parallel) handed out FIFO; one server-wide bound on waiting requests (503 over it);
// keep-alive expiry; eviction of idle models when the loaded-count or memory budget is reached.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/runner_client.h"
#include "util/status.h"

namespace paddock::server {

using Clock = std::chrono::steady_clock;

// What the manager needs to know about a model (resolved from the store by the API layer).
struct ModelRef {
  std::string name;        // display name, e.g. "llama3.2:latest"
  std::string model_path;  // GGUF blob
  std::string digest;      // manifest digest (hex)
  uint64_t size = 0;       // manifest size (layers + config)
  uint64_t mem_estimate = 0;  // bytes needed when loaded (weights + KV); 0 = file size
  nlohmann::json details = nlohmann::json::object();
  bool embedding = false;
  int ctx_train = 0;  // the model's trained context (0 = unknown)
  // Context this request needs (options.num_ctx; 0 = the server default). A loaded runner with a
  // smaller context is restarted with this one once its running requests finish (Ollama's
  // needsReload); a smaller one is served by the runner as it is.
  int num_ctx = 0;
};

class Metrics;

struct ManagerOptions {
  std::string runner_exe;
  int64_t default_keep_alive_ns = 5ll * 60 * 1000000000;  // negative = forever
  int max_loaded = 3;
  int num_parallel = 1;
  int max_queue = 512;        // waiting requests across the server
  int num_ctx = 4096;
  int threads = 0;
  std::string device = "auto";
  uint64_t memory_budget = 0;  // 0 = 90% of MemAvailable at start
  int load_timeout_ms = 300000;
  std::vector<std::string> runner_args;  // passed through to every runner
  std::shared_ptr<Metrics> metrics;      // load times and failures, runner exits and restarts
};

class Manager;

// A granted slot on a loaded model. Release by destroying it (arms keep-alive when idle).
class Slot {
 public:
  ~Slot();
  RunnerClient& runner() { return *runner_; }
  std::shared_ptr<RunnerClient> runner_ptr() { return runner_; }
  Clock::duration load_duration() const { return load_duration_; }

 private:
  friend class Manager;
  Manager* mgr_ = nullptr;
  std::string key_;
  uint64_t generation_ = 0;
  std::shared_ptr<RunnerClient> runner_;
  Clock::duration load_duration_{0};
};

struct PsEntry {
  ModelRef ref;
  int64_t expires_at_unix_ns = 0;  // 0 = never
  int num_ctx = 0;
  int active = 0;
  bool loading = false;
  pid_t pid = -1;
  std::shared_ptr<RunnerClient> runner;
};

class Manager {
 public:
  using Done = std::function<void(Result<std::unique_ptr<Slot>>)>;
  explicit Manager(ManagerOptions opts);
  ~Manager();

  // Non-blocking. `done` runs exactly once (maybe on this thread) with a slot or an error:
  // kResourceExhausted when the wait queue is full. keep_alive_ns: nullopt = default.
  // Returns a ticket for cancel_wait().
  // `reserved`: the caller holds a place from try_reserve(), which this call uses up (it is never
  // refused for a full queue then).
  uint64_t acquire(const ModelRef& ref, std::optional<int64_t> keep_alive_ns, Done done, bool reserved = false);
  // Admission the moment a request arrives, before its body is parsed or its model resolved: a
  // place in the wait queue (max_queue counts reserved places and waiters together). False when
  // the queue is full or the manager is stopping. Give an unused place back with unreserve().
  bool try_reserve();
  void unreserve();
  // A queued request whose client went away: drop it from the queue (done gets kCancelled).
  void cancel_wait(uint64_t ticket);
  // Unloads now if idle, else as soon as its requests finish (keep_alive 0).
  void unload(const std::string& model_path);
  std::vector<PsEntry> ps();
  int waiting() const;
  // For /metrics: every model the manager knows (loaded, loading or queued to load) with its
  // waiting and running requests; `*total_waiting` also counts places taken before a request's
  // model is known.
  struct QueueStatus {
    std::string name;
    int waiting = 0;
    int active = 0;
    bool ready = false;
    std::shared_ptr<RunnerClient> runner;
  };
  std::vector<QueueStatus> queue_status(int* total_waiting) const;
  const ManagerOptions& options() const { return opts_; }
  void shutdown();

 private:
  friend class Slot;
  struct Waiter {
    uint64_t ticket;
    std::optional<int64_t> keep_alive_ns;
    Done done;
    Clock::time_point since;
  };
  struct Loaded {
    ModelRef ref;
    enum class State { kQueued, kLoading, kReady, kDead } state = State::kQueued;
    std::shared_ptr<RunnerClient> runner;
    uint64_t generation = 0;
    int active = 0;
    int64_t keep_alive_ns = 0;
    std::optional<Clock::time_point> expires;  // set while idle
    bool unload_requested = false;
    std::deque<Waiter> waiters;
    Clock::duration load_duration{0};
    Clock::time_point queued_at;
    int num_ctx = 0;     // context the runner is (being) started with
    int ctx_cap = 0;     // the runner reported less than it was asked for: the model's limit
    int reload_ctx = 0;  // > num_ctx: restart with this context once idle; no grants until then
    bool crashed = false;  // its runner ended unexpectedly: the next load is a restart
  };
  // With mu_ held: a dead model goes back to the load queue (a restart if its runner crashed).
  void note_restart_locked(Loaded& m);
  // With mu_ held: records that `ref` needs a bigger context than `m` has.
  void want_context_locked(Loaded& m, const ModelRef& ref);
  void release(const std::string& key, uint64_t generation);
  void loop();
  // With mu_ held: hands free slots of `m` to its waiters; returns the callbacks to run unlocked.
  std::vector<std::function<void()>> grant(Loaded& m, const std::string& key);
  uint64_t used_memory_locked(const std::string& except) const;
  bool evict_one_idle_locked(const std::string& except, std::vector<std::shared_ptr<RunnerClient>>& to_stop);

  ManagerOptions opts_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Loaded> models_;  // key: model path
  std::list<std::string> load_order_;     // FIFO of keys waiting to load
  int waiting_ = 0;
  int reserved_ = 0;  // places taken by try_reserve() and not yet used by acquire()
  uint64_t next_ticket_ = 1;
  uint64_t next_generation_ = 1;
  bool stop_ = false;
  std::thread thread_;
};

// MemAvailable from /proc/meminfo in bytes (0 if unknown).
uint64_t available_memory();
// Bytes a model needs loaded: weights plus the KV cache for num_parallel * num_ctx tokens, from
// the GGUF metadata shown by the store (model_info).
uint64_t estimate_memory(uint64_t weight_bytes, const nlohmann::json& model_info, int num_ctx, int num_parallel);

}  // namespace paddock::server
