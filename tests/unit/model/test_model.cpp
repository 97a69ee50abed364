// Random-weight test models (see test_model.h). Weights are uniform on a 24-bit grid from a
// per-tensor splitmix64 stream, scaled so the outputs look like a trained model's (top-1
// probabilities mostly 0.5-0.9), then quantized with the quant module's reference quantizers.
#include "test_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "util/half.h"
#include "util/splitmix.h"
#include "util/thread_pool.h"

namespace paddock::testing {
namespace {

// kGemma*: the split stream of quantized gemma models (see GemmaSplit).
enum class Init {
  kNorm, kNormPost, kOutputNorm, kBias, kEmbedding, kLinear, kOutput,
  kGemmaEmbedding, kGemmaNorm, kGemmaPostNorm, kGemmaOutputNorm,
};

// Weight scales. Two engines never agree to the last bit (summation order, exp/rsqrt
// implementations), and where activations are rounded coarsely before a matmul (int8 blocks for
// every quantized type, BF16) a tiny upstream difference occasionally flips a rounding by a whole
// step; the next rounding stage turns that into more flips, so after a few matmuls the engines
// differ by about the size of the activation rounding itself (1e-2 relative for int8), whatever
// the logit scale. Measured on our own scalar vs AVX2 kernels (paddock_conditioning_probe): with
// equal-sized embedding and layer outputs that gives |dp| up to 5e-2 and a greedy flip at a
// non-tie every ~40 steps. When the residual stream is dominated by the (exact) embedding and the
// layers add ~10% to it, every rounding stage sees a ~10x smaller difference and the engines agree
// to ~1e-2 with no flips in 1000 steps, while a layer still matters: dropping llama's second
// layer moves the logits by 0.3 nats rms, probabilities by up to 0.2 and the greedy token at 6
// of 64 steps (q8_0, q4_K), far beyond the tolerances. F32/F16 activations need no such care:
// those models keep full-strength layers (the stricter check of the layers' arithmetic).
// Tied models whose stream is mostly the embedding settle into 2-4 token cycles: the tied table
// scores the next token by E[out]·diag(w)·E[in], symmetric in (input, output), so greedy decoding
// climbs to two tokens that are each other's best. Quantized gemma models therefore split the
// stream instead (GemmaSplit).
struct Scales {
  float embedding, linear, output;  // untied: token table, layer matrices (x 1/sqrt(fan_in)), output
  float tied_embedding, output_norm;  // tied (and gemma): table and output norm (signed when < 0)
  float post_norm;                    // gemma's post-attention / post-FFN norms
};
Scales scales_for(quant::Type t, uint32_t n_layer) {
  if (t == quant::Type::F32 || t == quant::Type::F16) return {1.0f, 1.7f, 12.0f, 0.005f, 120.0f, 1.0f};
  // Gemma's post-norms set how much each layer adds; more layers, smaller steps.
  return {8.0f, 1.2f, 12.0f, 0.4f, -3.5f, 0.6f / static_cast<float>(std::max(n_layer, 2u))};
}

// Quantized gemma: the last quarter of the residual stream's dimensions ("B") carries what the
// layers write, the first three quarters ("A") the token's embedding. The layers read A only
// (their input norms are zero on B), so every matmul input is the exact embedding, normalized by
// an RMS that B still moves by a few percent; they write B only (post-norms zero on A); the final
// norm reads B only; the embedding's B part is small (kEmbB), so the output score is mostly
// E[out]_B·diag(w)·(attention + FFN of the context): no symmetry, no short cycles. Measured with
// paddock_conditioning_probe over the 6 quantized gemma specs x seeds 1-6 (2304 steps): greedy flips
// between our scalar and AVX2 kernels 3 in 2304 steps (llama/qwen/phi quantized: 1), max |dp|
// 1.3e-2, distinct tokens 24-49 of 64 and 9-16 in the first 16 (before: 2-4, one cycle from step 0).
// Against llama.cpp the logits, which now come from the layers alone, are the noisier part: with
// post-norms twice as strong (kPostNorm 1.5) our gemma3_q8_0 differed from llama.cpp by 2.5x
// llama.cpp's own builds (1.9e-2), with kPostNorm 0.75 by at most 1.6x. Letting the layers also read
// B (input-norm weight 0.03 on B, so layers compose) brought 5 flips in 2304 steps, two of them in
// the fixtures' seed, so the layers' composition is left to the f16 gemma fixtures (full-strength
// layers).
struct GemmaSplit {
  static constexpr float kEmbB = 0.05f;         // embedding on B, relative to A
  static constexpr float kPostNorm = 0.75f;     // post-norms on B (/ n_layer, at least 2)
  static constexpr float kOutputNorm = 400.0f;  // final norm on B, signed (zero mean)
  static bool in_b(size_t i, int64_t ne0) { return static_cast<int64_t>(i % static_cast<size_t>(ne0)) >= ne0 - ne0 / 4; }
};

Status fill(std::span<uint8_t> out, quant::Type type, int64_t ne0, Init init, float scale, uint64_t seed,
            uint64_t id) {
  uint64_t st = seed * 0x2545f4914f6cdd1dull + id * 0x9e3779b97f4a7c15ull + 7;
  ASSIGN_OR_RETURN(uint64_t rb, quant::row_size(type, ne0));
  // Rows are drawn in order, a chunk at a time, and the chunk quantized on all cores.
  static ThreadPool pool(0);
  const uint64_t rows = out.size() / rb;
  const float fan = init == Init::kLinear || init == Init::kOutput ? 1.0f / std::sqrt(static_cast<float>(ne0)) : 1.0f;
  const uint64_t chunk = std::min<uint64_t>(rows, 256);
  std::vector<float> buf(static_cast<size_t>(chunk * static_cast<uint64_t>(ne0)));
  for (uint64_t r0 = 0; r0 < rows; r0 += chunk) {
    const uint64_t nr = std::min(chunk, rows - r0);
    for (size_t i = 0; i < static_cast<size_t>(nr * static_cast<uint64_t>(ne0)); ++i) {
      float& v = buf[i];
      const float u = splitmix_uniform(st);
      switch (init) {
        case Init::kNorm: v = 1.0f + 0.25f * u; break;
        case Init::kNormPost: v = scale * (1.0f + 0.25f * u); break;
        // A positive output norm over a tied table favours the input token (its row meets
        // itself); a signed one (zero mean) does not.
        case Init::kOutputNorm: v = scale > 0 ? scale * (1.0f + 0.25f * u) : -scale * u; break;
        case Init::kBias: v = 0.5f * u; break;
        case Init::kGemmaEmbedding: v = scale * u * (GemmaSplit::in_b(i, ne0) ? GemmaSplit::kEmbB : 1.0f); break;
        case Init::kGemmaNorm: v = GemmaSplit::in_b(i, ne0) ? 0.0f : 1.0f + 0.25f * u; break;
        case Init::kGemmaPostNorm: v = GemmaSplit::in_b(i, ne0) ? scale * (1.0f + 0.25f * u) : 0.0f; break;
        case Init::kGemmaOutputNorm: v = GemmaSplit::in_b(i, ne0) ? scale * u : 0.0f; break;
        default: v = scale * fan * u; break;
      }
    }
    quant::quantize_rows(type, buf.data(), out.data() + r0 * rb, static_cast<int64_t>(nr), ne0, nullptr, &pool);
  }
  return Status::Ok();
}

}  // namespace

std::string test_model_name(const TestModelSpec& s) {
  const quant::TypeInfo* ti = quant::type_info(s.type);
  std::string n = s.arch + "_" + std::string(ti ? ti->name : "unknown");
  if (s.type_hi >= 0) n += "_mix";
  return n;
}

Result<TestModelSpec> parse_test_model_spec(const std::string& str) {
  TestModelSpec s;
  std::vector<std::string> parts;
  size_t b = 0;
  for (size_t e; (e = str.find(':', b)) != std::string::npos; b = e + 1) parts.push_back(str.substr(b, e - b));
  parts.push_back(str.substr(b));
  if (parts.size() < 2) return make_error(ErrorCode::kInvalidArgument, "spec '{}': want arch:type[:k=v...]", str);
  s.arch = parts[0];
  auto t = quant::type_from_name(parts[1]);
  if (!t) return make_error(ErrorCode::kInvalidArgument, "unknown type '{}'", parts[1]);
  s.type = *t;
  for (size_t i = 2; i < parts.size(); ++i) {
    const size_t eq = parts[i].find('=');
    if (eq == std::string::npos) return make_error(ErrorCode::kInvalidArgument, "bad option '{}'", parts[i]);
    const std::string k = parts[i].substr(0, eq), v = parts[i].substr(eq + 1);
    if (k == "type_hi") {
      auto th = quant::type_from_name(v);
      if (!th) return make_error(ErrorCode::kInvalidArgument, "unknown type '{}'", v);
      s.type_hi = static_cast<int32_t>(*th);
      continue;
    }
    const uint64_t n = std::stoull(v);
    if (k == "n_embd") s.n_embd = static_cast<uint32_t>(n);
    else if (k == "n_layer") s.n_layer = static_cast<uint32_t>(n);
    else if (k == "n_head") s.n_head = static_cast<uint32_t>(n);
    else if (k == "n_head_kv") s.n_head_kv = static_cast<uint32_t>(n);
    else if (k == "n_ff") s.n_ff = static_cast<uint32_t>(n);
    else if (k == "n_ctx") s.n_ctx = static_cast<uint32_t>(n);
    else if (k == "n_vocab") s.n_vocab = static_cast<uint32_t>(n);
    else if (k == "swa") s.sliding_window = static_cast<uint32_t>(n);
    else if (k == "tied") s.tied_output = n != 0;
    else if (k == "rope_freqs") s.rope_freqs = n != 0;
    else if (k == "seed") s.seed = n;
    else return make_error(ErrorCode::kInvalidArgument, "unknown option '{}'", k);
  }
  return s;
}

Result<gguf::Writer> make_test_model(const TestModelSpec& s) {
  using gguf::Value;
  const std::string& a = s.arch;
  const bool gemma = a == "gemma2" || a == "gemma3";
  if (a != "llama" && a != "qwen2" && a != "qwen3" && a != "phi3" && !gemma)
    return make_error(ErrorCode::kInvalidArgument, "unknown test architecture '{}'", a);
  const quant::TypeInfo* ti = quant::type_info(s.type);
  if (ti == nullptr || !ti->can_quantize)
    return make_error(ErrorCode::kUnsupported, "no quantizer for type {}", ti ? ti->name : "?");
  if (s.n_head == 0 || s.n_head_kv == 0 || s.n_embd % s.n_head != 0 || s.n_head % s.n_head_kv != 0)
    return make_error(ErrorCode::kInvalidArgument, "bad head counts");

  gguf::TinyVocab vocab = gguf::tiny_vocab();
  if (a == "phi3") {  // llama.cpp's phi3 vocabulary setup looks these up by text
    for (const char* t : {"<|endoftext|>", "<|end|>"}) {
      vocab.tokens.push_back(t);
      vocab.scores.push_back(0.0f);
      vocab.types.push_back(3);
    }
  }
  for (uint32_t i = static_cast<uint32_t>(vocab.tokens.size()); i < s.n_vocab; ++i) {
    vocab.tokens.push_back("<extra_" + std::to_string(i) + ">");
    vocab.scores.push_back(-1000.0f);
    vocab.types.push_back(4);  // user-defined
  }
  const int64_t n_vocab = static_cast<int64_t>(vocab.tokens.size());
  const int64_t e = s.n_embd, hd = s.n_embd / s.n_head, q = hd * s.n_head, kv = hd * s.n_head_kv, ff = s.n_ff;

  gguf::Writer w(3);
  auto key = [&](const char* k) { return a + "." + k; };
  w.set("general.architecture", Value::str(a));
  w.set("general.name", Value::str("paddock-test-" + test_model_name(s)));
  w.set(key("context_length"), Value::u32(s.n_ctx));
  w.set(key("embedding_length"), Value::u32(s.n_embd));
  w.set(key("block_count"), Value::u32(s.n_layer));
  w.set(key("feed_forward_length"), Value::u32(s.n_ff));
  w.set(key("attention.head_count"), Value::u32(s.n_head));
  w.set(key("attention.head_count_kv"), Value::u32(s.n_head_kv));
  w.set(key("rope.dimension_count"), Value::u32(static_cast<uint32_t>(hd)));
  w.set(key("rope.freq_base"), Value::f32(a == "gemma3" ? 1000000.0f : 10000.0f));
  w.set(key("attention.layer_norm_rms_epsilon"), Value::f32(1e-6f));
  if (gemma) {
    w.set(key("attention.key_length"), Value::u32(static_cast<uint32_t>(hd)));
    w.set(key("attention.value_length"), Value::u32(static_cast<uint32_t>(hd)));
    w.set(key("attention.sliding_window"), Value::u32(s.sliding_window ? s.sliding_window : 32));
  }
  if (a == "gemma2") {
    w.set(key("attn_logit_softcapping"), Value::f32(50.0f));
    w.set(key("final_logit_softcapping"), Value::f32(30.0f));
  }
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
  const quant::Type f32 = quant::Type::F32;
  const quant::Type hi = s.type_hi >= 0 ? static_cast<quant::Type>(s.type_hi) : s.type;
  const Scales sc = scales_for(s.type, s.n_layer);
  auto add = [&](std::string name, quant::Type type, std::vector<int64_t> ne, Init init) -> Status {
    const uint64_t seed = s.seed, tid = id++;
    const int64_t ne0 = ne[0];
    const bool tied = s.tied_output || gemma;
    const float scale = init == Init::kEmbedding        ? (tied ? sc.tied_embedding : sc.embedding)
                        : init == Init::kGemmaEmbedding ? sc.tied_embedding
                        : init == Init::kLinear         ? sc.linear
                        : init == Init::kOutput         ? sc.output
                        : init == Init::kOutputNorm     ? sc.output_norm
                        : init == Init::kGemmaOutputNorm ? GemmaSplit::kOutputNorm
                        : init == Init::kNormPost       ? sc.post_norm
                        : init == Init::kGemmaPostNorm
                            ? GemmaSplit::kPostNorm / static_cast<float>(std::max(s.n_layer, 2u))
                            : 1.0f;
    return w.add_tensor_producer(std::move(name), static_cast<uint32_t>(type), std::move(ne), [=](std::span<uint8_t> out) {
      return fill(out, type, ne0, init, scale, seed, tid);
    });
  };
  // A tied table doubles as the output projection. With full-strength layers its rows are small
  // (else the input embedding dominates the residual stream and the model predicts its input
  // token) and a large output norm brings the logits to an untied model's range; with an
  // embedding-dominated stream the output norm is signed instead (see Scales).
  const bool tied = s.tied_output || gemma;
  const bool split = gemma && s.type != quant::Type::F32 && s.type != quant::Type::F16;  // GemmaSplit
  const Init norm = split ? Init::kGemmaNorm : Init::kNorm, post = split ? Init::kGemmaPostNorm : Init::kNormPost;
  RETURN_IF_ERROR(add("token_embd.weight", s.type, {e, n_vocab}, split ? Init::kGemmaEmbedding : Init::kEmbedding));
  RETURN_IF_ERROR(add("output_norm.weight", f32, {e},
                      split ? Init::kGemmaOutputNorm : tied ? Init::kOutputNorm : Init::kNorm));
  if (!s.tied_output && !gemma) RETURN_IF_ERROR(add("output.weight", hi, {e, n_vocab}, Init::kOutput));
  if (s.rope_freqs) RETURN_IF_ERROR(add("rope_freqs.weight", f32, {hd / 2}, Init::kNorm));
  for (uint32_t l = 0; l < s.n_layer; ++l) {
    auto blk = [l](const char* t) { return "blk." + std::to_string(l) + "." + t; };
    RETURN_IF_ERROR(add(blk("attn_norm.weight"), f32, {e}, norm));
    if (a == "phi3") {
      RETURN_IF_ERROR(add(blk("attn_qkv.weight"), s.type, {e, q + 2 * kv}, Init::kLinear));
    } else {
      RETURN_IF_ERROR(add(blk("attn_q.weight"), s.type, {e, q}, Init::kLinear));
      RETURN_IF_ERROR(add(blk("attn_k.weight"), s.type, {e, kv}, Init::kLinear));
      RETURN_IF_ERROR(add(blk("attn_v.weight"), hi, {e, kv}, Init::kLinear));
    }
    if (a == "qwen2") {
      RETURN_IF_ERROR(add(blk("attn_q.bias"), f32, {q}, Init::kBias));
      RETURN_IF_ERROR(add(blk("attn_k.bias"), f32, {kv}, Init::kBias));
      RETURN_IF_ERROR(add(blk("attn_v.bias"), f32, {kv}, Init::kBias));
    }
    if (a == "qwen3" || a == "gemma3") {
      RETURN_IF_ERROR(add(blk("attn_q_norm.weight"), f32, {hd}, Init::kNorm));
      RETURN_IF_ERROR(add(blk("attn_k_norm.weight"), f32, {hd}, Init::kNorm));
    }
    RETURN_IF_ERROR(add(blk("attn_output.weight"), s.type, {q, e}, Init::kLinear));
    if (gemma) RETURN_IF_ERROR(add(blk("post_attention_norm.weight"), f32, {e}, post));
    RETURN_IF_ERROR(add(blk("ffn_norm.weight"), f32, {e}, norm));
    if (a == "phi3") {
      RETURN_IF_ERROR(add(blk("ffn_up.weight"), s.type, {e, 2 * ff}, Init::kLinear));
    } else {
      RETURN_IF_ERROR(add(blk("ffn_gate.weight"), s.type, {e, ff}, Init::kLinear));
      RETURN_IF_ERROR(add(blk("ffn_up.weight"), s.type, {e, ff}, Init::kLinear));
    }
    RETURN_IF_ERROR(add(blk("ffn_down.weight"), hi, {ff, e}, Init::kLinear));
    if (gemma) RETURN_IF_ERROR(add(blk("post_ffw_norm.weight"), f32, {e}, post));
  }
  return w;
}

std::vector<double> softmax(std::span<const float> logits) {
  std::vector<double> p(logits.begin(), logits.end());
  const double mx = *std::max_element(p.begin(), p.end());
  double sum = 0;
  for (double& v : p) sum += (v = std::exp(v - mx));
  for (double& v : p) v /= sum;
  return p;
}

}  // namespace paddock::testing
