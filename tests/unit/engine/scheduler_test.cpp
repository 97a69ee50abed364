// Scheduler: chunked prefill, decodes first, FIFO admission, preemption by recompute, fairness
// under a steady stream of arrivals, and a randomized property test of the invariants (SECURITY.md
// load test 12). A simulated KV store checks every batch: each step writes its tokens into the
// blocks its table names, then every scheduled sequence must read back exactly its own tokens
// over its whole KV length — so a wrong block table or a bad prefix reuse cannot go unnoticed.
#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <cstdio>
#include <random>

namespace paddock::engine {
namespace {

// The token a sequence generates at a given length: a pure function, so a recomputed (preempted)
// sequence must end with the same tokens as an undisturbed one.
int32_t next_token(uint64_t id, size_t len) { return static_cast<int32_t>((id * 7919 + len * 104729) % 1000); }

struct Sim {
  explicit Sim(const SchedulerConfig& cfg)
      : sch(cfg), kv_tokens(static_cast<size_t>(cfg.n_blocks) * cfg.block_size, -1) {}

  Sequence* add(std::vector<int32_t> prompt, int32_t max_len, int32_t n_gen) {
    auto s = std::make_unique<Sequence>();
    s->id = next_id++;
    s->n_prompt = static_cast<int32_t>(prompt.size());
    s->tokens = std::move(prompt);
    s->max_len = max_len;
    target[s->id] = n_gen;
    Sequence* p = s.get();
    owned.push_back(std::move(s));
    sch.add(p);
    return p;
  }

  // One engine step; returns false when nothing ran. Checks the batch against the KV oracle.
  bool step() {
    if (!sch.schedule(st)) return false;
    ++steps;
    verify_batch();
    sch.complete(st);
    for (const StepEntry& e : st.entries) {
      if (!e.sample) continue;
      Sequence* s = e.seq;
      if (first_token_step.count(s->id) == 0) {
        first_token_step[s->id] = steps;
        first_token_order.push_back(s->id);
      }
      s->tokens.push_back(next_token(s->id, s->tokens.size()));
      int32_t gen = static_cast<int32_t>(s->tokens.size()) - s->n_prompt;
      if (gen >= target[s->id] || static_cast<int32_t>(s->tokens.size()) >= s->max_len) finish(s);
    }
    return true;
  }

  void finish(Sequence* s) {
    sch.remove(s);
    done.push_back(s->id);
    done_step[s->id] = steps;
  }

  void verify_batch() {
    const Batch& b = st.batch;
    const int32_t bs = sch.config().block_size;
    ASSERT_EQ(b.n_seqs(), static_cast<int32_t>(st.entries.size()));
    size_t logit = 0;
    // Writes first (the forward pass stores this step's K/V), then reads.
    for (int32_t i = 0; i < b.n_seqs(); ++i) {
      const StepEntry& e = st.entries[i];
      ASSERT_EQ(b.seq_start[i + 1] - b.seq_start[i], e.n);
      ASSERT_EQ(b.seq_kv_len[i], e.start + e.n);
      for (int32_t r = b.seq_start[i]; r < b.seq_start[i + 1]; ++r) {
        int32_t pos = b.positions[r];
        ASSERT_EQ(pos, e.start + (r - b.seq_start[i]));
        ASSERT_EQ(b.tokens[r], e.seq->tokens[pos]);
        int32_t blk = b.block_tables[i * b.max_blocks + pos / bs];
        ASSERT_GE(blk, 0);
        ASSERT_EQ(sch.kv().ref_count(blk), 1) << "write into a shared block";
        kv_tokens[static_cast<size_t>(blk) * bs + pos % bs] = static_cast<int32_t>(e.seq->id * 100000) + b.tokens[r];
      }
      if (e.sample) {
        ASSERT_LT(logit, b.logit_rows.size());
        ASSERT_EQ(b.logit_rows[logit++], b.seq_start[i + 1] - 1);
      }
    }
    ASSERT_EQ(logit, b.logit_rows.size());
    for (int32_t i = 0; i < b.n_seqs(); ++i) {
      const StepEntry& e = st.entries[i];
      for (int32_t pos = 0; pos < b.seq_kv_len[i]; ++pos) {
        int32_t blk = b.block_tables[i * b.max_blocks + pos / bs];
        ASSERT_GE(blk, 0);
        int32_t v = kv_tokens[static_cast<size_t>(blk) * bs + pos % bs];
        ASSERT_NE(v, -1) << "reads KV never written";
        ASSERT_EQ(v % 100000, e.seq->tokens[pos]) << "seq " << e.seq->id << " pos " << pos;
      }
    }
  }

