// bench/report_json: the machine-readable report. Times in milliseconds, rates per second;
// every request is listed so other tools can recompute anything.
#include <cmath>

#include <nlohmann/json.hpp>

#include "bench/report.h"
#include "bench/workload.h"

namespace paddock::bench {

using nlohmann::json;

namespace {
json dist_json(const Dist& d) {
  return {{"n", d.n},           {"mean", d.mean * 1e3}, {"p50", d.p50 * 1e3},
          {"p90", d.p90 * 1e3}, {"p99", d.p99 * 1e3},   {"max", d.max * 1e3}};
}

json run_json(const RunReport& r) {
  const Summary& s = r.summary;
  json j{{"target", r.target},
         {"model", r.model},
         {"mode", r.open_loop ? "open" : "closed"},
         {r.open_loop ? "rate" : "concurrency", r.load},
         {"interrupted", r.data.interrupted},
         {"requests", s.requests},
         {"ok", s.ok},
         {"failed", s.failed},
         {"elapsed_s", s.elapsed},
         {"req_per_s", s.req_per_s},
         {"output_tok_per_s", s.out_tok_per_s},
         {"total_tok_per_s", s.total_tok_per_s},
         {"mean_input_tokens", s.mean_in},
         {"mean_output_tokens", s.mean_out},
         {"server_counts", s.server_counts},
         {"ttft_ms", dist_json(s.ttft)},
         {"itl_ms", dist_json(s.itl)},
         {"tpot_ms", dist_json(s.tpot)},
         {"latency_ms", dist_json(s.latency)},
         {"goodput", {{"good", s.good}, {"req_per_s", s.goodput}}},
         {"errors", s.errors}};
  json ex = json::object();
  for (auto& [k, v] : r.data.error_examples) ex[k] = v;
  j["error_examples"] = ex;
  if (r.open_loop)
    j["schedule"] = {
        {"send_rate", s.send_rate}, {"late", s.late}, {"lag_p99_ms", s.lag_p99 * 1e3}, {"lag_max_ms", s.lag_max * 1e3}};
  j["timeline"] = {{"bucket_s", kBucketSeconds}, {"completed", r.data.bucket_done}, {"tokens", r.data.bucket_tokens}};
  // Per request, column-wise (compact): times in ms, -1 where absent.
  json sched = json::array(), sent = json::array(), ttft = json::array(), lat = json::array(), in = json::array(),
       out = json::array(), err = json::array();
  auto m = [](double v) { return v < 0 ? -1.0 : std::round(v * 1e6) / 1e3; };
  for (const Sample& x : r.data.samples) {
    sched.push_back(m(x.scheduled));
    sent.push_back(m(x.sent));
    ttft.push_back(m(x.ttft));
    lat.push_back(m(x.latency));
    in.push_back(x.in_tokens);
    out.push_back(x.out_tokens >= 0 ? x.out_tokens : x.events);
    err.push_back(x.error);
  }
  j["per_request"] = {{"scheduled_ms", sched}, {"sent_ms", sent},      {"ttft_ms", ttft}, {"latency_ms", lat},
                      {"input_tokens", in},    {"output_tokens", out}, {"error", err}};
  return j;
}

json options_json(const Options& o, const Report& rep) {
  json j{{"url", o.url},
         {"model", o.model},
         {"api", api_path(o.api)},
         {"stream", o.stream},
         {"mode", o.rate > 0 ? "open" : "closed"},
         {"concurrency", o.concurrency},
         {"requests", o.requests},
         {"duration_s", o.duration_s},
         {"rate", o.rate},
         {"arrival", o.arrival == Arrival::kPoisson ? "poisson" : "constant"},
         {"max_inflight", o.max_inflight},
         {"sweep", o.sweep},
         {"threads", o.threads},
         {"timeout_s", o.timeout_s},
         {"warmup", o.warmup},
         {"prompts_file", o.prompts_file},
         {"input_tokens", o.input_tokens.describe()},
         {"output_tokens", o.output_tokens.describe()},
         {"seed", o.seed},
         {"ignore_eos", o.ignore_eos},
         {"slo_ttft_ms", o.slo_ttft_ms},
         {"slo_latency_ms", o.slo_latency_ms}};
  if (!o.compare_url.empty()) j["compare_url"] = o.compare_url;
  if (rep.tokens_per_word > 0) j["tokens_per_word"] = rep.tokens_per_word;
  return j;  // the API key is never written
}
}  // namespace

std::string json_report(const Report& rep) {
  json j{{"tool", "paddock bench"},
         {"version", PADDOCK_VERSION},
         {"started", rep.started},
         {"options", options_json(rep.opts, rep)}};
  json runs = json::array();
  for (const RunReport& r : rep.runs) runs.push_back(run_json(r));
  j["runs"] = runs;
  if (rep.compare) {
    json ratios = json::array();
    for (size_t i = 0; i + 1 < rep.runs.size(); i += 2) {
      const Summary &a = rep.runs[i].summary, &b = rep.runs[i + 1].summary;
      auto r = [](double x, double y) { return y > 0 ? json(x / y) : json(nullptr); };
      ratios.push_back({{"load", rep.runs[i].load},
                        {"req_per_s", r(b.req_per_s, a.req_per_s)},
                        {"output_tok_per_s", r(b.out_tok_per_s, a.out_tok_per_s)},
                        {"ttft_p50", r(b.ttft.p50, a.ttft.p50)},
                        {"ttft_p99", r(b.ttft.p99, a.ttft.p99)},
                        {"itl_p50", r(b.itl.p50, a.itl.p50)},
                        {"latency_p50", r(b.latency.p50, a.latency.p50)},
                        {"latency_p99", r(b.latency.p99, a.latency.p99)}});
    }
    j["compare"] = {{"a", rep.opts.url}, {"b", rep.opts.compare_url}, {"ratios_b_over_a", ratios}};
  }
  return j.dump(1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace paddock::bench
