// Deterministic random-weight GGUF models of every supported architecture and weight type, for
// the llama.cpp comparisons (tests/fixtures/model/) and the CPU benchmark. Same spec, same bytes:
// a test regenerates the file and checks its sha256 against the one the oracle saw.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "quant/quant.h"

namespace paddock::testing {

struct TestModelSpec {
  std::string arch = "llama";         // llama | qwen2 | qwen3 | phi3 | gemma2 | gemma3
  quant::Type type = quant::Type::F32;  // type of every 2-D weight (norms and biases stay F32)
  // Mostly-type mix: when set, attn_v / ffn_down / output use this type (like llama.cpp's _M mixes).
  int32_t type_hi = -1;
  uint32_t n_embd = 256, n_layer = 2, n_head = 4, n_head_kv = 2, n_ff = 512, n_ctx = 2048;
  uint32_t sliding_window = 0;        // gemma2/gemma3 (0 = family default of 32)
  bool tied_output = false;           // gemma is always tied (as llama.cpp expects)
  bool rope_freqs = false;            // llama: write a llama3-style rope_freqs tensor
  uint32_t n_vocab = 0;               // 0 = the tiny SentencePiece vocabulary; else pad it to n_vocab
  uint64_t seed = 1;
};

// Builds the file (weights produced lazily at write/serialize time).
Result<gguf::Writer> make_test_model(const TestModelSpec& spec);
// Parses "arch:type[:key=value...]" (e.g. "gemma2:q4_K", "llama:q8_0:n_layer=16") into a spec.
Result<TestModelSpec> parse_test_model_spec(const std::string& s);
// The fixture base name, e.g. "gemma2_q4_K".
std::string test_model_name(const TestModelSpec& spec);

// Probabilities from logits, computed in double (how the oracle tests compare distributions).
std::vector<double> softmax(std::span<const float> logits);

}  // namespace paddock::testing
