// model internals: hyper-parameters, bound weights and run state as plain structs, the three
// architecture hooks (read hyper-parameters, bind tensors, forward) and the name→hooks table.
// Every tensor field notes its GGUF shape as [ne0, ne1] (ne0 contiguous).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backend/backend.h"
#include "gguf/gguf.h"
#include "model/model.h"

namespace paddock::model {

using backend::Tensor;
using backend::Weight;

struct HParams {
  std::string arch;
  int32_t n_vocab = 0, n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0;
  int32_t head_dim = 0;        // key/value head size (attention.key_length, default n_embd / n_head)
  int32_t n_ff = 0;
  int32_t n_ctx_train = 0;
  float norm_eps = 1e-5f;
  backend::RopeParams rope;    // global layers (freq_factors bound later)
  backend::RopeParams rope_swa;  // sliding-window layers (gemma3: base 10000)
  int32_t sliding_window = 0;
  std::vector<uint8_t> swa_layer;  // [n_layer] 1 = this layer uses the sliding window
  float attn_scale = 0;        // q·k scale
  float attn_softcap = 0, final_softcap = 0;
  float embd_scale = 1.0f;
  backend::Act act = backend::Act::kSilu;
};

struct LayerWeights {
  Weight attn_norm;              // [n_embd]
  Weight wq, wk, wv;             // [n_embd, n_head*hd], [n_embd, n_head_kv*hd] x2
  Weight wqkv;                   // [n_embd, (n_head + 2 n_head_kv) hd] (phi3, fused)
  Weight bq, bk, bv;             // biases (qwen2)
  Weight q_norm, k_norm;         // [hd] per-head rms norm (qwen3, gemma3)
  Weight wo;                     // [n_head*hd, n_embd]
  Weight attn_post_norm;         // [n_embd] (gemma2/3)
  Weight ffn_norm;               // [n_embd]
  Weight ffn_gate, ffn_up;       // [n_embd, n_ff]; phi3: ffn_up [n_embd, 2 n_ff] = gate|up, no gate
  Weight ffn_down;               // [n_ff, n_embd]
  Weight ffn_post_norm;          // [n_embd] (gemma2/3)
};

struct Weights {
  Weight tok_embd;     // [n_embd, n_vocab]
  Weight output_norm;  // [n_embd]
  Weight output;       // [n_embd, n_vocab]; = tok_embd when tied
  Weight rope_freqs;   // [rope.n_dims / 2] optional (llama3 scaling)
  std::vector<LayerWeights> layers;
};

// Activations for one step, sized for `cap` tokens.
struct RunState {
  int64_t cap = 0;
  std::shared_ptr<backend::Buffer> x, xn, attn, q, k, v, qkv, gate, up, out, rows, logits;
};

// Reads "<arch>.<suffix>" metadata with the checks SECURITY.md asks for.
class Meta {
 public:
  Meta(const gguf::File& f, std::string arch) : f_(f), arch_(std::move(arch)) {}
  const gguf::File& file() const { return f_; }
  std::string key(std::string_view suffix) const { return arch_ + "." + std::string(suffix); }
  // A positive count that fits in int32 (and <= max).
  Result<int32_t> count(std::string_view suffix, int64_t max = int64_t{1} << 30) const;
  Result<int32_t> count_or(std::string_view suffix, int32_t dflt, int64_t max = int64_t{1} << 30) const;
  Result<float> real_or(std::string_view suffix, float dflt) const;
  Result<std::string> string_or(std::string_view suffix, std::string dflt) const;

 private:
  const gguf::File& f_;
  std::string arch_;
};

// Looks tensors up, checks their shapes and types, and binds them on the backend.
class Binder {
 public:
  Binder(const gguf::File& f, backend::Backend& be, uint64_t* weight_bytes) : f_(f), be_(be), bytes_(weight_bytes) {}
  // Binds `name` (must exist) with shape [ne0] or [ne0, ne1].
  Status req(const std::string& name, std::initializer_list<int64_t> shape, Weight& out);
  // Same but absent is fine (out stays empty).
  Status opt(const std::string& name, std::initializer_list<int64_t> shape, Weight& out);
  static std::string blk(int il, const char* what) { return "blk." + std::to_string(il) + "." + what; }

 private:
  const gguf::File& f_;
  backend::Backend& be_;
  uint64_t* bytes_;
};

// Shared defaults for decoder-only families: the common keys and the usual tensor set.
Status read_common_hparams(const Meta& m, HParams& hp);
// read_common_hparams with NeoX rope on every layer (the qwen2 and qwen3 families).
Status read_neox_hparams(const Meta& m, HParams& hp);
// Binds token_embd / output_norm / output (tied when absent) / rope_freqs.
Status bind_common(Binder& b, const HParams& hp, Weights& w);
// Binds the standard attention (separate q/k/v) and gated FFN tensors of one layer.
Status bind_layer_standard(Binder& b, const HParams& hp, int il, LayerWeights& l);

// What a forward needs: backend, plan and the step's buffers.
struct Ctx {
  backend::Backend& be;
  const HParams& hp;
  const Weights& w;
  const std::vector<backend::KvLayer>& kv;
  int32_t block_size;
  int64_t n;  // tokens in the step
  Tensor x, xn, attn, q, k, v, qkv, gate, up, out;
  Tensor t(const std::shared_ptr<backend::Buffer>& b, int64_t cols) const;
};

// Building blocks of a layer, written over backend ops.
// out = attention(in) for layer il, including q/k/v projections (fused or not, with biases),
// per-head q/k norms, rope and the output projection.
void attention_block(Ctx& c, int il, const Tensor& in, const Tensor& out);
// out = down(act(gate(in)) * up(in)) (phi3: gate|up fused in ffn_up).
void ffn_block(Ctx& c, int il, const Tensor& in, const Tensor& out);

// The three hooks of an architecture family.
struct ArchDef {
  const char* name;
  Status (*read_hparams)(const Meta& m, HParams& hp);
  Status (*bind)(Binder& b, const HParams& hp, Weights& w);
  // Leaves the final normed hidden states in c.x's rows (n x n_embd).
  void (*forward)(Ctx& c);
};

const ArchDef* find_arch(std::string_view name);
std::string supported_arch_names();

// Per-family definitions (archs/*.cpp).
extern const ArchDef kLlamaArch;
extern const ArchDef kQwen2Arch;
extern const ArchDef kQwen3Arch;
extern const ArchDef kPhi3Arch;
extern const ArchDef kGemma2Arch;
extern const ArchDef kGemma3Arch;

}  // namespace paddock::model
