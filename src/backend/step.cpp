// validate_step: the single place a step's arrays are checked before any backend reads them.
#include "backend/step.h"

namespace paddock::backend {

Status validate_step(const Batch& b, const StepBounds& bounds) {
  const int32_t n = b.n_tokens();
  if (n <= 0) return make_error(ErrorCode::kInvalidArgument, "empty batch");
  if (static_cast<int32_t>(b.positions.size()) != n)
    return make_error(ErrorCode::kInvalidArgument, "batch: {} positions for {} tokens", b.positions.size(), n);
  for (int32_t t : b.tokens)
    if (t < 0 || t >= bounds.n_vocab)
      return make_error(ErrorCode::kInvalidArgument, "token id {} outside the vocabulary (0..{})", t, bounds.n_vocab - 1);
  const int32_t ns = b.n_seqs();
  if (ns <= 0 || b.seq_start.front() != 0 || b.seq_start.back() != n)
    return make_error(ErrorCode::kInvalidArgument, "batch: seq_start does not cover the tokens");
  if (static_cast<int32_t>(b.seq_kv_len.size()) != ns || b.max_blocks <= 0 ||
      b.block_tables.size() != static_cast<size_t>(ns) * static_cast<size_t>(b.max_blocks))
    return make_error(ErrorCode::kInvalidArgument, "batch: per-sequence arrays have the wrong size");
  for (int32_t s = 0; s < ns; ++s) {
    const int32_t b0 = b.seq_start[s], b1 = b.seq_start[s + 1];
    if (b1 < b0) return make_error(ErrorCode::kInvalidArgument, "batch: seq_start not monotonic");
    const int64_t kvlen = b.seq_kv_len[s];
    if (kvlen <= 0 || kvlen > int64_t{b.max_blocks} * bounds.block_size)
      return make_error(ErrorCode::kInvalidArgument, "batch: sequence {} KV length {} exceeds its block table", s, kvlen);
    for (int32_t t = b0; t < b1; ++t)
      if (b.positions[t] < 0 || b.positions[t] >= kvlen || (t > b0 && b.positions[t] != b.positions[t - 1] + 1))
        return make_error(ErrorCode::kInvalidArgument, "batch: bad position {} for token {}", b.positions[t], t);
    const int64_t used = (kvlen + bounds.block_size - 1) / bounds.block_size;
    for (int64_t j = 0; j < used; ++j) {
      const int32_t blk = b.block_tables[static_cast<size_t>(s) * b.max_blocks + j];
      if (blk < 0 || blk >= bounds.n_blocks)
        return make_error(ErrorCode::kInvalidArgument, "batch: sequence {} block {} = {} outside the pool", s, j, blk);
    }
  }
  for (int32_t r : b.logit_rows)
    if (r < 0 || r >= n) return make_error(ErrorCode::kInvalidArgument, "batch: logit row {} out of range", r);
  return Status::Ok();
}

}  // namespace paddock::backend
