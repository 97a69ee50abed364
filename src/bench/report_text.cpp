// bench/report_text: the tables printed on stdout.
#include <fmt/format.h>

#include "bench/report.h"

namespace paddock::bench {

namespace {
std::string ms(double s) { return fmt::format("{:.1f}", s * 1e3); }

std::string dist_row(const char* name, const Dist& d) {
  if (d.n == 0) return fmt::format("  {:<12}{:>10}\n", name, "-");
  return fmt::format("  {:<12}{:>10}{:>10}{:>10}{:>10}{:>10}\n", name, ms(d.mean), ms(d.p50), ms(d.p90), ms(d.p99),
                     ms(d.max));
}

std::string ratio(double b, double a) { return a > 0 ? fmt::format("{:.2f}x", b / a) : "-"; }
}  // namespace

std::string RunReport::load_label() const {
  return open_loop ? fmt::format("rate {:g}/s", load) : fmt::format("concurrency {:g}", load);
}

std::string text_run(const RunReport& r, const Options& o) {
  const Summary& s = r.summary;
  std::string t =
      fmt::format("{} {} model {}, {}{}, {}\n", r.target, api_path(o.api), r.model,
                  o.stream ? "streaming" : "not streaming", r.data.interrupted ? " (interrupted)" : "", r.load_label());
  t += fmt::format("  requests    {} ok, {} failed in {:.2f} s\n", s.ok, s.failed, s.elapsed);
  t += fmt::format("  throughput  {:.2f} req/s, output {:.1f} tok/s, total {:.1f} tok/s\n", s.req_per_s,
                   s.out_tok_per_s, s.total_tok_per_s);
  t += fmt::format("  tokens      in {:.1f}, out {:.1f} per request ({})\n", s.mean_in, s.mean_out,
                   s.server_counts ? "server's counts" : "server gave no counts: out = stream events, in = 0");
  t += fmt::format("  {:<12}{:>10}{:>10}{:>10}{:>10}{:>10}\n", "ms", "mean", "p50", "p90", "p99", "max");
  t += dist_row("TTFT", s.ttft);
  t += dist_row("ITL", s.itl);
  t += dist_row("TPOT", s.tpot);
  t += dist_row("latency", s.latency);
  if (o.slo_ttft_ms > 0 || o.slo_latency_ms > 0) {
    std::string slo;
    if (o.slo_ttft_ms > 0) slo += fmt::format("TTFT <= {:g} ms", o.slo_ttft_ms);
    if (o.slo_latency_ms > 0) slo += fmt::format("{}latency <= {:g} ms", slo.empty() ? "" : ", ", o.slo_latency_ms);
    t += fmt::format("  goodput     {} of {} ({:.1f}%) within {}: {:.2f} req/s\n", s.good, s.requests,
                     s.requests ? 100.0 * static_cast<double>(s.good) / static_cast<double>(s.requests) : 0.0, slo,
                     s.goodput);
  }
  if (r.open_loop)
    t += fmt::format(
        "  schedule    target {:g} req/s, sent {:.1f} req/s; {} late (> {:g} ms), send lag p99 {} ms, max {} ms\n",
        r.load, s.send_rate, s.late, o.late_threshold_ms, ms(s.lag_p99), ms(s.lag_max));
  if (!s.errors.empty()) {
    t += "  errors     ";
    for (auto& [k, n] : s.errors) t += fmt::format(" {}: {};", k, n);
    t.back() = '\n';
    for (auto& [k, msg] : r.data.error_examples)
      if (s.errors.count(k)) t += fmt::format("    {}: {}\n", k, msg.substr(0, 200));
  }
  return t;
}

std::string text_sweep(const Report& rep) {
  std::string t = fmt::format("{:<34}{:>16}{:>9}{:>9}{:>11}{:>10}{:>10}{:>10}{:>10}{:>8}\n", "target", "load", "ok",
                              "req/s", "out tok/s", "TTFT p50", "TTFT p99", "lat p50", "lat p99", "failed");
  for (const RunReport& r : rep.runs) {
    const Summary& s = r.summary;
    t += fmt::format("{:<34}{:>16}{:>9}{:>9.2f}{:>11.1f}{:>10}{:>10}{:>10}{:>10}{:>8}\n", r.target.substr(0, 33),
                     r.load_label(), s.ok, s.req_per_s, s.out_tok_per_s, ms(s.ttft.p50), ms(s.ttft.p99),
                     ms(s.latency.p50), ms(s.latency.p99), s.failed);
  }
  return t + "(times in ms)\n";
}

std::string text_compare(const Report& rep) {
  std::string t = fmt::format("ratios B / A (A = {}, B = {})\n", rep.opts.url, rep.opts.compare_url);
  t += fmt::format("{:<16}{:>9}{:>11}{:>10}{:>10}{:>10}{:>10}{:>10}\n", "load", "req/s", "out tok/s", "TTFT p50",
                   "TTFT p99", "ITL p50", "lat p50", "lat p99");
  for (size_t i = 0; i + 1 < rep.runs.size(); i += 2) {
    const Summary &a = rep.runs[i].summary, &b = rep.runs[i + 1].summary;
    t += fmt::format("{:<16}{:>9}{:>11}{:>10}{:>10}{:>10}{:>10}{:>10}\n", rep.runs[i].load_label(),
                     ratio(b.req_per_s, a.req_per_s), ratio(b.out_tok_per_s, a.out_tok_per_s),
                     ratio(b.ttft.p50, a.ttft.p50), ratio(b.ttft.p99, a.ttft.p99), ratio(b.itl.p50, a.itl.p50),
                     ratio(b.latency.p50, a.latency.p50), ratio(b.latency.p99, a.latency.p99));
  }
  return t;
}

}  // namespace paddock::bench
