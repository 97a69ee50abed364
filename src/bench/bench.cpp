// bench: one benchmark from options to reports — check the options, make the prompts (and
// calibrate them), run every sweep point against every target, print and write the reports.
#include "bench/bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <thread>

#include <boost/asio/ssl/context.hpp>

#include "bench/conn.h"
#include "bench/load.h"
#include "bench/report.h"
#include "util/fs.h"

namespace paddock::bench {

using nlohmann::json;

namespace {

constexpr int64_t kDefaultRequests = 100;
constexpr size_t kMaxDistinctPrompts = 10000;
constexpr size_t kMaxPromptBytes = 256u << 20;  // all distinct request bodies together

struct Target {
  Endpoint ep;
  std::string url, model;
  std::shared_ptr<boost::asio::ssl::context> tls;
};

Status check(const Options& o) {
  auto bad = [](const char* what) { return Status(make_error(ErrorCode::kInvalidArgument, "{}", what)); };
  if (o.model.empty()) return bad("--model is required");
  if (o.concurrency < 1 || o.concurrency > 100000) return bad("--concurrency must be in 1..100000");
  if (o.requests < 0) return bad("--requests must not be negative");
  if (!(o.duration_s >= 0) || o.duration_s > 7 * 86400) return bad("--duration must be in 0..604800 seconds");
  if (!(o.rate >= 0) || o.rate > 1e7) return bad("--rate must be in 0..1e7 requests/s");
  if (o.max_inflight < 0) return bad("--max-inflight must not be negative");
  if (o.threads < 0 || o.threads > 256) return bad("--threads must be in 0..256");
  if (!(o.timeout_s > 0)) return bad("--timeout must be positive");
  if (o.warmup < 0) return bad("--warmup must not be negative");
  if (o.num_prompts < 0) return bad("--num-prompts must not be negative");
  if (!(o.slo_ttft_ms >= 0) || !(o.slo_latency_ms >= 0)) return bad("objectives must not be negative");
  if (!(o.late_threshold_ms >= 0)) return bad("--late-threshold must not be negative");
  for (double v : o.sweep) {
    if (!(v > 0) || v > 1e7) return bad("--sweep values must be positive");
    if (!o.sweep_rates && (v != static_cast<int>(v) || v > 100000))
      return bad("--sweep concurrencies must be integers in 1..100000");
  }
  const bool open = o.rate > 0 || o.sweep_rates;
  if (open && o.requests == 0 && o.duration_s == 0) return Status();  // default request count
  if (open && o.requests == 0) {
    const double top = o.sweep.empty() ? o.rate : *std::max_element(o.sweep.begin(), o.sweep.end());
    if (top * o.duration_s > 1e8) return bad("--rate x --duration is over 1e8 requests");
  }
  return Status();
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return b;
}

Result<std::vector<std::string>> build_requests(const Target& t, const RequestSpec& base,
                                                const std::vector<Prompt>& ps) {
  RequestSpec spec = base;
  spec.model = t.model;
  std::vector<std::string> out;
  out.reserve(ps.size());
  for (const Prompt& p : ps) {
    ASSIGN_OR_RETURN(std::string body, request_body(spec, p));
    out.push_back(http_request(t.ep, spec, body));
  }
  return out;
}

LoadPlan base_plan(const Target& t, const Options& o) {
  LoadPlan p;
  p.ep = t.ep;
  p.api = o.api;
  p.stream = o.stream;
  p.tls = t.tls;
  p.verify_host = !o.insecure;
  p.threads = o.threads > 0 ? o.threads : static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
  p.timeout_s = o.timeout_s;
  return p;
}

// Two probes of 64 and 192 synthetic words (one output token each): the server's prompt counts
// give its tokens per word and the template's own tokens. Returns {tokens_per_word, overhead}.
Result<std::pair<double, double>> calibrate(const Target& t, const Options& o, const RequestSpec& spec) {
  Rng rng(o.seed ^ 0x5eedca1bu);
  std::vector<Prompt> ps(2);
  const int words[2] = {64, 192};
  for (int i = 0; i < 2; ++i) {
    ps[i].text = synthetic_text(words[i], rng);
    ps[i].output_tokens = 1;
  }
  RequestSpec s = spec;
  s.stream = false;
  LoadPlan p = base_plan(t, o);
  p.stream = false;
  ASSIGN_OR_RETURN(p.requests, build_requests(t, s, ps));
  p.total = 2;
  p.concurrency = 1;
  ASSIGN_OR_RETURN(RunData d, run_load(p));
  int counts[2] = {-1, -1};
  for (size_t i = 0; i < d.samples.size() && i < 2; ++i) {
    if (!d.samples[i].ok()) {
      auto ex = d.error_examples.find(d.samples[i].error);
      return make_error(ErrorCode::kInvalidArgument, "calibration request failed: {}",
                        ex == d.error_examples.end() ? d.samples[i].error : ex->second);
    }
    counts[i] = d.samples[i].in_tokens;
  }
  if (counts[0] < 0 || counts[1] <= counts[0])
    return make_error(ErrorCode::kUnsupported, "the server gave no usable prompt token counts");
  const double tpw = static_cast<double>(counts[1] - counts[0]) / (words[1] - words[0]);
  return std::make_pair(tpw, std::max(0.0, counts[0] - tpw * words[0]));
}

}  // namespace

Status run(const Options& o) {
  RETURN_IF_ERROR(check(o));
  const bool open = o.rate > 0 || o.sweep_rates;
  const std::vector<double> loads = o.sweep.empty() ? std::vector<double>{open ? o.rate : o.concurrency} : o.sweep;
  const int64_t requests = o.requests > 0 ? o.requests : (o.duration_s > 0 ? 0 : kDefaultRequests);

  std::vector<Target> targets;
  for (const auto& [url, model] : {std::pair{o.url, o.model}, std::pair{o.compare_url, o.compare_model}}) {
    if (url.empty()) continue;
    Target t;
    ASSIGN_OR_RETURN(t.ep, parse_url(url));
    t.url = t.ep.str();
    t.model = model.empty() ? o.model : model;
    if (t.ep.tls) {
      ASSIGN_OR_RETURN(t.tls, make_tls_context(o.insecure, o.cacert));
    }
    targets.push_back(std::move(t));
  }
  RequestSpec spec;
  spec.api = o.api;
  spec.stream = o.stream;
  spec.api_key = o.api_key;
  spec.ignore_eos = o.ignore_eos;
  if (!o.extra_options.empty()) {
    spec.extra = json::parse(o.extra_options, nullptr, false);
    if (!spec.extra.is_object())
      return make_error(ErrorCode::kInvalidArgument, "--options must be a JSON object, e.g. '{{\"temperature\":0}}'");
  }

  // Prompts: the same list for every run and target.
  Report rep;
  rep.opts = o;
  rep.compare = targets.size() > 1;
  rep.started = utc_now();
  Rng rng(o.seed);
  std::vector<Prompt> prompts;
  if (!o.prompts_file.empty()) {
    ASSIGN_OR_RETURN(prompts, load_prompts(o.prompts_file, o.output_tokens, rng));
  } else {
    double tpw = 1, overhead = 0;
    if (o.calibrate) {
      auto c = calibrate(targets[0], o, spec);
      if (!c.ok()) return c.error().wrap("calibrating prompt lengths");
      std::tie(tpw, overhead) = *c;
      rep.tokens_per_word = tpw;
      if (!o.quiet) std::fprintf(stderr, "calibrated: %.3f tokens per word, %.0f tokens of template\n", tpw, overhead);
    }
    size_t n = o.num_prompts > 0 ? static_cast<size_t>(o.num_prompts) : kMaxDistinctPrompts;
    if (o.num_prompts == 0 && requests > 0) n = std::min<size_t>(n, static_cast<size_t>(requests));
    // Bound the memory the distinct prompts take (about 6 bytes a word).
    const double words =
        std::max(1.0, o.input_tokens.kind == LengthDist::Kind::kUniform ? o.input_tokens.b : o.input_tokens.a) / tpw;
    n = std::clamp<size_t>(std::min(n, static_cast<size_t>(kMaxPromptBytes / (words * 8 + 256))), 1, n);
    prompts = synthetic_prompts(n, o.input_tokens, o.output_tokens, rng, tpw, overhead);
  }

  for (double load : loads) {
    for (const Target& t : targets) {
      LoadPlan p = base_plan(t, o);
      ASSIGN_OR_RETURN(p.requests, build_requests(t, spec, prompts));
      p.progress = !o.quiet;
      p.warmup = o.warmup;
      RunReport r;
      r.target = t.url;
      r.model = t.model;
      r.open_loop = open;
      r.load = load;
      p.label = targets.size() > 1 || loads.size() > 1 ? r.load_label() + " " + t.url + " " : "";
      if (open) {
        const size_t n =
            requests > 0 ? static_cast<size_t>(requests) : static_cast<size_t>(std::ceil(load * o.duration_s));
        Rng arrivals_rng(o.seed + 1);  // the same schedule for both targets
        p.arrivals = arrival_times(std::max<size_t>(n, 1), load, o.arrival, arrivals_rng);
        p.max_inflight = o.max_inflight;
      } else {
        p.concurrency = static_cast<int>(load);
        p.total = requests;
        p.duration_s = requests > 0 ? 0 : o.duration_s;
      }
      ASSIGN_OR_RETURN(r.data, run_load(p));
      r.summary = summarize(r.data, {o.slo_ttft_ms / 1e3, o.slo_latency_ms / 1e3}, o.late_threshold_ms / 1e3);
      std::fputs(text_run(r, o).c_str(), stdout);
      std::fflush(stdout);
      const bool stop = r.data.interrupted;
      rep.runs.push_back(std::move(r));
      if (stop) break;
    }
    if (!rep.runs.empty() && rep.runs.back().data.interrupted) break;
  }
  if (rep.runs.size() > 1) std::fputs(("\n" + text_sweep(rep)).c_str(), stdout);
  if (rep.compare && rep.runs.size() >= 2) std::fputs(("\n" + text_compare(rep)).c_str(), stdout);
  if (!o.json_path.empty()) RETURN_IF_ERROR(atomic_write_file(o.json_path, json_report(rep)));
  if (!o.html_path.empty()) RETURN_IF_ERROR(atomic_write_file(o.html_path, html_report(rep)));
  size_t ok = 0, failed = 0;
  for (auto& r : rep.runs) {
    ok += r.summary.ok;
    failed += r.summary.failed;
  }
  if (ok == 0 && failed > 0) {
    const auto& ex = rep.runs.front().data.error_examples;
    return make_error(ErrorCode::kIo, "every request failed ({})",
                      ex.empty() ? "" : ex.begin()->first + ": " + ex.begin()->second);
  }
  return Status();
}

}  // namespace paddock::bench
