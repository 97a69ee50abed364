// `paddock demo-model OUT.gguf --tokenizer-json F [--tokenizer-config F]` (hidden): writes the
// demo model for `make serve` — a small llama-architecture model with RANDOM weights and a real
// tokenizer vocabulary (converted from a Hugging Face tokenizer.json). It produces noise; it
// exists so the whole serving path can be tried before a trained demo model is available.
#include <cmath>
#include <cstring>
#include <iostream>

#include "cli/command.h"
#include "gguf/gguf.h"
#include "quant/quant.h"
#include "tokenizer/tokenizer.h"
#include "util/fs.h"
#include "util/half.h"
#include "util/splitmix.h"

namespace paddock::cli {
namespace {

struct DemoFlags {
  std::string out, tokenizer_json, tokenizer_config;
  uint32_t n_embd = 128, n_layer = 4, n_head = 4, n_head_kv = 2, n_ff = 384, n_ctx = 8192;
  uint64_t seed = 42;
};

int make_demo(const DemoFlags& f) {
  auto tj = read_file(f.tokenizer_json, 64u << 20);
  if (!tj.ok()) {
    std::cerr << "Error: " << tj.error().message() << "\n";
    return 1;
  }
  std::string tc;
  if (!f.tokenizer_config.empty()) {
    auto r = read_file(f.tokenizer_config, 16u << 20);
    if (!r.ok()) {
      std::cerr << "Error: " << r.error().message() << "\n";
      return 1;
    }
    tc = *r;
  }
  auto meta = tokenizer::hf_to_gguf_metadata(*tj, tc);
  if (!meta.ok()) {
    std::cerr << "Error: converting the tokenizer: " << meta.error().message() << "\n";
    return 1;
  }
  int64_t n_vocab = 0;
  for (auto& [k, v] : *meta)
    if (k == "tokenizer.ggml.tokens") n_vocab = int64_t(v.arr.size());
  if (n_vocab == 0) {
    std::cerr << "Error: the tokenizer has no tokens\n";
    return 1;
  }
  const int64_t n_embd = f.n_embd, head_dim = f.n_embd / f.n_head, n_kv = head_dim * f.n_head_kv, n_ff = f.n_ff;
  gguf::Writer w(3);
  w.set("general.architecture", gguf::Value::str("llama"));
  w.set("general.name", gguf::Value::str("paddock-demo-random (random weights, NOT a trained model)"));
  w.set("general.file_type", gguf::Value::u32(1));
  w.set("llama.context_length", gguf::Value::u32(f.n_ctx));
  w.set("llama.embedding_length", gguf::Value::u32(f.n_embd));
  w.set("llama.block_count", gguf::Value::u32(f.n_layer));
  w.set("llama.feed_forward_length", gguf::Value::u32(f.n_ff));
  w.set("llama.attention.head_count", gguf::Value::u32(f.n_head));
  w.set("llama.attention.head_count_kv", gguf::Value::u32(f.n_head_kv));
  w.set("llama.rope.dimension_count", gguf::Value::u32(uint32_t(head_dim)));
  w.set("llama.rope.freq_base", gguf::Value::f32(500000.0f));
  w.set("llama.attention.layer_norm_rms_epsilon", gguf::Value::f32(1e-5f));
  w.set("llama.vocab_size", gguf::Value::u32(uint32_t(n_vocab)));
  for (auto& [k, v] : *meta) w.set(k, v);

  const uint32_t f16 = static_cast<uint32_t>(quant::Type::F16), f32 = static_cast<uint32_t>(quant::Type::F32);
  uint64_t tensor_id = 0;
  auto add = [&](std::string name, bool norm, std::vector<int64_t> ne) -> Status {
    uint64_t seed = f.seed * 1000003u + tensor_id++;
    int64_t fan_in = ne[0];
    uint32_t type = norm ? f32 : f16;
    return w.add_tensor_producer(std::move(name), type, std::move(ne), [=](std::span<uint8_t> out) -> Status {
      uint64_t s = seed;
      float scale = 1.0f / std::sqrt(float(fan_in));
      if (norm) {
        for (size_t i = 0; i + 4 <= out.size(); i += 4) {
          float one = 1.0f;
          std::memcpy(out.data() + i, &one, 4);
        }
        return Status::Ok();
      }
      for (size_t i = 0; i + 2 <= out.size(); i += 2) {
        double u = double(splitmix64(s) >> 11) / double(1ull << 53);  // [0,1)
        uint16_t h = fp32_to_fp16(float((u * 2 - 1) * 1.7320508) * scale);
        std::memcpy(out.data() + i, &h, 2);
      }
      return Status::Ok();
    });
  };
  auto check = [](const Status& st) {
    if (!st.ok()) std::cerr << "Error: " << st.error().message() << "\n";
    return st.ok();
  };
  if (!check(add("token_embd.weight", false, {n_embd, n_vocab}))) return 1;
  if (!check(add("output_norm.weight", true, {n_embd}))) return 1;
  for (uint32_t l = 0; l < f.n_layer; ++l) {
    auto blk = [l](const char* t) { return "blk." + std::to_string(l) + "." + t + ".weight"; };
    if (!check(add(blk("attn_norm"), true, {n_embd})) || !check(add(blk("attn_q"), false, {n_embd, n_embd})) ||
        !check(add(blk("attn_k"), false, {n_embd, n_kv})) || !check(add(blk("attn_v"), false, {n_embd, n_kv})) ||
        !check(add(blk("attn_output"), false, {n_embd, n_embd})) || !check(add(blk("ffn_norm"), true, {n_embd})) ||
        !check(add(blk("ffn_gate"), false, {n_embd, n_ff})) || !check(add(blk("ffn_down"), false, {n_ff, n_embd})) ||
        !check(add(blk("ffn_up"), false, {n_embd, n_ff})))
      return 1;
  }
  if (!check(w.write(f.out))) return 1;
  std::cerr << "wrote " << f.out << " (" << n_vocab << " tokens, random weights)\n";
  return 0;
}

Registration reg({"demo-model", 902, [](CLI::App& app, std::function<int()>& run) {
  auto* sub = app.add_subcommand("demo-model", "Write the random-weight demo model used by `make serve`");
  sub->group("");  // hidden
  auto f = std::make_shared<DemoFlags>();
  sub->add_option("out", f->out, "Output GGUF path")->required();
  sub->add_option("--tokenizer-json", f->tokenizer_json, "Hugging Face tokenizer.json")->required();
  sub->add_option("--tokenizer-config", f->tokenizer_config, "tokenizer_config.json (chat template, special tokens)");
  sub->add_option("--n-embd", f->n_embd);
  sub->add_option("--n-layer", f->n_layer);
  sub->add_option("--n-ctx", f->n_ctx);
  sub->add_option("--seed", f->seed);
  run = [f] { return make_demo(*f); };
  return sub;
}});

}  // namespace
}  // namespace paddock::cli
