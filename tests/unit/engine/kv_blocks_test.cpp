// KV block manager: counts, prefix reuse through chained hashes of computed full blocks, the
// last-token rule, LRU eviction order, and reuse switched off.
#include "engine/kv_blocks.h"

#include <gtest/gtest.h>

#include <numeric>

namespace paddock::engine {
namespace {

std::vector<int32_t> iota_tokens(int32_t n, int32_t start = 100) {
  std::vector<int32_t> t(n);
  std::iota(t.begin(), t.end(), start);
  return t;
}

TEST(KvBlocks, AllocateGrowReleaseCounts) {
  KvBlockManager kv(10, 4, true);
  KvTable a;
  auto t = iota_tokens(9);
  EXPECT_EQ(kv.blocks_needed(t, 10), 3);
  EXPECT_EQ(kv.allocate(t, 10, a), 0);
  EXPECT_EQ(a.blocks.size(), 3u);
  EXPECT_EQ(kv.used(), 3);
  EXPECT_EQ(kv.available(), 7);
  EXPECT_TRUE(kv.grow(a, 12));  // still 3 blocks
  EXPECT_EQ(kv.used(), 3);
  EXPECT_TRUE(kv.grow(a, 13));
  EXPECT_EQ(kv.used(), 4);
  EXPECT_FALSE(kv.grow(a, 4 * 11));  // would need 11 blocks in all
  EXPECT_EQ(a.blocks.size(), 4u);     // untouched on failure
  EXPECT_EQ(kv.check(), "");
  kv.release(a);
  EXPECT_TRUE(a.blocks.empty());
  EXPECT_EQ(kv.available(), 10);
  EXPECT_EQ(kv.check(), "");
}

TEST(KvBlocks, AllocateFailsWithoutTouchingTheTable) {
  KvBlockManager kv(2, 4, true);
  KvTable a;
  auto t = iota_tokens(9);
  EXPECT_EQ(kv.allocate(t, 9, a), -1);
  EXPECT_TRUE(a.blocks.empty());
  EXPECT_EQ(kv.available(), 2);
}

TEST(KvBlocks, PrefixReuseOfComputedFullBlocks) {
  KvBlockManager kv(16, 4, true);
  auto ta = iota_tokens(10);
  KvTable a;
  ASSERT_EQ(kv.allocate(ta, 11, a), 0);
  // Before its KV is computed nothing may be reused (another sequence would read garbage).
  KvTable early;
  EXPECT_EQ(kv.allocate(ta, 11, early), 0);
  kv.release(early);
  kv.commit(ta, 10, a);  // blocks 0 and 1 full and computed, block 2 partial
  EXPECT_EQ(a.hashes.size(), 2u);

  // Same first 9 tokens, then different: reuses two blocks (8 tokens).
  auto tb = ta;
  tb[9] = 7;
  KvTable b;
  EXPECT_EQ(kv.allocate(tb, 11, b), 8);
  EXPECT_EQ(b.blocks[0], a.blocks[0]);
  EXPECT_EQ(b.blocks[1], a.blocks[1]);
  EXPECT_NE(b.blocks[2], a.blocks[2]);
  EXPECT_EQ(kv.ref_count(a.blocks[0]), 2);
  EXPECT_EQ(kv.check(), "");

  // A prompt that is exactly the two cached blocks reuses only the first: its last token must
  // be computed to get logits.
  std::vector<int32_t> tc(ta.begin(), ta.begin() + 8);
  KvTable c;
  EXPECT_EQ(kv.allocate(tc, 9, c), 4);
  EXPECT_EQ(c.blocks[0], a.blocks[0]);
  EXPECT_NE(c.blocks[1], a.blocks[1]);

  // Chained: block 1's tokens alone do not match when block 0 differs.
  auto td = ta;
  td[0] = 5;
  KvTable d;
  EXPECT_EQ(kv.allocate(td, 11, d), 0);
  EXPECT_EQ(kv.check(), "");
  kv.release(a);
  kv.release(b);
  kv.release(c);
  kv.release(d);
  EXPECT_EQ(kv.available(), 16);
  EXPECT_EQ(kv.cached_unreferenced(), 2);  // a's two full blocks stay cached
  EXPECT_EQ(kv.check(), "");

  // Released but cached: a later request still hits them.
  KvTable e;
  EXPECT_EQ(kv.allocate(ta, 11, e), 8);
  EXPECT_EQ(kv.cached_unreferenced(), 0);
  EXPECT_EQ(kv.check(), "");
}

TEST(KvBlocks, EvictsLeastRecentlyReleasedOnlyWhenFreeRunsOut) {
  KvBlockManager kv(6, 2, true);
  auto ta = iota_tokens(5, 0);   // blocks [0,1] [2,3] + partial
  auto tb = iota_tokens(5, 50);
  KvTable a, b;
  ASSERT_EQ(kv.allocate(ta, 5, a), 0);
  kv.commit(ta, 5, a);
  ASSERT_EQ(kv.allocate(tb, 5, b), 0);
  kv.commit(tb, 5, b);
  kv.release(a);  // a's blocks released first: least recent
  kv.release(b);
  EXPECT_EQ(kv.cached_unreferenced(), 4);
  EXPECT_EQ(kv.available(), 6);
  // Needs 2 blocks: the 2 never-cached ones are used first, no eviction.
  KvTable c;
  auto tc = iota_tokens(3, 900);
  ASSERT_EQ(kv.allocate(tc, 3, c), 0);
  EXPECT_EQ(kv.cached_unreferenced(), 4);
  // One more block: evicts a's tail block (a released first, tail before head).
  KvTable d;
  auto td = iota_tokens(1, 990);
  ASSERT_EQ(kv.allocate(td, 1, d), 0);
  EXPECT_EQ(kv.cached_unreferenced(), 3);
  EXPECT_EQ(kv.check(), "");
  KvTable a2, b2;
  // Only a's head block survives; taking it plus 2 fresh blocks evicts both of b's.
  EXPECT_EQ(kv.allocate(ta, 5, a2), 2);
  EXPECT_EQ(kv.cached_unreferenced(), 0);
  EXPECT_EQ(kv.available(), 0);
  EXPECT_EQ(kv.allocate(tb, 5, b2), -1);
  kv.release(c);
  kv.release(d);
  EXPECT_EQ(kv.allocate(tb, 5, b2), 0);
  EXPECT_EQ(kv.check(), "");
}

TEST(KvBlocks, ReusedCachedBlocksCountAgainstAvailability) {
  KvBlockManager kv(3, 2, true);
  auto t = iota_tokens(5, 0);
  KvTable a;
  ASSERT_EQ(kv.allocate(t, 5, a), 0);
  kv.commit(t, 5, a);
  kv.release(a);
  EXPECT_EQ(kv.available(), 3);
  // Two reused blocks from the LRU + one fresh = all three.
  EXPECT_EQ(kv.blocks_needed(t, 5), 3);
  KvTable b;
  EXPECT_EQ(kv.allocate(t, 5, b), 4);
  EXPECT_EQ(kv.available(), 0);
  EXPECT_EQ(kv.check(), "");
}

TEST(KvBlocks, DuplicateComputationKeepsOneIndexEntry) {
  KvBlockManager kv(8, 2, true);
  auto t = iota_tokens(5, 0);
  KvTable a, b;
  ASSERT_EQ(kv.allocate(t, 5, a), 0);
  ASSERT_EQ(kv.allocate(t, 5, b), 0);  // admitted before a computed anything
  kv.commit(t, 5, a);
  kv.commit(t, 5, b);
  EXPECT_EQ(kv.check(), "");
  kv.release(a);
  kv.release(b);
  EXPECT_EQ(kv.cached_unreferenced(), 2);  // b's copies went to the free list
  EXPECT_EQ(kv.check(), "");
}

TEST(KvBlocks, PrefixCacheOff) {
  KvBlockManager kv(8, 2, false);
  auto t = iota_tokens(5, 0);
  KvTable a, b;
  ASSERT_EQ(kv.allocate(t, 5, a), 0);
  kv.commit(t, 5, a);
  EXPECT_EQ(kv.allocate(t, 5, b), 0);
  kv.release(a);
  kv.release(b);
  EXPECT_EQ(kv.cached_unreferenced(), 0);
  EXPECT_EQ(kv.check(), "");
}

}  // namespace
}  // namespace paddock::engine
