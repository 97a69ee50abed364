// Tokenizer unit tests that need no oracle run: metadata validation (SECURITY.md item 11), the
// streaming detokenizer, invalid UTF-8, NFC, long inputs, and small hand-built vocabularies whose
// expected ids follow from the BPE definition by hand.
#include <gtest/gtest.h>

#include <chrono>
#include <random>

#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"  // internal: nfc_normalize / is_nfc_quick
#include "util/utf8.h"

namespace paddock::tokenizer {
namespace {

using gguf::Value;
using gguf::ValueType;

// A byte-level BPE vocabulary: the 256 byte characters, then merged tokens.
MetadataKv tiny_bpe(const std::vector<std::string>& extra_tokens, const std::vector<std::string>& merges) {
  std::vector<std::string> toks;
  int next = 256;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    std::string s;
    utf8::append(s, printable ? static_cast<uint32_t>(b) : static_cast<uint32_t>(next++));
    toks.push_back(s);
  }
  for (const auto& t : extra_tokens) toks.push_back(t);
  MetadataKv kv;
  kv.emplace_back("tokenizer.ggml.model", Value::str("gpt2"));
  kv.emplace_back("tokenizer.ggml.pre", Value::str("gpt-2"));
  kv.emplace_back("tokenizer.ggml.tokens", Value::str_array(toks));
  kv.emplace_back("tokenizer.ggml.merges", Value::str_array(merges));
  return kv;
}

void set(MetadataKv& kv, const std::string& key, Value v) {
  for (auto& [k, old] : kv)
    if (k == key) {
      old = std::move(v);
      return;
    }
  kv.emplace_back(key, std::move(v));
}

void erase_key(MetadataKv& kv, const std::string& key) {
  std::erase_if(kv, [&](const auto& p) { return p.first == key; });
}

ErrorCode load_error(const MetadataKv& kv) {
  auto t = Tokenizer::from_metadata(kv);
  EXPECT_FALSE(t.ok());
  return t.ok() ? ErrorCode::kInternal : t.error().code();
}

TEST(TokenizerMetadata, HandBuiltBpeMergesByRank) {
  // "a b" (rank 0) before "b c" (rank 1): "abc" -> "ab" "c"; then "ab c" (rank 2) -> "abc".
  auto kv = tiny_bpe({"ab", "bc", "abc"}, {"a b", "b c", "ab c"});
  auto t = Tokenizer::from_metadata(kv);
  ASSERT_TRUE(t.ok()) << t.error().message();
  EXPECT_EQ((*t)->encode("abc", false, false), (std::vector<int32_t>{258}));
  EXPECT_EQ((*t)->encode("bc", false, false), (std::vector<int32_t>{257}));
  EXPECT_EQ((*t)->encode("ab", false, false), (std::vector<int32_t>{256}));
  // Ranks decide, not order of appearance: with "b c" ranked first, "abc" -> "a" "bc".
  auto kv2 = tiny_bpe({"ab", "bc"}, {"b c", "a b"});
  auto t2 = Tokenizer::from_metadata(kv2);
  ASSERT_TRUE(t2.ok());
  EXPECT_EQ((*t2)->encode("abc", false, false), (std::vector<int32_t>{'a' - 0, 257}));
  // Ties on rank go to the leftmost pair: "aaa" with "a a" -> "aa" "a".
  auto kv3 = tiny_bpe({"aa"}, {"a a"});
  auto t3 = Tokenizer::from_metadata(kv3);
  ASSERT_TRUE(t3.ok());
  EXPECT_EQ((*t3)->encode("aaa", false, false), (std::vector<int32_t>{256, 'a'}));
  EXPECT_EQ((*t3)->decode({256, 'a'}, false), "aaa");
}

TEST(TokenizerMetadata, RejectsBadVocabularies) {
  auto good = tiny_bpe({"ab"}, {"a b"});
  ASSERT_TRUE(Tokenizer::from_metadata(good).ok());

  EXPECT_EQ(load_error({}), ErrorCode::kCorrupt);
  {  // zero tokens
    auto kv = good;
    set(kv, "tokenizer.ggml.tokens", Value::array(ValueType::kString, {}));
    EXPECT_EQ(load_error(kv), ErrorCode::kCorrupt);
  }
  {  // tokens of the wrong element type
    auto kv = good;
    set(kv, "tokenizer.ggml.tokens", Value::i32_array({1, 2, 3}));
    EXPECT_EQ(load_error(kv), ErrorCode::kCorrupt);
  }
  {  // scores of the wrong type, and of the wrong length
    auto kv = good;
    set(kv, "tokenizer.ggml.scores", Value::i32_array(std::vector<int32_t>(257, 0)));
    EXPECT_EQ(load_error(kv), ErrorCode::kCorrupt);
    set(kv, "tokenizer.ggml.scores", Value::f32_array(std::vector<float>(3, 0.f)));
    EXPECT_EQ(load_error(kv), ErrorCode::kCorrupt);
  }
  {  // token_type of the wrong type, wrong length, out-of-range value
    auto kv = good;
    set(kv, "tokenizer.ggml.token_type", Value::f32_array(std::vector<float>(257, 1.f)));
    EXPECT_EQ(load_error(kv), ErrorCode::kCorrupt);
    set(kv, "tokenizer.ggml.token_type", Value::i32_array(std::vector<int32_t>(256, 1)));
    EXPECT_EQ(load_error(kv), ErrorCode::kCorrupt);
    std::vector<int32_t> types(257, 1);
    types[5] = 99;
    set(kv, "tokenizer.ggml.token_type", Value::i32_array(types));
    EXPECT_EQ(load_error(kv), ErrorCode::kCorrupt);
  }
  for (const char* key : {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.padding_token_id",
                          "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.eot_token_id"}) {
    auto kv = good;
    set(kv, key, Value::u32(257));  // one past the end
    EXPECT_EQ(load_error(kv), ErrorCode::kCorrupt) << key;
    set(kv, key, Value::u64(UINT64_MAX));
    EXPECT_EQ(load_error(kv), ErrorCode::kCorrupt) << key;
    set(kv, key, Value::str("1"));
    EXPECT_EQ(load_error(kv), ErrorCode::kCorrupt) << key;
  }
  {  // merges naming unknown tokens, or making a token the vocabulary lacks
    auto kv = good;
    set(kv, "tokenizer.ggml.merges", Value::str_array({"a zz"}));
    EXPECT_EQ(load_error(kv), ErrorCode::kCorrupt);
    set(kv, "tokenizer.ggml.merges", Value::str_array({"b c"}));
    EXPECT_EQ(load_error(kv), ErrorCode::kCorrupt);
    set(kv, "tokenizer.ggml.merges", Value::str_array({"ab"}));
    EXPECT_EQ(load_error(kv), ErrorCode::kCorrupt);
  }
  {  // a token longer than the cap
    auto kv = tiny_bpe({std::string(kMaxTokenBytes + 1, 'x')}, {});
    EXPECT_EQ(load_error(kv), ErrorCode::kCorrupt);
  }
  {  // unknown model / pre-tokenizer
    auto kv = good;
    set(kv, "tokenizer.ggml.model", Value::str("bert"));
    EXPECT_EQ(load_error(kv), ErrorCode::kUnsupported);
    kv = good;
    set(kv, "tokenizer.ggml.pre", Value::str("no-such-pre"));
    EXPECT_EQ(load_error(kv), ErrorCode::kUnsupported);
    kv = good;
    set(kv, "tokenizer.ggml.model", Value::u32(1));
    EXPECT_EQ(load_error(kv), ErrorCode::kCorrupt);
  }
  {  // a BPE vocabulary without merges
    auto kv = tiny_bpe({"ab"}, {});
    erase_key(kv, "tokenizer.ggml.merges");
    EXPECT_EQ(load_error(kv), ErrorCode::kCorrupt);
  }
  {  // SentencePiece byte token that is not <0xNN>
    MetadataKv kv;
    kv.emplace_back("tokenizer.ggml.model", Value::str("llama"));
    kv.emplace_back("tokenizer.ggml.tokens", Value::str_array({"<unk>", "<0xZZ>", "a"}));
    kv.emplace_back("tokenizer.ggml.scores", Value::f32_array({0, 0, 0}));
    kv.emplace_back("tokenizer.ggml.token_type", Value::i32_array({2, 6, 1}));
    EXPECT_EQ(load_error(kv), ErrorCode::kCorrupt);
  }
}

TEST(TokenizerMetadata, RejectsBadTokenizerJson) {
  EXPECT_FALSE(Tokenizer::from_hf("").ok());
  EXPECT_FALSE(Tokenizer::from_hf("{").ok());
  EXPECT_FALSE(Tokenizer::from_hf("[]").ok());
  EXPECT_FALSE(Tokenizer::from_hf(R"({"model": {"type": "Unigram", "vocab": []}})").ok());
  EXPECT_FALSE(Tokenizer::from_hf(R"({"model": {"type": "BPE", "vocab": {"a": -1}, "merges": []}})").ok());
  EXPECT_FALSE(Tokenizer::from_hf(R"({"model": {"type": "BPE", "vocab": {"a": 99999999}, "merges": []}})").ok());
  EXPECT_FALSE(Tokenizer::from_hf(R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 0}, "merges": []}})").ok());
  EXPECT_FALSE(Tokenizer::from_hf(R"({"model": {"type": "BPE", "vocab": {"a": "x"}, "merges": []}})").ok());
  // Found by fuzz_tokenizer: a normalizer without "pattern" (was undefined behaviour in the reader).
  EXPECT_FALSE(Tokenizer::from_hf(R"({"model":{"type":"BPE","vocab":{"a":10,"":1,"ab":2},"merges":["a b"]},
      "normalizer":{"type":"Replace","pattern:":{"String":" "},"content":"\u2581"}})").ok());
  EXPECT_FALSE(Tokenizer::from_hf(R"({"model":{"type":"BPE","vocab":{"a":0},"merges":[]},
      "pre_tokenizer":{"type":"Split","behavior":"Isolated"}})").ok());
  // A lone id of four million would mean millions of placeholder tokens: refused.
  EXPECT_FALSE(Tokenizer::from_hf(R"({"model": {"type": "BPE", "vocab": {"a": 4000000}, "merges": []}})").ok());
  // Byte-level with an unknown pre-tokenizer regex is refused, naming the regex.
  auto r = Tokenizer::from_hf(
      R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
          "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "x+"}, "behavior": "Isolated", "invert": false},
            {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kUnsupported);
  EXPECT_NE(r.error().message().find("x+"), std::string::npos);
}

