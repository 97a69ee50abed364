// engine: the public header — the loop that serves many sequences on one model: every step the
// scheduler picks a batch (decodes + prefill chunks within a token budget and free KV blocks),
// the model runs it, the sampler picks tokens, and events go back through each request's sink.
// One engine thread owns the model and the KV cache; submit/cancel are thread-safe.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "util/status.h"

namespace paddock::grammar {
class Grammar;    // grammar/grammar.h; grammar/json_schema.h compiles Ollama's `format` into one
class TokenTrie;  // grammar/grammar.h
}  // namespace paddock::grammar

namespace paddock::engine {

// Names and defaults follow Ollama's options.
struct SamplingOptions {
  float temperature = 0.8f;  // 0 = greedy
  int32_t top_k = 40;        // <=0 = off
  float top_p = 0.9f;        // 1 = off
  float min_p = 0.0f;
  float typical_p = 1.0f;
  float repeat_penalty = 1.0f;
  int32_t repeat_last_n = 64;  // 0 off, -1 = num_ctx
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  int64_t seed = -1;           // -1 = random
  std::vector<std::pair<int32_t, float>> logit_bias;
};

struct Request {
  std::vector<int32_t> prompt;     // already templated and tokenized
  SamplingOptions sampling;
  int32_t num_predict = -1;        // -1 = until EOS or context end
  int32_t num_ctx = 0;             // per-sequence context cap; 0 = engine default
  std::vector<std::string> stop;   // stop sequences (matched on text, across token boundaries)
  int32_t top_logprobs = -1;       // -1 = no logprobs; 0..20 = logprob of chosen + N alternatives
  bool embed = false;              // compute an embedding of the prompt instead of generating
  // Embeddings pool the final-normed hidden states over the prompt as the model's pooling_type
  // says (mean when absent, cls = first token, last = last token; others kInvalidArgument); L2-normalized
  // unless this is false (Ollama's /api/embed normalizes, the legacy /api/embeddings does not).
  bool embed_normalize = true;
  // Structured output: every generated token keeps the output a prefix of a sentence of this
  // grammar; end-of-generation tokens are allowed only once it is complete, and the sequence
  // ends ("stop") as soon as the grammar admits nothing more. Logprobs then describe the masked
  // distribution. Null: unconstrained.
  std::shared_ptr<const grammar::Grammar> grammar;
};

struct TokenLogprob {
  int32_t token;
  std::string piece;
  float logprob;
};

struct Event {
  enum class Kind { kToken, kDone, kError } kind = Kind::kToken;
  // kToken: text is complete UTF-8 (may be empty while a multi-byte character is pending).
  std::string text;
  int32_t token = -1;
  std::vector<TokenLogprob> logprobs;  // [0] chosen, then alternatives (when requested)
  // kDone: statistics and reason ("stop" or "length"); embedding for embed requests.
  std::string done_reason;
  int32_t prompt_tokens = 0, cached_tokens = 0, eval_tokens = 0;
  int64_t prompt_ns = 0, eval_ns = 0;
  std::vector<float> embedding;
  // kError: message
  std::string error;
};

// Called on the engine thread: must not block (hand the event to a queue).
using Sink = std::function<void(Event&&)>;

struct Options {
  int32_t max_seqs = 4;            // sequences decoded together (parallel slots)
  int32_t num_ctx = 4096;          // default and maximum context per sequence
  int32_t step_token_budget = 512; // tokens per step (prefill chunks + decodes)
  int32_t kv_block_size = 16;
  int32_t kv_blocks = 0;           // 0 = enough for max_seqs * num_ctx
  bool kv_q8_0 = false;
  bool prefix_cache = true;
};

struct Stats {
  int32_t running = 0, waiting = 0;
  int32_t kv_blocks_total = 0, kv_blocks_free = 0;
  uint64_t steps = 0, preemptions = 0, prefix_hit_tokens = 0;
};

class Engine {
 public:
  virtual ~Engine() = default;
  static Result<std::unique_ptr<Engine>> create(std::unique_ptr<Model> model,
                                                std::shared_ptr<const tokenizer::Tokenizer> tok,
                                                const Options& opts);
  // Validates (prompt fits the context, options in range) and queues. Returns the sequence id.
  virtual Result<uint64_t> submit(Request req, Sink sink) = 0;
  // Cancels; the sequence's KV blocks are freed at the next step. Unknown ids are ignored.
  virtual void cancel(uint64_t id) = 0;
  virtual Stats stats() const = 0;
  virtual const ModelInfo& info() const = 0;
  // Stops the loop; pending requests get an error event.
  virtual void shutdown() = 0;
};

// Every token's bytes for grammar masks (what the engine builds once per model): text tokens by
// their decoded piece, end-of-generation tokens marked, control/unknown/unused tokens never allowed.
// n_vocab: the model's (ids past the tokenizer's vocabulary are never allowed).
std::shared_ptr<const grammar::TokenTrie> build_token_trie(const tokenizer::Tokenizer& tok, int32_t n_vocab);

}  // namespace paddock::engine
