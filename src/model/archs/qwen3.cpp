// qwen3 family (dense): llama's block with per-head RMS norms on q and k before rope, NeoX rope,
// no biases.
#include "model/archs/decoder.h"

namespace paddock::model {
namespace {

Status bind(Binder& b, const HParams& hp, Weights& w) {
  RETURN_IF_ERROR(bind_common(b, hp, w));
  for (int il = 0; il < hp.n_layer; ++il) {
    LayerWeights& l = w.layers[il];
    RETURN_IF_ERROR(bind_layer_standard(b, hp, il, l));
    RETURN_IF_ERROR(b.req(Binder::blk(il, "attn_q_norm.weight"), {hp.head_dim}, l.q_norm));
    RETURN_IF_ERROR(b.req(Binder::blk(il, "attn_k_norm.weight"), {hp.head_dim}, l.k_norm));
  }
  return Status::Ok();
}

}  // namespace

const ArchDef kQwen3Arch{"qwen3", read_neox_hparams, bind, forward_pre_norm};

}  // namespace paddock::model
