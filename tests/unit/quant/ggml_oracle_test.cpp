// quant against llama.cpp's own (de)quantizers: tests/fixtures/quant/ggml_blocks.bin holds
// blocks made by ggml (ggml_quantize_chunk on a fixed input, and random bytes) with ggml's
// dequantized values, written by tools/quant_oracle.sh from node-llama-cpp's libggml-base.so.
// Our dequantizer must reproduce ggml's floats bit for bit; our quantizer must match ggml's bytes
// where both use the closed-form reference (F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) and be at
// least as accurate where both search (K-quants, IQ4_NL).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "quant/quant.h"
#include "util/sha256.h"

namespace paddock::quant {
namespace {

struct Segment {
  std::vector<uint8_t> bytes;
  std::vector<float> values;
};
struct TypeFixture {
  Type type;
  Segment quantized;  // ggml_quantize_chunk(input) and ggml's to_float of it
  Segment random;     // random bytes and ggml's to_float of them
};
struct Fixture {
  std::vector<float> input;
  std::vector<TypeFixture> types;
};

class Reader {
 public:
  explicit Reader(std::vector<uint8_t> data) : data_(std::move(data)) {}
  uint32_t u32() {
    uint32_t v = 0;
    take(&v, 4);
    return v;
  }
  void take(void* dst, size_t n) {
    if (pos_ + n > data_.size()) throw std::runtime_error("fixture truncated");
    std::memcpy(dst, data_.data() + pos_, n);
    pos_ += n;
  }
  bool done() const { return pos_ == data_.size(); }

