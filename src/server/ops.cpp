// ops: what operators and Kubernetes ask of the server — /livez and /readyz, the metrics
// listener and the scrape (the request families plus what is sampled at scrape time: queues,
// each runner's KV cache and scheduler counters, this process, the GPUs), and --preload.
#include <openssl/crypto.h>

#include <future>
#include <thread>

#include <fmt/format.h>

#include "server/app.h"
#include "util/log.h"

namespace paddock::server {

void Preloads::expect(const std::vector<std::string>& names) {
  std::lock_guard lk(mu_);
  pending_ = names;
}

void Preloads::loaded(const std::string& name) {
  std::lock_guard lk(mu_);
  pending_.erase(std::remove(pending_.begin(), pending_.end(), name), pending_.end());
  errors_.erase(name);
}

void Preloads::failed(const std::string& name, const std::string& why) {
  std::lock_guard lk(mu_);
  errors_[name] = why;
}

bool Preloads::done() const {
  std::lock_guard lk(mu_);
  return pending_.empty();
}

json Preloads::status() const {
  std::lock_guard lk(mu_);
  json e = json::object();
  for (auto& [k, v] : errors_) e[k] = v;
  return json{{"waiting_for", pending_}, {"errors", e}};
}

void answer_health(App& app, const HttpRequest& req, const std::shared_ptr<Exchange>& ex) {
  if (req.method != "GET" && req.method != "HEAD") return send_error(*ex, 405, "method not allowed");
  if (req.path == "/livez") return send_json(*ex, 200, json{{"status", "ok"}});
  if (app.draining) return send_json(*ex, 503, json{{"status", "draining"}});
  if (!app.preloads.done()) {
    json j = app.preloads.status();
    j["status"] = "loading";
    for (auto& [k, v] : j["errors"].items()) v = redact(v.get<std::string>());
    return send_json(*ex, 503, j);
  }
  send_json(*ex, 200, json{{"status", "ok"}});
}

void answer_metrics_listener(App& app, const HttpServer* api, HttpRequest&& req, const std::shared_ptr<Exchange>& ex) {
  if (req.path == "/livez" || req.path == "/readyz") return answer_health(app, req, ex);
  if (req.path != "/metrics") return ex->respond(404, "text/plain", "404 page not found");
  if (req.method != "GET" && req.method != "HEAD") return send_error(*ex, 405, "method not allowed");
  if (!app.cfg.metrics_token.empty()) {
    const std::string want = "Bearer " + app.cfg.metrics_token;
    std::string got = req.header("authorization");
    bool ok = got.size() == want.size() && CRYPTO_memcmp(got.data(), want.data(), want.size()) == 0;
    if (!ok) {
      Headers h{{"WWW-Authenticate", "Bearer realm=\"metrics\""}};
      return send_json(*ex, 401, json{{"error", "a valid bearer token is required for /metrics"}}, std::move(h));
    }
  }
  // A scrape blocks (runner queries): a few at a time, on workers, never on the I/O thread.
  if (app.scrapes.fetch_add(1) >= 4) {
    app.scrapes--;
    return send_error(*ex, 503, "too many concurrent scrapes");
  }
  run_on_worker(app, ex, [&app, api, ex] {
    std::string body = render_metrics(app, api);
    app.scrapes--;
    ex->respond(200, "text/plain; version=0.0.4; charset=utf-8", std::move(body));
  });
}

namespace {

using T = MetricFamily::Type;

struct RunnerSample {
  std::string model;  // label
  nlohmann::json stats;
  int pid = -1;
};

}  // namespace

std::string render_metrics(App& app, const HttpServer* api) {
  std::string out;
  out.reserve(32 << 10);
  Metrics& m = *app.metrics;
  m.render(out);

  MetricFamily info("paddock_build_info", "Always 1; the version of the running server.", T::kGauge, {"version"});
  info.set({PADDOCK_VERSION}, 1);
  MetricFamily ready("paddock_ready", "1 while /readyz answers 200 (not draining, --preload models loaded).", T::kGauge);
  ready.set({}, !app.draining && app.preloads.done() ? 1 : 0);
  MetricFamily draining("paddock_draining", "1 once SIGTERM began the drain.", T::kGauge);
  draining.set({}, app.draining ? 1 : 0);
  for (auto* f : {&info, &ready, &draining}) f->render(out);

  if (api) {
    MetricFamily conns("paddock_http_connections", "Open connections on the API listener.", T::kGauge);
    conns.set({}, double(api->connections()));
    MetricFamily busy("paddock_http_requests_in_flight", "Requests on the API listener from their header until their response is written.", T::kGauge);
    busy.set({}, double(api->busy()));
    MetricFamily body("paddock_http_body_memory_bytes", "Bytes of request bodies held in memory now.", T::kGauge);
    body.set({}, double(api->body_memory()));
    // Refusals of the HTTP layer (before routing: malformed, too large, too slow, over the
    // connection or body-memory caps) join those of the handlers in one family.
    MetricFamily rejected(m.rejected.name(), m.rejected.help(), T::kCounter, {"code", "reason"});
    for (auto& [labels, v] : m.rejected.values()) rejected.add(labels, v);
    for (auto& r : api->refusals()) rejected.add({std::to_string(r.status), r.reason}, double(r.count));
    for (auto* f : {&conns, &busy, &body, &rejected}) f->render(out);
    if (app.tls) {
      MetricFamily hs("paddock_tls_handshake_failures_total",
                      "TLS handshakes that failed (old protocol versions, no shared cipher, a missing or untrusted "
                      "client certificate).",
                      T::kCounter);
      hs.set({}, double(api->tls_handshake_failures()));
      MetricFamily exp("paddock_tls_certificate_expiry_timestamp_seconds",
                       "notAfter of the certificate the API listener presents, in Unix seconds.", T::kGauge);
      exp.set({}, double(app.tls->not_after()));
      hs.render(out);
      exp.render(out);
    }
  }
  if (app.pool) {
    MetricFamily pq("paddock_request_pool_queued", "Requests waiting for a request-pool thread (body parsing, model resolution).", T::kGauge);
    pq.set({}, double(app.pool->queued()));
    pq.render(out);
    MetricFamily pr("paddock_request_pool_running", "Requests a request-pool thread is working on now.", T::kGauge);
    pr.set({}, double(app.pool->running()));
    pr.render(out);
  }

  // Queues and runners. Runner stats are asked for now, each with a bounded wait.
  int total_waiting = 0;
  auto qs = app.mgr ? app.mgr->queue_status(&total_waiting) : std::vector<Manager::QueueStatus>{};
  MetricFamily queue("ollama_request_queue_length",
                     "Requests waiting: per model (for a slot on it, or inside its runner for KV room), and the "
                     "series without a model label is the server's total (it also counts requests not yet resolved "
                     "to a model).",
                     T::kGauge, {"model"});
  MetricFamily running("paddock_requests_running", "Sequences the model's runner is decoding or prefilling now.",
                       T::kGauge, {"model"});
  MetricFamily used("paddock_kv_cache_blocks_used", "KV-cache blocks in use (sequences and the prefix cache).",
                    T::kGauge, {"model"});
  MetricFamily free_b("paddock_kv_cache_blocks_free", "KV-cache blocks free.", T::kGauge, {"model"});
  MetricFamily preempt("paddock_preemptions_total",
                       "Sequences preempted (KV blocks freed, recomputed later) since the runner started.",
                       T::kCounter, {"model"});
  MetricFamily prefix("paddock_prefix_cache_hit_tokens_total",
                      "Prompt tokens served from the prefix cache since the runner started.", T::kCounter, {"model"});
  MetricFamily steps("paddock_engine_steps_total", "Engine steps since the runner started.", T::kCounter, {"model"});
  MetricFamily rss("paddock_runner_resident_memory_bytes", "Resident memory of the model's runner process.",
                   T::kGauge, {"model"});
  MetricFamily cpu("paddock_runner_cpu_seconds_total", "CPU time of the model's runner process.", T::kCounter, {"model"});
  MetricFamily loaded("paddock_models_loaded", "Models with a ready runner.", T::kGauge);
  double run_total = 0, wait_total = total_waiting, kv_used = 0, kv_total = 0;
  int n_ready = 0;
  std::map<std::string, double> per_model_wait;
  for (auto& q : qs) {
    std::string label = m.model_label(q.name);
    per_model_wait[label] += q.waiting;
    if (!q.ready || !q.runner || !q.runner->alive()) continue;
    n_ready++;
    int pid = q.runner->pid();
    double c = 0, r = 0;
    if (read_process_usage(pid, &c, &r)) {
      rss.add({label}, r);
      cpu.add({label}, c);
    }
    auto st = q.runner->stats(1000);
    if (!st.ok()) continue;  // busy or gone: this scrape goes without its numbers
    auto num = [&](const char* k) { return st->value(k, 0.0); };
    double w = num("waiting"), run = num("running"), tot = num("kv_blocks_total"), fr = num("kv_blocks_free");
    per_model_wait[label] += w;
    wait_total += w;
    run_total += run;
    running.add({label}, run);
    used.add({label}, tot - fr);
    free_b.add({label}, fr);
    kv_used += tot - fr;
    kv_total += tot;
    preempt.add({label}, num("preemptions"));
    prefix.add({label}, num("prefix_hit_tokens"));
    steps.add({label}, num("steps"));
  }
  queue.set({}, wait_total);
  for (auto& [label, w] : per_model_wait) queue.set({label}, w);
  loaded.set({}, n_ready);
  // The Gateway API Inference Extension's model-server protocol: TotalQueuedRequests,
  // TotalRunningRequests, KVCacheUtilization (0-1), as unlabelled gauges.
  MetricFamily gw_wait("paddock_num_requests_waiting", "TotalQueuedRequests: requests waiting, server-wide.", T::kGauge);
  gw_wait.set({}, wait_total);
  MetricFamily gw_run("paddock_num_requests_running", "TotalRunningRequests: sequences running, server-wide.", T::kGauge);
  gw_run.set({}, run_total);
  MetricFamily gw_kv("paddock_kv_cache_usage_ratio",
                     "KVCacheUtilization: KV-cache blocks in use over all blocks of the loaded models (0-1).", T::kGauge);
  gw_kv.set({}, kv_total > 0 ? kv_used / kv_total : 0);
  for (auto* f : {&queue, &running, &used, &free_b, &preempt, &prefix, &steps, &rss, &cpu, &loaded, &gw_wait, &gw_run, &gw_kv})
    f->render(out);

  render_process_metrics(out);
  render_gpu_metrics(out);
  return out;
}

namespace {

// Loads one model and leaves it loaded (keep-alive forever). Blocks until it is ready, fails,
// or the server stops.
Status preload_one(App& app, const std::string& name) {
  ASSIGN_OR_RETURN(Resolved r, resolve_model(app, name));
  auto p = std::make_shared<std::promise<Status>>();
  auto f = p->get_future();
  app.mgr->acquire(r.ref, int64_t(-1), [p](Result<std::unique_ptr<Slot>> s) {
    // The slot is released at once: with keep-alive -1 the model stays loaded.
    p->set_value(s.ok() ? Status::Ok() : Status(s.error()));
  });
  while (f.wait_for(std::chrono::milliseconds(200)) != std::future_status::ready)
    if (app.workers.stopping()) return make_error(ErrorCode::kCancelled, "server is stopping");
  return f.get();
}

}  // namespace

void start_preload(App& app) {
  if (app.cfg.preload.empty()) return;
  app.preloads.expect(app.cfg.preload);
  app.workers.spawn([&app] {
    std::vector<std::string> pending = app.cfg.preload;
    int backoff_s = 2;
    while (!pending.empty() && !app.workers.stopping()) {
      std::vector<std::string> again;
      for (auto& name : pending) {
        auto t0 = std::chrono::steady_clock::now();
        Status st = preload_one(app, name);
        if (app.workers.stopping()) return;
        if (st.ok()) {
          app.preloads.loaded(name);
          log::info("preload: {} loaded in {:.1f} s", name,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        } else {
          app.preloads.failed(name, st.error().message());
          log::error("preload: {} failed: {} (retrying in {} s; /readyz stays 503)", name, st.error().message(), backoff_s);
          again.push_back(name);
        }
      }
      pending.swap(again);
      if (pending.empty()) break;
      for (int i = 0; i < backoff_s * 10 && !app.workers.stopping(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      backoff_s = std::min(backoff_s * 2, 60);
    }
  });
}

}  // namespace paddock::server
