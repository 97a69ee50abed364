// Tiny llama-architecture models for tests, oracles and demos: complete metadata (hparams and a
// SentencePiece-style vocabulary) and deterministic random weights, produced lazily per tensor
// so that larger "tiny" models never sit in memory twice.
#include <cmath>
#include <memory>

#include "gguf/gguf.h"
#include "quant/quant.h"
#include "util/half.h"
#include "util/splitmix.h"

namespace paddock::gguf {
namespace {

enum class Init { kNorm, kEmbedding, kLinear };

// Fills `out` with tensor data of the given type: values depend only on (seed, tensor_id).
Status fill(std::span<uint8_t> out, uint32_t type, int64_t fan_in, Init init, uint64_t seed, uint64_t tensor_id) {
  uint64_t state = seed * 0x2545f4914f6cdd1dull + tensor_id * 0x9e3779b97f4a7c15ull + 1;
  const float scale = init == Init::kLinear ? 1.0f / std::sqrt(static_cast<float>(fan_in)) : 1.0f;
  size_t elem = type == static_cast<uint32_t>(quant::Type::F32) ? 4 : 2;
  size_t n = out.size() / elem;
  for (size_t k = 0; k < n; ++k) {
    float v = splitmix_uniform(state);
    v = init == Init::kNorm ? 1.0f + 0.125f * v : v * scale;
    if (type == static_cast<uint32_t>(quant::Type::F32)) {
      std::memcpy(out.data() + 4 * k, &v, 4);
    } else {
      uint16_t h = type == static_cast<uint32_t>(quant::Type::F16) ? fp32_to_fp16(v) : fp32_to_bf16(v);
      std::memcpy(out.data() + 2 * k, &h, 2);
    }
  }
  return Status::Ok();
}

}  // namespace

TinyVocab tiny_vocab() {
  TinyVocab v;
  auto add = [&](std::string tok, float score, int32_t type) {
    v.tokens.push_back(std::move(tok));
    v.scores.push_back(score);
    v.types.push_back(type);
  };
  add("<unk>", 0.0f, 2);
  add("<s>", 0.0f, 3);
  add("</s>", 0.0f, 3);
  for (int b = 0; b < 256; ++b) add(fmt::format("<0x{:02X}>", b), 0.0f, 6);
  // Normal pieces, most preferred first ("▁" is U+2581, SentencePiece's space marker).
  // Whole words come with the intermediate pieces SentencePiece-style merging needs to reach them
  // ("▁h"+"e" -> "▁he", "ll"+"o" -> "llo", "▁he"+"llo" -> "▁hello").
  const char* words[] = {"▁hello", "▁world", "▁the",  "▁Paddock", "▁model", "▁test", "▁is",  "▁of",   "▁and",
                         "▁to",    "▁in",    "▁it",   "▁a",       "▁I",     "▁he",   "llo",  "▁wor",  "▁th",
                         "▁Pa",    "dd",     "ock",   "▁Padd",    "▁mo",    "del",   "▁te",  "st",    "he",
                         "ll",     "lo",     "or",    "ld",       "er",     "in",    "on",   "an",    "th",
                         "es",     "▁t",     "▁h",    "▁w",       "▁s",     "▁m",    "▁p",   "▁o",    "▁i"};
  float score = -1.0f;
  for (const char* w : words) add(w, score -= 0.25f, 1);
  std::string singles = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?;:'\"()-";
  add("▁", score -= 0.25f, 1);
  for (char c : singles) add(std::string(1, c), score -= 0.25f, 1);
  return v;
}

Result<Writer> make_tiny_llama(const TinyLlamaSpec& s) {
  auto bad = [](const char* what) { return make_error(ErrorCode::kInvalidArgument, "tiny llama: {}", what); };
  if (s.n_embd == 0 || s.n_layer == 0 || s.n_head == 0 || s.n_head_kv == 0 || s.n_ff == 0 || s.n_ctx == 0)
    return bad("every size must be >= 1");
  if (s.n_embd % s.n_head != 0) return bad("n_head must divide n_embd");
  if (s.n_head % s.n_head_kv != 0) return bad("n_head_kv must divide n_head");
  if ((s.n_embd / s.n_head) % 2 != 0) return bad("the head dimension must be even (rope)");
  const uint32_t f32 = static_cast<uint32_t>(quant::Type::F32), f16 = static_cast<uint32_t>(quant::Type::F16),
                 bf16 = static_cast<uint32_t>(quant::Type::BF16);
  if (s.weight_type != f32 && s.weight_type != f16 && s.weight_type != bf16)
    return bad("weight_type must be F32, F16 or BF16");
  if (s.alignment == 0 || (s.alignment & (s.alignment - 1)) != 0) return bad("alignment must be a power of two");

  const TinyVocab vocab = tiny_vocab();
  const int64_t n_vocab = static_cast<int64_t>(vocab.tokens.size());
  const int64_t n_embd = s.n_embd, head_dim = s.n_embd / s.n_head, n_kv = head_dim * s.n_head_kv, n_ff = s.n_ff;

  Writer w(s.version);
  if (s.alignment != 32) w.set("general.alignment", Value::u32(s.alignment));
  w.set("general.architecture", Value::str("llama"));
  w.set("general.name", Value::str(s.name));
  w.set("general.file_type", Value::u32(s.weight_type == f32 ? 0 : s.weight_type == f16 ? 1 : 32));
  w.set("llama.context_length", Value::u32(s.n_ctx));
  w.set("llama.embedding_length", Value::u32(s.n_embd));
  w.set("llama.block_count", Value::u32(s.n_layer));
  w.set("llama.feed_forward_length", Value::u32(s.n_ff));
  w.set("llama.attention.head_count", Value::u32(s.n_head));
  w.set("llama.attention.head_count_kv", Value::u32(s.n_head_kv));
  w.set("llama.rope.dimension_count", Value::u32(static_cast<uint32_t>(head_dim)));
  w.set("llama.rope.freq_base", Value::f32(s.rope_freq_base));
  w.set("llama.attention.layer_norm_rms_epsilon", Value::f32(s.rms_eps));
  w.set("llama.vocab_size", Value::u32(static_cast<uint32_t>(n_vocab)));
  w.set("tokenizer.ggml.model", Value::str("llama"));
  w.set("tokenizer.ggml.tokens", Value::str_array(vocab.tokens));
  w.set("tokenizer.ggml.scores", Value::f32_array(vocab.scores));
  w.set("tokenizer.ggml.token_type", Value::i32_array(vocab.types));
  w.set("tokenizer.ggml.bos_token_id", Value::u32(1));
  w.set("tokenizer.ggml.eos_token_id", Value::u32(2));
  w.set("tokenizer.ggml.unknown_token_id", Value::u32(0));
  w.set("tokenizer.ggml.add_bos_token", Value::boolean(true));
  w.set("tokenizer.ggml.add_eos_token", Value::boolean(false));

  uint64_t id = 0;
  auto add = [&](std::string name, uint32_t type, std::vector<int64_t> ne, Init init) -> Status {
    int64_t fan_in = ne[0];
    uint64_t seed = s.seed, tid = id++;
    return w.add_tensor_producer(std::move(name), type, std::move(ne),
                                 [=](std::span<uint8_t> out) { return fill(out, type, fan_in, init, seed, tid); });
  };
  const uint32_t wt = s.weight_type;
  RETURN_IF_ERROR(add("token_embd.weight", wt, {n_embd, n_vocab}, Init::kEmbedding));
  RETURN_IF_ERROR(add("output_norm.weight", f32, {n_embd}, Init::kNorm));
  if (!s.tied_output) RETURN_IF_ERROR(add("output.weight", wt, {n_embd, n_vocab}, Init::kLinear));
  for (uint32_t l = 0; l < s.n_layer; ++l) {
    auto blk = [l](const char* t) { return fmt::format("blk.{}.{}.weight", l, t); };
    RETURN_IF_ERROR(add(blk("attn_norm"), f32, {n_embd}, Init::kNorm));
    RETURN_IF_ERROR(add(blk("attn_q"), wt, {n_embd, n_embd}, Init::kLinear));
    RETURN_IF_ERROR(add(blk("attn_k"), wt, {n_embd, n_kv}, Init::kLinear));
    RETURN_IF_ERROR(add(blk("attn_v"), wt, {n_embd, n_kv}, Init::kLinear));
    RETURN_IF_ERROR(add(blk("attn_output"), wt, {n_embd, n_embd}, Init::kLinear));
    RETURN_IF_ERROR(add(blk("ffn_norm"), f32, {n_embd}, Init::kNorm));
    RETURN_IF_ERROR(add(blk("ffn_gate"), wt, {n_embd, n_ff}, Init::kLinear));
    RETURN_IF_ERROR(add(blk("ffn_down"), wt, {n_ff, n_embd}, Init::kLinear));
    RETURN_IF_ERROR(add(blk("ffn_up"), wt, {n_embd, n_ff}, Init::kLinear));
  }
  return w;
}

}  // namespace paddock::gguf

