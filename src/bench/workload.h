// bench/workload: what is sent and when — prompts (a JSONL file or synthetic text of drawn
// lengths), seeded length distributions, and open-loop arrival schedules. Deterministic: the same
// seed gives the same prompts and arrivals on every machine (splitmix64, our own distributions).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/bench.h"

namespace paddock::bench {

struct Prompt {
  std::string text;         // for generate / completions (or a single user message)
  nlohmann::json messages;  // for chat routes when the file gave messages; null otherwise
  int output_tokens = 0;    // requested through num_predict / max_tokens
  int input_words = 0;      // synthetic prompts: words in `text`
};

// A seeded random stream with the few distributions the workload needs.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  double uniform();  // [0, 1)
  double normal();   // mean 0, sd 1
  int draw(const LengthDist& d);

 private:
  uint64_t s_;
};

// Limits on a prompt file (a file past them is an error naming the limit).
constexpr uint64_t kMaxPromptFileBytes = 1ull << 30;
constexpr size_t kMaxPrompts = 1u << 20;

// Reads a JSONL file: one object per line with "prompt" (string) or "messages" (array of
// {"role","content"}), and optional "output_tokens" (or "max_tokens"); blank lines are skipped.
// Lines without a length take one from `default_out`. Errors name the line.
Result<std::vector<Prompt>> load_prompts(const std::string& path, const LengthDist& default_out, Rng& rng);

// `n` synthetic prompts of drawn lengths: random common English words, `tokens_per_word` server
// tokens each (1 without calibration), so a prompt of L tokens has about L / tokens_per_word words
// after `overhead_tokens` (the chat template's own) are taken off.
std::vector<Prompt> synthetic_prompts(size_t n, const LengthDist& in, const LengthDist& out, Rng& rng,
                                      double tokens_per_word = 1.0, double overhead_tokens = 0.0);

// Random words: the body of a synthetic prompt.
std::string synthetic_text(int words, Rng& rng);

// Open-loop send times in seconds from the start: `n` arrivals at `rate` per second, Poisson
// (exponential gaps) or constant; the first is at 0 for constant, after one gap for Poisson.
std::vector<double> arrival_times(size_t n, double rate, Arrival arrival, Rng& rng);

}  // namespace paddock::bench