// ---- behaviour on a small SentencePiece-style vocabulary (byte fallback, prefix space) ----

MetadataKv tiny_spm(bool with_merges) {
  std::vector<std::string> toks = {"<unk>", "<s>", "</s>"};
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
    toks.push_back(buf);
  }
  // 259.. : ▁ h e l o ▁h ll ▁he llo ▁hello
  for (const char* t : {"\xE2\x96\x81", "h", "e", "l", "o", "\xE2\x96\x81h", "ll", "\xE2\x96\x81he", "llo", "\xE2\x96\x81hello"})
    toks.push_back(t);
  std::vector<int32_t> types(toks.size(), 1);
  types[0] = 2;
  types[1] = types[2] = 3;
  for (int b = 0; b < 256; ++b) types[3 + static_cast<size_t>(b)] = 6;
  std::vector<float> scores(toks.size(), 0.f);
  // Score order matches the merge order below: ▁h, ll, ▁he, llo, ▁hello.
  scores[264] = -1; scores[265] = -2; scores[266] = -3; scores[267] = -4; scores[268] = -5;
  MetadataKv kv;
  kv.emplace_back("tokenizer.ggml.model", Value::str("llama"));
  kv.emplace_back("tokenizer.ggml.tokens", Value::str_array(toks));
  kv.emplace_back("tokenizer.ggml.scores", Value::f32_array(scores));
  kv.emplace_back("tokenizer.ggml.token_type", Value::i32_array(types));
  kv.emplace_back("tokenizer.ggml.bos_token_id", Value::u32(1));
  kv.emplace_back("tokenizer.ggml.eos_token_id", Value::u32(2));
  kv.emplace_back("tokenizer.ggml.unknown_token_id", Value::u32(0));
  if (with_merges)
    kv.emplace_back("tokenizer.ggml.merges", Value::str_array({"\xE2\x96\x81 h", "l l", "\xE2\x96\x81h e", "ll o",
                                                               "\xE2\x96\x81he llo"}));
  return kv;
}

