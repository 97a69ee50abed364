// Continuous-batching scheduler (pure bookkeeping, links util only): every step it picks decodes
// first, then prefill chunks, then admits waiting sequences in FIFO order while the token budget,
// the slot count and free KV blocks allow; it preempts the newest sequence when blocks run out.
#pragma once
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "engine/kv_blocks.h"
#include "backend/step.h"

namespace paddock::engine {

struct Sequence {
  enum class State { kNew, kWaiting, kRunning, kFinished };
  uint64_t id = 0;
  std::vector<int32_t> tokens;  // prompt, then generated tokens (recomputed after a preemption)
  int32_t n_prompt = 0;
  int32_t max_len = 0;          // context cap: KV never holds more than this many tokens
  int32_t n_computed = 0;       // leading tokens whose KV is in the cache
  int32_t n_cached = -1;        // prompt tokens reused from the prefix cache at first admission
  int32_t n_preempted = 0;
  State state = State::kNew;
  KvTable kv;

  int32_t pending() const { return static_cast<int32_t>(tokens.size()) - n_computed; }
};

struct SchedulerConfig {
  int32_t max_seqs = 4;        // running sequences at once
  int32_t token_budget = 512;  // tokens per step; must be >= max_seqs so every decode fits
  int32_t n_blocks = 0;
  int32_t block_size = 16;
  bool prefix_cache = true;
};

// One sequence's part of a step: tokens [start, start + n) of seq->tokens. `sample` = the chunk
// reaches the last token, so the step yields logits for a new token.
struct StepEntry {
  Sequence* seq;
  int32_t start;
  int32_t n;
  bool sample;
};

struct Step {
  std::vector<StepEntry> entries;  // in batch order; logit rows follow the entries with sample
  Batch batch;
  bool empty() const { return entries.empty(); }
};

class Scheduler {
 public:
  explicit Scheduler(const SchedulerConfig& cfg);

  // Queues a new sequence at the back (FIFO). The caller owns it until remove().
  void add(Sequence* seq);
  // Finished or cancelled: frees its blocks and drops it from whatever queue holds it.
  void remove(Sequence* seq);
  // Plans the next step and fills step.batch. False when there is nothing to run.
  bool schedule(Step& step);
  // After the forward pass: the scheduled tokens now have KV; full blocks become reusable.
  // The caller then appends sampled tokens (and removes finished sequences).
  void complete(const Step& step);

  int32_t n_running() const { return static_cast<int32_t>(running_.size()); }
  int32_t n_waiting() const { return static_cast<int32_t>(waiting_.size()); }
  uint64_t preemptions() const { return preemptions_; }
  uint64_t prefix_hit_tokens() const { return prefix_hit_tokens_; }
  KvBlockManager& kv() { return kv_; }
  const KvBlockManager& kv() const { return kv_; }
  const SchedulerConfig& config() const { return cfg_; }
  // Invariants of queues and blocks (no sequence in two queues, each block's refcount equals the
  // number of running tables holding it, KV manager invariants). Empty string = fine.
  std::string check() const;

 private:
  void preempt_newest();
  void build_batch(Step& step) const;

  SchedulerConfig cfg_;
  KvBlockManager kv_;
  std::deque<Sequence*> waiting_;
  std::vector<Sequence*> running_;  // admission order: oldest first
  uint64_t preemptions_ = 0, prefix_hit_tokens_ = 0;
};

}  // namespace paddock::engine
