// gemma2 and gemma3 text models: sandwich norms, embeddings scaled by sqrt(n_embd), GELU-gated
// FFN, NeoX rope, sliding-window layers in a fixed pattern (gemma2: every other layer starting
// with layer 0; gemma3: 5 of every 6). gemma2 soft-caps attention scores and final logits;
// gemma3 adds per-head q/k norms and uses rope base 10000 on its sliding-window layers.
// Norm weights are used as stored: the GGUF converter already folded Gemma's (1 + w).
#include <cmath>

#include "model/archs/decoder.h"

namespace paddock::model {
namespace {

Status read_gemma_common(const Meta& m, HParams& hp, int pattern) {
  RETURN_IF_ERROR(read_common_hparams(m, hp));
  hp.rope.neox = true;
  hp.act = backend::Act::kGeluTanh;
  hp.embd_scale = std::sqrt(static_cast<float>(hp.n_embd));
  ASSIGN_OR_RETURN(hp.sliding_window, m.count_or("attention.sliding_window", 0));
  for (int il = 0; il < hp.n_layer; ++il)
    hp.swa_layer[il] = hp.sliding_window > 0 && (il % pattern) < (pattern - 1) ? 1 : 0;
  ASSIGN_OR_RETURN(hp.final_softcap, m.real_or("final_logit_softcapping", 0.0f));
  if (hp.final_softcap < 0.0f) return make_error(ErrorCode::kCorrupt, "final_logit_softcapping is negative");
  return Status::Ok();
}

Status read_gemma2(const Meta& m, HParams& hp) {
  RETURN_IF_ERROR(read_gemma_common(m, hp, 2));
  ASSIGN_OR_RETURN(hp.attn_softcap, m.real_or("attn_logit_softcapping", 0.0f));
  if (hp.attn_softcap < 0.0f) return make_error(ErrorCode::kCorrupt, "attn_logit_softcapping is negative");
  // Gemma 2 27B scales queries by 1/sqrt(n_embd / n_head) instead of 1/sqrt(head_dim).
  if (hp.n_layer == 46) hp.attn_scale = 1.0f / std::sqrt(static_cast<float>(hp.n_embd / hp.n_head));
  hp.rope_swa = hp.rope;
  return Status::Ok();
}

Status read_gemma3(const Meta& m, HParams& hp) {
  RETURN_IF_ERROR(read_gemma_common(m, hp, 6));
  if (hp.n_layer == 62) hp.attn_scale = 1.0f / std::sqrt(static_cast<float>(hp.n_embd / hp.n_head));
  hp.rope_swa = hp.rope;
  hp.rope_swa.freq_scale = 1.0f;
  hp.rope_swa.ext_factor = 0.0f;
  ASSIGN_OR_RETURN(hp.rope_swa.freq_base, m.real_or("rope.freq_base_swa", 10000.0f));
  return Status::Ok();
}

Status bind_gemma(Binder& b, const HParams& hp, Weights& w, bool qk_norm) {
  RETURN_IF_ERROR(bind_common(b, hp, w));
  const int64_t e = hp.n_embd;
  for (int il = 0; il < hp.n_layer; ++il) {
    LayerWeights& l = w.layers[il];
    RETURN_IF_ERROR(bind_layer_standard(b, hp, il, l));
    RETURN_IF_ERROR(b.req(Binder::blk(il, "post_attention_norm.weight"), {e}, l.attn_post_norm));
    RETURN_IF_ERROR(b.req(Binder::blk(il, "post_ffw_norm.weight"), {e}, l.ffn_post_norm));
    if (qk_norm) {
      RETURN_IF_ERROR(b.req(Binder::blk(il, "attn_q_norm.weight"), {hp.head_dim}, l.q_norm));
      RETURN_IF_ERROR(b.req(Binder::blk(il, "attn_k_norm.weight"), {hp.head_dim}, l.k_norm));
    }
  }
  return Status::Ok();
}

Status bind_gemma2(Binder& b, const HParams& hp, Weights& w) { return bind_gemma(b, hp, w, false); }
Status bind_gemma3(Binder& b, const HParams& hp, Weights& w) { return bind_gemma(b, hp, w, true); }

}  // namespace

const ArchDef kGemma2Arch{"gemma2", read_gemma2, bind_gemma2, forward_sandwich};
const ArchDef kGemma3Arch{"gemma3", read_gemma3, bind_gemma3, forward_sandwich};

}  // namespace paddock::model
