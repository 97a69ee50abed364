// server: assembles the listener, the middleware (Host allowlist, CORS), the route tables and
// the model manager; and the generation job shared by both API adapters.
#include "server/server.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>

#include "server/app.h"
#include "util/log.h"

namespace paddock::server {

void send_json(Exchange& ex, int status, const json& body, Headers extra) {
  ex.respond(status, "application/json; charset=utf-8",
             body.dump(-1, ' ', false, json::error_handler_t::replace), std::move(extra));
}

namespace {
std::mutex g_redact_mu;
std::vector<std::string> g_redacted_roots;
}  // namespace

void add_redacted_root(const std::string& root) {
  if (root.empty()) return;
  std::lock_guard lk(g_redact_mu);
  if (std::find(g_redacted_roots.begin(), g_redacted_roots.end(), root) == g_redacted_roots.end())
    g_redacted_roots.push_back(root);
}

std::string redact(std::string_view msg) {
  std::string out(msg);
  std::lock_guard lk(g_redact_mu);
  for (const auto& root : g_redacted_roots) {
    const std::string blob = root + "/blobs/sha256-";
    for (size_t p = out.find(blob); p != std::string::npos; p = out.find(blob, p)) {
      size_t h = p + blob.size(), e = h;
      while (e < out.size() && std::isxdigit((unsigned char)out[e])) ++e;
      out.replace(p, e - p, "sha256:" + out.substr(h, e - h));
    }
    for (size_t p = out.find(root); p != std::string::npos; p = out.find(root, p))
      out.replace(p, root.size(), "<models>");
  }
  return out;
}

namespace {
// Server-side failures (I/O errors on the store, a runner that died, a timeout) are logged with
// the full message; 503s are load, counted in paddock_rejected_requests_total instead.
void log_failure(int status, const std::string& msg) {
  if (status >= 500 && status != 503) log::error("request failed with {}: {}", status, msg);
}
}  // namespace

void send_error(Exchange& ex, int status, const std::string& msg) {
  log_failure(status, msg);
  Headers h;
  if (status == 503) h.emplace_back("Retry-After", "1");
  send_json(ex, status, json{{"error", redact(msg)}}, std::move(h));
}

void send_error(Exchange& ex, const Error& e) { send_error(ex, http_status(e), e.message()); }

void send_openai_error(Exchange& ex, int status, const std::string& msg, const std::string& param) {
  const char* type = status == 404 ? "not_found_error"
                     : status == 503 ? "server_error"
                     : status >= 500 ? "api_error"
                                     : "invalid_request_error";
  log_failure(status, msg);
  Headers h;
  if (status == 503) h.emplace_back("Retry-After", "1");
  json err{{"message", redact(msg)},
           {"type", type},
           {"param", param.empty() ? json(nullptr) : json(param)},
           {"code", nullptr}};
  send_json(ex, status, json{{"error", err}}, std::move(h));
}

void send_openai_error(Exchange& ex, const Error& e) { send_openai_error(ex, http_status(e), e.message()); }

bool Workers::spawn(std::function<void()> fn) {
  std::lock_guard lk(mu_);
  if (stopping_.load()) return false;
  reap_locked();
  auto e = std::make_unique<Entry>();
  Entry* raw = e.get();
  e->thread = std::thread([raw, fn = std::move(fn)] {
    try {
      fn();
    } catch (const std::exception& ex) {
      log::error("worker job threw: {}", ex.what());
    }
    raw->done = true;
  });
  entries_.push_back(std::move(e));
  return true;
}

void run_on_worker(App& app, const std::shared_ptr<Exchange>& ex, std::function<void()> job) {
  if (!app.workers.spawn(std::move(job))) send_error(*ex, 503, "server is shutting down");
}

RequestPool::RequestPool(int threads, size_t max_queued) : max_queued_(max_queued) {
  for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { run(); });
}

bool RequestPool::post(std::function<void()> fn, std::function<void()> refuse) {
  {
    std::lock_guard lk(mu_);
    if (stop_ || q_.size() >= max_queued_) return false;
    q_.push_back({std::move(fn), std::move(refuse)});
  }
  cv_.notify_one();
  return true;
}

