// Sampler stages on hand-computed distributions (no model), in the manner of llama.cpp's
// tests/test-sampling.cpp: every expected value is derived in the comment beside it.
#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace paddock::engine {
namespace {

std::vector<Candidate> from_probs(std::vector<float> probs) {
  std::vector<Candidate> c;
  for (size_t i = 0; i < probs.size(); ++i) c.push_back({static_cast<int32_t>(i), std::log(probs[i]), 0.0f});
  return c;
}

// After the stage, renormalize and compare (id order: descending probability).
void expect_probs(std::vector<Candidate> c, std::vector<std::pair<int32_t, float>> want) {
  Sampler::softmax(c);
  ASSERT_EQ(c.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(c[i].id, want[i].first) << i;
    EXPECT_NEAR(c[i].p, want[i].second, 1e-5) << i;
  }
}

TEST(Sampler, TopK) {
  auto c = from_probs({0.1f, 0.2f, 0.3f, 0.4f});
  Sampler::top_k(c, 1);
  expect_probs(c, {{3, 1.0f}});
  c = from_probs({0.1f, 0.2f, 0.3f, 0.4f});
  Sampler::top_k(c, 3);  // 0.4, 0.3, 0.2 renormalized by 0.9
  expect_probs(c, {{3, 4 / 9.f}, {2, 3 / 9.f}, {1, 2 / 9.f}});
  c = from_probs({0.1f, 0.2f, 0.3f, 0.4f});
  Sampler::top_k(c, 0);  // off
  expect_probs(c, {{3, .4f}, {2, .3f}, {1, .2f}, {0, .1f}});
  Sampler::top_k(c, 9);  // k > n: no-op
  EXPECT_EQ(c.size(), 4u);
}

TEST(Sampler, TopP) {
  auto c = from_probs({0.1f, 0.2f, 0.3f, 0.4f});
  Sampler::top_p(c, 0.0f);  // the first token already reaches 0
  expect_probs(c, {{3, 1.0f}});
  c = from_probs({0.1f, 0.2f, 0.3f, 0.4f});
  Sampler::top_p(c, 0.6f);  // cum 0.4 < 0.6, 0.7 >= 0.6: keep two, /0.7
  expect_probs(c, {{3, 4 / 7.f}, {2, 3 / 7.f}});
  c = from_probs({0.1f, 0.2f, 0.3f, 0.4f});
  Sampler::top_p(c, 0.8f);  // 0.9 >= 0.8: keep three
  expect_probs(c, {{3, 4 / 9.f}, {2, 3 / 9.f}, {1, 2 / 9.f}});
  c = from_probs({0.1f, 0.2f, 0.3f, 0.4f});
  Sampler::top_p(c, 1.0f);  // off
  EXPECT_EQ(c.size(), 4u);
}

TEST(Sampler, MinP) {
  auto c = from_probs({0.1f, 0.2f, 0.3f, 0.4f});
  Sampler::min_p(c, 0.76f);  // threshold 0.76 * 0.4 = 0.304: only 0.4 stays
  expect_probs(c, {{3, 1.0f}});
  c = from_probs({0.1f, 0.2f, 0.3f, 0.4f});
  Sampler::min_p(c, 0.74f);  // threshold 0.296: 0.4 and 0.3
  expect_probs(c, {{3, 4 / 7.f}, {2, 3 / 7.f}});
  c = from_probs({0.1f, 0.2f, 0.3f, 0.4f});
  Sampler::min_p(c, 0.24f);  // threshold 0.096: all four
  expect_probs(c, {{3, .4f}, {2, .3f}, {1, .2f}, {0, .1f}});
}

TEST(Sampler, Typical) {
  // H = -(0.97 ln 0.97 + 3 * 0.01 ln 0.01) = 0.1677; |-ln p - H| is 0.137 for 0.97 and 4.44 for
  // 0.01, so 0.97 comes first and alone exceeds 0.5.
  auto c = from_probs({0.97f, 0.01f, 0.01f, 0.01f});
  Sampler::typical(c, 0.5f);
  expect_probs(c, {{0, 1.0f}});
  // H = -(0.4 ln 0.4 + 3 * 0.2 ln 0.2) = 1.3322; distances 0.416 (0.4) and 0.277 (each 0.2):
  // the three 0.2 tokens come first, cum 0.2, 0.4, 0.6 > 0.5 after three.
  c = from_probs({0.4f, 0.2f, 0.2f, 0.2f});
  Sampler::typical(c, 0.5f);
  expect_probs(c, {{1, 1 / 3.f}, {2, 1 / 3.f}, {3, 1 / 3.f}});
  c = from_probs({0.4f, 0.2f, 0.2f, 0.2f});
  Sampler::typical(c, 1.0f);  // off
  EXPECT_EQ(c.size(), 4u);
}

TEST(Sampler, Temperature) {
  auto c = from_probs({0.1f, 0.2f, 0.3f, 0.4f});
  Sampler::temperature(c, 0.5f);  // p^(1/0.5) = p^2: 0.01 0.04 0.09 0.16, sum 0.30
  expect_probs(c, {{3, .16f / .3f}, {2, .09f / .3f}, {1, .04f / .3f}, {0, .01f / .3f}});
}

TEST(Sampler, Penalties) {
  std::vector<Candidate> c = {{0, 2.0f, 0}, {1, -1.0f, 0}, {2, 0.5f, 0}, {3, 1.0f, 0}, {4, 0.0f, 0}};
  std::vector<int32_t> window = {0, 0, 1, 3};
  Sampler::penalize(c, window, 2.0f, 0.1f, 0.3f);
  EXPECT_FLOAT_EQ(c[0].logit, 2.0f / 2 - 2 * 0.1f - 0.3f);   // positive: divided; seen twice
  EXPECT_FLOAT_EQ(c[1].logit, -1.0f * 2 - 1 * 0.1f - 0.3f);  // negative: multiplied
  EXPECT_FLOAT_EQ(c[2].logit, 0.5f);                          // not in the window
  EXPECT_FLOAT_EQ(c[3].logit, 1.0f / 2 - 0.1f - 0.3f);
  EXPECT_FLOAT_EQ(c[4].logit, 0.0f);
}

TEST(Sampler, Draw) {
  std::vector<Candidate> c = {{7, 0, 0.5f}, {8, 0, 0.3f}, {9, 0, 0.2f}};
  EXPECT_EQ(Sampler::draw(c, 0.0), 0u);
  EXPECT_EQ(Sampler::draw(c, 0.49), 0u);
  EXPECT_EQ(Sampler::draw(c, 0.51), 1u);
  EXPECT_EQ(Sampler::draw(c, 0.79), 1u);
  EXPECT_EQ(Sampler::draw(c, 0.81), 2u);
  EXPECT_EQ(Sampler::draw(c, 0.999999), 2u);
  EXPECT_EQ(Sampler::draw(c, 1.5), 2u);  // rounding overshoot: last token with probability
}

SamplingOptions plain(float temperature) {
  SamplingOptions o;
  o.temperature = temperature;
  o.top_k = 0;
  o.top_p = 1.0f;
  o.seed = 42;
  return o;
}

TEST(Sampler, GreedyWithBiasAndPenalty) {
  std::vector<float> logits = {1.0f, 3.0f, 2.9f, -1.0f};
  std::vector<int32_t> hist;
  Sampler g(plain(0), 4, 64);
  EXPECT_EQ(g.sample(logits, hist), 1);
  auto o = plain(0);
  o.logit_bias = {{1, -0.2f}};  // 2.8 < 2.9
  Sampler b(o, 4, 64);
  EXPECT_EQ(b.sample(logits, hist), 2);
  o = plain(0);
  o.repeat_penalty = 1.5f;  // token 1 seen: 3 / 1.5 = 2 < 2.9
  Sampler p(o, 4, 64);
  hist = {1};
  EXPECT_EQ(p.sample(logits, hist), 2);
  o.repeat_last_n = 0;  // penalties off
  Sampler p0(o, 4, 64);
  EXPECT_EQ(p0.sample(logits, hist), 1);
  // Window: only the last repeat_last_n tokens count.
  o.repeat_last_n = 1;
  Sampler p1(o, 4, 64);
  hist = {1, 0};
  EXPECT_EQ(p1.sample(logits, hist), 1);
  std::vector<float> ties = {0.5f, 2.0f, 2.0f};
  EXPECT_EQ(Sampler(plain(0), 3, 8).sample(ties, {}), 1);  // tie: lowest id
}

TEST(Sampler, DrawsFollowTheDistribution) {
  // logits ln(0.1..0.4) at temperature 1 -> p = 0.1..0.4; at 0.5 -> p^2/0.3.
  std::vector<float> logits = {std::log(0.1f), std::log(0.2f), std::log(0.3f), std::log(0.4f)};
  for (float t : {1.0f, 0.5f}) {
    Sampler s(plain(t), 4, 64);
    std::vector<int> count(4, 0);
    const int n = 40000;
    for (int i = 0; i < n; ++i) count[s.sample(logits, {})]++;
    double z = 0;
    for (int i = 0; i < 4; ++i) z += std::pow((i + 1) * 0.1, 1 / t);
    for (int i = 0; i < 4; ++i) {
      double want = std::pow((i + 1) * 0.1, 1 / t) / z;
      EXPECT_NEAR(count[i] / double(n), want, 0.01) << "t=" << t << " token " << i;
    }
  }
}

TEST(Sampler, SeedReproducible) {
  std::vector<float> logits(1000, 0.0f);  // uniform over 1000 tokens
  auto run = [&](int64_t seed) {
    auto o = plain(1.0f);
    o.seed = seed;
    Sampler s(o, 1000, 64);
    std::vector<int32_t> out;
    for (int i = 0; i < 50; ++i) out.push_back(s.sample(logits, out));
    return out;
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
}

TEST(Sampler, Logprobs) {
  // logits ln(1..4): p = k/10.
  std::vector<float> logits = {0.0f, std::log(2.0f), std::log(3.0f), std::log(4.0f)};
  std::vector<std::pair<int32_t, float>> out;
  compute_logprobs(logits, 1, 2, out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].first, 1);
  EXPECT_NEAR(out[0].second, std::log(0.2), 1e-6);
  EXPECT_EQ(out[1].first, 3);
  EXPECT_NEAR(out[1].second, std::log(0.4), 1e-6);
  EXPECT_EQ(out[2].first, 2);
  EXPECT_NEAR(out[2].second, std::log(0.3), 1e-6);
  compute_logprobs(logits, 0, 20, out);  // more alternatives than tokens
  EXPECT_EQ(out.size(), 5u);
}

TEST(Sampler, Validation) {
  EXPECT_TRUE(validate_sampling(SamplingOptions{}, 10).ok());
  auto bad = [](auto mutate) {
    SamplingOptions o;
    mutate(o);
    auto st = validate_sampling(o, 10);
    return !st.ok() && st.error().code() == ErrorCode::kInvalidArgument;
  };
  EXPECT_TRUE(bad([](SamplingOptions& o) { o.temperature = NAN; }));
  EXPECT_TRUE(bad([](SamplingOptions& o) { o.temperature = INFINITY; }));
  EXPECT_TRUE(bad([](SamplingOptions& o) { o.temperature = -INFINITY; }));
  EXPECT_TRUE(bad([](SamplingOptions& o) { o.temperature = -1; }));
  EXPECT_TRUE(bad([](SamplingOptions& o) { o.top_k = -1; }));
  EXPECT_TRUE(bad([](SamplingOptions& o) { o.top_p = 1.5f; }));
  EXPECT_TRUE(bad([](SamplingOptions& o) { o.top_p = -0.1f; }));
  EXPECT_TRUE(bad([](SamplingOptions& o) { o.min_p = 2; }));
  EXPECT_TRUE(bad([](SamplingOptions& o) { o.typical_p = NAN; }));
  EXPECT_TRUE(bad([](SamplingOptions& o) { o.repeat_penalty = 0; }));
  EXPECT_TRUE(bad([](SamplingOptions& o) { o.presence_penalty = INFINITY; }));
  EXPECT_TRUE(bad([](SamplingOptions& o) { o.frequency_penalty = NAN; }));
  EXPECT_TRUE(bad([](SamplingOptions& o) { o.repeat_last_n = -2; }));
  EXPECT_TRUE(bad([](SamplingOptions& o) { o.logit_bias = {{10, 1.0f}}; }));
  EXPECT_TRUE(bad([](SamplingOptions& o) { o.logit_bias = {{-1, 1.0f}}; }));
  EXPECT_TRUE(bad([](SamplingOptions& o) { o.logit_bias = {{1, NAN}}; }));
  EXPECT_FALSE(bad([](SamplingOptions& o) { o.logit_bias = {{1, -INFINITY}}; }));  // ban a token
  EXPECT_FALSE(bad([](SamplingOptions& o) { o.temperature = 0; }));
}

// The straightforward chain over the whole vocabulary, built from the public stages: sample()
// (sparse adjustments, heap top-k) must pick exactly the same tokens.
int32_t reference_sample(const SamplingOptions& o, std::span<const float> logits, std::span<const int32_t> history,
                         std::mt19937_64& rng) {
  std::vector<Candidate> c;
  for (size_t i = 0; i < logits.size(); ++i)
    c.push_back({static_cast<int32_t>(i), std::isnan(logits[i]) ? -INFINITY : logits[i], 0.0f});
  for (const auto& [id, bias] : o.logit_bias) c[id].logit += bias;
  size_t n = o.repeat_last_n < 0 ? history.size() : std::min<size_t>(o.repeat_last_n, history.size());
  Sampler::penalize(c, history.subspan(history.size() - n), o.repeat_penalty, o.frequency_penalty,
                    o.presence_penalty);
  if (o.temperature <= 0) {
    Sampler::softmax(c);  // sorts by logit, ties by id
    return c[0].id;
  }
  Sampler::top_k(c, o.top_k);
  Sampler::typical(c, o.typical_p);
  Sampler::top_p(c, o.top_p);
  Sampler::min_p(c, o.min_p);
  Sampler::temperature(c, o.temperature);
  Sampler::softmax(c);
  double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
  return c[Sampler::draw(c, u)].id;
}

TEST(Sampler, MatchesTheFullVocabularyChain) {
  std::mt19937 gen(99);
  std::uniform_real_distribution<float> logit(-4.0f, 4.0f);
  for (int trial = 0; trial < 300; ++trial) {
    const int32_t v = trial % 3 == 0 ? 3000 : 300;  // 3000: top_p must grow its sorted head
    SamplingOptions o;
    o.temperature = std::vector<float>{0.0f, 0.5f, 1.2f}[gen() % 3];
    o.top_k = std::vector<int32_t>{0, 1, 5, 40, 299, 300, 1000}[gen() % 7];
    o.top_p = std::vector<float>{1.0f, 0.9f, 0.5f}[gen() % 3];
    o.min_p = std::vector<float>{0.0f, 0.05f}[gen() % 2];
    o.typical_p = std::vector<float>{1.0f, 0.7f}[gen() % 2];
    o.repeat_penalty = std::vector<float>{1.0f, 1.3f}[gen() % 2];
    o.frequency_penalty = std::vector<float>{0.0f, 0.2f}[gen() % 2];
    o.presence_penalty = std::vector<float>{0.0f, -0.5f}[gen() % 2];
    o.repeat_last_n = std::vector<int32_t>{0, 8, 64, -1}[gen() % 4];
    if (gen() % 2) o.logit_bias = {{static_cast<int32_t>(gen() % v), 3.0f}, {7, -INFINITY}, {7, 1.0f}};
    o.seed = trial;
    Sampler s(o, v, 1 << 20);
    std::mt19937_64 rng(trial);
    std::vector<float> l(v);
    std::vector<int32_t> hist;
    for (int i = 0; i < 30; ++i) hist.push_back(gen() % 20);
    for (int step = 0; step < 20; ++step) {
      for (float& x : l) x = logit(gen);
      l[gen() % v] = l[gen() % v];  // exact ties happen with real logits too
      if (trial % 10 == 1) l[gen() % v] = NAN;
      if (trial % 10 == 2) l[gen() % v] = -INFINITY;
      int32_t want = reference_sample(o, l, hist, rng);
      int32_t got = s.sample(l, hist);
      ASSERT_EQ(got, want) << "trial " << trial << " step " << step;
      hist.push_back(got);
    }
  }
}

TEST(Sampler, BannedEverythingStillReturnsAToken) {
  auto o = plain(1.0f);
  o.logit_bias = {{0, -INFINITY}, {1, -INFINITY}};
  Sampler s(o, 2, 8);
  int32_t t = s.sample(std::vector<float>{1.0f, 2.0f}, {});
  EXPECT_TRUE(t == 0 || t == 1);
  std::vector<float> nan_logits = {NAN, 1.0f};
  EXPECT_EQ(Sampler(plain(0), 2, 8).sample(nan_logits, {}), 1);
}

}  // namespace
}  // namespace paddock::engine
