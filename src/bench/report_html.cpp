// bench/report_html: one self-contained HTML page — summary tables, latency distributions,
// throughput over time, and for sweeps/comparisons the figures against load. Inline CSS and SVG
// only: no script, no font, no request to anywhere.
#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "bench/report.h"
#include "bench/svg.h"

namespace paddock::bench {

namespace {

constexpr const char* kStyle = R"(
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1a202c;max-width:1200px}
h1{font-size:20px}h2{font-size:17px;margin-top:32px;border-bottom:1px solid #cbd5e0}
table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 10px;text-align:right;border-bottom:1px solid #e2e8f0}
th:first-child,td:first-child{text-align:left}.charts{display:flex;flex-wrap:wrap;gap:12px}
svg{background:#fff;border:1px solid #e2e8f0}svg text{font:11px sans-serif;fill:#2d3748}
svg .t{font-size:13px;font-weight:600}svg .yl{text-anchor:end}svg .xl{text-anchor:middle}
svg .g{stroke:#edf2f7}svg .a{stroke:#718096}svg .b{fill:#4c8bd6}svg .m{stroke:#c53030;stroke-dasharray:4 3}
svg .ml{fill:#c53030}svg .lg{font-size:11px}.err{color:#c53030}.kv td{text-align:left}
)";

std::string ms(double s) { return fmt::format("{:.1f}", s * 1e3); }

std::string dist_rows(const Summary& s) {
  std::string t = "<table><tr><th>ms</th><th>n</th><th>mean</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>";
  const std::pair<const char*, const Dist*> rows[] = {
      {"TTFT", &s.ttft}, {"ITL", &s.itl}, {"TPOT", &s.tpot}, {"latency", &s.latency}};
  for (auto [name, d] : rows)
    t += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", name,
                     d->n, ms(d->mean), ms(d->p50), ms(d->p90), ms(d->p99), ms(d->max));
  return t + "</table>";
}

// Completions and output tokens per second over the run, in at most ~150 points.
std::string timeline(const RunData& d) {
  const size_t n = std::max(d.bucket_done.size(), d.bucket_tokens.size());
  if (n == 0) return "";
  const size_t group = std::max<size_t>(1, (n + 149) / 150);
  const double w = kBucketSeconds * static_cast<double>(group);
  Series req{"requests/s", {}}, tok{"output tokens/s", {}};
  for (size_t i = 0; i < n; i += group) {
    double a = 0, b = 0;
    for (size_t k = i; k < std::min(n, i + group); ++k) {
      a += k < d.bucket_done.size() ? d.bucket_done[k] : 0;
      b += k < d.bucket_tokens.size() ? d.bucket_tokens[k] : 0;
    }
    const double x = (static_cast<double>(i) + static_cast<double>(group) / 2) * kBucketSeconds;
    req.points.emplace_back(x, a / w);
    tok.points.emplace_back(x, b / w);
  }
  return svg_lines({tok}, "Output tokens/s over time", "seconds since start", "tokens/s") +
         svg_lines({req}, "Completed requests/s over time", "seconds since start", "requests/s");
}

std::string run_section(const RunReport& r, const Options& o, size_t index) {
  const Summary& s = r.summary;
  std::string h =
      fmt::format("<h2 id=\"run{}\">{} — {}</h2>", index, html_escape(r.target), html_escape(r.load_label()));
  h += fmt::format(
      "<table class=\"kv\"><tr><th>requests</th><td>{} ok, {} failed{}</td></tr><tr><th>elapsed</th><td>{:.2f} "
      "s</td></tr>"
      "<tr><th>throughput</th><td>{:.2f} req/s, output {:.1f} tok/s, total {:.1f} tok/s</td></tr>"
      "<tr><th>tokens per request</th><td>in {:.1f}, out {:.1f}{}</td></tr>",
      s.ok, s.failed, r.data.interrupted ? " (interrupted)" : "", s.elapsed, s.req_per_s, s.out_tok_per_s,
      s.total_tok_per_s, s.mean_in, s.mean_out,
      s.server_counts ? " (server's counts)" : " (stream events; no server counts)");
  if (o.slo_ttft_ms > 0 || o.slo_latency_ms > 0)
    h += fmt::format("<tr><th>goodput</th><td>{} of {} within the objectives: {:.2f} req/s</td></tr>", s.good,
                     s.requests, s.goodput);
  if (r.open_loop)
    h += fmt::format("<tr><th>schedule</th><td>target {:g} req/s, sent {:.1f} req/s, {} late, lag p99 {} ms</td></tr>",
                     r.load, s.send_rate, s.late, ms(s.lag_p99));
  for (auto& [k, n] : s.errors) {
    auto ex = r.data.error_examples.find(k);
    h += fmt::format("<tr class=\"err\"><th>{}</th><td>{} — {}</td></tr>", html_escape(k), n,
                     html_escape(ex == r.data.error_examples.end() ? "" : ex->second.substr(0, 300)));
  }
  h += "</table>" + dist_rows(s) + "<div class=\"charts\">";
  std::vector<double> ttft, lat;
  for (const Sample& x : r.data.samples) {
    if (!x.ok()) continue;
    if (x.ttft >= 0) ttft.push_back(x.ttft * 1e3);
    lat.push_back(x.latency * 1e3);
  }
  h += svg_histogram(ttft, "Time to first token", "ms", "requests");
  std::vector<double> itl;
  itl.reserve(r.data.itls.size());
  for (float g : r.data.itls) itl.push_back(g * 1e3);
  h += svg_histogram(itl, "Inter-token latency", "ms", "gaps");
  h += svg_histogram(lat, "End-to-end latency", "ms", "requests");
  return h + timeline(r.data) + "</div>";
}

// Figures against load, one series per target.
std::string sweep_section(const Report& rep) {
  std::map<std::string, std::vector<const RunReport*>> by_target;
  for (auto& r : rep.runs) by_target[r.target].push_back(&r);
  const std::string x = rep.runs[0].open_loop ? "target rate (req/s)" : "concurrency";
  auto chart = [&](const std::string& title, const std::string& ylabel, auto&& fn, std::vector<std::string> names) {
    std::vector<Series> ss;
    for (size_t k = 0; k < names.size(); ++k)
      for (auto& [target, runs] : by_target) {
        Series s{names.size() > 1 ? names[k] + " " + target : target, {}};
        for (auto* r : runs) s.points.emplace_back(r->load, fn(r->summary, k));
        ss.push_back(std::move(s));
      }
    return svg_lines(ss, title, x, ylabel);
  };
  std::string h = "<h2>Against load</h2><div class=\"charts\">";
  h += chart("Throughput", "output tokens/s", [](const Summary& s, size_t) { return s.out_tok_per_s; }, {""});
  h += chart("Requests/s", "requests/s", [](const Summary& s, size_t) { return s.req_per_s; }, {""});
  h += chart("Latency", "ms", [](const Summary& s, size_t k) { return (k ? s.latency.p99 : s.latency.p50) * 1e3; },
             {"p50", "p99"});
  h += chart("Time to first token", "ms",
             [](const Summary& s, size_t k) { return (k ? s.ttft.p99 : s.ttft.p50) * 1e3; }, {"p50", "p99"});
  return h + "</div>";
}

}  // namespace

std::string html_report(const Report& rep) {
  const Options& o = rep.opts;
  std::string h = fmt::format(
      "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>paddock bench {}</title><style>{}</style>"
      "</head><body><h1>paddock bench — {}</h1>",
      html_escape(rep.started), kStyle, html_escape(rep.started));
  h += fmt::format(
      "<table class=\"kv\"><tr><th>target</th><td>{}{}</td></tr><tr><th>route</th><td>{} "
      "({})</td></tr><tr><th>model</th><td>{}</td></tr>"
      "<tr><th>load</th><td>{}</td></tr><tr><th>prompts</th><td>{}</td></tr></table>",
      html_escape(o.url), o.compare_url.empty() ? "" : " vs " + html_escape(o.compare_url), api_path(o.api),
      o.stream ? "streaming" : "not streaming", html_escape(o.model),
      o.rate > 0 ? fmt::format("open loop, {} arrivals{}", o.arrival == Arrival::kPoisson ? "Poisson" : "constant",
                               o.max_inflight ? fmt::format(", at most {} in flight", o.max_inflight) : "")
                 : "closed loop",
      html_escape(o.prompts_file.empty() ? fmt::format("synthetic, input {} tokens, output {} tokens, seed {}",
                                                       o.input_tokens.describe(), o.output_tokens.describe(), o.seed)
                                         : o.prompts_file));
  if (rep.runs.size() > 1) {
    h +=
        "<h2>Runs</h2><table><tr><th>target</th><th>load</th><th>ok</th><th>failed</th><th>req/s</th><th>out tok/s</th>"
        "<th>TTFT p50</th><th>TTFT p99</th><th>latency p50</th><th>latency p99</th></tr>";
    for (size_t i = 0; i < rep.runs.size(); ++i) {
      const auto& r = rep.runs[i];
      const Summary& s = r.summary;
      h += fmt::format(
          "<tr><td><a href=\"#run{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{:.2f}</td><td>{:.1f}</td>"
          "<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
          i, html_escape(r.target), html_escape(r.load_label()), s.ok, s.failed, s.req_per_s, s.out_tok_per_s,
          ms(s.ttft.p50), ms(s.ttft.p99), ms(s.latency.p50), ms(s.latency.p99));
    }
    h += "</table>";
    if (rep.compare) h += "<h2>Comparison</h2><pre>" + html_escape(text_compare(rep)) + "</pre>";
    h += sweep_section(rep);
  }
  for (size_t i = 0; i < rep.runs.size(); ++i) h += run_section(rep.runs[i], o, i);
  return h + "</body></html>\n";
}

}  // namespace paddock::bench
