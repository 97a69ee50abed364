// Layer stacks shared by the families (see decoder.h), written over backend ops only.
#include "model/archs/decoder.h"

namespace paddock::model {
namespace {

// The residual add closing layer il, fused with the norm that follows it: the next layer's
// attention norm into xn, or after the last layer the output norm in place.
void next_norm(Ctx& c, int il) {
  if (il + 1 < c.hp.n_layer)
    c.be.add_rms_norm(c.x, c.out, &c.w.layers[static_cast<size_t>(il) + 1].attn_norm, c.hp.norm_eps, c.xn);
  else
    c.be.add_rms_norm(c.x, c.out, &c.w.output_norm, c.hp.norm_eps, c.x);
}

}  // namespace

void forward_pre_norm(Ctx& c) {
  const HParams& hp = c.hp;
  c.be.embed(c.w.tok_embd, hp.embd_scale, c.x);
  c.be.rms_norm(c.x, &c.w.layers[0].attn_norm, hp.norm_eps, c.xn);
  for (int il = 0; il < hp.n_layer; ++il) {
    const LayerWeights& l = c.w.layers[static_cast<size_t>(il)];
    attention_block(c, il, c.xn, c.out);
    c.be.add_rms_norm(c.x, c.out, &l.ffn_norm, hp.norm_eps, c.xn);
    ffn_block(c, il, c.xn, c.out);
    next_norm(c, il);
  }
}

void forward_sandwich(Ctx& c) {
  const HParams& hp = c.hp;
  c.be.embed(c.w.tok_embd, hp.embd_scale, c.x);
  c.be.rms_norm(c.x, &c.w.layers[0].attn_norm, hp.norm_eps, c.xn);
  for (int il = 0; il < hp.n_layer; ++il) {
    const LayerWeights& l = c.w.layers[static_cast<size_t>(il)];
    attention_block(c, il, c.xn, c.out);
    c.be.rms_norm(c.out, &l.attn_post_norm, hp.norm_eps, c.out);
    c.be.add_rms_norm(c.x, c.out, &l.ffn_norm, hp.norm_eps, c.xn);
    ffn_block(c, il, c.xn, c.out);
    c.be.rms_norm(c.out, &l.ffn_post_norm, hp.norm_eps, c.out);
    next_norm(c, il);
  }
}

}  // namespace paddock::model