void RequestPool::run() {
  // Request work (body parsing, schema compilation, store reads) yields the CPU to the HTTP I/O
  // threads: on a machine with few cores a burst of heavy requests must not delay the answers
  // that only routing needs (health probes, /api/version, 503s).
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
  for (;;) {
    Job job;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [this] { return stop_ || !q_.empty(); });
      if (q_.empty()) return;  // stopping, nothing left
      job = std::move(q_.front());
      q_.pop_front();
      if (stop_) {
        // Stopping: queued jobs are refused, not run.
        lk.unlock();
        if (job.refuse) job.refuse();
        continue;
      }
      ++running_;
    }
    try {
      job.fn();
    } catch (const std::exception& e) {
      log::error("request job threw: {}", e.what());
    }
    std::lock_guard lk(mu_);
    --running_;
  }
}

size_t RequestPool::cancel_queued() {
  std::deque<Job> dropped;
  {
    std::lock_guard lk(mu_);
    dropped.swap(q_);
  }
  for (auto& j : dropped)
    if (j.refuse) j.refuse();
  return dropped.size();
}

void RequestPool::stop() {
  {
    std::lock_guard lk(mu_);
    if (stop_ && threads_.empty()) return;
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  cancel_queued();  // none left unless a thread could not start
}

size_t RequestPool::queued() const {
  std::lock_guard lk(mu_);
  return q_.size();
}

size_t RequestPool::running() const {
  std::lock_guard lk(mu_);
  return running_;
}

void run_pooled(App& app, HttpRequest& req, const std::shared_ptr<Exchange>& ex, bool generation, bool openai,
                PooledHandler fn) {
  auto busy = [&](const std::string& msg) {
    if (openai) send_openai_error(*ex, 503, msg);
    else send_error(*ex, 503, msg);
  };
  AdmissionPtr adm;
  if (generation) {
    if (!app.mgr->try_reserve()) return busy(kBusyMessage);
    adm = std::make_shared<Admission>(app.mgr.get());
  }
  auto r = std::make_shared<HttpRequest>(std::move(req));
  bool posted = app.pool->post(
      [&app, r, ex, adm, generation, fn = std::move(fn)]() mutable {
        if (ex->disconnected()) return;  // gone while queued: nothing to answer
        if (generation && !admit_rate_limits(app, *r, ex)) return;  // a Redis round trip: here, not on the I/O thread
        fn(app, *r, ex, std::move(adm));
      },
      [ex, openai] {
        if (ex->disconnected()) return;
        if (openai) send_openai_error(*ex, 503, "server is shutting down");
        else send_error(*ex, 503, "server is shutting down");
      });
  if (!posted) busy(app.workers.stopping() ? "server is shutting down" : kBusyMessage);
}

void Workers::reap_locked() {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if ((*it)->done.load()) {
      (*it)->thread.join();
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

void Workers::stop_and_join() {
  std::list<std::unique_ptr<Entry>> all;
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
    all.swap(entries_);
  }
  for (auto& e : all)
    if (e->thread.joinable()) e->thread.join();
}

size_t Workers::running() const {
  std::lock_guard lk(mu_);
  size_t n = 0;
  for (auto& e : entries_)
    if (!e->done.load()) n++;
  return n;
}

size_t Workers::tracked() const {
  std::lock_guard lk(mu_);
  return entries_.size();
}

Result<Resolved> resolve_model(App& app, const std::string& name) {
  if (name.empty()) return make_error(ErrorCode::kInvalidArgument, "model is required");
  auto st = app.catalog->validate_name(name);
  if (!st.ok()) return make_error(ErrorCode::kInvalidArgument, "{}", name_error(st.error()));
  auto r = app.catalog->resolve(name, app.cfg.num_ctx, app.cfg.num_parallel);
  if (!r.ok() && r.error().code() == ErrorCode::kNotFound)
    return make_error(ErrorCode::kNotFound, "model \"{}\" not found, try pulling it first", name);
  return r;
}

void apply_num_ctx(App& app, Resolved& res, json& options) {
  auto it = options.find("num_ctx");
  if (it == options.end() || !it->is_number_integer()) return;
  int want = int(std::clamp<int64_t>(it->get<int64_t>(), 1, kMaxNumCtx));
  if (res.ref.ctx_train > 0 && want > res.ref.ctx_train) {
    log::warn("{}: requested context size {} is larger than the model's trained context {}; using {}", res.ref.name,
              want, res.ref.ctx_train, res.ref.ctx_train);
    want = res.ref.ctx_train;
    *it = want;
  }
  res.ref.num_ctx = want;
  if (want > app.cfg.num_ctx) {  // the bigger runner needs more memory: estimate it for that context
    if (auto r = app.catalog->resolve(res.ref.name, want, app.cfg.num_parallel); r.ok())
      res.ref.mem_estimate = r->ref.mem_estimate;
  }
}

namespace {

// Shared between the runner's reader thread, the manager's callback, the disconnect hook and the
// drain's cut-off. `finished` is set once, under `mu`, by whoever ends the job; events after that
// are dropped, so a job cut off at the drain timeout never gets a second ending.
struct JobState {
  std::mutex mu;
  std::unique_ptr<Slot> slot;
  std::shared_ptr<RunnerClient> runner;
  uint64_t runner_id = 0;
  uint64_t ticket = 0;
  bool ticket_set = false;
  bool submitted = false;
  bool finished = false;
};

// Stops a job's work: the runner request if it was submitted, else its place in the wait queue.
void cancel_job(const std::shared_ptr<JobState>& st, Manager* mgr) {
  std::shared_ptr<RunnerClient> runner;
  uint64_t id = 0, ticket = 0;
  bool queued = false;
  {
    std::lock_guard lk(st->mu);
    if (st->submitted) {
      runner = st->runner;
      id = st->runner_id;
    } else if (st->ticket_set) {
      queued = true;
      ticket = st->ticket;
    }
  }
  if (runner && id) runner->cancel(id);
  else if (queued) mgr->cancel_wait(ticket);
}

}  // namespace

void JobRegistry::add(uint64_t id, std::function<void()> cut) {
  std::lock_guard lk(mu_);
  cuts_[id] = std::move(cut);
}

void JobRegistry::remove(uint64_t id) {
  std::lock_guard lk(mu_);
  cuts_.erase(id);
}

size_t JobRegistry::cut_all() {
  std::map<uint64_t, std::function<void()>> all;
  {
    std::lock_guard lk(mu_);
    all.swap(cuts_);
  }
  for (auto& [id, cut] : all) cut();
  return all.size();
}

void run_job(App& app, const std::shared_ptr<Exchange>& ex, Job job) {
  auto st = std::make_shared<JobState>();
  auto jp = std::make_shared<Job>(std::move(job));
  Manager* mgr = app.mgr.get();
  JobRegistry* jobs = &app.jobs;
  const uint64_t job_id = app.request_counter.fetch_add(1) + 1;
  int64_t timeout_ms = app.cfg.request_timeout_ms;
  // Metrics: the request's model label, time to first token, inter-token latency, token counts.
  std::shared_ptr<RequestTrack> track = std::dynamic_pointer_cast<RequestTrack>(ex);
  if (track) track->set_model(jp->model.ref.name);
  // Ends the job once: false if it had ended already. Runs `end` under the job's lock, so no
  // runner event can interleave with it.
  auto finish = [st, jobs, job_id](const std::function<void()>& end) {
    std::unique_ptr<Slot> slot;
    {
      std::lock_guard lk(st->mu);
      if (st->finished) return false;
      st->finished = true;
      if (end) end();
      slot = std::move(st->slot);
      st->runner.reset();
    }
    jobs->remove(job_id);
    return true;  // the slot is released here: the next waiter may get it
  };
  // The drain timeout passed: the client gets a clean ending (an error line, an error event and
  // [DONE], or a 503), then the runner stops the work.
  jobs->add(job_id, [st, jp, mgr, finish] {
    if (finish([jp] {
          json ev{{"type", "error"}, {"code", "shutdown"}, {"message", "server is shutting down"}};
          jp->on_event(ev, 0);
        }))
      cancel_job(st, mgr);
  });
  bool reserved = jp->admission && jp->admission->take();
  uint64_t ticket = mgr->acquire(
      jp->model.ref, jp->keep_alive_ns,
      [st, jp, ex, timeout_ms, finish, track](Result<std::unique_ptr<Slot>> r) {
        if (!r.ok()) {
          finish([&] { jp->on_fail(r.error()); });
          return;
        }
        std::unique_ptr<Slot> slot = std::move(*r);
        if (ex->disconnected()) {
          finish(nullptr);
          return;  // slot released here
        }
        int64_t load_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(slot->load_duration()).count();
        auto runner = slot->runner_ptr();
        {
          std::lock_guard lk(st->mu);
          if (st->finished) return;  // cut off while it waited: the slot goes back
          st->slot = std::move(slot);
          st->runner = runner;
          st->submitted = true;
        }
        json req = jp->runner_req;
        if (timeout_ms > 0) req["timeout_ms"] = timeout_ms;
        uint64_t id = runner->submit(std::move(req), [st, jp, load_ns, finish, track](const json& ev) {
          std::string type = ev.value("type", "");
          if (track) {
            if (type == "token") track->on_token();
            else if (type == "done")
              track->on_done(ev.value("prompt_eval_count", int64_t(0)), ev.value("eval_count", int64_t(0)));
            else if (type == "error" && ev.value("code", "") == "timeout") track->mark_timeout();
          }
          if (type == "error" && ev.value("code", "") == "timeout")
            log::warn("request for {} timed out (--request-timeout)", jp->model.ref.name);
          bool last = type == "done" || type == "error" || type == "rendered";
          if (last) {
            finish([&] { jp->on_event(ev, load_ns); });
            return;
          }
          std::lock_guard lk(st->mu);
          if (!st->finished) jp->on_event(ev, load_ns);
        });
        std::lock_guard lk(st->mu);
        st->runner_id = id;
      },
      reserved);
  {
    std::lock_guard lk(st->mu);
    st->ticket = ticket;
    st->ticket_set = true;
  }
  ex->on_disconnect([st, mgr] {
    {
      std::lock_guard lk(st->mu);
      if (st->finished) return;
    }
    cancel_job(st, mgr);
  });
}

namespace {

bool wildcard_match(std::string_view pat, std::string_view s) {
  // '*' matches any run of characters; everything else literally (case-insensitive).
  size_t p = 0, q = 0, star = std::string::npos, mark = 0;
  auto eq = [](char a, char b) { return std::tolower((unsigned char)a) == std::tolower((unsigned char)b); };
  while (q < s.size()) {
    if (p < pat.size() && pat[p] == '*') {
      star = p++;
      mark = q;
    } else if (p < pat.size() && eq(pat[p], s[q])) {
      ++p;
      ++q;
    } else if (star != std::string::npos) {
      p = star + 1;
      q = ++mark;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

std::vector<std::string> allowed_origins(const ServerConfig& cfg) {
  std::vector<std::string> o = cfg.origins;
  for (const char* h : {"localhost", "127.0.0.1", "0.0.0.0"}) {
    for (const char* s : {"http", "https"}) {
      o.push_back(std::string(s) + "://" + h);
      o.push_back(std::string(s) + "://" + h + ":*");
    }
  }
  for (const char* s : {"app://*", "file://*", "tauri://*", "vscode-webview://*", "vscode-file://*"}) o.push_back(s);
  return o;
}

// DNS-rebinding defence for loopback binds (Ollama's allowedHostsMiddleware).
bool host_allowed(const std::string& host_header) {
  if (host_header.empty()) return true;
  std::string host = host_header;
  if (!host.empty() && host[0] == '[') {
    auto c = host.find(']');
    host = c == std::string::npos ? host : host.substr(1, c - 1);
  } else if (auto c = host.rfind(':'); c != std::string::npos && host.find(':') == c) {
    host = host.substr(0, c);
  }
  for (char& ch : host) ch = char(std::tolower((unsigned char)ch));
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(host, ec);
  if (!ec) {
    if (a.is_loopback() || a.is_unspecified()) return true;
    if (a.is_v4()) {
      auto b = a.to_v4().to_bytes();
      return b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168) ||
             (b[0] == 169 && b[1] == 254);
    }
    auto b = a.to_v6().to_bytes();
    return (b[0] & 0xfe) == 0xfc || a.to_v6().is_link_local();
  }
  if (host == "localhost") return true;
  char hn[256] = {0};
  if (::gethostname(hn, sizeof hn - 1) == 0 && host == std::string(hn)) return true;
  for (const char* suffix : {".localhost", ".local", ".internal"}) {
    std::string_view sv(host), sx(suffix);
    if (sv.size() > sx.size() && sv.substr(sv.size() - sx.size()) == sx) return true;
  }
  return false;
}

class ServerImpl : public Server {
 public:
  explicit ServerImpl(const ServerConfig& cfg) { app_.cfg = cfg; }
  ~ServerImpl() override { stop(); }

  Status init() {
    auto& cfg = app_.cfg;
    if (!is_loopback_host(cfg.host) && !cfg.insecure_no_auth && cfg.keys_file.empty())
      return make_error(ErrorCode::kPermissionDenied,
                        "refusing to listen on non-loopback address {} without authentication; configure API keys "
                        "(--keys-file) or pass --insecure-no-auth to expose an unauthenticated server anyway",
                        cfg.host);
    if (!is_loopback_host(cfg.host) && cfg.keys_file.empty())
      log::warn("!!! listening on {} WITHOUT AUTHENTICATION: anyone who can reach this port can run and "
                "delete models !!!", cfg.host);
    if (cfg.runner_exe.empty()) {
      char buf[4096];
      ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
      if (n <= 0) return make_error(ErrorCode::kInternal, "cannot find the paddock binary for runners");
      cfg.runner_exe.assign(buf, size_t(n));
    }
    if (!cfg.tls_cert.empty()) {
      ASSIGN_OR_RETURN(app_.tls, TlsProvider::create(TlsOptions{cfg.tls_cert, cfg.tls_key, cfg.tls_client_ca}));
    }
    if (!cfg.metrics_token_file.empty()) {
      std::ifstream f(cfg.metrics_token_file);
      std::string tok;
      std::getline(f, tok);
      while (!tok.empty() && (tok.back() == '\r' || tok.back() == ' ')) tok.pop_back();
      if (tok.empty())
        return make_error(ErrorCode::kInvalidArgument, "metrics token file {} is empty or unreadable",
                          cfg.metrics_token_file);
      cfg.metrics_token = tok;
    }
    RETURN_IF_ERROR(init_access(app_));
    ASSIGN_OR_RETURN(app_.catalog, open_catalog(cfg.models_dir, cfg.max_blob));
    add_redacted_root(app_.catalog->root());
    ManagerOptions mo;
    mo.runner_exe = cfg.runner_exe;
    mo.default_keep_alive_ns = cfg.keep_alive_ns;
    mo.max_loaded = cfg.max_loaded;
    mo.num_parallel = cfg.num_parallel;
    mo.max_queue = cfg.max_queue;
    mo.num_ctx = cfg.num_ctx;
    mo.threads = cfg.threads;
    mo.device = cfg.device;
    mo.memory_budget = cfg.memory_budget;
    mo.load_timeout_ms = cfg.load_timeout_ms;
    mo.metrics = app_.metrics;
    app_.mgr = std::make_unique<Manager>(mo);
    app_.pool = std::make_unique<RequestPool>(std::max(2, cfg.io_threads * 2), size_t(cfg.max_queue) + 256);
    origins_ = allowed_origins(cfg);
    check_host_ = is_loopback_host(cfg.host);
    HttpLimits lim;
    lim.max_body = cfg.max_body;
    lim.max_header_bytes = cfg.max_header_bytes;
    lim.max_header_count = cfg.max_header_count;
    lim.header_timeout_ms = cfg.header_timeout_ms;
    lim.body_timeout_ms = cfg.body_timeout_ms;
    lim.max_upload = cfg.max_blob;
    lim.max_connections = cfg.max_connections;
    lim.max_body_memory = cfg.max_body_memory;
    http_ = HttpServer::create(
        cfg.io_threads, lim, [this](HttpRequest&& r, std::shared_ptr<Exchange> ex) { handle(std::move(r), ex); },
        [this](const HttpRequest& r, int* status, std::string* err) { return upload_sink(r, status, err); }, app_.tls);
    if (cfg.metrics_port >= 0) {
      // Its own listener and I/O thread: scrapes and probes are answered however busy the API is.
      HttpLimits ml;
      ml.max_body = 0;
      ml.max_connections = 64;
      ml.header_timeout_ms = 10000;
      check_metrics_host_ = is_loopback_host(cfg.metrics_host);
      metrics_http_ = HttpServer::create(1, ml, [this](HttpRequest&& r, std::shared_ptr<Exchange> ex) {
        if (check_metrics_host_ && !host_allowed(r.header("host"))) return send_error(*ex, 403, "host not allowed");
        answer_metrics_listener(app_, http_.get(), std::move(r), ex);
      });
    }
    return Status::Ok();
  }

  Status start() override {
    RETURN_IF_ERROR(http_->listen(app_.cfg.host, app_.cfg.port));
    if (metrics_http_) {
      auto st = metrics_http_->listen(app_.cfg.metrics_host, uint16_t(app_.cfg.metrics_port));
      if (!st.ok()) {
        // The default address may be taken on a developer's machine: that is no reason not to serve.
        if (app_.cfg.metrics_required) return st.error().wrap("metrics listener (--metrics-addr)");
        log::warn("no metrics listener: {} (set --metrics-addr to choose another address, or off)", st.error().message());
        metrics_http_.reset();
      }
    }
    http_->start();
    log::info("Listening on {}://{}:{} (version {})", app_.tls ? "https" : "http", app_.cfg.host, http_->port(),
              PADDOCK_VERSION);
    if (metrics_http_) {
      metrics_http_->start();
      log::info("Metrics on http://{}:{}/metrics{}", app_.cfg.metrics_host, metrics_http_->port(),
                app_.cfg.metrics_token.empty() ? "" : " (bearer token required)");
    }
    start_preload(app_);
    return Status::Ok();
  }
  uint16_t port() const override { return http_ ? http_->port() : 0; }
  uint16_t metrics_port() const override { return metrics_http_ ? metrics_http_->port() : 0; }
  Status reload() override {
    Status keys = Status::Ok();
    if (app_.keys) keys = app_.keys->reload();  // logged and counted by its hook
    if (!app_.tls) return keys;
    auto st = app_.tls->reload();
    app_.metrics->tls_reloads.add({st.ok() ? "ok" : "error"});
    if (!st.ok()) {
      log::error("TLS reload failed, keeping the current certificate: {}", st.error().message());
      return st;
    }
    log::info("TLS certificate reloaded from {}", app_.cfg.tls_cert);
    return keys;
  }
  void stop() override {
    if (stopped_) return;
    stopped_ = true;
    if (http_) drain();
    if (http_) http_->stop();
    if (metrics_http_) metrics_http_->stop();  // after the drain: scrapes see it happen
    if (app_.pool) app_.pool->stop();
    // Create and blob jobs see stopping() and give up before writing a manifest; then they are
    // joined, so none outlives the App they reference.
    app_.workers.stop_and_join();
    if (app_.mgr) app_.mgr->shutdown();
  }

 private:
  // POST /api/blobs/<digest>: the body streams into a temp file in the store, hashed as it
  // arrives, both on the HTTP server's sink writer threads. Refused before any byte is read for a
  // bad digest or host, or (once the sink opened) no room on disk. On an I/O thread: no file
  // system calls here.
  std::shared_ptr<BodySink> upload_sink(const HttpRequest& req, int* status, std::string* err) {
    if (req.method != "POST" || req.path.rfind("/api/blobs/", 0) != 0) return nullptr;
    if (app_.draining) {
      *status = 503;
      *err = "server is shutting down";
      return nullptr;
    }
    if (check_host_ && !host_allowed(req.header("host"))) {
      *status = 403;
      *err = "host not allowed";
      return nullptr;
    }
    if (int st = check_upload_access(app_, req, err); st != 0) {
      *status = st;
      return nullptr;
    }
    std::string digest = req.path.substr(11);
    uint64_t len = 0;
    std::string cl = req.header("content-length");
    if (!cl.empty()) len = std::strtoull(cl.c_str(), nullptr, 10);
    auto up = app_.catalog->begin_blob(digest, len);
    if (!up.ok()) {
      const Error& e = up.error();
      *status = e.code() == ErrorCode::kResourceExhausted ? 413 : 400;
      *err = e.message();
      return nullptr;
    }
    return *up;
  }

  // Readiness goes false and new requests get 503 (handle()); requests in flight get up to
  // drain_timeout_ms; then every job still running is ended with a clean last message and the
  // writes get a moment to go out.
  void drain() {
    using namespace std::chrono;
    app_.draining = true;
    log::info("draining: {} request(s) in flight, waiting up to {} ms", http_->busy(), app_.cfg.drain_timeout_ms);
    auto deadline = steady_clock::now() + milliseconds(app_.cfg.drain_timeout_ms);
    while (http_->busy() > 0 && steady_clock::now() < deadline) std::this_thread::sleep_for(milliseconds(10));
    if (http_->busy() == 0) return;
    app_.cut_off = true;
    // Requests still waiting for a pool thread get their 503 now; running generations get their
    // clean last message; request work already running (bounded: schema budget, body caps) gets
    // up to 14 s to send its answer (the exit stays within the documented drain timeout + 15 s).
    size_t refused = app_.pool ? app_.pool->cancel_queued() : 0;
    size_t n = app_.jobs.cut_all();
    log::warn("drain timeout: ended {} running request(s), refused {} queued", n, refused);
    auto grace = steady_clock::now() + seconds(3);
    auto pool_grace = steady_clock::now() + seconds(14);
    auto pool_busy = [&] { return app_.pool && app_.pool->running() > 0; };
    while (steady_clock::now() < pool_grace &&
           ((http_->busy() > 0 && steady_clock::now() < grace) || pool_busy()))
      std::this_thread::sleep_for(milliseconds(10));
  }

  void handle(HttpRequest&& req, const std::shared_ptr<Exchange>& raw) {
    // Every request is counted (route, model, status) and timed.
    std::shared_ptr<Exchange> ex = app_.metrics->wrap(raw, req.path);
    // Health: /livez while the process serves at all, /readyz only while it takes new work.
    if (req.path == "/livez" || req.path == "/readyz") return answer_health(app_, req, ex);
    if (app_.draining) {
      if (req.path.rfind("/v1/", 0) == 0) return send_openai_error(*ex, 503, "server is shutting down");
      return send_error(*ex, 503, "server is shutting down");
    }
    if (check_host_ && !host_allowed(req.header("host"))) {
      if (req.path.rfind("/v1/", 0) == 0) return send_openai_error(*ex, 403, "host not allowed");
      return send_error(*ex, 403, "host not allowed");
    }
    std::string origin = req.header("origin");
    if (!origin.empty()) {
      bool ok = false;
      for (auto& o : origins_)
        if (wildcard_match(o, origin)) ok = true;
      if (!ok) return ex->respond(403, "", "");
      ex->add_default_headers({{"Access-Control-Allow-Origin", origin}, {"Vary", "Origin"}});
      if (req.method == "OPTIONS") {
        return ex->respond(204, "", "",
                           {{"Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"},
                            {"Access-Control-Allow-Headers",
                             "Authorization, Content-Type, User-Agent, Accept, X-Requested-With, "
                             "X-Stainless-Lang, X-Stainless-Package-Version, X-Stainless-Os, X-Stainless-Arch, "
                             "X-Stainless-Retry-Count, X-Stainless-Runtime, X-Stainless-Runtime-Version, "
                             "X-Stainless-Async, X-Stainless-Helper-Method, X-Stainless-Poll-Helper, "
                             "X-Stainless-Custom-Poll-Interval, X-Stainless-Timeout"},
                            {"Access-Control-Max-Age", "43200"}});
      }
    }
    if (!check_access(app_, req, ex)) return;
    log::debug("{} {}", req.method, req.path);
    if (req.path == "/") {
      if (req.method != "GET" && req.method != "HEAD") return send_error(*ex, 405, "method not allowed");
      return ex->respond(200, "text/plain; charset=utf-8", "Ollama is running");
    }
    if (req.path.rfind("/api/", 0) == 0 && route_ollama(app_, req, ex)) return;
    if (req.path.rfind("/v1/", 0) == 0 && route_openai(app_, req, ex)) return;
    // Unknown routes: a JSON error in the shape the route's clients parse (the OpenAI SDKs read
    // error.message; Ollama's clients read error).
    if (req.path.rfind("/v1/", 0) == 0 || req.path == "/v1")
      return send_openai_error(*ex, 404, "route " + req.method + " " + req.path + " not found");
    send_error(*ex, 404, "404 page not found");
  }

  App app_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<HttpServer> metrics_http_;
  bool check_metrics_host_ = true;
  std::vector<std::string> origins_;
  bool check_host_ = true;
  bool stopped_ = false;
};

}  // namespace

Result<std::unique_ptr<Server>> Server::create(const ServerConfig& cfg) {
  auto s = std::make_unique<ServerImpl>(cfg);
  RETURN_IF_ERROR(s->init());
  return std::unique_ptr<Server>(std::move(s));
}

}  // namespace paddock::server
