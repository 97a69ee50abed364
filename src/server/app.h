// app: what every route handler shares — configuration, the catalog, the model manager — plus
// the response helpers and the generation job that connects a request to a runner slot.
#pragma once
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "server/api_common.h"
#include "server/audit.h"
#include "server/auth.h"
#include "server/catalog.h"
#include "server/http.h"
#include "server/manager.h"
#include "server/metrics.h"
#include "server/ratelimit.h"
#include "server/server.h"
#include "server/tls.h"

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

// The threads that do a request's work: parsing its body, resolving its model, compiling its
// format, reading the store. The HTTP I/O threads only route and hand requests over, so they
// answer /api/version and refusals in microseconds whatever the requests ask for. A fixed number
// of threads and a bounded queue: post() is false when the queue is full or stopping.
class RequestPool {
 public:
  RequestPool(int threads, size_t max_queued);
  ~RequestPool() { stop(); }
  // `refuse` answers the job's client if the job never runs (the drain cancels it).
  bool post(std::function<void()> fn, std::function<void()> refuse = {});
  // The drain: every queued job's client gets its refusal now, while the HTTP server still
  // writes; jobs already running go on. Returns how many were refused.
  size_t cancel_queued();
  // Refuses new work, refuses what is still queued and joins the threads once the running jobs
  // return.
  void stop();
  size_t queued() const;
  size_t running() const;

 private:
  struct Job {
    std::function<void()> fn, refuse;
  };
  void run();
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> q_;
  size_t running_ = 0;
  std::vector<std::thread> threads_;
  size_t max_queued_;
  bool stop_ = false;
};

// A place in the manager's wait queue taken when a generation request arrives (admission at
// once, on the I/O thread); given back if the request never reaches acquire().
class Admission {
 public:
  explicit Admission(Manager* m) : mgr_(m) {}
  ~Admission() {
    if (mgr_) mgr_->unreserve();
  }
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;
  // True once: the place is handed to Manager::acquire(..., reserved).
  bool take() { return std::exchange(mgr_, nullptr) != nullptr; }

 private:
  Manager* mgr_;
};
using AdmissionPtr = std::shared_ptr<Admission>;

// Generation jobs in flight, each with the function that ends it cleanly (the drain's cut-off).
class JobRegistry {
 public:
  void add(uint64_t id, std::function<void()> cut);
  void remove(uint64_t id);
  // Ends every job still registered; returns how many.
  size_t cut_all();

 private:
  std::mutex mu_;
  std::map<uint64_t, std::function<void()>> cuts_;
};

// The models named by --preload: /readyz is 503 until each has loaded once.
class Preloads {
 public:
  void expect(const std::vector<std::string>& names);
  void loaded(const std::string& name);
  void failed(const std::string& name, const std::string& why);
  bool done() const;
  // {"waiting_for": [...], "errors": {name: message}}
  json status() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::string> pending_;
  std::map<std::string, std::string> errors_;
};

struct App {
  ServerConfig cfg;
  std::shared_ptr<Metrics> metrics = std::make_shared<Metrics>();
  // Access control (access.cpp); declared early so requests still ending can reach them.
  std::unique_ptr<AuditLog> audit;
  std::unique_ptr<KeyStore> keys;        // nullptr: no authentication
  std::unique_ptr<RateLimiter> limiter;  // nullptr: no limits configured
  Workers workers;
  std::unique_ptr<RequestPool> pool;
  std::unique_ptr<Catalog> catalog;
  std::unique_ptr<Manager> mgr;
  std::atomic<uint64_t> request_counter{0};
  JobRegistry jobs;
  std::atomic<bool> draining{false};  // SIGTERM: new requests get 503, /readyz says not ready
  std::atomic<bool> cut_off{false};   // the drain timeout passed: what still runs is ended
  std::shared_ptr<TlsProvider> tls;   // set when the API listener speaks TLS
  Preloads preloads;
  std::atomic<int> scrapes{0};        // /metrics requests being answered
};

// Access control (access.cpp). init_access builds the audit log, key store and limiter from cfg.
Status init_access(App& app);
// On the I/O thread, before routing: the key (401) and the route's role (403); audits admin
// actions (and inference with --log-prompts) when they end. False = answered.
bool check_access(App& app, HttpRequest& req, const std::shared_ptr<Exchange>& ex);
// The blob upload sink's check before the body is read: 0 = allowed, else 401 or 403 and *msg.
int check_upload_access(App& app, const HttpRequest& req, std::string* msg);
// In a handler once it knows the model: 403 (answered, false) if the key's allow-list lacks it.
bool check_model_access(App& app, const HttpRequest& req, const std::shared_ptr<Exchange>& ex, const std::string& model);
// On the pool, before an inference request's work: the rate limits (429 + Retry-After and
// X-RateLimit-*, or 503 when the Redis store is down and fail-closed). False = answered.
bool admit_rate_limits(App& app, const HttpRequest& req, const std::shared_ptr<Exchange>& ex);

// Health and metrics (ops.cpp). /livez: the process answers; /readyz: not draining and every
// --preload model loaded once.
void answer_health(App& app, const HttpRequest& req, const std::shared_ptr<Exchange>& ex);
// The metrics listener: GET /metrics (bearer token when configured), /livez, /readyz. `api` is
// the API listener, whose connection and refusal counts the scrape reports.
void answer_metrics_listener(App& app, const HttpServer* api, HttpRequest&& req, const std::shared_ptr<Exchange>& ex);
// The whole exposition: the request families, then what is sampled now (queues, runner KV,
// process, GPUs). Blocks up to a second per runner that does not answer: never on an I/O thread.
std::string render_metrics(App& app, const HttpServer* api);
// Loads the --preload models on a worker, retrying with backoff until each has loaded.
void start_preload(App& app);

// Runs a handler's blocking work (create, blob commit, debug stats) on one of app.workers, never
// on the I/O thread; `job` replies on `ex` itself. Once the server is stopping the job is not run
// and the client gets a 503.
void run_on_worker(App& app, const std::shared_ptr<Exchange>& ex, std::function<void()> job);

// Error texts go to clients without the server's file system layout: a blob path becomes its
// digest, any other path under a model store loses the store's location. `add_redacted_root` is
// called once per store the process serves.
void add_redacted_root(const std::string& root);
std::string redact(std::string_view msg);

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
  AdmissionPtr admission;  // the request's queue place (nullptr: none taken)
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

// Runs `fn` on the request pool (never on the I/O thread) with the request moved along. With
// `generation` a queue place is taken first: a full queue (or pool) is a 503 + Retry-After at once,
// in the API's error shape (`openai`).
using PooledHandler = std::function<void(App&, HttpRequest&, const std::shared_ptr<Exchange>&, AdmissionPtr)>;
void run_pooled(App& app, HttpRequest& req, const std::shared_ptr<Exchange>& ex, bool generation, bool openai,
                PooledHandler fn);
inline constexpr const char* kBusyMessage = "server busy, please try again.  maximum pending requests exceeded";

// Route tables; each returns false if the path is not theirs.
bool route_ollama(App& app, HttpRequest& req, const std::shared_ptr<Exchange>& ex);
bool route_openai(App& app, HttpRequest& req, const std::shared_ptr<Exchange>& ex);

}  // namespace paddock::server
