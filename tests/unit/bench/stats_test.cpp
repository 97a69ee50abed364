// bench/stats: percentiles against hand-computed values, and the summary's counts (goodput,
// errors by kind, late sends, token rates) on hand-made samples.
#include "bench/stats.h"

#include <gtest/gtest.h>

namespace paddock::bench {
namespace {

TEST(Percentile, LinearInterpolationBetweenOrderStatistics) {
  std::vector<double> v{10, 1, 9, 2, 8, 3, 7, 4, 6, 5};  // 1..10 shuffled
  // rank q·(n−1): p50 → 4.5 → between 5 and 6; p90 → 8.1 → 9.1; p99 → 8.91 → 9.91.
  EXPECT_DOUBLE_EQ(percentile(v, 0.5), 5.5);
  EXPECT_DOUBLE_EQ(percentile(v, 0.9), 9.1);
  EXPECT_NEAR(percentile(v, 0.99), 9.91, 1e-12);
  EXPECT_DOUBLE_EQ(percentile(v, 0.0), 1);
  EXPECT_DOUBLE_EQ(percentile(v, 1.0), 10);
  std::vector<double> one{42};
  EXPECT_DOUBLE_EQ(percentile(one, 0.99), 42);
  std::vector<double> none;
  EXPECT_DOUBLE_EQ(percentile(none, 0.5), 0);
}

TEST(Distribution, MeanAndMax) {
  std::vector<double> v;
  for (int i = 1; i <= 100; ++i) v.push_back(i);
  Dist d = distribution(v);
  EXPECT_EQ(d.n, 100u);
  EXPECT_DOUBLE_EQ(d.mean, 50.5);
  EXPECT_DOUBLE_EQ(d.p50, 50.5);
  EXPECT_NEAR(d.p90, 90.1, 1e-12);
  EXPECT_NEAR(d.p99, 99.01, 1e-12);
  EXPECT_DOUBLE_EQ(d.max, 100);
}

Sample ok_sample(double sent, double ttft, double latency, int in, int out) {
  Sample s;
  s.scheduled = s.sent = sent;
  s.ttft = ttft;
  s.latency = latency;
  s.in_tokens = in;
  s.out_tokens = out;
  s.events = out;
  return s;
}

TEST(Summary, GoodputErrorsAndRates) {
  RunData d;
  d.elapsed = 2.0;
  d.samples.push_back(ok_sample(0.0, 0.05, 0.5, 100, 10));  // good under both
  d.samples.push_back(ok_sample(0.1, 0.20, 0.6, 100, 10));  // TTFT over 0.1
  d.samples.push_back(ok_sample(0.2, 0.05, 1.5, 100, 10));  // latency over 1.0
  d.samples.push_back(ok_sample(0.3, 0.09, 0.9, 100, 10));  // good
  Sample bad;
  bad.error = "http_503";
  d.samples.push_back(bad);
  bad.error = "timeout";
  d.samples.push_back(bad);
  d.samples.push_back(bad);
  Summary s = summarize(d, {0.1, 1.0}, 0.001);
  EXPECT_EQ(s.requests, 7u);
  EXPECT_EQ(s.ok, 4u);
  EXPECT_EQ(s.failed, 3u);
  EXPECT_EQ(s.good, 2u);
  EXPECT_DOUBLE_EQ(s.goodput, 1.0);
  EXPECT_DOUBLE_EQ(s.req_per_s, 2.0);
  EXPECT_DOUBLE_EQ(s.out_tok_per_s, 20.0);
  EXPECT_DOUBLE_EQ(s.total_tok_per_s, 220.0);
  EXPECT_EQ(s.errors.at("http_503"), 1u);
  EXPECT_EQ(s.errors.at("timeout"), 2u);
  EXPECT_TRUE(s.server_counts);
  // TPOT of the first: (0.5 − 0.05) / 9.
  EXPECT_EQ(s.tpot.n, 4u);
  EXPECT_NEAR(s.tpot.max, (1.5 - 0.05) / 9, 1e-12);
  // Only the TTFT objective: 3 of 4 are within it.
  EXPECT_EQ(summarize(d, {0.1, 0}, 0.001).good, 3u);
  EXPECT_EQ(summarize(d, {0, 0}, 0.001).good, 4u);
}

TEST(Summary, LateSendsAndSendRate) {
  RunData d;
  d.elapsed = 1;
  for (int i = 0; i < 11; ++i) {
    Sample s = ok_sample(0, -1, 0.01, 1, 1);
    s.scheduled = i * 0.1;
    s.sent = s.scheduled + (i == 3 ? 0.005 : i == 7 ? 0.02 : 0.0001);
    d.samples.push_back(s);
  }
  Summary s = summarize(d, {}, 0.001);
  EXPECT_EQ(s.late, 2u);
  EXPECT_NEAR(s.lag_max, 0.02, 1e-12);
  EXPECT_NEAR(s.send_rate, 10.0, 1e-6);  // 10 gaps over 1 s
  EXPECT_EQ(s.ttft.n, 0u);               // not streamed: no TTFT
}

TEST(Summary, MissingServerCountsFallBackToEvents) {
  RunData d;
  d.elapsed = 1;
  Sample s = ok_sample(0, 0.1, 0.2, -1, -1);
  s.events = 7;
  d.samples.push_back(s);
  Summary m = summarize(d, {}, 0.001);
  EXPECT_FALSE(m.server_counts);
  EXPECT_DOUBLE_EQ(m.mean_out, 7);
  EXPECT_DOUBLE_EQ(m.mean_in, 0);
}

TEST(RunData, MergeAddsBucketsAndKeepsLongestElapsed) {
  RunData a, b;
  a.bucket_tokens = {1, 2};
  b.bucket_tokens = {10, 20, 30};
  a.elapsed = 1;
  b.elapsed = 3;
  b.samples.resize(2);
  a.merge(std::move(b));
  EXPECT_EQ(a.bucket_tokens, (std::vector<uint32_t>{11, 22, 30}));
  EXPECT_EQ(a.elapsed, 3);
  EXPECT_EQ(a.samples.size(), 2u);
}

}  // namespace
}  // namespace paddock::bench