TEST(TokenizerSpm, ScoresAndMergesAgreeWithByteFallback) {
  for (bool merges : {false, true}) {
    auto t = Tokenizer::from_metadata(tiny_spm(merges));
    ASSERT_TRUE(t.ok()) << t.error().message();
    const Tokenizer& tok = **t;
    EXPECT_TRUE(tok.add_space_prefix());
    EXPECT_TRUE(tok.add_bos());
    // "hello" -> ▁hello ; "hello hello" -> ▁hello ▁hello ; BOS added with add_special.
    EXPECT_EQ(tok.encode("hello", false, false), (std::vector<int32_t>{268}));
    EXPECT_EQ(tok.encode("hello hello", true, false), (std::vector<int32_t>{1, 268, 268}));
    // "hé": é is not in the vocabulary -> its two UTF-8 bytes as <0xC3> <0xA9>.
    EXPECT_EQ(tok.encode("h\xC3\xA9", false, false), (std::vector<int32_t>{264, 3 + 0xC3, 3 + 0xA9}));
    EXPECT_EQ(tok.decode(tok.encode("h\xC3\xA9 hello", false, false), false), "h\xC3\xA9 hello");
    // Invalid UTF-8 survives as byte tokens and decodes back to the same bytes.
    std::string bad = "he\xFF\xC3llo\x80";
    EXPECT_EQ(tok.decode(tok.encode(bad, false, false), false), bad);
    // Special tokens: only with parse_special.
    EXPECT_EQ(tok.encode("<s>", false, true), (std::vector<int32_t>{1}));
    EXPECT_NE(tok.encode("<s>", false, false), (std::vector<int32_t>{1}));
    EXPECT_EQ(tok.decode({1, 268, 2}, true), "hello");
    EXPECT_EQ(tok.decode({1, 268, 2}, false), "<s> hello</s>");
  }
}

