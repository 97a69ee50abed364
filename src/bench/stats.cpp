// bench/stats: percentiles and the run summary.
#include "bench/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace paddock::bench {

void RunData::merge(RunData&& o) {
  samples.insert(samples.end(), std::make_move_iterator(o.samples.begin()), std::make_move_iterator(o.samples.end()));
  itls.insert(itls.end(), o.itls.begin(), o.itls.end());
  auto add = [](std::vector<uint32_t>& a, const std::vector<uint32_t>& b) {
    if (a.size() < b.size()) a.resize(b.size());
    for (size_t i = 0; i < b.size(); ++i) a[i] += b[i];
  };
  add(bucket_done, o.bucket_done);
  add(bucket_tokens, o.bucket_tokens);
  for (auto& [k, v] : o.error_examples) error_examples.emplace(k, v);
  elapsed = std::max(elapsed, o.elapsed);
}

double percentile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double rank = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (rank - static_cast<double>(lo));
}

Dist distribution(std::vector<double> v) {
  Dist d;
  d.n = v.size();
  if (v.empty()) return d;
  d.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  d.p50 = percentile(v, 0.50);  // sorts once; the others reuse the order
  d.p90 = percentile(v, 0.90);
  d.p99 = percentile(v, 0.99);
  d.max = v.back();
  return d;
}

Summary summarize(const RunData& d, const Objectives& obj, double late_threshold_s) {
  Summary s;
  s.requests = d.samples.size();
  s.elapsed = d.elapsed;
  std::vector<double> ttft, tpot, lat, lag;
  double in_sum = 0, out_sum = 0;
  double first_sent = 1e300, last_sent = 0;
  for (const Sample& x : d.samples) {
    first_sent = std::min(first_sent, x.sent);
    last_sent = std::max(last_sent, x.sent);
    const double l = x.sent - x.scheduled;
    lag.push_back(l);
    if (l > late_threshold_s) ++s.late;
    if (!x.ok()) {
      ++s.failed;
      ++s.errors[x.error];
      continue;
    }
    ++s.ok;
    const int out = x.out_tokens >= 0 ? x.out_tokens : x.events;
    if (x.out_tokens < 0 || x.in_tokens < 0) s.server_counts = false;
    in_sum += std::max(x.in_tokens, 0);
    out_sum += out;
    lat.push_back(x.latency);
    if (x.ttft >= 0) {
      ttft.push_back(x.ttft);
      if (out > 1) tpot.push_back((x.latency - x.ttft) / (out - 1));
    }
    const bool good = (obj.ttft_s <= 0 || (x.ttft >= 0 ? x.ttft : x.latency) <= obj.ttft_s) &&
                      (obj.latency_s <= 0 || x.latency <= obj.latency_s);
    if (good) ++s.good;
  }
  if (s.ok) {
    s.mean_in = in_sum / static_cast<double>(s.ok);
    s.mean_out = out_sum / static_cast<double>(s.ok);
  }
  if (s.elapsed > 0) {
    s.req_per_s = static_cast<double>(s.ok) / s.elapsed;
    s.out_tok_per_s = out_sum / s.elapsed;
    s.total_tok_per_s = (in_sum + out_sum) / s.elapsed;
    s.goodput = static_cast<double>(s.good) / s.elapsed;
  }
  s.ttft = distribution(std::move(ttft));
  s.tpot = distribution(std::move(tpot));
  s.latency = distribution(std::move(lat));
  s.itl = distribution(std::vector<double>(d.itls.begin(), d.itls.end()));
  if (s.requests > 1 && last_sent > first_sent)
    s.send_rate = static_cast<double>(s.requests - 1) / (last_sent - first_sent);
  s.lag_p99 = percentile(lag, 0.99);
  s.lag_max = lag.empty() ? 0 : lag.back();
  return s;
}

}  // namespace paddock::bench
