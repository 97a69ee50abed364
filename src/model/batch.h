// One engine step: the tokens of many sequences flattened into one batch, as plain integer
// arrays so a backend can copy them to the device in one go (and a CUDA graph can replay them).
#pragma once
#include <cstdint>
#include <vector>

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

}  // namespace paddock
