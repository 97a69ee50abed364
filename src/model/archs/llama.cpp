// llama family: Llama 2/3/3.1/3.2 (llama3 rope scaling through the rope_freqs tensor), Mistral,
// DeepSeek-R1-Distill-Llama. Pre-norm blocks, normal (non-NeoX) rope, SwiGLU FFN.
#include "model/archs/decoder.h"

namespace paddock::model {
namespace {

Status read_hparams(const Meta& m, HParams& hp) {
  RETURN_IF_ERROR(read_common_hparams(m, hp));
  hp.rope.neox = false;
  hp.rope_swa = hp.rope;
  // Mistral v0.1 style sliding window applies to every layer.
  ASSIGN_OR_RETURN(hp.sliding_window, m.count_or("attention.sliding_window", 0));
  std::fill(hp.swa_layer.begin(), hp.swa_layer.end(), hp.sliding_window > 0 ? 1 : 0);
  return Status::Ok();
}

Status bind(Binder& b, const HParams& hp, Weights& w) {
  RETURN_IF_ERROR(bind_common(b, hp, w));
  for (int il = 0; il < hp.n_layer; ++il) RETURN_IF_ERROR(bind_layer_standard(b, hp, il, w.layers[il]));
  return Status::Ok();
}

}  // namespace

const ArchDef kLlamaArch{"llama", read_hparams, bind, forward_pre_norm};

}  // namespace paddock::model
