// The engine loop on small random-weight llama models written by our GGUF writer: batched greedy
// generation equals solo runs token for token (prefix reuse on and off, F32 and Q4_K weights, F16
// and Q8_0 KV cache, and under KV pressure that forces preemption), seeded sampling is
// batch-independent, stop strings, limits, cancel, embeddings, logprobs and request validation.
#include "engine/engine.h"

#include <gtest/gtest.h>

#include <cmath>
#include <mutex>
#include <random>
#include <thread>

#include "engine_fixture.h"
#include "gguf/gguf.h"
#include "test_model.h"

namespace paddock::engine {
namespace {

using test_support::ModelFixture;
using test_support::Outcome;

const ModelFixture& fixture() {
  static ModelFixture* f = [] {
    gguf::TinyLlamaSpec spec;
    spec.n_embd = 64;
    spec.n_layer = 2;
    spec.n_head = 4;
    spec.n_head_kv = 2;
    spec.n_ff = 128;
    spec.n_ctx = 512;
    spec.seed = 7;
    return test_support::make_model_fixture(gguf::make_tiny_llama(spec));
  }();
  return *f;
}

// Q4_K weights (int8 activation blocks, batched and single-row kernels), same vocabulary.
const ModelFixture& fixture_quantized() {
  static ModelFixture* f = [] {
    testing::TestModelSpec spec;
    spec.type = quant::Type::Q4_K;
    spec.n_ctx = 512;
    spec.seed = 7;
    return test_support::make_model_fixture(testing::make_test_model(spec));
  }();
  return *f;
}

std::unique_ptr<Engine> make_engine(Options o, const ModelFixture& fx = fixture()) {
  return test_support::start_engine(fx, o);
}

std::vector<int32_t> prompt_tokens(const std::string& text) { return fixture().tok->encode(text, true, false); }

Request greedy(std::vector<int32_t> prompt, int32_t n) {
  Request r;
  r.prompt = std::move(prompt);
  r.sampling.temperature = 0;
  r.num_predict = n;
  return r;
}

// Bans the tiny vocabulary's byte tokens (ids 3..258): a random model strings them into invalid
// UTF-8, which the stream decoder rightly replaces, so text comparisons need whole pieces.
void words_only(Request& r) {
  for (int32_t id = 3; id < 259; ++id) r.sampling.logit_bias.emplace_back(id, -INFINITY);
}

std::vector<std::vector<int32_t>> run_all(Engine& e, const std::vector<Request>& reqs) {
  std::vector<std::unique_ptr<Outcome>> outs;
  for (const Request& r : reqs) {
    outs.push_back(std::make_unique<Outcome>());
    auto id = e.submit(r, outs.back()->sink());
    EXPECT_TRUE(id.ok()) << id.error().message();
  }
  std::vector<std::vector<int32_t>> res;
  for (auto& o : outs) {
    o->wait();
    EXPECT_EQ(o->error, "");
    res.push_back(o->tokens);
  }
  return res;
}

std::vector<Request> workload(float temperature) {
  // Prompts of different lengths crossing block boundaries; several share long prefixes.
  const std::string base =
      "the model is a test of the world and it is in the Paddock hello world, the model is a test of you";
  std::vector<std::string> texts = {base, base + " and I", base + " and you", "hello", base + base,
                                    "I am a test", base + " of that", "world"};
  std::vector<Request> reqs;
  for (size_t i = 0; i < texts.size(); ++i) {
    Request r = greedy(prompt_tokens(texts[i]), 20 + static_cast<int32_t>(i) * 3);
    if (temperature > 0) {
      r.sampling.temperature = temperature;
      r.sampling.seed = 1000 + static_cast<int64_t>(i);
    }
    reqs.push_back(std::move(r));
  }
  return reqs;
}

std::vector<std::vector<int32_t>> solo(const std::vector<Request>& reqs, const ModelFixture& fx = fixture(),
                                       bool kv_q8_0 = false) {
  auto e = make_engine(
      {.max_seqs = 1, .num_ctx = 512, .step_token_budget = 512, .kv_q8_0 = kv_q8_0, .prefix_cache = false}, fx);
  std::vector<std::vector<int32_t>> res;
  for (const Request& r : reqs) res.push_back(run_all(*e, {r})[0]);
  return res;
}

TEST(Engine, BatchedGreedyEqualsSoloRuns) {
  auto reqs = workload(0);
  auto want = solo(reqs);
  for (auto& w : want) EXPECT_FALSE(w.empty());
  for (bool prefix : {true, false}) {
    auto e = make_engine({.max_seqs = 4, .num_ctx = 512, .step_token_budget = 24, .prefix_cache = prefix});
    auto got = run_all(*e, reqs);
    for (size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(got[i], want[i]) << "request " << i << " prefix " << prefix;
    // Again: now the prefixes are cached.
    got = run_all(*e, reqs);
    for (size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(got[i], want[i]) << "rerun " << i << " prefix " << prefix;
    Stats s = e->stats();
    if (prefix) {
      EXPECT_GT(s.prefix_hit_tokens, 0u);
    } else {
      EXPECT_EQ(s.prefix_hit_tokens, 0u);
    }
    EXPECT_EQ(s.running, 0);
    EXPECT_EQ(s.kv_blocks_free, s.kv_blocks_total);
  }
}

// The same with quantized weights, where every matmul runs on int8 activation blocks (batched
// prefill and decode rows go through different kernels), once with an F16 and once with a Q8_0
// KV cache: a request's tokens must not depend on what it is batched with.
TEST(Engine, BatchedGreedyEqualsSoloRunsQuantized) {
  const ModelFixture& fx = fixture_quantized();
  auto reqs = workload(0);
  for (bool kv_q8 : {false, true}) {
    auto want = solo(reqs, fx, kv_q8);
    for (auto& w : want) EXPECT_FALSE(w.empty());
    for (bool prefix : {true, false}) {
      auto e = make_engine(
          {.max_seqs = 4, .num_ctx = 512, .step_token_budget = 24, .kv_q8_0 = kv_q8, .prefix_cache = prefix}, fx);
      for (int round = 0; round < 2; ++round) {  // the second round finds its prefixes cached
        auto got = run_all(*e, reqs);
        for (size_t i = 0; i < reqs.size(); ++i)
          EXPECT_EQ(got[i], want[i]) << "request " << i << " prefix " << prefix << " kv_q8_0 " << kv_q8 << " round "
                                     << round;
      }
      EXPECT_EQ(e->stats().prefix_hit_tokens > 0, prefix);
    }
  }
}

TEST(Engine, PreemptionUnderKvPressureKeepsOutputs) {
  auto reqs = workload(0);
  auto want = solo(reqs);
  for (bool prefix : {true, false}) {
    // 10 blocks of 16 tokens: one long request nearly fills the pool.
    auto e = make_engine({.max_seqs = 6, .num_ctx = 160, .step_token_budget = 32, .kv_block_size = 16,
                          .kv_blocks = 10, .prefix_cache = prefix});
    auto got = run_all(*e, reqs);
    for (size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(got[i], want[i]) << "request " << i << " prefix " << prefix;
    EXPECT_GT(e->stats().preemptions, 0u);
    EXPECT_EQ(e->stats().kv_blocks_free, 10);
  }
}

TEST(Engine, SeededSamplingIsBatchIndependent) {
  auto reqs = workload(0.9f);
  auto want = solo(reqs);
  auto e = make_engine({.max_seqs = 4, .num_ctx = 512, .step_token_budget = 24});
  auto got = run_all(*e, reqs);
  for (size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(got[i], want[i]) << "request " << i;
  EXPECT_NE(want[0], run_all(*e, {greedy(reqs[0].prompt, reqs[0].num_predict)})[0]);  // it really sampled
}

TEST(Engine, StopStringsAndLimits) {
  auto e = make_engine({.max_seqs = 2, .num_ctx = 256});
  Request r = greedy(prompt_tokens("hello world"), 40);
  words_only(r);
  Outcome full;
  ASSERT_TRUE(e->submit(r, full.sink()).ok());
  full.wait();
  EXPECT_EQ(full.reason, "length");
  EXPECT_EQ(full.final_event.eval_tokens, 40);
  EXPECT_EQ(full.final_event.prompt_tokens, static_cast<int32_t>(r.prompt.size()));
  EXPECT_EQ(full.text, fixture().tok->decode(full.tokens, true));
  ASSERT_GE(full.text.size(), 12u);

  // A stop string taken from the middle of the output: the text ends right before it.
  std::string stop = full.text.substr(full.text.size() / 2, 4);
  Request rs = r;
  rs.stop = {stop};
  Outcome stopped;
  ASSERT_TRUE(e->submit(rs, stopped.sink()).ok());
  stopped.wait();
  EXPECT_EQ(stopped.reason, "stop");
  EXPECT_EQ(stopped.text, full.text.substr(0, full.text.find(stop)));
  EXPECT_EQ(stopped.text.find(stop), std::string::npos);

  // The context fills up: done_reason "length" at num_ctx tokens.
  Request rc = r;
  rc.num_predict = -1;
  rc.num_ctx = static_cast<int32_t>(r.prompt.size()) + 5;
  Outcome ctx;
  ASSERT_TRUE(e->submit(rc, ctx.sink()).ok());
  ctx.wait();
  EXPECT_EQ(ctx.reason, "length");
  EXPECT_EQ(ctx.final_event.eval_tokens, 5);

  Request r0 = greedy(r.prompt, 0);
  Outcome zero;
  ASSERT_TRUE(e->submit(r0, zero.sink()).ok());
  zero.wait();
  EXPECT_EQ(zero.final_event.eval_tokens, 0);
}

TEST(Engine, EndOfGenerationTokenStopsWithoutText) {
  auto e = make_engine({.max_seqs = 1, .num_ctx = 256});
  Request r = greedy(prompt_tokens("hello world"), 10);
  words_only(r);
  r.sampling.logit_bias.emplace_back(fixture().tok->eos(), 1000.0f);  // EOS wins at once
  Outcome o;
  ASSERT_TRUE(e->submit(r, o.sink()).ok());
  o.wait();
  EXPECT_EQ(o.reason, "stop");
  EXPECT_EQ(o.final_event.eval_tokens, 1);
  EXPECT_TRUE(o.tokens.empty());  // no token event for the EOS itself
  EXPECT_EQ(o.text, "");
}

TEST(Engine, LogprobsOfGreedyChoice) {
  auto e = make_engine({.max_seqs = 1, .num_ctx = 256});
  Request r = greedy(prompt_tokens("the model"), 5);
  r.top_logprobs = 3;
  Outcome o;
  ASSERT_TRUE(e->submit(r, o.sink()).ok());
  o.wait();
  ASSERT_EQ(o.logprobs.size(), o.tokens.size());
  for (size_t i = 0; i < o.logprobs.size(); ++i) {
    const auto& lp = o.logprobs[i];
    ASSERT_EQ(lp.size(), 4u);
    EXPECT_EQ(lp[0].token, o.tokens[i]);
    EXPECT_EQ(lp[1].token, o.tokens[i]);  // greedy picks the most likely token
    EXPECT_FLOAT_EQ(lp[0].logprob, lp[1].logprob);
    EXPECT_LE(lp[1].logprob, 0.0f);
    EXPECT_GE(lp[1].logprob, lp[2].logprob);
    EXPECT_GE(lp[2].logprob, lp[3].logprob);
    EXPECT_EQ(lp[1].piece, fixture().tok->token_to_piece(lp[1].token));
  }
}

TEST(Engine, CancelFreesBlocks) {
  auto e = make_engine({.max_seqs = 2, .num_ctx = 512});
  const int32_t total = e->stats().kv_blocks_total;
  Request r = greedy(prompt_tokens("hello world and you"), -1);
  r.sampling.logit_bias = {{fixture().tok->eos(), -INFINITY}};  // never ends by itself
  Outcome o;
  auto id = e->submit(r, o.sink());
  ASSERT_TRUE(id.ok());
  for (int i = 0; i < 2000 && e->stats().steps < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  e->cancel(*id);
  e->cancel(987654);  // unknown: ignored
  o.wait();
  EXPECT_EQ(o.error, "request cancelled");
  for (int i = 0; i < 2000 && e->stats().kv_blocks_free != total; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(e->stats().kv_blocks_free, total);
  EXPECT_EQ(e->stats().running, 0);
}

TEST(Engine, EmbeddingIsNormalizedMeanOfHiddenStates) {
  auto tokens = prompt_tokens("the model is a test of the world and it is in the Paddock");
  // Reference: one forward_hidden over the whole prompt on a separate model instance.
  auto model = Model::load(fixture().file, {.n_threads = 1});
  ASSERT_TRUE(model.ok());
  const int32_t n = static_cast<int32_t>(tokens.size()), d = (*model)->info().n_embd;
  ASSERT_TRUE((*model)->init_kv({.block_size = 16, .n_blocks = 8}).ok());
  Batch b;
  b.tokens = tokens;
  for (int32_t i = 0; i < n; ++i) {
    b.positions.push_back(i);
    b.logit_rows.push_back(i);
  }
  b.seq_start = {0, n};
  b.seq_kv_len = {n};
  b.max_blocks = (n + 15) / 16;
  for (int32_t i = 0; i < b.max_blocks; ++i) b.block_tables.push_back(i);
  std::vector<float> hidden(static_cast<size_t>(n) * d);
  ASSERT_TRUE((*model)->forward_hidden(b, hidden).ok());
  std::vector<double> want(d, 0.0);
  for (int32_t i = 0; i < n; ++i)
    for (int32_t j = 0; j < d; ++j) want[j] += hidden[static_cast<size_t>(i) * d + j] / n;
  double norm = 0;
  for (double v : want) norm += v * v;
  norm = std::sqrt(norm);

  // The engine computes it in chunks of 5 tokens.
  auto e = make_engine({.max_seqs = 1, .num_ctx = 256, .step_token_budget = 5});
  Request r;
  r.prompt = tokens;
  r.embed = true;
  Outcome o;
  ASSERT_TRUE(e->submit(r, o.sink()).ok());
  o.wait();
  ASSERT_EQ(o.error, "");
  ASSERT_EQ(o.final_event.embedding.size(), static_cast<size_t>(d));
  for (int32_t j = 0; j < d; ++j) EXPECT_NEAR(o.final_event.embedding[j], want[j] / norm, 1e-4) << j;
  EXPECT_EQ(o.final_event.prompt_tokens, n);

  r.embed_normalize = false;  // the plain mean
  Outcome raw;
  ASSERT_TRUE(e->submit(r, raw.sink()).ok());
  raw.wait();
  ASSERT_EQ(raw.final_event.embedding.size(), static_cast<size_t>(d));
  for (int32_t j = 0; j < d; ++j) EXPECT_NEAR(raw.final_event.embedding[j], want[j], 1e-4) << j;
}

TEST(Engine, RejectsBadRequests) {
  auto e = make_engine({.max_seqs = 1, .num_ctx = 64});
  auto rejected = [&](auto mutate) {
    Request r = greedy(prompt_tokens("hello"), 4);
    mutate(r);
    Outcome o;
    auto id = e->submit(r, o.sink());
    if (id.ok()) o.wait();  // accepted: the sink must outlive the request
    return !id.ok() && id.error().code() == ErrorCode::kInvalidArgument;
  };
  EXPECT_FALSE(rejected([](Request&) {}));
  EXPECT_TRUE(rejected([](Request& r) { r.prompt.clear(); }));
  EXPECT_TRUE(rejected([](Request& r) { r.prompt.push_back(-1); }));
  EXPECT_TRUE(rejected([](Request& r) { r.prompt.push_back(1 << 30); }));
  EXPECT_TRUE(rejected([](Request& r) { r.prompt.assign(64, 5); }));  // no room to generate
  EXPECT_FALSE(rejected([](Request& r) { r.prompt.assign(63, 5); }));
  EXPECT_TRUE(rejected([](Request& r) { r.num_ctx = 65; }));
  EXPECT_TRUE(rejected([](Request& r) { r.num_ctx = -1; }));
  EXPECT_TRUE(rejected([](Request& r) { r.num_ctx = 2; }));  // prompt does not fit
  EXPECT_TRUE(rejected([](Request& r) { r.num_predict = -3; }));
  EXPECT_TRUE(rejected([](Request& r) { r.sampling.temperature = NAN; }));
  EXPECT_TRUE(rejected([](Request& r) { r.sampling.top_p = 2; }));
  EXPECT_TRUE(rejected([](Request& r) { r.top_logprobs = 21; }));
  EXPECT_TRUE(rejected([](Request& r) { r.stop.assign(65, "x"); }));
  EXPECT_TRUE(rejected([](Request& r) { r.stop = {std::string(2000, 'x')}; }));
  EXPECT_TRUE(rejected([](Request& r) { r.stop = {""}; }));
  EXPECT_TRUE(rejected([](Request& r) { r.stop = {"\xff"}; }));

  auto model = Model::load(fixture().file, {.n_threads = 1});
  ASSERT_TRUE(model.ok());
  auto bad = Engine::create(std::move(*model), fixture().tok, {.max_seqs = 8, .step_token_budget = 4});
  EXPECT_FALSE(bad.ok());
  model = Model::load(fixture().file, {.n_threads = 1});
  bad = Engine::create(std::move(*model), fixture().tok, {.num_ctx = 256, .kv_block_size = 16, .kv_blocks = 3});
  EXPECT_FALSE(bad.ok());
}

TEST(Engine, ChurnWithCancelsLeavesNoLeak) {
  // SECURITY.md load test 1 in miniature: many requests, a third cancelled at random moments
  // (queued, prefilling or decoding), under KV pressure. Each gets exactly one terminal event
  // and the engine returns to its idle baseline.
  auto e = make_engine({.max_seqs = 4, .num_ctx = 256, .step_token_budget = 32, .kv_block_size = 16,
                        .kv_blocks = 20});
  const std::vector<std::string> texts = {"hello", "the model is a test", "I am in the world and you",
                                          "the Paddock model of the world is in that test of you and I"};
  std::mt19937 rng(5);
  std::vector<std::unique_ptr<Outcome>> outs;
  std::vector<uint64_t> ids;
  for (int i = 0; i < 150; ++i) {
    Request r = greedy(prompt_tokens(texts[rng() % texts.size()] + (i % 2 ? " and" : "")), 1 + rng() % 30);
    if (i % 5 == 0) r.stop = {"e"};
    if (i % 7 == 0) r.sampling.temperature = 0.7f;
    outs.push_back(std::make_unique<Outcome>());
    auto id = e->submit(r, outs.back()->sink());
    ASSERT_TRUE(id.ok());
    ids.push_back(*id);
    if (rng() % 3 == 0) e->cancel(ids[rng() % ids.size()]);
    if (rng() % 4 == 0) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2000));
  }
  int cancelled = 0;
  for (auto& o : outs) {
    o->wait();
    if (!o->error.empty()) {
      EXPECT_EQ(o->error, "request cancelled");
      ++cancelled;
    } else {
      EXPECT_TRUE(o->reason == "stop" || o->reason == "length") << o->reason;
    }
  }
  for (auto& o : outs) {
    std::lock_guard<std::mutex> lk(o->mu);
    EXPECT_EQ(o->late_events, 0);
  }
  EXPECT_GT(cancelled, 0);
  Stats s = e->stats();
  EXPECT_EQ(s.running, 0);
  EXPECT_EQ(s.waiting, 0);
  EXPECT_EQ(s.kv_blocks_free, s.kv_blocks_total);
}

TEST(Engine, ShutdownFailsPendingRequests) {
  auto e = make_engine({.max_seqs = 1, .num_ctx = 256});
  std::vector<std::unique_ptr<Outcome>> outs;
  for (int i = 0; i < 4; ++i) {
    outs.push_back(std::make_unique<Outcome>());
    Request r = greedy(prompt_tokens("hello"), -1);
    r.sampling.logit_bias = {{fixture().tok->eos(), -INFINITY}};
    ASSERT_TRUE(e->submit(r, outs.back()->sink()).ok());
  }
  e->shutdown();
  for (auto& o : outs) {
    o->wait();
    EXPECT_FALSE(o->error.empty());
  }
  Outcome late;
  EXPECT_FALSE(e->submit(greedy(prompt_tokens("hello"), 1), late.sink()).ok());
}

}  // namespace
}  // namespace paddock::engine
