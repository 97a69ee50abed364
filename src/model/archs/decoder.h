// The two layer stacks the families here share: pre-norm (llama, qwen, phi3) and the gemma
// sandwich (pre and post norms around attention and FFN). Families pick one as their forward.
#pragma once
#include "model/model_impl.h"

namespace paddock::model {

// x = embed; per layer: x += attn(norm(x)); x += ffn(norm(x)); x = norm(x).
void forward_pre_norm(Ctx& c);
// x = embed * scale; per layer: x += post_norm(attn(norm(x))); x += post_norm(ffn(norm(x))); x = norm(x).
void forward_sandwich(Ctx& c);

}  // namespace paddock::model
