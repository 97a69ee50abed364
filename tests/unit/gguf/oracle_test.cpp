// Our reader and writer against llama.cpp (fixtures from tools/gguf_oracle.mjs, see its header):
//  - files our writer makes are rebuilt from the recorded spec and must be byte-identical
//    (sha256) to what llama.cpp loaded; our reader must see what ggml's reader saw;
//  - a file written by ggml's own writer must read identically and re-serialise byte for byte.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gguf/gguf.h"
#include "quant/quant.h"
#include "util/sha256.h"

namespace paddock::gguf {
namespace {

using json = nlohmann::json;

const std::string kFixtures = std::string(PADDOCK_SOURCE_DIR) + "/tests/fixtures/gguf/";

json load_oracle() {
  std::ifstream in(kFixtures + "oracle.json");
  EXPECT_TRUE(in.good()) << "missing " << kFixtures << "oracle.json";
  return json::parse(in);
}

uint64_t fnv1a(const uint8_t* p, uint64_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint64_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

// One scalar as ggml printed it (floats as %.9g / %.17g text parsed back into a double).
void expect_scalar(const Value& v, ValueType t, const json& want, const std::string& where) {
  ASSERT_EQ(v.type, t) << where;
  switch (t) {
    case ValueType::kUint8: case ValueType::kUint16: case ValueType::kUint32: case ValueType::kUint64:
      EXPECT_EQ(v.u, want.get<uint64_t>()) << where;
      break;
    case ValueType::kInt8: case ValueType::kInt16: case ValueType::kInt32: case ValueType::kInt64:
      EXPECT_EQ(v.i, want.get<int64_t>()) << where;
      break;
    case ValueType::kFloat32: EXPECT_EQ(static_cast<float>(v.f), static_cast<float>(want.get<double>())) << where; break;
    case ValueType::kFloat64: EXPECT_EQ(v.f, want.get<double>()) << where; break;
    case ValueType::kBool: EXPECT_EQ(v.u != 0, want.get<bool>()) << where; break;
    case ValueType::kString: EXPECT_EQ(v.s, want.get<std::string>()) << where; break;
    case ValueType::kArray: ADD_FAILURE() << where << ": ggml has no nested arrays"; break;
  }
}

// Our parse of a file vs ggml's reader on the same bytes.
void expect_matches_ggml(const File& f, const json& g) {
  EXPECT_EQ(f.version(), g["version"].get<uint32_t>());
  EXPECT_EQ(f.alignment(), g["alignment"].get<uint64_t>());
  EXPECT_EQ(f.data_offset(), g["data_offset"].get<uint64_t>());
  ASSERT_EQ(f.kv().size(), g["kv"].size());
  for (size_t k = 0; k < f.kv().size(); ++k) {
    const auto& [key, v] = f.kv()[k];
    const json& gk = g["kv"][k];
    ASSERT_EQ(key, gk["key"].get<std::string>());
    auto type = static_cast<ValueType>(gk["type"].get<uint32_t>());
    if (type == ValueType::kArray) {
      ASSERT_EQ(v.type, ValueType::kArray) << key;
      auto et = static_cast<ValueType>(gk["elem_type"].get<uint32_t>());
      EXPECT_EQ(v.elem_type, et) << key;
      ASSERT_EQ(v.arr.size(), gk["value"].size()) << key;
      for (size_t e = 0; e < v.arr.size(); ++e) expect_scalar(v.arr[e], et, gk["value"][e], key + "[" + std::to_string(e) + "]");
    } else {
      expect_scalar(v, type, gk["value"], key);
    }
  }
  ASSERT_EQ(f.tensors().size(), g["tensors"].size());
  for (size_t k = 0; k < f.tensors().size(); ++k) {
    const TensorInfo& t = f.tensors()[k];
    const json& gt = g["tensors"][k];
    ASSERT_EQ(t.name, gt["name"].get<std::string>());
    EXPECT_EQ(t.type, gt["type"].get<uint32_t>()) << t.name;
    for (int d = 0; d < 4; ++d) EXPECT_EQ(t.ne[d], gt["ne"][d].get<int64_t>()) << t.name << " dim " << d;
    EXPECT_EQ(t.offset, gt["offset"].get<uint64_t>()) << t.name;
    EXPECT_EQ(t.nbytes, gt["size"].get<uint64_t>()) << t.name;
    EXPECT_EQ(fmt::format("{:016x}", fnv1a(t.data, t.nbytes)), gt["fnv1a"].get<std::string>()) << t.name;
  }
}

Result<Writer> writer_for(const json& c) {
  const json& s = c["spec"];
  if (c["kind"] == "sample") return make_format_sample(s["version"].get<uint32_t>(), s["alignment"].get<uint32_t>());
  TinyLlamaSpec spec;
  auto u32 = [&](const char* k, uint32_t& dst) {
    if (s.contains(k)) dst = s[k].get<uint32_t>();
  };
  u32("n_embd", spec.n_embd);
  u32("n_layer", spec.n_layer);
  u32("n_head", spec.n_head);
  u32("n_head_kv", spec.n_head_kv);
  u32("n_ff", spec.n_ff);
  u32("n_ctx", spec.n_ctx);
  u32("version", spec.version);
  u32("alignment", spec.alignment);
  if (s.contains("seed")) spec.seed = s["seed"].get<uint64_t>();
  if (s.contains("tied_output")) spec.tied_output = s["tied_output"].get<bool>();
  if (s.contains("type")) spec.weight_type = static_cast<uint32_t>(*quant::type_from_name(s["type"].get<std::string>()));
  return make_tiny_llama(spec);
}

TEST(GgufOracle, OurFilesAreWhatLlamaCppRead) {
  json oracle = load_oracle();
  ASSERT_GE(oracle["cases"].size(), 5u);
  for (const json& c : oracle["cases"]) {
    SCOPED_TRACE(c["id"].get<std::string>());
    auto w = writer_for(c);
    ASSERT_TRUE(w.ok()) << w.error().message();
    auto bytes = w->serialize();
    ASSERT_TRUE(bytes.ok()) << bytes.error().message();
    // Same bytes as the file llama.cpp loaded: every check below is about that exact file.
    ASSERT_EQ(sha256_hex(*bytes), c["sha256"].get<std::string>());
    ASSERT_EQ(bytes->size(), c["size"].get<uint64_t>());
    auto f = File::parse(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()));
    ASSERT_TRUE(f.ok()) << f.error().message();
    expect_matches_ggml(*f, c["ggml_read"]);

    // node-llama-cpp's own (JavaScript) GGUF parser.
    const json& p = c["nlc_parse"];
    EXPECT_EQ(f->version(), p["version"].get<uint32_t>());
    ASSERT_EQ(f->tensors().size(), p["tensor_count"].get<uint64_t>());
    for (size_t k = 0; k < f->tensors().size(); ++k) {
      const TensorInfo& t = f->tensors()[k];
      const json& pt = p["tensors"][k];
      EXPECT_EQ(t.name, pt["name"].get<std::string>());
      ASSERT_EQ(t.n_dims, pt["dims"].size()) << t.name;
      for (uint32_t d = 0; d < t.n_dims; ++d) EXPECT_EQ(t.ne[d], pt["dims"][d].get<int64_t>()) << t.name;
      EXPECT_EQ(t.type, pt["type"].get<uint32_t>());
      EXPECT_EQ(f->data_offset() + t.offset, pt["file_offset"].get<uint64_t>()) << t.name;
    }

    // llama.cpp's model loader: hyper-parameters and special tokens as it understood them.
    if (c.contains("llama_cpp_load")) {
      const json& l = c["llama_cpp_load"];
      EXPECT_EQ(*f->get_uint("llama.context_length"), l["train_context_size"].get<uint64_t>());
      EXPECT_EQ(*f->get_uint("llama.embedding_length"), l["embedding_size"].get<uint64_t>());
      EXPECT_EQ(*f->get_uint("tokenizer.ggml.bos_token_id"), l["bos"].get<uint64_t>());
      EXPECT_EQ(*f->get_uint("tokenizer.ggml.eos_token_id"), l["eos"].get<uint64_t>());
      auto tokens = *f->get_string_array("tokenizer.ggml.tokens");
      EXPECT_EQ(tokens.at(l["nl"].get<size_t>()), "<0x0A>");
      EXPECT_EQ(l["vocabulary_type"], "spm");
      EXPECT_EQ(l["greedy_ids"].size(), 8u) << "llama.cpp ran the model";
      EXPECT_EQ(f->tensor("output.weight") == nullptr, c["spec"].value("tied_output", false));
    }
  }
}

TEST(GgufOracle, FileWrittenByGgmlReadsAndReserialisesIdentically) {
  json oracle = load_oracle();
  const json& g = oracle["ggml_written"];
  std::string path = kFixtures + g["file"].get<std::string>();
  auto digest = sha256_file_hex(path);
  ASSERT_TRUE(digest.ok());
  ASSERT_EQ(*digest, g["sha256"].get<std::string>());
  auto f = File::open(path);
  ASSERT_TRUE(f.ok()) << f.error().message();
  expect_matches_ggml(*f, g["ggml_read"]);
  EXPECT_EQ(f->trailing_bytes(), 0u);

  // Our writer, given the same content, produces ggml's bytes exactly.
  Writer w(f->version());
  w.copy_metadata(*f);
  for (const TensorInfo& t : f->tensors()) {
    std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
    ASSERT_TRUE(w.add_tensor_view(t.name, t.type, ne, std::span<const uint8_t>(t.data, t.nbytes)).ok());
  }
  auto bytes = w.serialize();
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(sha256_hex(*bytes), g["sha256"].get<std::string>());
}

}  // namespace
}  // namespace paddock::gguf
