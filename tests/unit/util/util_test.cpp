// util: sha256 against known vectors, fp16/bf16 conversions, UTF-8 prefixes, atomic writes.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "util/util.h"

using namespace paddock;

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Half, Fp16RoundTripAllValues) {
  for (uint32_t h = 0; h < 65536; ++h) {
    float f = fp16_to_fp32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    EXPECT_EQ(fp32_to_fp16(f), h) << h;
  }
  EXPECT_EQ(fp32_to_fp16(1.0f), 0x3c00);
  EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7bff);
  EXPECT_EQ(fp32_to_fp16(1e6f), 0x7c00);
  EXPECT_EQ(fp16_to_fp32(0x0001), std::ldexp(1.0f, -24));
  // Ties round to even: 1 + 2^-11 lies halfway between 1 and the next fp16.
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(fp32_to_fp16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
}

TEST(Half, Bf16) {
  EXPECT_EQ(fp32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_fp32(0x3f80), 1.0f);
  EXPECT_EQ(fp32_to_bf16(fp32_from_bits(0x3f808000u)), 0x3f80);  // tie -> even
  EXPECT_EQ(fp32_to_bf16(fp32_from_bits(0x3f818000u)), 0x3f82);
}

TEST(Utf8, CompletePrefixHoldsBackPartialCharacters) {
  std::string euro = "\xE2\x82\xAC";
  EXPECT_EQ(utf8::complete_prefix("a" + euro), 4u);
  EXPECT_EQ(utf8::complete_prefix("a" + euro.substr(0, 2)), 1u);
  EXPECT_EQ(utf8::complete_prefix("a" + euro.substr(0, 1)), 1u);
  EXPECT_EQ(utf8::complete_prefix("a\xFF"), 2u);  // invalid byte never completes: pass it on
  EXPECT_TRUE(utf8::is_valid("h\xC3\xA9llo"));
  EXPECT_FALSE(utf8::is_valid("\xC0\xAF"));        // overlong
  EXPECT_FALSE(utf8::is_valid("\xED\xA0\x80"));    // surrogate
}

TEST(Fs, AtomicWriteReplacesWholeFile) {
  auto dir = std::filesystem::temp_directory_path() / ("paddock-util-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto p = (dir / "f").string();
  ASSERT_TRUE(atomic_write_file(p, "first").ok());
  ASSERT_TRUE(atomic_write_file(p, "second").ok());
  auto r = read_file(p, 100);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "second");
  EXPECT_FALSE(read_file(p, 3).ok());
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1);
  std::filesystem::remove_all(dir);
}

TEST(ThreadPool, ParallelForCoversRangeOnce) {
  ThreadPool pool(3);
  std::vector<int> hits(1000, 0);
  for (int rep = 0; rep < 50; ++rep)
    pool.parallel_for(1000, [&](int, int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) hits[i]++;
    });
  for (int h : hits) EXPECT_EQ(h, 50);
}
