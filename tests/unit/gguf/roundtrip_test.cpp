// Writer -> reader round trips: every metadata type (edge values, empty and nested arrays) in v2
// and v3, tensor data and layout, custom alignment, atomic streaming writes, typed accessors,
// and a byte-exact comparison of the writer's layout with a hand-built file.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "gguf/gguf.h"
#include "raw_builder.h"

namespace paddock::gguf {
namespace {

using ::testing::HasSubstr;

std::vector<std::pair<std::string, Value>> every_value_kind() {
  std::vector<std::pair<std::string, Value>> kv;
  auto add = [&](std::string k, Value v) { kv.emplace_back(std::move(k), std::move(v)); };
  add("t.u8", Value::u8(255));
  add("t.i8", Value::i8(-128));
  add("t.u16", Value::u16(65535));
  add("t.i16", Value::i16(-32768));
  add("t.u32", Value::u32(0xffffffffu));
  add("t.i32", Value::i32(std::numeric_limits<int32_t>::min()));
  add("t.u64", Value::u64(std::numeric_limits<uint64_t>::max()));
  add("t.i64", Value::i64(std::numeric_limits<int64_t>::min()));
  add("t.f32", Value::f32(-1.5e-38f));
  add("t.f32.inf", Value::f32(std::numeric_limits<float>::infinity()));
  add("t.f32.nan", Value::f32(std::numeric_limits<float>::quiet_NaN()));
  add("t.f32.negzero", Value::f32(-0.0f));
  add("t.f64", Value::f64(3.141592653589793238));
  add("t.bool.true", Value::boolean(true));
  add("t.bool.false", Value::boolean(false));
  add("t.str", Value::str("héllo, 世界 🦙"));
  add("t.str.empty", Value::str(""));
  add("t.str.binary", Value::str(std::string("a\0b\xff\xfe", 5)));  // values may hold any bytes
  add("t.arr.u8", Value::array(ValueType::kUint8, {Value::u8(0), Value::u8(1), Value::u8(255)}));
  add("t.arr.i8", Value::array(ValueType::kInt8, {Value::i8(-1), Value::i8(127)}));
  add("t.arr.u16", Value::array(ValueType::kUint16, {Value::u16(1), Value::u16(65535)}));
  add("t.arr.i16", Value::array(ValueType::kInt16, {Value::i16(-2), Value::i16(3)}));
  add("t.arr.u32", Value::array(ValueType::kUint32, {Value::u32(7)}));
  add("t.arr.i32", Value::i32_array({-1, 0, 1, std::numeric_limits<int32_t>::max()}));
  add("t.arr.u64", Value::array(ValueType::kUint64, {Value::u64(1ull << 63)}));
  add("t.arr.i64", Value::array(ValueType::kInt64, {Value::i64(-5), Value::i64(1ll << 40)}));
  add("t.arr.f32", Value::f32_array({0.5f, -2.25f, 1e30f}));
  add("t.arr.f64", Value::array(ValueType::kFloat64, {Value::f64(1e-300), Value::f64(-0.0)}));
  add("t.arr.bool", Value::array(ValueType::kBool, {Value::boolean(true), Value::boolean(false)}));
  add("t.arr.str", Value::str_array({"a", "", "▁the", std::string("\0", 1)}));
  add("t.arr.empty.u32", Value::array(ValueType::kUint32, {}));
  add("t.arr.empty.str", Value::array(ValueType::kString, {}));
  add("t.arr.empty.arr", Value::array(ValueType::kArray, {}));
  add("t.arr.nested",
      Value::array(ValueType::kArray, {Value::array(ValueType::kUint32, {Value::u32(1), Value::u32(2)}),
                                       Value::array(ValueType::kUint32, {}),
                                       Value::array(ValueType::kUint32, {Value::u32(3)})}));
  add("t.arr.nested.str", Value::array(ValueType::kArray, {Value::str_array({"x", "y"}), Value::str_array({})}));
  // Three levels: the default limit (4) allows it.
  add("t.arr.nested3", Value::array(ValueType::kArray, {Value::array(ValueType::kArray, {Value::f32_array({1.0f})})}));
  return kv;
}

class GgufRoundTrip : public ::testing::TestWithParam<uint32_t> {};

TEST_P(GgufRoundTrip, EveryMetadataType) {
  Writer w(GetParam());
  auto kv = every_value_kind();
  for (const auto& [k, v] : kv) w.set(k, v);
  auto bytes = w.serialize();
  ASSERT_TRUE(bytes.ok()) << bytes.error().message();
  auto f = File::parse(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()));
  ASSERT_TRUE(f.ok()) << f.error().message();
  EXPECT_EQ(f->version(), GetParam());
  ASSERT_EQ(f->kv().size(), kv.size());
  for (size_t k = 0; k < kv.size(); ++k) {
    EXPECT_EQ(f->kv()[k].first, kv[k].first);
    EXPECT_TRUE(f->kv()[k].second == kv[k].second) << kv[k].first;
  }
  EXPECT_TRUE(std::isnan(f->find("t.f32.nan")->f));
  EXPECT_TRUE(std::signbit(f->find("t.f32.negzero")->f));
  EXPECT_EQ(f->find("t.arr.nested")->arr[2].arr[0].u, 3u);
  EXPECT_EQ(f->tensors().size(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Versions, GgufRoundTrip, ::testing::Values(2u, 3u));

TEST(GgufWriter, VersionsDifferOnlyInTheVersionField) {
  Writer w2(2), w3(3);
  for (const auto& [k, v] : every_value_kind()) {
    w2.set(k, v);
    w3.set(k, v);
  }
  std::vector<float> data(8, 1.0f);
  std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(data.data()), 32);
  ASSERT_TRUE(w2.add_tensor("w", 0, {8}, bytes).ok());
  ASSERT_TRUE(w3.add_tensor("w", 0, {8}, bytes).ok());
  std::string a = *w2.serialize(), b = *w3.serialize();
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(a[4], 2);
  EXPECT_EQ(b[4], 3);
  EXPECT_EQ(a.substr(8), b.substr(8));
}

std::vector<uint8_t> pattern(size_t n, uint8_t salt) {
  std::vector<uint8_t> v(n);
  for (size_t k = 0; k < n; ++k) v[k] = static_cast<uint8_t>(k * 31 + salt);
  return v;
}

TEST(GgufWriter, TensorsRoundTripWithAlignedData) {
  for (uint32_t align : {1u, 8u, 32u, 64u, 4096u}) {
    Writer w;
    w.set("general.architecture", Value::str("test"));
    if (align != 32) w.set("general.alignment", Value::u32(align));
    auto a = pattern(4 * 3 * 5, 1);   // f32 3x5
    auto b = pattern(34 * 2, 2);      // q8_0 64
    auto c = pattern(2 * 7, 3);       // f16 7
    auto d = pattern(8 * 2 * 1 * 2 * 3, 4);  // f64, four dims
    ASSERT_TRUE(w.add_tensor("a", 0, {3, 5}, a).ok());
    ASSERT_TRUE(w.add_tensor("b", 8, {64}, b).ok());
    ASSERT_TRUE(w.add_tensor_view("c", 1, {7}, c).ok());
    ASSERT_TRUE(w.add_tensor_producer("d", 28, {2, 1, 2, 3}, [&](std::span<uint8_t> out) {
                   std::copy(d.begin(), d.end(), out.begin());
                   return Status::Ok();
                 }).ok());
    auto bytes = w.serialize();
    ASSERT_TRUE(bytes.ok()) << bytes.error().message();
    auto f = File::parse(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()));
    ASSERT_TRUE(f.ok()) << f.error().message();
    EXPECT_EQ(f->alignment(), align);
    EXPECT_EQ(f->data_offset() % align, 0u);
    EXPECT_EQ(f->trailing_bytes(), 0u);
    EXPECT_EQ(bytes->size() % align, 0u) << "the last tensor is padded too";
    const std::vector<uint8_t>* want[] = {&a, &b, &c, &d};
    const char* names[] = {"a", "b", "c", "d"};
    for (int k = 0; k < 4; ++k) {
      const TensorInfo* t = f->tensor(names[k]);
      ASSERT_NE(t, nullptr);
      EXPECT_EQ(t->offset % align, 0u);
      EXPECT_EQ(t->nbytes, want[k]->size());
      EXPECT_EQ(t->data, reinterpret_cast<const uint8_t*>(bytes->data()) + f->data_offset() + t->offset);
      EXPECT_TRUE(std::equal(want[k]->begin(), want[k]->end(), t->data)) << names[k];
    }
    EXPECT_EQ(f->tensor("d")->n_dims, 4u);
    EXPECT_EQ(f->tensor("d")->n_elements(), 12);
    EXPECT_EQ(f->tensor("a")->ne[1], 5);
  }
}

// The writer's bytes equal a file assembled field by field from the spec.
TEST(GgufWriter, LayoutMatchesHandBuiltFile) {
  Writer w;
  w.set("general.architecture", Value::str("llama"));
  w.set("x.n", Value::u32(5));
  auto a = pattern(4 * 3, 9);
  auto b = pattern(34, 8);
  ASSERT_TRUE(w.add_tensor("a", 0, {3}, a).ok());
  ASSERT_TRUE(w.add_tensor("blk.0.b", 8, {32}, b).ok());
  testing::Raw r;
  r.header(3, 2, 2).str("general.architecture").u32(8).str("llama").kv_u32("x.n", 5);
  r.tensor("a", {3}, 0, 0).tensor("blk.0.b", {32}, 8, 32).pad_to(32);
  r.raw(std::string(a.begin(), a.end())).pad_to(32).raw(std::string(b.begin(), b.end())).pad_to(32);
  auto bytes = w.serialize();
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, std::string(r.bytes().begin(), r.bytes().end()));
}

