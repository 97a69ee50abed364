// backend: the step's data — the tokens of many sequences flattened into one batch, as plain
// integer arrays so a backend can copy them to the device in one go (and a CUDA graph can replay
// them). Header-only struct (the scheduler, which links util alone, builds it); validate_step is
// the one check every step passes before a backend sees it.
#pragma once
#include <cstdint>
#include <vector>

#include "util/status.h"

namespace paddock {

struct Batch {
  // Per token (n_tokens). Tokens of one sequence are contiguous and in position order.
  std::vector<int32_t> tokens;
  std::vector<int32_t> positions;   // absolute position within its sequence
  // Per sequence (n_seqs).
  std::vector<int32_t> seq_start;   // [n_seqs + 1] offsets into tokens
  std::vector<int32_t> seq_kv_len;  // KV length after this step = last position + 1
  int32_t max_blocks = 0;           // row stride of block_tables
  std::vector<int32_t> block_tables;  // [n_seqs * max_blocks] physical KV block ids, -1 = unused
  // Rows (indices into tokens) whose logits the caller wants, in output order.
  std::vector<int32_t> logit_rows;

  int32_t n_tokens() const { return static_cast<int32_t>(tokens.size()); }
  int32_t n_seqs() const { return seq_start.empty() ? 0 : static_cast<int32_t>(seq_start.size()) - 1; }
};

namespace backend {
// What a step may reference: the model's vocabulary and the KV pool's geometry.
struct StepBounds {
  int32_t n_vocab = 0;
  int32_t n_blocks = 0;    // KV pool blocks
  int32_t block_size = 0;  // tokens per block
};
// Every structural and range check of a step (token ids, positions contiguous and below each
// sequence's KV length, block tables inside the pool, logit rows inside the step). Backends may
// assume a batch that passed it.
Status validate_step(const Batch& b, const StepBounds& bounds);
}  // namespace backend

}  // namespace paddock