 private:
  std::vector<uint8_t> data_;
  size_t pos_ = 0;
};

Segment read_segment(Reader& r, uint32_t n, uint32_t block, uint32_t type_size) {
  Segment s;
  s.bytes.resize(static_cast<size_t>(n / block) * type_size);
  s.values.resize(n);
  r.take(s.bytes.data(), s.bytes.size());
  r.take(s.values.data(), s.values.size() * 4);
  return s;
}

std::string recorded_sha256() {
  std::ifstream in("../../fixtures/quant/ggml_blocks.json");
  if (!in) throw std::runtime_error("cannot open tests/fixtures/quant/ggml_blocks.json");
  const auto meta = nlohmann::json::parse(in);
  if (meta.value("file", "") != "ggml_blocks.bin") throw std::runtime_error("ggml_blocks.json describes another file");
  return meta.at("sha256").get<std::string>();
}

const Fixture& fixture() {
  static const Fixture f = [] {
    std::ifstream in("../../fixtures/quant/ggml_blocks.bin", std::ios::binary);
    if (!in) throw std::runtime_error("cannot open tests/fixtures/quant/ggml_blocks.bin");
    std::vector<uint8_t> data(std::istreambuf_iterator<char>(in), {});
    // The bytes are the ones the oracle wrote (ggml_blocks.json records their sha256).
    const std::string got = sha256_hex(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
    if (got != recorded_sha256())
      throw std::runtime_error("ggml_blocks.bin has sha256 " + got + ", ggml_blocks.json records " + recorded_sha256());
    Reader r(std::move(data));
    char magic[4];
    r.take(magic, 4);
    if (std::memcmp(magic, "PDQO", 4) != 0 || r.u32() != 1) throw std::runtime_error("bad fixture header");
    Fixture fx;
    fx.input.resize(r.u32());
    r.take(fx.input.data(), fx.input.size() * 4);
    const uint32_t n_types = r.u32();
    for (uint32_t t = 0; t < n_types; ++t) {
      TypeFixture tf;
      tf.type = static_cast<Type>(r.u32());
      const uint32_t type_size = r.u32(), block = r.u32();
      const TypeInfo* info = type_info(tf.type);
      if (!info || info->type_size != type_size || info->block_size != block)
        throw std::runtime_error("fixture block size disagrees with our table for type " + std::to_string(int(tf.type)));
      tf.quantized = read_segment(r, r.u32(), block, type_size);
      tf.random = read_segment(r, r.u32(), block, type_size);
      fx.types.push_back(std::move(tf));
    }
    if (!r.done()) throw std::runtime_error("trailing bytes in fixture");
    return fx;
  }();
  return f;
}

// Bitwise equality, except that any NaN equals any NaN (payloads may differ).
void expect_same_floats(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  int bad = 0;
  for (size_t i = 0; i < got.size() && bad < 10; ++i) {
    if (std::isnan(got[i]) && std::isnan(want[i])) continue;
    uint32_t a, b;
    std::memcpy(&a, &got[i], 4);
    std::memcpy(&b, &want[i], 4);
    if (a != b) {
      ADD_FAILURE() << what << " element " << i << ": ours " << got[i] << " ggml " << want[i];
      ++bad;
    }
  }
}

double rel_rms(const std::vector<float>& x, const std::vector<float>& y) {
  double num = 0, den = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    num += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
    den += double(x[i]) * x[i];
  }
  return std::sqrt(num / den);
}

TEST(GgmlOracle, FixtureIsTheFileTheOracleWrote) {
  EXPECT_NO_THROW(fixture());  // throws on a sha256 other than ggml_blocks.json's
  EXPECT_EQ(recorded_sha256().size(), 64u);
}

TEST(GgmlOracle, FixtureCoversEveryDequantizableType) {
  std::map<Type, bool> seen;
  for (const auto& t : fixture().types) seen[t.type] = true;
  for (Type t : {Type::F16, Type::BF16, Type::Q4_0, Type::Q4_1, Type::Q5_0, Type::Q5_1, Type::Q8_0, Type::Q2_K,
                 Type::Q3_K, Type::Q4_K, Type::Q5_K, Type::Q6_K, Type::IQ4_NL, Type::IQ4_XS, Type::MXFP4})
    EXPECT_TRUE(seen[t]) << type_info(t)->name;
}

TEST(GgmlOracle, DequantizeMatchesGgmlBitForBit) {
  for (const auto& t : fixture().types) {
    const std::string name(type_info(t.type)->name);
    for (const Segment* s : {&t.quantized, &t.random}) {
      std::vector<float> ours(s->values.size());
      dequantize_row(t.type, s->bytes.data(), ours.data(), static_cast<int64_t>(ours.size()));
      expect_same_floats(ours, s->values, name + (s == &t.random ? " (random bytes)" : " (ggml-quantized)"));
    }
  }
}

TEST(GgmlOracle, ClosedFormQuantizersMatchGgmlBytes) {
  const auto& x = fixture().input;
  for (const auto& t : fixture().types) {
    if (t.type != Type::F16 && t.type != Type::BF16 && t.type != Type::Q8_0 && t.type != Type::Q4_0 &&
        t.type != Type::Q4_1 && t.type != Type::Q5_0 && t.type != Type::Q5_1)
      continue;
    std::vector<uint8_t> ours(t.quantized.bytes.size());
    quantize_row(t.type, x.data(), ours.data(), static_cast<int64_t>(x.size()));
    size_t diff = 0;
    for (size_t i = 0; i < ours.size(); ++i) diff += ours[i] != t.quantized.bytes[i];
    EXPECT_EQ(diff, 0u) << type_info(t.type)->name << ": bytes differing from ggml's quantizer";
  }
}

TEST(GgmlOracle, SearchingQuantizersAtLeastAsAccurateAsGgml) {
  const auto& x = fixture().input;
  for (const auto& t : fixture().types) {
    if (!type_info(t.type)->can_quantize) continue;
    std::vector<uint8_t> q(t.quantized.bytes.size());
    quantize_row(t.type, x.data(), q.data(), static_cast<int64_t>(x.size()));
    std::vector<float> ours(x.size());
    dequantize_row(t.type, q.data(), ours.data(), static_cast<int64_t>(x.size()));
    const double e_ours = rel_rms(x, ours), e_ggml = rel_rms(x, t.quantized.values);
    if (std::getenv("PADDOCK_QUANT_VERBOSE"))
      std::printf("%-7s rel_rms ours %.5f ggml %.5f\n", type_info(t.type)->name.data(), e_ours, e_ggml);
    EXPECT_LE(e_ours, e_ggml * 1.03 + 1e-7) << type_info(t.type)->name;
  }
}

}  // namespace
}  // namespace paddock::quant
