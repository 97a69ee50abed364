// Paged KV block manager: see kv_blocks.h. Pure bookkeeping; every operation is O(blocks touched).
#include "engine/kv_blocks.h"

#include <cassert>
#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace paddock::engine {
namespace {

constexpr uint64_t kRootHash = 0x9e3779b97f4a7c15ull;

uint64_t mix(uint64_t x) {  // splitmix64 finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

}  // namespace

KvBlockManager::KvBlockManager(int32_t n_blocks, int32_t block_size, bool prefix_cache)
    : block_size_(block_size), prefix_cache_(prefix_cache) {
  assert(n_blocks > 0 && block_size > 0);
  ref_.assign(n_blocks, 0);
  hash_.assign(n_blocks, 0);
  parent_.assign(n_blocks, 0);
  tokens_.assign(static_cast<size_t>(n_blocks) * block_size, 0);
  lru_prev_.assign(n_blocks, -1);
  lru_next_.assign(n_blocks, -1);
  in_lru_.assign(n_blocks, 0);
  free_.reserve(n_blocks);
  // Pop order 0, 1, 2, ...: deterministic block ids make failures reproducible.
  for (int32_t b = n_blocks - 1; b >= 0; --b) free_.push_back(b);
}

uint64_t KvBlockManager::block_hash(uint64_t parent, std::span<const int32_t> block_tokens) const {
  uint64_t h = mix(parent ^ 0x243f6a8885a308d3ull);
  for (int32_t t : block_tokens) h = mix(h ^ (static_cast<uint64_t>(static_cast<uint32_t>(t)) + 0x13198a2e03707344ull));
  return h == 0 ? 1 : h;
}

int32_t KvBlockManager::lookup(uint64_t parent, uint64_t hash, std::span<const int32_t> block_tokens) const {
  auto it = cached_.find(hash);
  if (it == cached_.end()) return -1;
  int32_t b = it->second;
  if (parent_[b] != parent) return -1;
  const int32_t* stored = tokens_.data() + static_cast<size_t>(b) * block_size_;
  if (std::memcmp(stored, block_tokens.data(), sizeof(int32_t) * block_size_) != 0) return -1;
  return b;
}

int32_t KvBlockManager::blocks_needed(std::span<const int32_t> tokens, int32_t n_cover) const {
  int32_t want = blocks_for(n_cover);
  int32_t cost = 0, matched = 0;
  if (prefix_cache_ && !tokens.empty()) {
    int32_t max_reuse = std::min<int32_t>(want, (static_cast<int32_t>(tokens.size()) - 1) / block_size_);
    uint64_t parent = kRootHash;
    for (; matched < max_reuse; ++matched) {
      auto blk = tokens.subspan(static_cast<size_t>(matched) * block_size_, block_size_);
      uint64_t h = block_hash(parent, blk);
      int32_t b = lookup(parent, h, blk);
      if (b < 0) break;
      if (ref_[b] == 0) ++cost;
      parent = h;
    }
  }
  return cost + (want - matched);
}

int32_t KvBlockManager::allocate(std::span<const int32_t> tokens, int32_t n_cover, KvTable& table) {
  assert(table.blocks.empty() && table.hashes.empty());
  if (blocks_needed(tokens, n_cover) > available()) return -1;
  int32_t want = blocks_for(n_cover);
  if (prefix_cache_ && !tokens.empty()) {
    int32_t max_reuse = std::min<int32_t>(want, (static_cast<int32_t>(tokens.size()) - 1) / block_size_);
    uint64_t parent = kRootHash;
    for (int32_t i = 0; i < max_reuse; ++i) {
      auto blk = tokens.subspan(static_cast<size_t>(i) * block_size_, block_size_);
      uint64_t h = block_hash(parent, blk);
      int32_t b = lookup(parent, h, blk);
      if (b < 0) break;
      if (ref_[b] == 0) lru_remove(b);
      ++ref_[b];
      table.blocks.push_back(b);
      table.hashes.push_back(h);
      parent = h;
    }
  }
  int32_t cached_tokens = static_cast<int32_t>(table.blocks.size()) * block_size_;
  while (static_cast<int32_t>(table.blocks.size()) < want) {
    int32_t b = take_fresh();
    ref_[b] = 1;
    table.blocks.push_back(b);
  }
  return cached_tokens;
}

bool KvBlockManager::grow(KvTable& table, int32_t n_cover) {
  int32_t want = blocks_for(n_cover);
  int32_t have = static_cast<int32_t>(table.blocks.size());
  if (want <= have) return true;
  if (want - have > available()) return false;
  for (; have < want; ++have) {
    int32_t b = take_fresh();
    ref_[b] = 1;
    table.blocks.push_back(b);
  }
  return true;
}

void KvBlockManager::commit(std::span<const int32_t> tokens, int32_t n_computed, KvTable& table) {
  if (!prefix_cache_) return;
  assert(n_computed <= static_cast<int32_t>(tokens.size()));
  int32_t n_full = n_computed / block_size_;
  assert(n_full <= static_cast<int32_t>(table.blocks.size()));
  for (int32_t i = static_cast<int32_t>(table.hashes.size()); i < n_full; ++i) {
    uint64_t parent = i == 0 ? kRootHash : table.hashes[i - 1];
    auto blk = tokens.subspan(static_cast<size_t>(i) * block_size_, block_size_);
    uint64_t h = block_hash(parent, blk);
    table.hashes.push_back(h);
    int32_t b = table.blocks[i];
    if (hash_[b] != 0) {
      assert(hash_[b] == h);
      continue;
    }
    if (cached_.count(h)) continue;  // an identical block computed by another sequence is cached
    hash_[b] = h;
    parent_[b] = parent;
    std::memcpy(tokens_.data() + static_cast<size_t>(b) * block_size_, blk.data(), sizeof(int32_t) * block_size_);
    cached_.emplace(h, b);
  }
}

void KvBlockManager::release(KvTable& table) {
  // Last block first: when evicting, the LRU then drops a chain's tail before its head, and a
  // head block is useful without its tail but not the other way round.
  for (auto it = table.blocks.rbegin(); it != table.blocks.rend(); ++it) {
    int32_t b = *it;
    assert(ref_[b] > 0);
    if (--ref_[b] > 0) continue;
    if (hash_[b] != 0) {
      lru_push_back(b);
    } else {
      free_.push_back(b);
    }
  }
  table.blocks.clear();
  table.hashes.clear();
}

int32_t KvBlockManager::take_fresh() {
  if (!free_.empty()) {
    int32_t b = free_.back();
    free_.pop_back();
    return b;
  }
  int32_t b = lru_head_;
  assert(b >= 0);
  lru_remove(b);
  cached_.erase(hash_[b]);
  hash_[b] = 0;
  parent_[b] = 0;
  return b;
}

void KvBlockManager::lru_push_back(int32_t b) {
  assert(!in_lru_[b]);
  in_lru_[b] = 1;
  lru_prev_[b] = lru_tail_;
  lru_next_[b] = -1;
  if (lru_tail_ >= 0) {
    lru_next_[lru_tail_] = b;
  } else {
    lru_head_ = b;
  }
  lru_tail_ = b;
  ++n_lru_;
}

void KvBlockManager::lru_remove(int32_t b) {
  assert(in_lru_[b]);
  in_lru_[b] = 0;
  int32_t p = lru_prev_[b], n = lru_next_[b];
  if (p >= 0) {
    lru_next_[p] = n;
  } else {
    lru_head_ = n;
  }
  if (n >= 0) {
    lru_prev_[n] = p;
  } else {
    lru_tail_ = p;
  }
  lru_prev_[b] = lru_next_[b] = -1;
  --n_lru_;
}

std::string KvBlockManager::check() const {
  const int32_t n = total();
  std::vector<uint8_t> seen(n, 0);  // 1 free, 2 lru
  for (int32_t b : free_) {
    if (b < 0 || b >= n) return fmt::format("free list holds bad block {}", b);
    if (seen[b]) return fmt::format("block {} twice in the free list", b);
    seen[b] = 1;
    if (ref_[b] != 0) return fmt::format("free block {} has refcount {}", b, ref_[b]);
    if (hash_[b] != 0) return fmt::format("free block {} still has a hash", b);
  }
  int32_t walked = 0;
  for (int32_t b = lru_head_, prev = -1; b >= 0; prev = b, b = lru_next_[b]) {
    if (++walked > n) return "LRU list has a cycle";
    if (seen[b]) return fmt::format("block {} both free and in the LRU", b);
    seen[b] = 2;
    if (!in_lru_[b] || lru_prev_[b] != prev) return fmt::format("LRU links broken at block {}", b);
    if (ref_[b] != 0) return fmt::format("LRU block {} has refcount {}", b, ref_[b]);
    if (hash_[b] == 0) return fmt::format("LRU block {} has no hash", b);
  }
  if (walked != n_lru_) return fmt::format("LRU count {} but {} linked", n_lru_, walked);
  int32_t referenced = 0;
  for (int32_t b = 0; b < n; ++b) {
    if (ref_[b] < 0) return fmt::format("block {} has negative refcount {}", b, ref_[b]);
    if (ref_[b] > 0) {
      ++referenced;
      if (seen[b]) return fmt::format("referenced block {} is also free/cached", b);
    } else if (!seen[b]) {
      return fmt::format("unreferenced block {} is lost (neither free nor cached)", b);
    }
    if (hash_[b] != 0) {
      auto it = cached_.find(hash_[b]);
      if (it == cached_.end() || it->second != b) return fmt::format("hashed block {} missing from the index", b);
    }
  }
  for (const auto& [h, b] : cached_) {
    if (b < 0 || b >= n || hash_[b] != h) return fmt::format("hash entry points to block {} without that hash", b);
  }
  if (referenced + available() != n) {
    return fmt::format("used {} + available {} != total {}", referenced, available(), n);
  }
  return {};
}

}  // namespace paddock::engine
