// metrics: the server's Prometheus metrics — a small registry (counters, gauges, histograms with
// fixed label names, rendered in the text exposition format 0.0.4), the families the request path
// updates, and the per-request tracking (an Exchange wrapper) that feeds them. Names and labels
// are listed in docs/OPERATIONS.md "Metrics reference".
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "server/http.h"

namespace paddock::server {

using LabelValues = std::vector<std::string>;

// One metric family: a name, a help text, a type and fixed label names; series are created on
// first use. Thread-safe (one mutex per family: updates are a map lookup and an add).
class MetricFamily {
 public:
  enum class Type { kCounter, kGauge, kHistogram };
  MetricFamily(std::string name, std::string help, Type type, std::vector<std::string> labels = {},
               std::vector<double> buckets = {});
  void add(const LabelValues& labels, double v = 1);  // counter or gauge
  void set(const LabelValues& labels, double v);      // gauge
  void observe(const LabelValues& labels, double v);  // histogram
  // Appends "# HELP", "# TYPE" and every series to `out`.
  void render(std::string& out) const;
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  // Counter and gauge values by label set.
  std::vector<std::pair<LabelValues, double>> values() const;

 private:
  struct Series {
    double value = 0;              // counter, gauge
    std::vector<uint64_t> counts;  // histogram: per bucket (not cumulative)
    double sum = 0;
    uint64_t count = 0;
  };
  Series& series_locked(const LabelValues& labels);
  std::string name_, help_;
  Type type_;
  std::vector<std::string> labels_;
  std::vector<double> buckets_;  // upper bounds, ascending; +Inf implied
  mutable std::mutex mu_;
  std::map<LabelValues, Series> series_;
};

// Text-format helpers, for the families the scrape builds on the spot.
std::string format_metric_value(double v);
std::string escape_label_value(std::string_view v);

// Why a request was refused: a fixed set, so the label stays bounded.
const char* rejection_reason(int status);

class Metrics;

// The tracking of one HTTP request: wraps its Exchange, sees the status it gets and when it ends
// (response written, stream finished or client gone), and records the request families then.
// Handlers downstream see an ordinary Exchange; run_job reaches the tracker with track_of().
class RequestTrack : public Exchange, public std::enable_shared_from_this<RequestTrack> {
 public:
  RequestTrack(std::shared_ptr<Metrics> m, std::shared_ptr<Exchange> inner, std::string route, bool inference);
  ~RequestTrack() override;
  void respond(int status, std::string content_type, std::string body, Headers extra = {}) override;
  void start_stream(int status, std::string content_type, Headers extra = {}) override;
  bool write(std::string chunk) override;
  void finish() override;
  void on_disconnect(std::function<void()> fn) override;
  bool disconnected() const override { return inner_->disconnected(); }
  void add_default_headers(Headers h) override { inner_->add_default_headers(std::move(h)); }

  // The model the request resolved to (only a model found in the store becomes a label).
  void set_model(const std::string& name);
  // The runner said the request timed out (a stream already answered 200 still counts as a 504).
  void mark_timeout() { timed_out_ = true; }
  // Token events of a generation: the first gives time to first token, the next ones the
  // inter-token latency.
  void on_token();
  // Token counts of a finished generation.
  void on_done(int64_t prompt_tokens, int64_t generated_tokens);
  std::chrono::steady_clock::time_point started() const { return t0_; }
  // Hooks the disconnect callback of the wrapped exchange; called once right after construction.
  void attach();
  // Called once when the request ends (answered, stream finished, client gone or dropped), with
  // its status (0: never answered): rate-limit releases and audit entries. Set before the
  // request's work starts; runs on whichever thread ends the request, so it must not block.
  using CompleteHook = std::function<void(const RequestTrack&, int status)>;
  void on_complete(CompleteHook fn);
  // What the hooks read: the generated tokens (on_done), response body bytes, the model name the
  // handler named (set_model or set_subject, unbounded: not a label) and the time since arrival.
  int64_t generated() const { return generated_.load(); }
  uint64_t bytes_out() const { return bytes_out_.load(); }
  std::string subject() const;
  void set_subject(const std::string& name);
  double elapsed_s() const;
  // --log-prompts: the response body is kept (up to `cap` bytes) for the audit entry.
  void capture_output(size_t cap);
  std::string captured() const;

 private:
  void complete(int status);
  std::shared_ptr<Metrics> m_;  // outlives every request it tracks
  std::shared_ptr<Exchange> inner_;
  std::string route_;
  bool inference_;
  std::chrono::steady_clock::time_point t0_;
  std::atomic<int> status_{0};
  std::atomic<bool> done_{false};
  std::atomic<bool> timed_out_{false};
  mutable std::mutex mu_;
  std::string model_;  // label value ("" until resolved)
  std::function<void()> on_gone_;
  bool gone_ = false;
  std::chrono::steady_clock::time_point last_token_{};
  bool any_token_ = false;
  std::vector<CompleteHook> hooks_;
  std::atomic<int64_t> generated_{0};
  std::atomic<uint64_t> bytes_out_{0};
  std::string subject_;
  size_t capture_cap_ = 0;
  std::string captured_;
};

// The tracker behind an Exchange, or nullptr for an untracked one.
RequestTrack* track_of(Exchange* ex);

class Metrics : public std::enable_shared_from_this<Metrics> {
 public:
  // Distinct model label values; models past this are reported as "other".
  static constexpr size_t kMaxModelLabels = 64;
  Metrics();  // own it with a shared_ptr: wrap() hands trackers a reference

  // The route label for a request path: one of a fixed list, "other" for anything else.
  static std::string route_label(std::string_view path);
  // Inference routes feed ollama_inference_latency_seconds.
  static bool is_inference_route(std::string_view route);
  // The label for a model that resolved in the store: its name while fewer than
  // kMaxModelLabels names are in use, else "other". Unknown names never reach this.
  std::string model_label(const std::string& name);

  std::shared_ptr<Exchange> wrap(std::shared_ptr<Exchange> ex, std::string_view path);

  // Appends every family this object owns except `rejected`, which the scrape merges with the
  // HTTP layer's refusals.
  void render(std::string& out) const;

  // Families updated as things happen (the scrape adds the sampled gauges).
  MetricFamily inference_latency, requests, rejected, disconnects, ttft, itl, prompt_tokens, generated_tokens;
  MetricFamily model_load_seconds, model_load_failures, runner_exits, runner_restarts, tls_reloads;
  // Access control (auth.h, ratelimit.h): key file reloads, rate-limit refusals by limit and
  // scope, and errors of the Redis store by the configured failure mode.
  MetricFamily key_reloads, ratelimit_refusals, ratelimit_store_errors;

 private:
  std::mutex mu_;
  std::set<std::string> models_;
};

// Process metrics of this process (process_cpu_seconds_total, process_resident_memory_bytes, …)
// and the CPU seconds and resident bytes of another process (a runner); false if unreadable.
void render_process_metrics(std::string& out);
bool read_process_usage(int pid, double* cpu_seconds, double* rss_bytes);

// GPU utilisation and memory per device through NVML, loaded at run time (dlopen of
// libnvidia-ml.so.1, or PADDOCK_NVML_LIBRARY). Nothing is written, and nothing is logged beyond
// one debug line, on a host without the library or without a GPU.
void render_gpu_metrics(std::string& out);

}  // namespace paddock::server
