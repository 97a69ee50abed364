// server: assembles the listener, the middleware (Host allowlist, CORS), the route tables and
// the model manager; and the generation job shared by both API adapters.
#include "server/server.h"

#include <unistd.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cstdlib>
#include <mutex>

#include "server/app.h"
#include "util/log.h"

namespace paddock::server {

void send_json(Exchange& ex, int status, const json& body, Headers extra) {
  ex.respond(status, "application/json; charset=utf-8",
             body.dump(-1, ' ', false, json::error_handler_t::replace), std::move(extra));
}

void send_error(Exchange& ex, int status, const std::string& msg) {
  Headers h;
  if (status == 503) h.emplace_back("Retry-After", "1");
  send_json(ex, status, json{{"error", msg}}, std::move(h));
}

void send_error(Exchange& ex, const Error& e) { send_error(ex, http_status(e), e.message()); }

void send_openai_error(Exchange& ex, int status, const std::string& msg, const std::string& param) {
  const char* type = status == 404 ? "not_found_error"
                     : status == 503 ? "server_error"
                     : status >= 500 ? "api_error"
                                     : "invalid_request_error";
  Headers h;
  if (status == 503) h.emplace_back("Retry-After", "1");
  json err{{"message", msg}, {"type", type}, {"param", param.empty() ? json(nullptr) : json(param)}, {"code", nullptr}};
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
  if (!st.ok()) return make_error(ErrorCode::kInvalidArgument, "invalid model name: {}", st.error().message());
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

// Shared between the runner's reader thread, the manager's callback and the disconnect hook.
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

}  // namespace

void run_job(App& app, const std::shared_ptr<Exchange>& ex, Job job) {
  auto st = std::make_shared<JobState>();
  auto jp = std::make_shared<Job>(std::move(job));
  Manager* mgr = app.mgr.get();
  int64_t timeout_ms = app.cfg.request_timeout_ms;
  uint64_t ticket = mgr->acquire(jp->model.ref, jp->keep_alive_ns, [st, jp, ex, timeout_ms](Result<std::unique_ptr<Slot>> r) {
    if (!r.ok()) {
      {
        std::lock_guard lk(st->mu);
        st->finished = true;
      }
      jp->on_fail(r.error());
      return;
    }
    std::unique_ptr<Slot> slot = std::move(*r);
    if (ex->disconnected()) {
      std::lock_guard lk(st->mu);
      st->finished = true;
      return;  // slot released here
    }
    int64_t load_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(slot->load_duration()).count();
    auto runner = slot->runner_ptr();
    {
      std::lock_guard lk(st->mu);
      st->slot = std::move(slot);
      st->runner = runner;
      st->submitted = true;
    }
    json req = jp->runner_req;
    if (timeout_ms > 0) req["timeout_ms"] = timeout_ms;
    uint64_t id = runner->submit(std::move(req), [st, jp, load_ns](const json& ev) {
      std::string type = ev.value("type", "");
      bool last = type == "done" || type == "error" || type == "rendered";
      jp->on_event(ev, load_ns);
      if (last) {
        std::unique_ptr<Slot> s;
        {
          std::lock_guard lk(st->mu);
          st->finished = true;
          s = std::move(st->slot);
          st->runner.reset();
        }
        // s released here: the next waiter may get the slot
      }
    });
    std::lock_guard lk(st->mu);
    st->runner_id = id;
  });
  {
    std::lock_guard lk(st->mu);
    st->ticket = ticket;
    st->ticket_set = true;
  }
  ex->on_disconnect([st, mgr] {
    std::shared_ptr<RunnerClient> runner;
    uint64_t id = 0, ticket = 0;
    bool queued = false;
    {
      std::lock_guard lk(st->mu);
      if (st->finished) return;
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
    if (!is_loopback_host(cfg.host) && !cfg.insecure_no_auth)
      return make_error(ErrorCode::kPermissionDenied,
                        "refusing to listen on non-loopback address {} without authentication; pass "
                        "--insecure-no-auth to expose an unauthenticated server anyway",
                        cfg.host);
    if (!is_loopback_host(cfg.host))
      log::warn("!!! listening on {} WITHOUT AUTHENTICATION: anyone who can reach this port can run and "
                "delete models !!!", cfg.host);
    if (cfg.runner_exe.empty()) {
      char buf[4096];
      ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
      if (n <= 0) return make_error(ErrorCode::kInternal, "cannot find the paddock binary for runners");
      cfg.runner_exe.assign(buf, size_t(n));
    }
    ASSIGN_OR_RETURN(app_.catalog, open_catalog(cfg.models_dir, cfg.max_blob));
    ManagerOptions mo;
    mo.runner_exe = cfg.runner_exe;
    mo.default_keep_alive_ns = cfg.keep_alive_ns;
    mo.max_loaded = cfg.max_loaded;
    mo.num_parallel = cfg.num_parallel;
    mo.max_queue = cfg.max_queue;
    mo.num_ctx = cfg.num_ctx;
    mo.threads = cfg.threads;
    mo.memory_budget = cfg.memory_budget;
    mo.load_timeout_ms = cfg.load_timeout_ms;
    app_.mgr = std::make_unique<Manager>(mo);
    origins_ = allowed_origins(cfg);
    check_host_ = is_loopback_host(cfg.host);
    HttpLimits lim;
    lim.max_body = cfg.max_body;
    lim.max_header_bytes = cfg.max_header_bytes;
    lim.max_header_count = cfg.max_header_count;
    lim.header_timeout_ms = cfg.header_timeout_ms;
    lim.body_timeout_ms = cfg.body_timeout_ms;
    lim.max_upload = cfg.max_blob;
    http_ = HttpServer::create(
        cfg.io_threads, lim, [this](HttpRequest&& r, std::shared_ptr<Exchange> ex) { handle(std::move(r), ex); },
        [this](const HttpRequest& r, int* status, std::string* err) { return upload_sink(r, status, err); });
    return Status::Ok();
  }

  Status start() override {
    RETURN_IF_ERROR(http_->listen(app_.cfg.host, app_.cfg.port));
    http_->start();
    log::info("Listening on {}:{} (version {})", app_.cfg.host, http_->port(), PADDOCK_VERSION);
    return Status::Ok();
  }
  uint16_t port() const override { return http_ ? http_->port() : 0; }
  void stop() override {
    if (stopped_) return;
    stopped_ = true;
    if (http_) http_->stop();
    // Create and blob jobs see stopping() and give up before writing a manifest; then they are
    // joined, so none outlives the App they reference.
    app_.workers.stop_and_join();
    if (app_.mgr) app_.mgr->shutdown();
  }

 private:
  // POST /api/blobs/<digest>: the body streams into a temp file in the store (hashed as it
  // arrives). Refused before any byte is read for a bad digest or host, or no room on disk.
  std::shared_ptr<BodySink> upload_sink(const HttpRequest& req, int* status, std::string* err) {
    if (req.method != "POST" || req.path.rfind("/api/blobs/", 0) != 0) return nullptr;
    if (check_host_ && !host_allowed(req.header("host"))) {
      *status = 403;
      *err = "host not allowed";
      return nullptr;
    }
    std::string digest = req.path.substr(11);
    uint64_t len = 0;
    std::string cl = req.header("content-length");
    if (!cl.empty()) len = std::strtoull(cl.c_str(), nullptr, 10);
    auto up = app_.catalog->begin_blob(digest, len);
    if (!up.ok()) {
      const Error& e = up.error();
      *status = e.code() == ErrorCode::kResourceExhausted
                    ? (e.message().find("disk space") != std::string::npos ? 507 : 413)
                : e.code() == ErrorCode::kIo ? 500
                                             : 400;
      *err = e.message();
      return nullptr;
    }
    return *up;
  }

  void handle(HttpRequest&& req, const std::shared_ptr<Exchange>& ex) {
    if (check_host_ && !host_allowed(req.header("host"))) return send_error(*ex, 403, "host not allowed");
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
    log::debug("{} {}", req.method, req.path);
    if (req.path == "/") {
      if (req.method != "GET" && req.method != "HEAD") return send_error(*ex, 405, "method not allowed");
      return ex->respond(200, "text/plain; charset=utf-8", "Ollama is running");
    }
    if (req.path.rfind("/api/", 0) == 0 && route_ollama(app_, req, ex)) return;
    if (req.path.rfind("/v1/", 0) == 0 && route_openai(app_, req, ex)) return;
    ex->respond(404, "text/plain", "404 page not found");
  }

  App app_;
  std::unique_ptr<HttpServer> http_;
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
