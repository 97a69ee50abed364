// qwen2 family: Qwen2/2.5, DeepSeek-R1-Distill-Qwen. Llama's block with q/k/v biases and NeoX rope.
#include "model/archs/decoder.h"

namespace paddock::model {
namespace {

Status bind(Binder& b, const HParams& hp, Weights& w) {
  RETURN_IF_ERROR(bind_common(b, hp, w));
  const int64_t q = int64_t{hp.n_head} * hp.head_dim, kv = int64_t{hp.n_head_kv} * hp.head_dim;
  for (int il = 0; il < hp.n_layer; ++il) {
    LayerWeights& l = w.layers[il];
    RETURN_IF_ERROR(bind_layer_standard(b, hp, il, l));
    RETURN_IF_ERROR(b.req(Binder::blk(il, "attn_q.bias"), {q}, l.bq));
    RETURN_IF_ERROR(b.req(Binder::blk(il, "attn_k.bias"), {kv}, l.bk));
    RETURN_IF_ERROR(b.req(Binder::blk(il, "attn_v.bias"), {kv}, l.bv));
  }
  return Status::Ok();
}

}  // namespace

const ArchDef kQwen2Arch{"qwen2", read_neox_hparams, bind, forward_pre_norm};

}  // namespace paddock::model
