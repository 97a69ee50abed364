// bench/stats: what one run measured (every request, every inter-token gap, a timeline) and the
// summary computed from it — rates, percentiles, goodput under the objectives, errors by kind.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace paddock::bench {

// One request. Times in seconds from the start of the run.
struct Sample {
  double scheduled = 0;  // open loop: its arrival time; closed loop: = sent
  double sent = 0;       // when the generator began it (connection included when it opened one)
  double ttft = -1;      // time to the first token event (streaming only), else -1
  double latency = -1;   // end to end, until the last byte (-1 when it failed)
  int in_tokens = -1;    // the server's counts (-1 when not given)
  int out_tokens = -1;
  int events = 0;       // token events seen in the stream
  float itl_mean = -1;  // mean inter-token gap (s) of this request, -1 with fewer than 2 events
  std::string error;    // kind ("" = ok): connect, tls, timeout, closed, http_503, stream, ...
  bool ok() const { return error.empty(); }
};

// Timeline bucket width (s): counts of completions and token events per bucket.
constexpr double kBucketSeconds = 0.1;

struct RunData {
  std::vector<Sample> samples;
  std::vector<float> itls;  // every inter-token gap of every request (s)
  std::vector<uint32_t> bucket_done, bucket_tokens;
  std::map<std::string, std::string> error_examples;  // kind -> first message seen
  double elapsed = 0;                                 // from the start to the last completion (s)
  bool interrupted = false;                           // stopped early by Ctrl-C
  void merge(RunData&& other);
};

struct Dist {  // of one quantity, in its own unit
  size_t n = 0;
  double mean = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;
};

// Percentile by linear interpolation between order statistics (numpy's default): rank
// q·(n−1) over the sorted values. Sorts `v`.
double percentile(std::vector<double>& v, double q);
Dist distribution(std::vector<double> v);

struct Objectives {
  double ttft_s = 0, latency_s = 0;  // 0 = not set
  bool any() const { return ttft_s > 0 || latency_s > 0; }
};

struct Summary {
  size_t requests = 0, ok = 0, failed = 0;
  double elapsed = 0;
  double req_per_s = 0, out_tok_per_s = 0, total_tok_per_s = 0;
  bool server_counts = true;  // every ok request had the server's token counts
  double mean_in = 0, mean_out = 0;
  Dist ttft, itl, tpot, latency;  // seconds
  size_t good = 0;                // ok and within every objective
  double goodput = 0;             // good / elapsed
  std::map<std::string, size_t> errors;
  // Open loop.
  size_t late = 0;
  double send_rate = 0, lag_p99 = 0, lag_max = 0;
};

Summary summarize(const RunData& d, const Objectives& obj, double late_threshold_s);

}  // namespace paddock::bench
