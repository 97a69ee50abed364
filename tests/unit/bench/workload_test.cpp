// bench/workload: length distributions, seeded prompts, prompt files and arrival schedules.
#include "bench/workload.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

namespace paddock::bench {
namespace {

TEST(LengthDist, ParseForms) {
  EXPECT_EQ(LengthDist::parse("64")->kind, LengthDist::Kind::kFixed);
  auto u = LengthDist::parse("16-64");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->kind, LengthDist::Kind::kUniform);
  EXPECT_EQ(u->a, 16);
  EXPECT_EQ(u->b, 64);
  EXPECT_EQ(LengthDist::parse("uniform:1:2")->kind, LengthDist::Kind::kUniform);
  EXPECT_EQ(LengthDist::parse("normal:128:32")->kind, LengthDist::Kind::kNormal);
  EXPECT_EQ(LengthDist::parse("exp:100")->kind, LengthDist::Kind::kExponential);
  for (const char* bad : {"", "x", "0", "-5", "64-16", "normal:1", "uniform:1:x", "exp:0", "2000000", "1e400", "nan"})
    EXPECT_FALSE(LengthDist::parse(bad).ok()) << bad;
}

TEST(Rng, DrawsStayInRangeAndRepeatWithTheSeed) {
  const LengthDist u = *LengthDist::parse("16-64");
  Rng a(7), b(7);
  int lo = 1000, hi = 0;
  double sum = 0;
  for (int i = 0; i < 20000; ++i) {
    const int x = a.draw(u);
    ASSERT_EQ(x, b.draw(u));
    lo = std::min(lo, x);
    hi = std::max(hi, x);
    sum += x;
  }
  EXPECT_EQ(lo, 16);
  EXPECT_EQ(hi, 64);
  EXPECT_NEAR(sum / 20000, 40.0, 0.5);
  Rng n(3);
  double s1 = 0, s2 = 0;
  const LengthDist nd = *LengthDist::parse("normal:500:50");
  for (int i = 0; i < 20000; ++i) {
    const double x = n.draw(nd);
    s1 += x;
    s2 += x * x;
  }
  const double mean = s1 / 20000, sd = std::sqrt(s2 / 20000 - mean * mean);
  EXPECT_NEAR(mean, 500, 2);
  EXPECT_NEAR(sd, 50, 2);
}

TEST(Synthetic, LengthsFollowTheCalibration) {
  Rng r(1);
  auto ps = synthetic_prompts(50, *LengthDist::parse("128"), *LengthDist::parse("16-64"), r);
  ASSERT_EQ(ps.size(), 50u);
  for (auto& p : ps) {
    EXPECT_EQ(p.input_words, 128);
    EXPECT_EQ(std::count(p.text.begin(), p.text.end(), ' '), 127);
    EXPECT_GE(p.output_tokens, 16);
    EXPECT_LE(p.output_tokens, 64);
  }
  EXPECT_NE(ps[0].text, ps[1].text);
  Rng r2(1);
  // 2 tokens per word and 20 tokens of template: (128 − 20) / 2 = 54 words.
  auto calibrated = synthetic_prompts(1, *LengthDist::parse("128"), *LengthDist::parse("1"), r2, 2.0, 20.0);
  EXPECT_EQ(calibrated[0].input_words, 54);
}

TEST(Arrivals, ConstantAndPoisson) {
  Rng r(5);
  auto c = arrival_times(1000, 500, Arrival::kConstant, r);
  EXPECT_DOUBLE_EQ(c[0], 0);
  EXPECT_DOUBLE_EQ(c[500], 1.0);
  auto p = arrival_times(100000, 1000, Arrival::kPoisson, r);
  double sum = 0, sum2 = 0;
  for (size_t i = 1; i < p.size(); ++i) {
    const double g = p[i] - p[i - 1];
    ASSERT_GE(g, 0);
    sum += g;
    sum2 += g * g;
  }
  const double n = static_cast<double>(p.size() - 1), mean = sum / n, sd = std::sqrt(sum2 / n - mean * mean);
  EXPECT_NEAR(mean, 1e-3, 2e-5);      // rate within 2%
  EXPECT_NEAR(sd / mean, 1.0, 0.02);  // exponential gaps: coefficient of variation 1
}

std::string write_tmp(const std::string& text) {
  char path[] = "/tmp/paddock-bench-prompts-XXXXXX";
  const int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << text;
  return path;
}

TEST(PromptFile, ReadsPromptsMessagesAndLengths) {
  const std::string path = write_tmp(
      "{\"prompt\":\"a b c\",\"output_tokens\":5}\n\n"
      "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}\n"
      "{\"prompt\":\"x\",\"max_tokens\":9}\n");
  Rng r(1);
  auto ps = load_prompts(path, *LengthDist::parse("33"), r);
  ASSERT_TRUE(ps.ok()) << ps.error().message();
  ASSERT_EQ(ps->size(), 3u);
  EXPECT_EQ((*ps)[0].text, "a b c");
  EXPECT_EQ((*ps)[0].output_tokens, 5);
  EXPECT_EQ((*ps)[1].messages[0]["content"], "hi");
  EXPECT_EQ((*ps)[1].output_tokens, 33);
  EXPECT_EQ((*ps)[2].output_tokens, 9);
  std::remove(path.c_str());
}

TEST(PromptFile, ErrorsNameTheLine) {
  const std::pair<const char*, const char*> cases[] = {
      {"{\"prompt\":\"ok\"}\nnot json\n", "line 2"},
      {"{\"prompt\":1}\n", "line 1: 'prompt' must be a string"},
      {"{\"other\":1}\n", "needs 'prompt' or 'messages'"},
      {"{\"messages\":[]}\n", "non-empty array"},
      {"{\"messages\":[{\"content\":\"x\"}]}\n", "string 'role'"},
      {"{\"prompt\":\"a\",\"output_tokens\":0}\n", "'output_tokens' must be an integer"},
      {"\n\n", "no prompts"},
  };
  for (auto [text, want] : cases) {
    const std::string path = write_tmp(text);
    Rng r(1);
    auto ps = load_prompts(path, *LengthDist::parse("8"), r);
    ASSERT_FALSE(ps.ok()) << text;
    EXPECT_NE(ps.error().message().find(want), std::string::npos) << ps.error().message();
    std::remove(path.c_str());
  }
  Rng r(1);
  EXPECT_FALSE(load_prompts("/nonexistent/prompts.jsonl", *LengthDist::parse("8"), r).ok());
}

}  // namespace
}  // namespace paddock::bench
