// model: the public header — a loaded model (hyper-parameters, weights bound on a backend, its
// paged KV pool) and one forward over a Batch. One file per architecture family under archs/.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "gguf/gguf.h"
#include "backend/step.h"
#include "util/status.h"

namespace paddock {

struct LoadOptions {
  int n_threads = 0;         // CPU backend threads; 0 = all cores
  std::string backend = "cpu";  // device: "cpu", "cuda" or "cuda:N"
};

// The KV pool and the step plan: init_kv allocates the pool and the activations of the largest
// step once; forward never allocates, and a step past the plan is an error.
struct KvOptions {
  int32_t block_size = 16;   // tokens per block
  int32_t n_blocks = 0;      // blocks in the pool (shared by all sequences)
  bool q8_0 = false;         // KV cache element type: F16 (default) or Q8_0
  int32_t max_step_tokens = 0;  // tokens in the largest step; 0 = min(pool tokens, 512)
  int32_t max_logit_rows = 0;   // logit rows in one step; 0 = min(max_step_tokens, 64)
};

// How an embedding is pooled from the final-normed hidden states (`<arch>.pooling_type`, with
// llama.cpp's values). Absent = mean.
enum class Pooling : int32_t { kNone = 0, kMean = 1, kCls = 2, kLast = 3, kRank = 4 };

struct ModelInfo {
  std::string architecture;
  int32_t n_vocab = 0, n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, head_dim = 0;
  int32_t n_ctx_train = 0;
  int32_t sliding_window = 0;  // 0 = none
  Pooling pooling = Pooling::kMean;
  uint64_t weight_bytes = 0;
  // Bytes of KV cache per token over all layers (for memory planning).
  uint64_t kv_bytes_per_token(bool q8_0) const;
};

class Model {
 public:
  virtual ~Model() = default;
  // Fails with kUnsupported naming the architecture or tensor type it cannot run.
  static Result<std::unique_ptr<Model>> load(std::shared_ptr<const gguf::File> file, const LoadOptions& opts);

  virtual const ModelInfo& info() const = 0;
  // Allocates the KV pool and the step's activations (see KvOptions). Once, before forward; an
  // impossible plan fails here, naming the numbers.
  virtual Status init_kv(const KvOptions& opts) = 0;
  // Buffers the model has asked its backend for so far (a planned step adds none).
  virtual uint64_t buffer_allocations() const = 0;
  // Runs one step. `logits` receives [batch.logit_rows.size() * n_vocab] floats.
  virtual Status forward(const Batch& batch, std::span<float> logits) = 0;
  // Final-normed hidden states for the logit rows instead of logits: [rows * n_embd] (embeddings).
  virtual Status forward_hidden(const Batch& batch, std::span<float> hidden) = 0;
  // Copies the KV contents of one physical block to another (copy-on-write of a shared partial block).
  virtual void copy_kv_block(int32_t src, int32_t dst) = 0;
};

}  // namespace paddock
