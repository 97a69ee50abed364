// metrics: the registry and its text rendering, the request families and RequestTrack.
#include "server/metrics.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace paddock::server {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string escape_help(std::string_view v) {
  std::string r;
  for (char c : v) {
    if (c == '\\') r += "\\\\";
    else if (c == '\n') r += "\\n";
    else r += c;
  }
  return r;
}

void render_labels(std::string& out, const std::vector<std::string>& names, const LabelValues& values,
                   const char* extra_name = nullptr, const std::string& extra_value = {}) {
  if (names.empty() && !extra_name) return;
  out += '{';
  bool first = true;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += names[i];
    out += "=\"";
    out += escape_label_value(i < values.size() ? values[i] : std::string());
    out += '"';
  }
  if (extra_name) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

// Buckets in seconds.
const std::vector<double> kLatencyBuckets = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600};
const std::vector<double> kTtftBuckets = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
const std::vector<double> kItlBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
const std::vector<double> kLoadBuckets = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};

constexpr std::string_view kRoutes[] = {
    "/",
    "/api/version",
    "/api/generate",
    "/api/chat",
    "/api/embed",
    "/api/embeddings",
    "/api/tags",
    "/api/show",
    "/api/ps",
    "/api/copy",
    "/api/delete",
    "/api/create",
    "/api/pull",
    "/api/push",
    "/api/status",
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/v1/models",
    "/livez",
    "/readyz",
};

}  // namespace

std::string format_metric_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", int64_t(v));
  return fmt::format("{}", v);
}

std::string escape_label_value(std::string_view v) {
  std::string r;
  r.reserve(v.size());
  for (char c : v) {
    if (c == '\\') r += "\\\\";
    else if (c == '"') r += "\\\"";
    else if (c == '\n') r += "\\n";
    else r += c;
  }
  return r;
}

MetricFamily::MetricFamily(std::string name, std::string help, Type type, std::vector<std::string> labels,
                           std::vector<double> buckets)
    : name_(std::move(name)), help_(std::move(help)), type_(type), labels_(std::move(labels)), buckets_(std::move(buckets)) {}

MetricFamily::Series& MetricFamily::series_locked(const LabelValues& labels) {
  auto it = series_.find(labels);
  if (it == series_.end()) {
    it = series_.emplace(labels, Series{}).first;
    if (type_ == Type::kHistogram) it->second.counts.assign(buckets_.size(), 0);
  }
  return it->second;
}

void MetricFamily::add(const LabelValues& labels, double v) {
  std::lock_guard lk(mu_);
  series_locked(labels).value += v;
}

void MetricFamily::set(const LabelValues& labels, double v) {
  std::lock_guard lk(mu_);
  series_locked(labels).value = v;
}

void MetricFamily::observe(const LabelValues& labels, double v) {
  std::lock_guard lk(mu_);
  Series& s = series_locked(labels);
  auto b = std::lower_bound(buckets_.begin(), buckets_.end(), v);  // first bound >= v: le is inclusive
  if (b != buckets_.end()) s.counts[size_t(b - buckets_.begin())]++;
  s.sum += v;
  s.count++;
}

std::vector<std::pair<LabelValues, double>> MetricFamily::values() const {
  std::lock_guard lk(mu_);
  std::vector<std::pair<LabelValues, double>> out;
  for (auto& [labels, s] : series_) out.emplace_back(labels, s.value);
  return out;
}

void MetricFamily::render(std::string& out) const {
  static const char* kTypes[] = {"counter", "gauge", "histogram"};
  out += "# HELP " + name_ + " " + escape_help(help_) + "\n";
  out += "# TYPE " + name_ + " " + kTypes[int(type_)] + "\n";
  std::lock_guard lk(mu_);
  for (auto& [labels, s] : series_) {
    if (type_ != Type::kHistogram) {
      out += name_;
      render_labels(out, labels_, labels);
      out += ' ' + format_metric_value(s.value) + '\n';
      continue;
    }
    uint64_t cum = 0;
    for (size_t i = 0; i < buckets_.size(); ++i) {
      cum += s.counts[i];
      out += name_ + "_bucket";
      render_labels(out, labels_, labels, "le", format_metric_value(buckets_[i]));
      out += ' ' + std::to_string(cum) + '\n';
    }
    out += name_ + "_bucket";
    render_labels(out, labels_, labels, "le", "+Inf");
    out += ' ' + std::to_string(s.count) + '\n';
    out += name_ + "_sum";
    render_labels(out, labels_, labels);
    out += ' ' + format_metric_value(s.sum) + '\n';
    out += name_ + "_count";
    render_labels(out, labels_, labels);
    out += ' ' + std::to_string(s.count) + '\n';
  }
}

const char* rejection_reason(int status) {
  switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 408: return "request_timeout";
    case 413: return "too_large";
    case 429: return "rate_limited";
    case 431: return "headers_too_large";
    case 503: return "unavailable";
    case 504: return "timeout";
    default: return "other";
  }
}