TEST(TokenizerStream, NeverSplitsCharactersAndStripsPrefixSpace) {
  auto t = Tokenizer::from_metadata(tiny_spm(true));
  ASSERT_TRUE(t.ok());
  const Tokenizer& tok = **t;
  // "▁hello" then the bytes of "é€" one token at a time.
  std::vector<int32_t> ids = {1, 268, 3 + 0xC3, 3 + 0xA9, 3 + 0xE2, 3 + 0x82, 3 + 0xAC, 268, 2};
  StreamDecoder sd(tok, true);
  std::vector<std::string> chunks;
  for (int32_t id : ids) chunks.push_back(sd.push(id));
  chunks.push_back(sd.flush());
  EXPECT_EQ(chunks[0], "");        // <s> skipped
  EXPECT_EQ(chunks[1], "hello");   // leading space of the first piece removed
  EXPECT_EQ(chunks[2], "");        // first byte of é held back
  EXPECT_EQ(chunks[3], "\xC3\xA9");
  EXPECT_EQ(chunks[4], "");
  EXPECT_EQ(chunks[5], "");
  EXPECT_EQ(chunks[6], "\xE2\x82\xAC");
  EXPECT_EQ(chunks[7], " hello");
  std::string all;
  for (const auto& c : chunks) {
    EXPECT_TRUE(utf8::is_valid(c));
    all += c;
  }
  EXPECT_EQ(all, tok.decode(ids, true));
  // An unfinished character at the end becomes U+FFFD on flush; invalid bytes too.
  StreamDecoder sd2(tok, true);
  EXPECT_EQ(sd2.push(268), "hello");
  EXPECT_EQ(sd2.push(3 + 0xE2), "");
  EXPECT_EQ(sd2.flush(), "\xEF\xBF\xBD");
  StreamDecoder sd3(tok, false);
  EXPECT_EQ(sd3.push(1), "<s>");
  EXPECT_EQ(sd3.push(3 + 0xFF), "\xEF\xBF\xBD");
  EXPECT_EQ(sd3.push(-5), "");
  EXPECT_EQ(sd3.push(1 << 30), "");
}

TEST(TokenizerBpe, InvalidUtf8AndLongWordsAreHandled) {
  auto kv = tiny_bpe({"aa", "aaaa"}, {"a a", "aa aa"});
  auto t = Tokenizer::from_metadata(kv);
  ASSERT_TRUE(t.ok());
  const Tokenizer& tok = **t;
  // Every byte string round-trips through byte-level BPE, valid UTF-8 or not.
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    std::string s(static_cast<size_t>(rng() % 40), '\0');
    for (auto& c : s) c = static_cast<char>(rng() & 0xFF);
    EXPECT_EQ(tok.decode(tok.encode(s, false, true), false), s);
  }
  // One 1 MB word must not be quadratic (the heap merge is O(n log n)).
  std::string longword(1 << 20, 'a');
  auto t0 = std::chrono::steady_clock::now();
  auto ids = tok.encode(longword, false, false);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(ids.size(), (1u << 20) / 4);
  EXPECT_LT(secs, 20.0);
  EXPECT_EQ(tok.decode(ids, false), longword);
}

