// Token sampler, one per sequence (its own RNG, so a seeded request gives the same output alone
// or inside a batch). The chain, in llama.cpp's order:
//   logit bias -> repeat/presence/frequency penalties over the last repeat_last_n tokens
//   -> top_k -> typical_p -> top_p -> min_p -> temperature -> softmax -> draw.
// temperature <= 0 is greedy: argmax after bias and penalties (ties: lowest id).
// Penalties (llama.cpp semantics) see the prompt and the generated tokens alike.
// Under a grammar (set_grammar) the token is first sampled as usual and checked; only if the
// grammar rejects it is the full mask computed, the disallowed logits set to -inf, and the chain
// run again (the same result as masking first for greedy and untruncated sampling).
#pragma once
#include <cstdint>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "engine/engine.h"
#include "grammar/grammar.h"
#include "util/status.h"

namespace paddock::engine {

struct Candidate {
  int32_t id;
  float logit;
  float p;
};

// The repeat/frequency/presence penalty of a token seen `count` times (llama.cpp's formula).
float penalized(float logit, float count, float repeat, float freq, float presence);

// kInvalidArgument naming the option for NaN/inf or out-of-range values.
Status validate_sampling(const SamplingOptions& o, int32_t n_vocab);

class Sampler {
 public:
  // `o` must have passed validate_sampling. num_ctx resolves repeat_last_n = -1.
  Sampler(const SamplingOptions& o, int32_t n_vocab, int32_t num_ctx);
  // logits: [n_vocab]; history: the sequence so far (prompt + generated). Under a grammar,
  // returns -1 when the grammar allows no token of the vocabulary.
  int32_t sample(std::span<const float> logits, std::span<const int32_t> history);

  // Constrains sample() to what `matcher` allows next (both stay owned by the caller; the caller
  // feeds the chosen token's bytes to the matcher). always_mask: compute the mask every step
  // (needed for logprobs of the post-mask distribution).
  void set_grammar(grammar::GrammarMatcher* matcher, const grammar::TokenTrie* trie, bool always_mask);
  // The logits the last sample() drew from: `logits` itself, or the masked copy under a grammar.
  std::span<const float> last_logits(std::span<const float> logits) const {
    return masked_used_ ? std::span<const float>(masked_) : logits;
  }
  // Steps that needed the full mask (for tests and stats).
  uint64_t n_full_masks() const { return n_full_masks_; }

  // The stages, exposed for tests. Each keeps at least one candidate.
  static void penalize(std::vector<Candidate>& c, std::span<const int32_t> window, float repeat, float freq,
                       float presence);  // c indexed by token id (before any filtering)
  static void softmax(std::vector<Candidate>& c);  // sorts by logit (desc, ties by id), sets p
  static void top_k(std::vector<Candidate>& c, int32_t k);
  static void typical(std::vector<Candidate>& c, float p);
  static void top_p(std::vector<Candidate>& c, float p);
  static void min_p(std::vector<Candidate>& c, float p);
  static void temperature(std::vector<Candidate>& c, float t);
  // Index into c (after softmax) chosen by u in [0, 1).
  static size_t draw(const std::vector<Candidate>& c, double u);

 private:
  int32_t sample_plain(std::span<const float> logits, std::span<const int32_t> history);

  SamplingOptions o_;
  int32_t n_vocab_;
  grammar::GrammarMatcher* matcher_ = nullptr;
  const grammar::TokenTrie* trie_ = nullptr;
  bool always_mask_ = false, masked_used_ = false;
  uint64_t n_full_masks_ = 0;
  std::vector<uint8_t> allowed_;
  std::vector<float> masked_;
  int32_t window_;
  std::mt19937_64 rng_;
  std::vector<Candidate> cand_;  // scratch, reused every step
  std::vector<Candidate> adj_;   // tokens changed by bias or penalties
  std::vector<int32_t> slot_;    // [n_vocab] index into adj_ or -1
  std::vector<int32_t> win_;
};

// Log-probabilities from the raw logits (the model's distribution, before any sampling stage):
// out[0] = chosen token, then the top_n most likely tokens in descending order.
void compute_logprobs(std::span<const float> logits, int32_t chosen, int32_t top_n,
                      std::vector<std::pair<int32_t, float>>& out);

}  // namespace paddock::engine