  Scheduler sch;
  Step st;
  std::vector<int32_t> kv_tokens;
  std::vector<std::unique_ptr<Sequence>> owned;
  std::map<uint64_t, int32_t> target;
  std::map<uint64_t, int64_t> first_token_step, done_step;
  std::vector<uint64_t> first_token_order, done;
  uint64_t next_id = 1;
  int64_t steps = 0;
};

std::vector<int32_t> prompt_of(int32_t n, int32_t seed) {
  std::vector<int32_t> p(n);
  for (int32_t i = 0; i < n; ++i) p[i] = (seed * 31 + i * 17) % 1000;
  return p;
}

TEST(Scheduler, ChunkedPrefillAndDecodesFirst) {
  Sim sim({.max_seqs = 2, .token_budget = 8, .n_blocks = 32, .block_size = 4, .prefix_cache = true});
  Sequence* a = sim.add(prompt_of(20, 1), 64, 3);
  ASSERT_TRUE(sim.step());
  ASSERT_EQ(sim.st.entries.size(), 1u);
  EXPECT_EQ(sim.st.entries[0].start, 0);
  EXPECT_EQ(sim.st.entries[0].n, 8);
  EXPECT_FALSE(sim.st.entries[0].sample);
  EXPECT_TRUE(sim.st.batch.logit_rows.empty());
  Sequence* b = sim.add(prompt_of(5, 2), 64, 2);
  ASSERT_TRUE(sim.step());  // a's second chunk takes the whole budget: b waits
  ASSERT_EQ(sim.st.entries.size(), 1u);
  EXPECT_EQ(sim.st.entries[0].n, 8);
  EXPECT_EQ(sim.sch.n_waiting(), 1);
  ASSERT_TRUE(sim.step());  // a's last 4 tokens (sampled), then b's first 4
  ASSERT_EQ(sim.st.entries.size(), 2u);
  EXPECT_EQ(sim.st.entries[0].seq, a);
  EXPECT_EQ(sim.st.entries[0].n, 4);
  EXPECT_TRUE(sim.st.entries[0].sample);
  EXPECT_EQ(sim.st.entries[1].seq, b);
  EXPECT_EQ(sim.st.entries[1].n, 4);
  EXPECT_FALSE(sim.st.entries[1].sample);
  ASSERT_TRUE(sim.step());  // a's decode comes first, then b's last prompt token
  ASSERT_EQ(sim.st.entries.size(), 2u);
  EXPECT_EQ(sim.st.entries[0].seq, a);
  EXPECT_EQ(sim.st.entries[0].n, 1);
  EXPECT_EQ(sim.st.entries[1].seq, b);
  EXPECT_TRUE(sim.st.entries[1].sample);
  while (sim.step()) {
  }
  EXPECT_EQ(sim.done.size(), 2u);
  EXPECT_EQ(sim.sch.kv().used(), 0);
  EXPECT_EQ(sim.sch.check(), "");
}

TEST(Scheduler, MaxSeqsAndFifoAdmission) {
  Sim sim({.max_seqs = 2, .token_budget = 64, .n_blocks = 64, .block_size = 4, .prefix_cache = false});
  for (int i = 0; i < 5; ++i) sim.add(prompt_of(3, i), 64, 4);
  ASSERT_TRUE(sim.step());
  EXPECT_EQ(sim.sch.n_running(), 2);
  EXPECT_EQ(sim.sch.n_waiting(), 3);
  while (sim.step()) EXPECT_LE(sim.sch.n_running(), 2);
  EXPECT_EQ(sim.first_token_order, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
}

TEST(Scheduler, PrefixReuseSkipsCachedTokens) {
  Sim sim({.max_seqs = 4, .token_budget = 64, .n_blocks = 64, .block_size = 4, .prefix_cache = true});
  auto shared = prompt_of(13, 9);
  Sequence* a = sim.add(shared, 64, 2);
  while (sim.step()) {
  }
  auto p = shared;
  p.push_back(5);
  Sequence* b = sim.add(p, 64, 2);
  ASSERT_TRUE(sim.step());
  EXPECT_EQ(b->n_cached, 12);  // three full blocks of a's prompt
  EXPECT_EQ(sim.st.entries[0].start, 12);
  EXPECT_EQ(sim.st.entries[0].n, 2);
  EXPECT_EQ(a->n_cached, 0);
  while (sim.step()) {
  }
  EXPECT_EQ(sim.sch.prefix_hit_tokens(), 12u);
}

TEST(Scheduler, PreemptionRecomputesAndKeepsOutputs) {
  Sim sim({.max_seqs = 2, .token_budget = 16, .n_blocks = 4, .block_size = 2, .prefix_cache = false});
  Sequence* a = sim.add(prompt_of(3, 1), 8, 4);
  Sequence* b = sim.add(prompt_of(3, 2), 8, 4);
  while (sim.step()) ASSERT_EQ(sim.sch.check(), "");
  EXPECT_GE(sim.sch.preemptions(), 1u);
  EXPECT_EQ(a->n_preempted, 0);  // the oldest always keeps going
  EXPECT_GE(b->n_preempted, 1);
  for (Sequence* s : {a, b}) {
    ASSERT_EQ(s->tokens.size(), 7u);
    for (size_t i = 3; i < s->tokens.size(); ++i) EXPECT_EQ(s->tokens[i], next_token(s->id, i));
  }
  EXPECT_EQ(sim.sch.kv().available(), 4);
}

TEST(Scheduler, LongPromptIsNotStarvedByAStreamOfShortOnes) {
  // Blocks are tight: short requests alone would keep the pool busy forever; strict FIFO admission
  // makes the later short ones wait behind the long one.
  Sim sim({.max_seqs = 4, .token_budget = 32, .n_blocks = 24, .block_size = 4, .prefix_cache = false});
  uint64_t long_id = 0;
  for (int t = 0; t < 400; ++t) {
    sim.add(prompt_of(6, t), 32, 6);
    if (t == 20) long_id = sim.add(prompt_of(80, 999), 96, 4)->id;
    sim.step();
    ASSERT_EQ(sim.sch.check(), "");
  }
  while (sim.step()) {
  }
  ASSERT_TRUE(sim.done_step.count(long_id));
  // First tokens come out in arrival order for everyone.
  for (size_t i = 1; i < sim.first_token_order.size(); ++i)
    EXPECT_LT(sim.first_token_order[i - 1], sim.first_token_order[i]);
  EXPECT_EQ(sim.done.size(), 401u);
  EXPECT_LE(sim.steps, 5000);
}

struct PropertyCase {
  bool prefix_cache;
  int32_t n_blocks, block_size, max_seqs, budget;
};

class SchedulerProperty : public ::testing::TestWithParam<PropertyCase> {};

TEST_P(SchedulerProperty, RandomArrivalsCancelsFinishesKeepInvariants) {
  const PropertyCase c = GetParam();
  Sim sim({.max_seqs = c.max_seqs, .token_budget = c.budget, .n_blocks = c.n_blocks, .block_size = c.block_size,
           .prefix_cache = c.prefix_cache});
  const int32_t capacity = c.n_blocks * c.block_size;
  std::mt19937 rng(1234 + c.n_blocks);
  std::vector<std::vector<int32_t>> prefixes;
  for (int i = 0; i < 4; ++i) prefixes.push_back(prompt_of(40, 500 + i));
  std::vector<Sequence*> live;
  for (int it = 0; it < 3000; ++it) {
    int r = rng() % 10;
    if (r < 3) {  // arrival, often sharing a prefix with earlier ones
      int32_t max_len = 2 + rng() % std::min(capacity - 1, 80);
      int32_t len = 1 + rng() % (max_len - 1);
      std::vector<int32_t> p;
      if (rng() % 2) {
        const auto& pre = prefixes[rng() % prefixes.size()];
        p.assign(pre.begin(), pre.begin() + std::min<int32_t>(len, 40));
      }
      while (static_cast<int32_t>(p.size()) < len) p.push_back(rng() % 1000);
      live.push_back(sim.add(p, max_len, 1 + rng() % 20));
    } else if (r == 3 && !live.empty()) {  // cancel (any state)
      size_t k = rng() % live.size();
      if (live[k]->state != Sequence::State::kFinished) sim.finish(live[k]);
    } else {
      sim.step();
    }
    ASSERT_EQ(sim.sch.check(), "") << "iteration " << it;
    live.erase(std::remove_if(live.begin(), live.end(),
                              [](Sequence* s) { return s->state == Sequence::State::kFinished; }),
               live.end());
  }
  while (sim.step()) ASSERT_EQ(sim.sch.check(), "");
  EXPECT_EQ(sim.sch.n_running() + sim.sch.n_waiting(), 0);
  EXPECT_EQ(sim.sch.kv().used(), 0);
  EXPECT_EQ(sim.sch.kv().available(), c.n_blocks);
  std::printf("blocks %d prefix %d: %lld steps, %zu done, %llu preemptions, %llu prefix-hit tokens\n", c.n_blocks,
              c.prefix_cache, static_cast<long long>(sim.steps), sim.done.size(),
              static_cast<unsigned long long>(sim.sch.preemptions()),
              static_cast<unsigned long long>(sim.sch.prefix_hit_tokens()));
  if (c.prefix_cache) {
    EXPECT_GT(sim.sch.prefix_hit_tokens(), 0u);
  }
  if (c.n_blocks <= 16) {
    EXPECT_GT(sim.sch.preemptions(), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Configs, SchedulerProperty,
                         ::testing::Values(PropertyCase{true, 16, 4, 4, 16}, PropertyCase{false, 16, 4, 4, 16},
                                           PropertyCase{true, 64, 4, 8, 32}, PropertyCase{true, 40, 2, 3, 3},
                                           PropertyCase{false, 200, 16, 6, 64}));

}  // namespace
}  // namespace paddock::engine