TEST(GgufWriter, SetReplacesInPlaceAndEraseRemoves) {
  Writer w;
  w.set("a", Value::u32(1));
  w.set("b", Value::u32(2));
  w.set("a", Value::str("x"));
  EXPECT_TRUE(w.erase("b"));
  EXPECT_FALSE(w.erase("b"));
  w.set("c", Value::u32(3));
  auto bytes = *w.serialize();
  auto f = File::parse(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  ASSERT_TRUE(f.ok());
  ASSERT_EQ(f->kv().size(), 2u);
  EXPECT_EQ(f->kv()[0].first, "a");
  EXPECT_EQ(*f->get_string("a"), "x");
  EXPECT_EQ(f->kv()[1].first, "c");
}

TEST(GgufWriter, RejectsBadInput) {
  Writer w;
  std::vector<uint8_t> d32(32);
  EXPECT_TRUE(w.add_tensor("ok", 0, {8}, d32).ok());
  EXPECT_THAT(w.add_tensor("ok", 0, {8}, d32).error().message(), HasSubstr("duplicate"));
  EXPECT_THAT(w.add_tensor(std::string(64, 'x'), 0, {8}, d32).error().message(), HasSubstr("under 64 bytes"));
  EXPECT_THAT(w.add_tensor("s", 0, {4}, d32).error().message(), HasSubstr("needs 16 bytes of data, got 32"));
  EXPECT_THAT(w.add_tensor("t", 4, {8}, d32).error().message(), HasSubstr("unknown type id 4"));
  EXPECT_THAT(w.add_tensor("u", 8, {33}, d32).error().message(), HasSubstr("block size"));
  EXPECT_THAT(w.add_tensor("v", 0, {}, d32).error().message(), HasSubstr("0 dimensions"));
  EXPECT_THAT(w.add_tensor("v", 0, {1, 1, 1, 1, 8}, d32).error().message(), HasSubstr("5 dimensions"));
  EXPECT_THAT(w.add_tensor("z", 0, {8, 0}, d32).error().message(), HasSubstr("dimension 1 is 0"));
  EXPECT_EQ(w.tensor_count(), 1u);

  Writer bad_align;
  bad_align.set("general.alignment", Value::u32(48));
  EXPECT_THAT(bad_align.serialize().error().message(), HasSubstr("power of two"));
  Writer huge_align;
  huge_align.set("general.alignment", Value::u32(1u << 25));
  EXPECT_THAT(huge_align.serialize().error().message(), HasSubstr("up to 16777216"));
  Writer bad_align_type;
  bad_align_type.set("general.alignment", Value::u64(32));
  EXPECT_FALSE(bad_align_type.serialize().ok());
  Writer v1(1);
  EXPECT_THAT(v1.serialize().error().message(), HasSubstr("version 1"));
  Writer mixed;
  mixed.set("m", Value::array(ValueType::kUint32, {Value::u32(1), Value::str("x")}));
  EXPECT_THAT(mixed.serialize().error().message(), HasSubstr("array of uint32 holds a string"));
  Writer deep;
  Value v = Value::u8(1);
  for (int k = 0; k < 5; ++k) v = Value::array(v.type, {v});
  deep.set("deep", v);
  EXPECT_THAT(deep.serialize().error().message(), HasSubstr("nested deeper"));
  Writer nul_key;
  nul_key.set(std::string("a\0b", 3), Value::u8(1));
  EXPECT_FALSE(nul_key.serialize().ok());
}

std::string temp_dir() {
  auto p = std::filesystem::temp_directory_path() / ("gguf_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(p);
  return p.string();
}

TEST(GgufWriter, WriteIsAtomicAndOpenMapsIt) {
  std::string dir = temp_dir();
  std::string path = dir + "/m.gguf";
  Writer w;
  w.set("general.architecture", Value::str("test"));
  auto big = pattern(3 << 20, 5);  // above the writer's 1 MiB direct-write threshold
  ASSERT_TRUE(w.add_tensor_view("big", 0, {static_cast<int64_t>(big.size() / 4)}, big).ok());
  ASSERT_TRUE(w.write(path).ok());
  auto f = File::open(path);
  ASSERT_TRUE(f.ok()) << f.error().message();
  EXPECT_TRUE(std::equal(big.begin(), big.end(), f->tensor("big")->data));
  EXPECT_EQ(f->file_size(), std::filesystem::file_size(path));
  EXPECT_EQ(*w.serialize(), std::string(reinterpret_cast<const char*>(f->tensor("big")->data - f->data_offset()),
                                        f->file_size()));

  // A failing producer leaves the old file in place and no temp file behind.
  Writer failing;
  ASSERT_TRUE(failing.add_tensor_producer("x", 0, {8}, [](std::span<uint8_t>) {
                        return Status(make_error(ErrorCode::kInternal, "boom"));
                      }).ok());
  Status st = failing.write(path);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message(), HasSubstr("boom"));
  EXPECT_THAT(st.error().message(), HasSubstr("\"x\""));
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
  auto again = File::open(path);
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again->tensor("big"), nullptr);
  std::filesystem::remove_all(dir);
}

