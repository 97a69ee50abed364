// The sampler under a grammar mask, on a hand-built vocabulary with hand-computed distributions:
// greedy takes the best allowed token, sampling draws from the masked softmax (checked by
// frequency), end-of-generation only when complete, control tokens never, and -1 when nothing of
// the vocabulary can continue.
#include <gtest/gtest.h>

#include <cmath>

#include "grammar/grammar.h"
#include "engine/sampler.h"

namespace paddock::engine {
namespace {

using namespace paddock::grammar;  // what these tests exercise (src/grammar)

using E = GrammarExpr;
using Kind = TokenTrie::Kind;

// Vocabulary: 0 "a", 1 "b", 2 "ab", 3 "c", 4 <eos>, 5 <ctrl>, 6 "ba", 7 "" (empty piece).
const TokenTrie& vocab() {
  static const TokenTrie t({"a", "b", "ab", "c", "", "", "ba", ""},
                           {Kind::kText, Kind::kText, Kind::kText, Kind::kText, Kind::kEndOfGeneration, Kind::kNever,
                            Kind::kText, Kind::kText});
  return t;
}

// (ab)+ then "c"
std::shared_ptr<const Grammar> grammar() {
  GrammarBuilder b;
  uint32_t r = b.rule("root");
  b.define(r, E::seq({E::repeat(E::lit("ab"), 1, E::kUnbounded), E::lit("c")}));
  auto g = b.build(r);
  EXPECT_TRUE(g.ok());
  return *g;
}

TEST(GrammarSampler, MaskFollowsTheGrammar) {
  GrammarMatcher m(grammar());
  std::vector<uint8_t> mask;
  EXPECT_EQ(m.fill_mask(vocab(), mask), 2);  // "a", "ab"
  EXPECT_EQ(mask, (std::vector<uint8_t>{1, 0, 1, 0, 0, 0, 0, 0}));
  ASSERT_TRUE(m.accept("a"));
  m.fill_mask(vocab(), mask);
  EXPECT_EQ(mask, (std::vector<uint8_t>{0, 1, 0, 0, 0, 0, 1, 0}));  // "b", "ba"
  ASSERT_TRUE(m.accept("b"));
  m.fill_mask(vocab(), mask);
  EXPECT_EQ(mask, (std::vector<uint8_t>{1, 0, 1, 1, 0, 0, 0, 0}));
  ASSERT_TRUE(m.accept("c"));
  EXPECT_TRUE(m.is_complete());
  EXPECT_EQ(m.fill_mask(vocab(), mask), 1);  // only <eos>
  EXPECT_EQ(mask[4], 1);
}

TEST(GrammarSampler, GreedyTakesTheBestAllowedToken) {
  GrammarMatcher m(grammar());
  SamplingOptions o;
  o.temperature = 0;
  Sampler s(o, 8, 64);
  s.set_grammar(&m, &vocab(), false);
  //                         a     b    ab    c   eos  ctrl   ba   ""
  std::vector<float> logits{1.0f, 9.f, 2.0f, 8.f, 7.f, 10.f, 6.f, 11.f};
  EXPECT_EQ(s.sample(logits, {}), 2);  // "ab" beats "a"; everything higher is disallowed
  EXPECT_EQ(s.n_full_masks(), 1u);
  // The best token allowed already: no mask needed.
  std::vector<float> easy{1.0f, 0.f, 5.0f, 0.f, 0.f, 0.f, 0.f, 0.f};
  EXPECT_EQ(s.sample(easy, {}), 2);
  EXPECT_EQ(s.n_full_masks(), 1u);
  // The reported distribution is the masked one.
  s.sample(logits, {});
  auto lp = s.last_logits(logits);
  EXPECT_EQ(lp[2], 2.0f);
  EXPECT_TRUE(std::isinf(lp[5]) && lp[5] < 0);
}

TEST(GrammarSampler, SamplingDrawsFromTheMaskedSoftmax) {
  // After "ab": allowed "a" (0), "ab" (2), "c" (3). Logits 0, 1, 2 (and large disallowed ones):
  // masked softmax = e^{0,1,2} / sum.
  GrammarMatcher m(grammar());
  ASSERT_TRUE(m.accept("ab"));
  SamplingOptions o;
  o.temperature = 1.0f;
  o.top_k = 0;
  o.top_p = 1.0f;
  o.seed = 42;
  Sampler s(o, 8, 64);
  s.set_grammar(&m, &vocab(), false);
  std::vector<float> logits{0.0f, 3.0f, 1.0f, 2.0f, 2.5f, 3.0f, 3.0f, 3.0f};
  const int n = 40000;
  std::vector<int> count(8, 0);
  for (int i = 0; i < n; ++i) count[s.sample(logits, {})]++;
  const double z = 1 + std::exp(1.0) + std::exp(2.0);
  const double want[] = {1 / z, std::exp(1.0) / z, std::exp(2.0) / z};
  const int ids[] = {0, 2, 3};
  for (int k = 0; k < 3; ++k) {
    double got = static_cast<double>(count[ids[k]]) / n;
    EXPECT_NEAR(got, want[k], 0.01) << "token " << ids[k];
  }
  EXPECT_EQ(count[1] + count[4] + count[5] + count[6] + count[7], 0);
  // Same seed, same draws.
  Sampler s2(o, 8, 64);
  s2.set_grammar(&m, &vocab(), false);
  std::vector<int> a, b;
  Sampler s4(o, 8, 64);
  s4.set_grammar(&m, &vocab(), false);
  for (int i = 0; i < 50; ++i) {
    a.push_back(s2.sample(logits, {}));
    b.push_back(s4.sample(logits, {}));
  }
  EXPECT_EQ(a, b);
}

TEST(GrammarSampler, NothingAllowedIsMinusOne) {
  // A grammar the vocabulary cannot spell: "z".
  GrammarBuilder b;
  uint32_t r = b.rule("root");
  b.define(r, E::lit("z"));
  auto g = b.build(r);
  ASSERT_TRUE(g.ok());
  GrammarMatcher m(*g);
  SamplingOptions o;
  o.temperature = 0;
  Sampler s(o, 8, 64);
  s.set_grammar(&m, &vocab(), false);
  std::vector<float> logits(8, 0.0f);
  EXPECT_EQ(s.sample(logits, {}), -1);
}

TEST(GrammarSampler, AllAllowedLogitsBannedFallsBackToAnAllowedToken) {
  GrammarMatcher m(grammar());
  SamplingOptions o;
  o.temperature = 0.7f;
  o.seed = 3;
  o.logit_bias = {{0, -INFINITY}, {2, -INFINITY}};  // both allowed tokens banned by bias
  Sampler s(o, 8, 64);
  s.set_grammar(&m, &vocab(), false);
  std::vector<float> logits(8, 1.0f);
  int32_t t = s.sample(logits, {});
  EXPECT_TRUE(t == 0 || t == 2) << t;
}

}  // namespace
}  // namespace paddock::engine
