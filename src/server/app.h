// app: what every route handler shares — configuration, the catalog, the model manager — plus
// the response helpers and the generation job that connects a request to a runner slot.
#pragma once
#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "server/api_common.h"
#include "server/catalog.h"
#include "server/http.h"
#include "server/manager.h"
#include "server/server.h"

namespace paddock::server {

// Blocking work started by a handler (create, blob commit, debug stats) runs on tracked threads
// that Server::stop() joins before the App goes away, so none can touch freed memory.
class Workers {
 public:
  ~Workers() { stop_and_join(); }
  // Runs `fn` on a new tracked thread; false (fn not run) once stopping.
  bool spawn(std::function<void()> fn);
  // True once stop_and_join() began: long jobs poll this to give up early.
  bool stopping() const { return stopping_.load(); }
  // Refuses new work and waits for every running job.
  void stop_and_join();
  size_t running() const;
  // Jobs whose thread is not yet joined: running ones plus finished ones the next spawn reaps.
  size_t tracked() const;

 private:
  struct Entry {
    std::thread thread;
    std::atomic<bool> done{false};
  };
  void reap_locked();
  mutable std::mutex mu_;
  std::list<std::unique_ptr<Entry>> entries_;
  std::atomic<bool> stopping_{false};
};

struct App {
  ServerConfig cfg;
  Workers workers;
  std::unique_ptr<Catalog> catalog;
  std::unique_ptr<Manager> mgr;
  std::atomic<uint64_t> request_counter{0};
};

// Runs a handler's blocking work (create, blob commit, debug stats) on one of app.workers, never
// on the I/O thread; `job` replies on `ex` itself. Once the server is stopping the job is not run
// and the client gets a 503.
void run_on_worker(App& app, const std::shared_ptr<Exchange>& ex, std::function<void()> job);

void send_json(Exchange& ex, int status, const json& body, Headers extra = {});
// Ollama-shaped error {"error": msg}; 503s carry Retry-After.
void send_error(Exchange& ex, int status, const std::string& msg);
void send_error(Exchange& ex, const Error& e);
// OpenAI-shaped error {"error":{"message","type","param","code"}}.
void send_openai_error(Exchange& ex, int status, const std::string& msg, const std::string& param = "");
void send_openai_error(Exchange& ex, const Error& e);

// One generation or embedding on a runner. The job acquires a slot (loading the model if
// needed), sends `runner_req`, and feeds runner events to `on_event` (on the runner's reader
// thread, in order, ending with a "done" or "error" event). Failures before the request reaches
// a runner (queue full, load error, client gone) go to `on_fail`. Client disconnects cancel.
struct Job {
  Resolved model;
  std::optional<int64_t> keep_alive_ns;
  json runner_req;
  std::function<void(const json& event, int64_t load_ns)> on_event;
  std::function<void(const Error& e)> on_fail;
};
void run_job(App& app, const std::shared_ptr<Exchange>& ex, Job job);

// Resolves a model name for a request: 400 for an invalid name, 404 (Ollama's text) if absent.
Result<Resolved> resolve_model(App& app, const std::string& name);
// The context a request's options ask for: num_ctx above the model's trained length is clamped to
// it (logged, as Ollama does) in `options`; the result goes into res.ref (the manager restarts a
// runner whose context is smaller) and the memory estimate is redone for it.
void apply_num_ctx(App& app, Resolved& res, json& options);

// Route tables; each returns false if the path is not theirs.
bool route_ollama(App& app, HttpRequest& req, const std::shared_ptr<Exchange>& ex);
bool route_openai(App& app, HttpRequest& req, const std::shared_ptr<Exchange>& ex);

}  // namespace paddock::server
