// Paged KV cache bookkeeping (no tensors): fixed-size blocks, per-sequence block tables as plain
// int arrays, reference counts, chained content hashes of full computed blocks for prefix reuse,
// and an LRU of unreferenced cached blocks that are evicted only when free blocks run out.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace paddock::engine {

// What a sequence keeps about its KV: the physical blocks (table[i] holds tokens
// [i*block_size, (i+1)*block_size)) and the chained hash of each full, computed block.
struct KvTable {
  std::vector<int32_t> blocks;
  std::vector<uint64_t> hashes;  // hashes[i] = hash(hashes[i-1], tokens of block i)
};

class KvBlockManager {
 public:
  KvBlockManager(int32_t n_blocks, int32_t block_size, bool prefix_cache);

  int32_t block_size() const { return block_size_; }
  int32_t total() const { return static_cast<int32_t>(ref_.size()); }
  // Blocks a new allocation can take: never-used/freed ones plus evictable cached ones.
  int32_t available() const { return static_cast<int32_t>(free_.size()) + n_lru_; }
  int32_t cached_unreferenced() const { return n_lru_; }
  int32_t used() const { return total() - available(); }
  bool prefix_cache() const { return prefix_cache_; }
  int32_t blocks_for(int32_t n_tokens) const { return (n_tokens + block_size_ - 1) / block_size_; }

  // Blocks `allocate` would take from the pool for a sequence with these tokens whose table must
  // cover `n_cover` tokens (reused cached blocks still referenced by others cost nothing).
  int32_t blocks_needed(std::span<const int32_t> tokens, int32_t n_cover) const;
  // Fills an empty table for a new (or re-admitted) sequence: reuses the longest cached chain of
  // full blocks of `tokens` (never the block holding the last token, so at least one token is
  // computed and there are logits), then fresh blocks up to `n_cover` tokens. Returns the number
  // of leading tokens whose KV is already present, or -1 (table untouched) if blocks run out.
  int32_t allocate(std::span<const int32_t> tokens, int32_t n_cover, KvTable& table);
  // Extends the table to cover n_cover tokens. False (table untouched) if blocks run out.
  bool grow(KvTable& table, int32_t n_cover);
  // After a step computed KV up to n_computed tokens: hashes newly full blocks and offers them
  // for reuse (when prefix caching is on).
  void commit(std::span<const int32_t> tokens, int32_t n_computed, KvTable& table);
  // Drops the sequence's references; hashed blocks go to the LRU, others to the free list.
  void release(KvTable& table);

  // Checks every invariant (counts add up, refcounts >= 0, hash entries point to live blocks
  // with that hash, LRU holds exactly the unreferenced hashed blocks). Empty string = fine.
  std::string check() const;
  // Test hook: the reference count of one block.
  int32_t ref_count(int32_t block) const { return ref_[block]; }

 private:
  uint64_t block_hash(uint64_t parent, std::span<const int32_t> block_tokens) const;
  int32_t lookup(uint64_t parent, uint64_t hash, std::span<const int32_t> block_tokens) const;
  int32_t take_fresh();
  void lru_push_back(int32_t b);
  void lru_remove(int32_t b);

  int32_t block_size_;
  bool prefix_cache_;
  std::vector<int32_t> ref_;
  std::vector<uint64_t> hash_;    // 0 = none
  std::vector<uint64_t> parent_;  // parent hash of a hashed block (collision check)
  std::vector<int32_t> tokens_;   // [n_blocks * block_size] contents of hashed blocks
  std::vector<int32_t> free_;     // stack of blocks with no content worth keeping
  std::vector<int32_t> lru_prev_, lru_next_;
  std::vector<uint8_t> in_lru_;
  int32_t lru_head_ = -1, lru_tail_ = -1, n_lru_ = 0;  // head = least recently released
  std::unordered_map<uint64_t, int32_t> cached_;        // hash -> block
};

}  // namespace paddock::engine
