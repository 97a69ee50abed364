// bench/report: what a benchmark prints and writes — the text table (one per run, a sweep table,
// comparison ratios), the JSON report and the self-contained HTML report (inline SVG charts).
#pragma once
#include <string>
#include <vector>

#include "bench/bench.h"
#include "bench/stats.h"

namespace paddock::bench {

struct RunReport {
  std::string target;  // endpoint URL
  std::string model;
  bool open_loop = false;
  double load = 0;  // concurrency (closed loop) or rate (open loop)
  RunData data;
  Summary summary;
  std::string load_label() const;  // "concurrency 8", "rate 500/s"
};

struct Report {
  Options opts;
  std::string started;          // UTC, ISO 8601
  std::vector<RunReport> runs;  // sweep order; with --compare, each point's A then B
  bool compare = false;
  double tokens_per_word = 0;  // calibration result (0 = not calibrated)
};

// The table for one run.
std::string text_run(const RunReport& r, const Options& opts);
// One row per run (after a sweep or a comparison).
std::string text_sweep(const Report& rep);
// Per point: B ÷ A for the headline figures.
std::string text_compare(const Report& rep);

std::string json_report(const Report& rep);
std::string html_report(const Report& rep);

}  // namespace paddock::bench