using T = MetricFamily::Type;

Metrics::Metrics()
    : inference_latency("ollama_inference_latency_seconds",
                        "Time from a generation or embedding request's arrival to the end of its response.",
                        T::kHistogram, {"model", "endpoint"}, kLatencyBuckets),
      requests("paddock_requests_total", "HTTP requests answered, by route, model (\"\" before one resolved) and status.",
               T::kCounter, {"route", "model", "status"}),
      rejected("paddock_rejected_requests_total",
               "Requests refused with 401, 403, 408, 413, 429, 431, 503 or 504, by status code and reason.",
               T::kCounter, {"code", "reason"}),
      disconnects("paddock_client_disconnects_total", "Clients that went away before their response was complete.",
                  T::kCounter, {"route"}),
      ttft("paddock_time_to_first_token_seconds", "Time from a generation request's arrival to its first token.",
           T::kHistogram, {"model"}, kTtftBuckets),
      itl("paddock_inter_token_latency_seconds", "Time between consecutive tokens of one generation.", T::kHistogram,
          {"model"}, kItlBuckets),
      prompt_tokens("paddock_prompt_tokens_total", "Prompt tokens of finished requests.", T::kCounter, {"model"}),
      generated_tokens("paddock_generation_tokens_total", "Tokens generated by finished requests.", T::kCounter,
                       {"model"}),
      model_load_seconds("paddock_model_load_duration_seconds", "Time to start a runner and load a model into it.",
                         T::kHistogram, {"model"}, kLoadBuckets),
      model_load_failures("paddock_model_load_failures_total",
                          "Model loads that failed (bad file, out of memory, I/O error, load timeout).", T::kCounter,
                          {"model"}),
      runner_exits("paddock_runner_exits_total",
                   "Runner processes that ended without being asked to, by reason (killed: SIGKILL, as the "
                   "kernel's OOM killer sends; crashed: another signal; exited: a non-zero exit; protocol: a bad "
                   "frame).",
                   T::kCounter, {"model", "reason"}),
      runner_restarts("paddock_runner_restarts_total", "Runners started again after their previous process ended unexpectedly.",
                      T::kCounter, {"model"}),
      tls_reloads("paddock_tls_reloads_total", "Certificate reloads (SIGHUP), by result.", T::kCounter, {"result"}),
      key_reloads("paddock_keys_reloads_total", "Reloads of the API keys file (file change or SIGHUP), by result.",
                  T::kCounter, {"result"}),
      ratelimit_refusals("paddock_ratelimit_refusals_total",
                         "Requests refused by a rate limit, by limit (requests, tokens, streams) and scope (key, global).",
                         T::kCounter, {"limit", "scope"}),
      ratelimit_store_errors("paddock_ratelimit_store_errors_total",
                             "Rate-limit checks that could not reach the Redis store, by failure mode (open: admitted "
                             "without limits, closed: refused with 503).",
                             T::kCounter, {"mode"}) {}

std::string Metrics::route_label(std::string_view path) {
  for (auto r : kRoutes)
    if (path == r) return std::string(r);
  if (path.rfind("/api/blobs/", 0) == 0) return "/api/blobs/:digest";
  if (path.rfind("/v1/models/", 0) == 0) return "/v1/models/:model";
  return "other";
}

bool Metrics::is_inference_route(std::string_view r) {
  return r == "/api/generate" || r == "/api/chat" || r == "/api/embed" || r == "/api/embeddings" ||
         r == "/v1/chat/completions" || r == "/v1/completions" || r == "/v1/embeddings";
}

std::string Metrics::model_label(const std::string& name) {
  if (name.empty()) return "";
  std::lock_guard lk(mu_);
  if (models_.count(name)) return name;
  if (models_.size() >= kMaxModelLabels) return "other";
  models_.insert(name);
  return name;
}

std::shared_ptr<Exchange> Metrics::wrap(std::shared_ptr<Exchange> ex, std::string_view path) {
  std::string route = route_label(path);
  bool inference = is_inference_route(route);
  auto t = std::make_shared<RequestTrack>(shared_from_this(), std::move(ex), std::move(route), inference);
  t->attach();
  return t;
}

void Metrics::render(std::string& out) const {
  for (const MetricFamily* f : {&inference_latency, &ttft, &itl, &prompt_tokens, &generated_tokens, &requests,
                                &disconnects, &model_load_seconds, &model_load_failures, &runner_exits,
                                &runner_restarts, &tls_reloads, &key_reloads, &ratelimit_refusals,
                                &ratelimit_store_errors})
    f->render(out);
}

RequestTrack::RequestTrack(std::shared_ptr<Metrics> m, std::shared_ptr<Exchange> inner, std::string route, bool inference)
    : m_(std::move(m)), inner_(std::move(inner)), route_(std::move(route)), inference_(inference), t0_(Clock::now()) {}

RequestTrack::~RequestTrack() {
  // Dropped without an answer (a queued request whose client left, or the server stopping).
  if (!done_.load()) complete(gone_ ? 499 : 0);
}