TEST(TokenizerBpe, LongRunsSplitLikeShortOnes) {
  // "\s+(?!\S)" on a 1 MB run of spaces before a letter: all but the last space, then " x".
  auto kv = tiny_bpe({"\xC4\xA0\xC4\xA0"}, {"\xC4\xA0 \xC4\xA0"});  // "  " as one token
  auto t = Tokenizer::from_metadata(kv);
  ASSERT_TRUE(t.ok()) << t.error().message();
  const size_t n = 1 << 20;
  auto whole = (*t)->encode(std::string(n, ' ') + "x", false, false);
  auto head = (*t)->encode(std::string(n - 1, ' '), false, false);
  auto tail = (*t)->encode(" x", false, false);
  head.insert(head.end(), tail.begin(), tail.end());
  EXPECT_EQ(whole, head);
  EXPECT_EQ(whole.size(), n / 2 + 2);  // (n-1) spaces -> n/2-1 pairs + 1 single; then " " "x"
}

TEST(TokenizerNfc, ComposesLikeUnicode) {
  auto kv = tiny_bpe({}, {});
  set(kv, "tokenizer.ggml.pre", Value::str("qwen2"));  // the Qwen2 family normalizes to NFC
  set(kv, "tokenizer.ggml.merges", Value::str_array({}));
  auto t = Tokenizer::from_metadata(kv);
  ASSERT_TRUE(t.ok()) << t.error().message();
  auto nfc = [&](const std::string& s) { return (*t)->decode((*t)->encode(s, false, false), false); };
  EXPECT_EQ(nfc("e\xCC\x81"), "\xC3\xA9");                      // e + acute -> é
  EXPECT_EQ(nfc("\xC3\xA9"), "\xC3\xA9");                        // already composed
  EXPECT_EQ(nfc("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8"), "\xEA\xB0\x81");  // Hangul jamo -> 각
  EXPECT_EQ(nfc("a\xCC\xA3\xCC\x87"), "\xE1\xBA\xA1\xCC\x87");  // a + dot below + dot above -> ạ̇
  EXPECT_EQ(nfc("a\xCC\x87\xCC\xA3"), "\xE1\xBA\xA1\xCC\x87");  // reordered by combining class first
  EXPECT_EQ(nfc("\xE2\x84\xAB"), "\xC3\x85");                    // Angstrom sign -> Å (singleton)
  EXPECT_EQ(nfc("x\xFF\xCC\x81"), "x\xFF\xCC\x81");              // invalid byte blocks composition
}

TEST(TokenizerNfc, QuickCheckNeverSaysYesWrongly) {
  // Random strings over letters, precomposed and decomposed forms, combining marks, jamo, CJK.
  const uint32_t pool[] = {'a', 'e', 'A', 0xE9, 0x301, 0x300, 0x323, 0x307, 0x1100, 0x1161, 0x11A8, 0xAC00, 0x4E00,
                           0x30CF, 0x3099, 0x30D0, 0x212B, 0xF900, 0x0958, 0x0915, 0x093C, 0x1E0A, 0x327, 0x5B4};
  std::mt19937 rng(3);
  int quick_yes = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    int n = 1 + static_cast<int>(rng() % 6);
    for (int k = 0; k < n; ++k) utf8::append(s, pool[rng() % std::size(pool)]);
    std::string norm = nfc_normalize(s);
    EXPECT_EQ(nfc_normalize(norm), norm) << "NFC is idempotent";
    if (is_nfc_quick(s)) {
      ++quick_yes;
      EXPECT_EQ(norm, s);
    }
  }
  EXPECT_GT(quick_yes, 1000);
  EXPECT_TRUE(is_nfc_quick("plain ascii"));
  EXPECT_TRUE(is_nfc_quick("\xE4\xB8\x80\xEA\xB0\x80 caf\xC3\xA9"));
  EXPECT_FALSE(is_nfc_quick("cafe\xCC\x81"));
}

}  // namespace
}  // namespace paddock::tokenizer
