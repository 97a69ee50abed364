// phi3 family (Phi-3/3.5/4 mini): fused qkv projection and fused gate|up FFN, NeoX rope.
// phi3.attention.sliding_window is not applied, as in llama.cpp (which disabled Phi SWA).
#include "model/archs/decoder.h"

namespace paddock::model {
namespace {

Status read_hparams(const Meta& m, HParams& hp) {
  RETURN_IF_ERROR(read_common_hparams(m, hp));
  hp.rope.neox = true;
  // LongRoPE models (Phi-3/3.5/4 128k) scale cos/sin by this factor.
  ASSIGN_OR_RETURN(hp.rope.attn_factor, m.real_or("rope.scaling.attn_factor", 1.0f));
  hp.rope_swa = hp.rope;
  return Status::Ok();
}

Status bind(Binder& b, const HParams& hp, Weights& w) {
  RETURN_IF_ERROR(bind_common(b, hp, w));
  // LongRoPE: per-frequency divisors; the short set applies within the original context, which
  // is all we serve (num_ctx is capped at the training context).
  if (!w.rope_freqs) RETURN_IF_ERROR(b.opt("rope_factors_short.weight", {hp.rope.n_dims / 2}, w.rope_freqs));
  const int64_t e = hp.n_embd, q = int64_t{hp.n_head} * hp.head_dim, kv = int64_t{hp.n_head_kv} * hp.head_dim;
  for (int il = 0; il < hp.n_layer; ++il) {
    LayerWeights& l = w.layers[il];
    RETURN_IF_ERROR(b.req(Binder::blk(il, "attn_norm.weight"), {e}, l.attn_norm));
    RETURN_IF_ERROR(b.req(Binder::blk(il, "attn_qkv.weight"), {e, q + 2 * kv}, l.wqkv));
    RETURN_IF_ERROR(b.req(Binder::blk(il, "attn_output.weight"), {q, e}, l.wo));
    RETURN_IF_ERROR(b.req(Binder::blk(il, "ffn_norm.weight"), {e}, l.ffn_norm));
    RETURN_IF_ERROR(b.req(Binder::blk(il, "ffn_up.weight"), {e, 2 * int64_t{hp.n_ff}}, l.ffn_up));
    RETURN_IF_ERROR(b.req(Binder::blk(il, "ffn_down.weight"), {hp.n_ff, e}, l.ffn_down));
  }
  return Status::Ok();
}

}  // namespace

const ArchDef kPhi3Arch{"phi3", read_hparams, bind, forward_pre_norm};

}  // namespace paddock::model