void RequestTrack::attach() {
  std::weak_ptr<RequestTrack> w = weak_from_this();
  inner_->on_disconnect([w] {
    auto self = w.lock();
    if (!self) return;
    std::function<void()> fn;
    {
      std::lock_guard lk(self->mu_);
      self->gone_ = true;
      fn = std::move(self->on_gone_);
      self->on_gone_ = nullptr;
    }
    if (!self->done_.load()) {
      self->m_->disconnects.add({self->route_});
      if (self->status_.load() == 0) self->complete(499);
    }
    if (fn) fn();
  });
}

void RequestTrack::on_disconnect(std::function<void()> fn) {
  bool now = false;
  {
    std::lock_guard lk(mu_);
    if (gone_) now = true;
    else on_gone_ = std::move(fn);
  }
  if (now && fn) fn();
}

// Recorded before the bytes go out: a client that has its answer finds it counted in a scrape.
void RequestTrack::respond(int status, std::string content_type, std::string body, Headers extra) {
  bytes_out_ += body.size();
  if (capture_cap_) {
    std::lock_guard lk(mu_);
    captured_ = body.substr(0, capture_cap_);
  }
  int expected = 0;
  if (status_.compare_exchange_strong(expected, status)) complete(status);
  inner_->respond(status, std::move(content_type), std::move(body), std::move(extra));
}

void RequestTrack::start_stream(int status, std::string content_type, Headers extra) {
  int expected = 0;
  status_.compare_exchange_strong(expected, status);
  inner_->start_stream(status, std::move(content_type), std::move(extra));
}

bool RequestTrack::write(std::string chunk) {
  bytes_out_ += chunk.size();
  if (capture_cap_) {
    std::lock_guard lk(mu_);
    if (captured_.size() < capture_cap_) captured_.append(chunk, 0, capture_cap_ - captured_.size());
  }
  return inner_->write(std::move(chunk));
}

void RequestTrack::on_complete(CompleteHook fn) {
  std::lock_guard lk(mu_);
  hooks_.push_back(std::move(fn));
}

std::string RequestTrack::subject() const {
  std::lock_guard lk(mu_);
  return subject_;
}

void RequestTrack::set_subject(const std::string& name) {
  std::lock_guard lk(mu_);
  subject_ = name;
}

double RequestTrack::elapsed_s() const { return seconds_since(t0_); }

void RequestTrack::capture_output(size_t cap) {
  std::lock_guard lk(mu_);
  capture_cap_ = cap;
}

std::string RequestTrack::captured() const {
  std::lock_guard lk(mu_);
  return captured_;
}

void RequestTrack::finish() {
  complete(status_.load());
  inner_->finish();
}

void RequestTrack::set_model(const std::string& name) {
  std::string label = m_->model_label(name);
  std::lock_guard lk(mu_);
  model_ = std::move(label);
  subject_ = name;
}

void RequestTrack::on_token() {
  auto now = Clock::now();
  std::string model;
  double ttft = -1, itl = -1;
  {
    std::lock_guard lk(mu_);
    if (!any_token_) ttft = std::chrono::duration<double>(now - t0_).count();
    else itl = std::chrono::duration<double>(now - last_token_).count();
    any_token_ = true;
    last_token_ = now;
    model = model_;
  }
  if (ttft >= 0) m_->ttft.observe({model}, ttft);
  if (itl >= 0) m_->itl.observe({model}, itl);
}

void RequestTrack::on_done(int64_t prompt_tokens, int64_t generated_tokens) {
  std::string model;
  {
    std::lock_guard lk(mu_);
    model = model_;
  }
  if (generated_tokens > 0) generated_ += generated_tokens;
  if (prompt_tokens > 0) m_->prompt_tokens.add({model}, double(prompt_tokens));
  if (generated_tokens > 0) m_->generated_tokens.add({model}, double(generated_tokens));
}

void RequestTrack::complete(int status) {
  if (done_.exchange(true)) return;
  std::string model;
  {
    std::lock_guard lk(mu_);
    model = model_;
  }
  if (timed_out_.load()) status = 504;  // a stream that began as 200 and ended in a timeout
  std::vector<CompleteHook> hooks;
  {
    std::lock_guard lk(mu_);
    hooks.swap(hooks_);
  }
  for (auto& h : hooks) h(*this, status);
  if (status == 0) return;              // never answered and never disconnected: nothing to say
  m_->requests.add({route_, model, std::to_string(status)});
  switch (status) {
    case 401: case 403: case 408: case 413: case 429: case 431: case 503: case 504:
      m_->rejected.add({std::to_string(status), rejection_reason(status)});
      break;
    default: break;
  }
  if (inference_ && !model.empty()) m_->inference_latency.observe({model, route_}, seconds_since(t0_));
}

RequestTrack* track_of(Exchange* ex) { return dynamic_cast<RequestTrack*>(ex); }

}  // namespace paddock::server