TEST(GgufWriter, CopyMetadataFromFile) {
  Writer w;
  for (const auto& [k, v] : every_value_kind()) w.set(k, v);
  std::string bytes = *w.serialize();
  auto f = File::parse(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  ASSERT_TRUE(f.ok());
  Writer copy;
  copy.copy_metadata(*f);
  EXPECT_EQ(*copy.serialize(), bytes);
}

TEST(GgufAccessors, ConvertOnlyWhenTheValueFits) {
  Writer w;
  w.set("u8", Value::u8(200));
  w.set("i32.pos", Value::i32(7));
  w.set("i32.neg", Value::i32(-7));
  w.set("u64.big", Value::u64(1ull << 63));
  w.set("f32", Value::f32(0.25f));
  w.set("b", Value::boolean(true));
  w.set("s", Value::str("text"));
  w.set("general.architecture", Value::str("qwen3"));
  w.set("sa", Value::str_array({"p", "q"}));
  w.set("fa", Value::f32_array({1.5f}));
  w.set("ia", Value::array(ValueType::kUint16, {Value::u16(3), Value::u16(4)}));
  w.set("ua", Value::array(ValueType::kUint64, {Value::u64(~0ull)}));
  std::string bytes = *w.serialize();
  auto f = File::parse(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f->get_uint("u8"), 200u);
  EXPECT_EQ(*f->get_uint("i32.pos"), 7u);
  EXPECT_THAT(f->get_uint("i32.neg").error().message(), HasSubstr("i32.neg is -7"));
  EXPECT_EQ(*f->get_int("i32.neg"), -7);
  EXPECT_THAT(f->get_int("u64.big").error().message(), HasSubstr("does not fit in int64"));
  EXPECT_EQ(*f->get_uint("u64.big"), 1ull << 63);
  EXPECT_EQ(*f->get_float("f32"), 0.25);
  EXPECT_EQ(*f->get_float("u8"), 200.0);
  EXPECT_THAT(f->get_uint("f32").error().message(), HasSubstr("key f32 has type float32"));
  EXPECT_TRUE(*f->get_bool("b"));
  EXPECT_THAT(f->get_bool("u8").error().message(), HasSubstr("expected bool"));
  EXPECT_EQ(*f->get_string("s"), "text");
  EXPECT_EQ(f->get_string("missing").error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(f->get_string("u8").error().code(), ErrorCode::kCorrupt);
  EXPECT_EQ(f->architecture(), "qwen3");
  EXPECT_EQ(*f->get_string_array("sa"), (std::vector<std::string>{"p", "q"}));
  EXPECT_THAT(f->get_string_array("fa").error().message(), HasSubstr("array of float32"));
  EXPECT_EQ(*f->get_float_array("fa"), std::vector<float>{1.5f});
  EXPECT_EQ(*f->get_int_array("ia"), (std::vector<int64_t>{3, 4}));
  EXPECT_THAT(f->get_int_array("ua").error().message(), HasSubstr("does not fit"));
  EXPECT_FALSE(f->get_int_array("sa").ok());
  EXPECT_EQ(f->find("nope"), nullptr);
  EXPECT_EQ(f->tensor("nope"), nullptr);
}

// A vocabulary-sized file (150k tokens, scores, types, 100k merges) parses quickly and within
// the default metadata budget.
TEST(GgufWriter, VocabularySizedMetadata) {
  std::vector<std::string> tokens, merges;
  std::vector<float> scores;
  std::vector<int32_t> types;
  for (int k = 0; k < 150000; ++k) {
    tokens.push_back(fmt::format("tok{}", k));
    scores.push_back(-static_cast<float>(k));
    types.push_back(1);
  }
  for (int k = 0; k < 100000; ++k) merges.push_back(fmt::format("a{} b{}", k, k));
  Writer w;
  w.set("tokenizer.ggml.tokens", Value::str_array(tokens));
  w.set("tokenizer.ggml.scores", Value::f32_array(scores));
  w.set("tokenizer.ggml.token_type", Value::i32_array(types));
  w.set("tokenizer.ggml.merges", Value::str_array(merges));
  std::string bytes = *w.serialize();
  auto t0 = std::chrono::steady_clock::now();
  auto f = File::parse(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  auto elapsed = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(f.ok()) << f.error().message();
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  EXPECT_EQ(*f->get_string_array("tokenizer.ggml.tokens"), tokens);
  EXPECT_EQ(*f->get_float_array("tokenizer.ggml.scores"), scores);
  EXPECT_EQ(f->find("tokenizer.ggml.merges")->arr.back().s, "a99999 b99999");
}

TEST(GgufTiny, DeterministicAndValidated) {
  TinyLlamaSpec spec;
  auto a = make_tiny_llama(spec);
  auto b = make_tiny_llama(spec);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a->serialize(), *b->serialize());
  spec.seed = 2;
  EXPECT_NE(*make_tiny_llama(spec)->serialize(), *a->serialize());
  TinyLlamaSpec bad;
  bad.n_head = 3;
  EXPECT_FALSE(make_tiny_llama(bad).ok());
  bad = {};
  bad.weight_type = 8;
  EXPECT_FALSE(make_tiny_llama(bad).ok());
  TinyVocab v = tiny_vocab();
  EXPECT_EQ(v.tokens.size(), v.scores.size());
  EXPECT_EQ(v.tokens.size(), v.types.size());
  EXPECT_EQ(v.tokens[3 + 0x0A], "<0x0A>");
}

}  // namespace
}  // namespace paddock::gguf