namespace paddock::gguf {

Result<Writer> make_format_sample(uint32_t version, uint32_t alignment) {
  Writer w(version);
  if (alignment != 32) w.set("general.alignment", Value::u32(alignment));
  w.set("general.architecture", Value::str("format-sample"));
  w.set("general.name", Value::str("every GGUF value type ✓ 🦙"));
  w.set("s.u8", Value::u8(255));
  w.set("s.i8", Value::i8(-128));
  w.set("s.u16", Value::u16(65535));
  w.set("s.i16", Value::i16(-32768));
  w.set("s.u32", Value::u32(4294967295u));
  w.set("s.i32", Value::i32(-2147483647 - 1));
  w.set("s.u64", Value::u64(18446744073709551615ull));
  w.set("s.i64", Value::i64(-9223372036854775807ll - 1));
  w.set("s.f32", Value::f32(0.1f));
  w.set("s.f32_tiny", Value::f32(1.4e-45f));
  w.set("s.f64", Value::f64(-2.5e-300));
  w.set("s.bool", Value::boolean(true));
  w.set("s.bool_false", Value::boolean(false));
  w.set("s.str_empty", Value::str(""));
  w.set("s.str_escapes", Value::str("tab\tquote\"backslash\\newline\n"));
  w.set("a.u8", Value::array(ValueType::kUint8, {Value::u8(0), Value::u8(128), Value::u8(255)}));
  w.set("a.i8", Value::array(ValueType::kInt8, {Value::i8(-128), Value::i8(127)}));
  w.set("a.u16", Value::array(ValueType::kUint16, {Value::u16(65535)}));
  w.set("a.i16", Value::array(ValueType::kInt16, {Value::i16(-7), Value::i16(7)}));
  w.set("a.u32", Value::array(ValueType::kUint32, {Value::u32(1), Value::u32(4000000000u)}));
  w.set("a.i32", Value::i32_array({-1, 0, 1, 2147483647}));
  w.set("a.f32", Value::f32_array({0.5f, -1.25f, 3e38f}));
  w.set("a.bool", Value::array(ValueType::kBool, {Value::boolean(true), Value::boolean(false)}));
  w.set("a.u64", Value::array(ValueType::kUint64, {Value::u64(18446744073709551615ull)}));
  w.set("a.i64", Value::array(ValueType::kInt64, {Value::i64(-9000000000000000000ll)}));
  w.set("a.f64", Value::array(ValueType::kFloat64, {Value::f64(1e-308), Value::f64(-0.0)}));
  w.set("a.str", Value::str_array({"a", "", "▁the", "<0x0A>", "日本語"}));
  w.set("a.empty", Value::array(ValueType::kUint32, {}));
  struct Spec {
    const char* name;
    quant::Type type;
    std::vector<int64_t> ne;
  };
  const Spec specs[] = {
      {"t.f32", quant::Type::F32, {3, 5}},       {"t.f16", quant::Type::F16, {7}},
      {"t.q4_0", quant::Type::Q4_0, {64, 2}},    {"t.q8_0", quant::Type::Q8_0, {32}},
      {"t.q4_K", quant::Type::Q4_K, {256}},      {"t.bf16", quant::Type::BF16, {2, 3, 4}},
      {"blk.0.t.i32", quant::Type::I32, {1, 2, 1, 3}}, {"t.f64", quant::Type::F64, {5}},
  };
  uint64_t k = 0;
  for (const Spec& s : specs) {
    uint64_t salt = k++;
    RETURN_IF_ERROR(w.add_tensor_producer(s.name, static_cast<uint32_t>(s.type), s.ne, [salt](std::span<uint8_t> out) {
      for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(i * 131 + salt * 17 + 1);
      return Status::Ok();
    }));
  }
  return w;
}

}  // namespace paddock::gguf
