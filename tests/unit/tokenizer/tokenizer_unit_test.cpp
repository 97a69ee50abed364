// Tokenizer unit tests that need no oracle: metadata validation (SECURITY.md item 11), the
// streaming detokenizer, invalid UTF-8, NFC, long inputs, and hand-built vocabularies.
#include <gtest/gtest.h>

#include "tokenizer/tokenizer.h"

namespace paddock::tokenizer {
namespace {

TEST(TokenizerMetadata, EmptyIsRejected) {
  MetadataKv kv;
  auto t = Tokenizer::from_metadata(kv);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code(), ErrorCode::kCorrupt);
}

}  // namespace
}  // namespace paddock::tokenizer
