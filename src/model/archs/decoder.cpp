// Layer stacks shared by the families (see decoder.h), written over backend ops only.
#include "model/archs/decoder.h"

namespace paddock::model {

void forward_pre_norm(Ctx& c) {
  const HParams& hp = c.hp;
  c.be.embed(c.w.tok_embd, hp.embd_scale, c.x);
  for (int il = 0; il < hp.n_layer; ++il) {
    const LayerWeights& l = c.w.layers[static_cast<size_t>(il)];
    c.be.rms_norm(c.x, &l.attn_norm, hp.norm_eps, c.xn);
    attention_block(c, il, c.xn, c.out);
    c.be.add(c.x, c.out, c.x);
    c.be.rms_norm(c.x, &l.ffn_norm, hp.norm_eps, c.xn);
    ffn_block(c, il, c.xn, c.out);
    c.be.add(c.x, c.out, c.x);
  }
  c.be.rms_norm(c.x, &c.w.output_norm, hp.norm_eps, c.x);
}

void forward_sandwich(Ctx& c) {
  const HParams& hp = c.hp;
  c.be.embed(c.w.tok_embd, hp.embd_scale, c.x);
  for (int il = 0; il < hp.n_layer; ++il) {
    const LayerWeights& l = c.w.layers[static_cast<size_t>(il)];
    c.be.rms_norm(c.x, &l.attn_norm, hp.norm_eps, c.xn);
    attention_block(c, il, c.xn, c.out);
    c.be.rms_norm(c.out, &l.attn_post_norm, hp.norm_eps, c.out);
    c.be.add(c.x, c.out, c.x);
    c.be.rms_norm(c.x, &l.ffn_norm, hp.norm_eps, c.xn);
    ffn_block(c, il, c.xn, c.out);
    c.be.rms_norm(c.out, &l.ffn_post_norm, hp.norm_eps, c.out);
    c.be.add(c.x, c.out, c.x);
  }
  c.be.rms_norm(c.x, &c.w.output_norm, hp.norm_eps, c.x);
}

}  // namespace paddock::model
