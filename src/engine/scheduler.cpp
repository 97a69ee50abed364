// Scheduler: see scheduler.h. Host work per step is O(sequences in the step + blocks they touch).
#include "engine/scheduler.h"

#include <algorithm>
#include <cassert>
#include <unordered_map>

#include <fmt/format.h>

namespace paddock::engine {

Scheduler::Scheduler(const SchedulerConfig& cfg)
    : cfg_(cfg), kv_(cfg.n_blocks, cfg.block_size, cfg.prefix_cache) {
  assert(cfg.max_seqs > 0 && cfg.token_budget >= cfg.max_seqs);
  running_.reserve(cfg.max_seqs);
}

void Scheduler::add(Sequence* seq) {
  assert(seq->state == Sequence::State::kNew && !seq->tokens.empty());
  assert(static_cast<int32_t>(seq->tokens.size()) <= seq->max_len);
  assert(kv_.blocks_for(seq->max_len) <= kv_.total());  // else it could never be admitted
  seq->state = Sequence::State::kWaiting;
  waiting_.push_back(seq);
}

void Scheduler::remove(Sequence* seq) {
  if (seq->state == Sequence::State::kRunning) {
    running_.erase(std::find(running_.begin(), running_.end(), seq));
    kv_.release(seq->kv);
  } else if (seq->state == Sequence::State::kWaiting) {
    waiting_.erase(std::find(waiting_.begin(), waiting_.end(), seq));
  }
  seq->state = Sequence::State::kFinished;
}

void Scheduler::preempt_newest() {
  // Recompute, not swap: drop the KV; the tokens (prompt + generated so far) are prefilled again
  // when it is re-admitted, which happens before anything that arrived later (front of queue).
  Sequence* victim = running_.back();
  running_.pop_back();
  kv_.release(victim->kv);
  victim->n_computed = 0;
  victim->n_preempted++;
  victim->state = Sequence::State::kWaiting;
  waiting_.push_front(victim);
  ++preemptions_;
}

bool Scheduler::schedule(Step& step) {
  step.entries.clear();
  int32_t budget = cfg_.token_budget;
  bool preempted = false;

  // 1. Decodes, oldest first: each needs one token and maybe one more block. When blocks run
  // out, the newest running sequence gives its blocks back (possibly the one asking).
  for (size_t i = 0; i < running_.size(); ++i) {
    Sequence* s = running_[i];
    if (s->pending() != 1) continue;
    bool still_running = true;
    while (!kv_.grow(s->kv, s->n_computed + 1)) {
      still_running = running_.back() != s;
      preempt_newest();
      preempted = true;
      if (!still_running) break;
    }
    if (!still_running) break;
    assert(budget > 0);
    step.entries.push_back({s, s->n_computed, 1, true});
    --budget;
  }

  // 2. Prefill chunks of admitted sequences, oldest first (their blocks were taken at admission).
  for (Sequence* s : running_) {
    if (budget == 0) break;
    if (s->pending() <= 1) continue;
    int32_t n = std::min(s->pending(), budget);
    [[maybe_unused]] bool ok = kv_.grow(s->kv, s->n_computed + n);
    assert(ok);
    step.entries.push_back({s, s->n_computed, n, s->n_computed + n == static_cast<int32_t>(s->tokens.size())});
    budget -= n;
  }

  // 3. Admission in strict FIFO order: if the head does not fit, nobody behind it jumps ahead
  // (that is what keeps a long prompt from starving under a stream of short ones). Not in a step
  // that just preempted, which would only thrash.
  while (!preempted && budget > 0 && !waiting_.empty() && n_running() < cfg_.max_seqs) {
    Sequence* s = waiting_.front();
    int32_t len = static_cast<int32_t>(s->tokens.size());
    int32_t cover = std::min(len + 1, s->max_len);
    int32_t cached = kv_.allocate(s->tokens, cover, s->kv);
    if (cached < 0) break;
    waiting_.pop_front();
    running_.push_back(s);
    s->state = Sequence::State::kRunning;
    s->n_computed = cached;
    if (s->n_cached < 0) s->n_cached = std::min(cached, s->n_prompt);
    prefix_hit_tokens_ += cached;
    int32_t n = std::min(s->pending(), budget);
    step.entries.push_back({s, s->n_computed, n, s->n_computed + n == len});
    budget -= n;
  }

  if (step.entries.empty()) return false;
  build_batch(step);
  return true;
}

void Scheduler::build_batch(Step& step) const {
  Batch& b = step.batch;
  int32_t n_tokens = 0, max_blocks = 0;
  for (const StepEntry& e : step.entries) {
    n_tokens += e.n;
    max_blocks = std::max(max_blocks, kv_.blocks_for(e.start + e.n));
  }
  const size_t n_seqs = step.entries.size();
  b.tokens.resize(n_tokens);
  b.positions.resize(n_tokens);
  b.seq_start.resize(n_seqs + 1);
  b.seq_kv_len.resize(n_seqs);
  b.max_blocks = max_blocks;
  b.block_tables.assign(n_seqs * max_blocks, -1);
  b.logit_rows.clear();
  int32_t row = 0;
  for (size_t i = 0; i < n_seqs; ++i) {
    const StepEntry& e = step.entries[i];
    b.seq_start[i] = row;
    for (int32_t j = 0; j < e.n; ++j) {
      b.tokens[row + j] = e.seq->tokens[e.start + j];
      b.positions[row + j] = e.start + j;
    }
    row += e.n;
    b.seq_kv_len[i] = e.start + e.n;
    int32_t nb = kv_.blocks_for(e.start + e.n);
    assert(nb <= static_cast<int32_t>(e.seq->kv.blocks.size()));
    std::copy_n(e.seq->kv.blocks.begin(), nb, b.block_tables.begin() + static_cast<ptrdiff_t>(i * max_blocks));
    if (e.sample) b.logit_rows.push_back(row - 1);
  }
  b.seq_start[n_seqs] = row;
}

void Scheduler::complete(const Step& step) {
  for (const StepEntry& e : step.entries) {
    Sequence* s = e.seq;
    if (s->state != Sequence::State::kRunning) continue;  // removed since (cancelled)
    assert(s->n_computed == e.start);
    s->n_computed += e.n;
    kv_.commit(s->tokens, s->n_computed, s->kv);
  }
}

std::string Scheduler::check() const {
  if (n_running() > cfg_.max_seqs) return fmt::format("{} running > max_seqs {}", n_running(), cfg_.max_seqs);
  std::unordered_map<const Sequence*, int> where;
  for (const Sequence* s : waiting_) {
    if (!where.emplace(s, 1).second) return fmt::format("sequence {} twice in the waiting queue", s->id);
    if (s->state != Sequence::State::kWaiting) return fmt::format("waiting sequence {} in state {}", s->id, int(s->state));
    if (!s->kv.blocks.empty()) return fmt::format("waiting sequence {} holds blocks", s->id);
  }
  std::vector<int32_t> refs(kv_.total(), 0);
  for (const Sequence* s : running_) {
    if (!where.emplace(s, 2).second) return fmt::format("sequence {} in two queues", s->id);
    if (s->state != Sequence::State::kRunning) return fmt::format("running sequence {} in state {}", s->id, int(s->state));
    if (kv_.blocks_for(s->n_computed) > static_cast<int32_t>(s->kv.blocks.size()))
      return fmt::format("sequence {} computed {} tokens beyond its blocks", s->id, s->n_computed);
    if (s->pending() < 1) return fmt::format("running sequence {} has nothing pending", s->id);
    for (int32_t b : s->kv.blocks) refs[b]++;
  }
  for (int32_t b = 0; b < kv_.total(); ++b) {
    if (refs[b] != kv_.ref_count(b))
      return fmt::format("block {} refcount {} but {} tables hold it", b, kv_.ref_count(b), refs[b]);
  }
  return kv_.check();
}

}  // namespace paddock::engine
