// Logits of our CPU forward against Hugging Face transformers (the original architecture code)
// for random-weight llama, qwen2, qwen3, gemma2 and gemma3 models. Fixtures: tests/fixtures/hf/,
// made by tools/hf_reference.py (transformers 5.17.0, torch 2.11.0), which also converts the
// weights to GGUF the way llama.cpp's converter does; matching transformers' logits here is what
// shows those conversion conventions (Q/K row order, gemma's norm +1) are right.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gguf/gguf.h"
#include "model/model.h"

using namespace paddock;

namespace {

const std::string kDir = std::string(PADDOCK_SOURCE_DIR) + "/tests/fixtures/hf/";

struct Fixture {
  std::vector<int32_t> tokens;
  int32_t n_vocab;
  std::vector<float> logits;  // [n_tokens, n_vocab]
};

Fixture load_fixture(const std::string& arch) {
  Fixture f;
  std::ifstream js(kDir + arch + ".json");
  auto j = nlohmann::json::parse(js);
  f.tokens = j["tokens"].get<std::vector<int32_t>>();
  f.n_vocab = j["n_vocab"].get<int32_t>();
  std::ifstream bin(kDir + arch + ".logits.bin", std::ios::binary);
  f.logits.resize(f.tokens.size() * static_cast<size_t>(f.n_vocab));
  bin.read(reinterpret_cast<char*>(f.logits.data()), static_cast<std::streamsize>(f.logits.size() * 4));
  EXPECT_TRUE(bin.good());
  return f;
}

// One step over tokens [begin, end) of a single sequence using physical blocks `table`.
Batch step(const std::vector<int32_t>& toks, int begin, int end, const std::vector<int32_t>& table) {
  Batch b;
  for (int i = begin; i < end; ++i) {
    b.tokens.push_back(toks[i]);
    b.positions.push_back(i);
    b.logit_rows.push_back(i - begin);
  }
  b.seq_start = {0, end - begin};
  b.seq_kv_len = {end};
  b.max_blocks = static_cast<int32_t>(table.size());
  b.block_tables = table;
  return b;
}

double rel_err(const float* a, const float* ref, int n) {
  double num = 0, den = 0;
  for (int i = 0; i < n; ++i) {
    num += (a[i] - ref[i]) * double(a[i] - ref[i]);
    den += ref[i] * double(ref[i]);
  }
  return std::sqrt(num / den);
}

class HfLogits : public ::testing::TestWithParam<std::string> {};

TEST_P(HfLogits, MatchesTransformers) {
  const std::string arch = GetParam();
  Fixture fx = load_fixture(arch);
  auto file = gguf::File::open(kDir + arch + ".gguf");
  ASSERT_TRUE(file.ok()) << file.error().message();
  auto shared = std::make_shared<const gguf::File>(std::move(file).value());
  auto model = Model::load(shared, LoadOptions{.n_threads = 2});
  ASSERT_TRUE(model.ok()) << model.error().message();
  ASSERT_EQ((*model)->info().n_vocab, fx.n_vocab);
  ASSERT_TRUE((*model)->init_kv(KvOptions{.block_size = 16, .n_blocks = 8}).ok());

  const int n = static_cast<int>(fx.tokens.size());
  const int V = fx.n_vocab;
  // Scattered physical blocks, so a wrong block-table lookup cannot pass by accident.
  const std::vector<int32_t> table = {5, 2, 7};
  // Prefill in two chunks that end mid-block, then decode the rest one token at a time.
  std::vector<std::pair<int, int>> steps = {{0, 13}, {13, 30}};
  for (int i = 30; i < n; ++i) steps.push_back({i, i + 1});
  for (auto [b, e] : steps) {
    Batch batch = step(fx.tokens, b, e, table);
    std::vector<float> out(static_cast<size_t>(e - b) * V);
    ASSERT_TRUE((*model)->forward(batch, out).ok());
    for (int r = 0; r < e - b; ++r) {
      const float* ours = out.data() + static_cast<size_t>(r) * V;
      const float* ref = fx.logits.data() + static_cast<size_t>(b + r) * V;
      EXPECT_LT(rel_err(ours, ref, V), 5e-3) << arch << " position " << b + r;
      int am = 0, rm = 0;
      for (int v = 1; v < V; ++v) {
        if (ours[v] > ours[am]) am = v;
        if (ref[v] > ref[rm]) rm = v;
      }
      if (am != rm) {
        EXPECT_LT(std::fabs(ref[am] - ref[rm]), 1e-2) << arch << " argmax differs at " << b + r;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Archs, HfLogits, ::testing::Values("llama", "qwen2", "qwen3", "gemma2", "gemma3"));

}  // namespace
