// paddock_conditioning_probe SPEC...: how well-conditioned a test model is, without an oracle.
// Greedy-decodes 64 tokens after the oracle's prompt on our AVX2 kernels, replays the same tokens
// on our scalar kernels (another summation order), and prints the largest logit and probability
// differences, the flips of the greedy token between the two, and the spread of the outputs
// (top-1 probabilities, top-2 gaps, distinct tokens). Used to choose the scales in test_model.cpp.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "model/model.h"
#include "quant/kernels.h"
#include "test_model.h"

namespace paddock {
namespace {

constexpr int kSteps = 64, kBlocks = 16, kBlock = 16;

int32_t argmax(const std::vector<float>& l) {
  return static_cast<int32_t>(std::max_element(l.begin(), l.end()) - l.begin());
}

// Logits after the prompt and after each of the first kSteps-1 generated tokens. When `gen` is
// empty it is filled greedily; otherwise its tokens are replayed.
Result<std::vector<std::vector<float>>> run(const testing::TestModelSpec& spec, const std::vector<int32_t>& prompt,
                                            std::vector<int32_t>& gen) {
  ASSIGN_OR_RETURN(auto w, testing::make_test_model(spec));
  ASSIGN_OR_RETURN(auto bytes, w.serialize());
  ASSIGN_OR_RETURN(auto file, gguf::File::parse(std::span<const uint8_t>(
                                  reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())));
  ASSIGN_OR_RETURN(auto model, Model::load(std::make_shared<const gguf::File>(std::move(file)), LoadOptions{2, "cpu"}));
  RETURN_IF_ERROR(model->init_kv(KvOptions{kBlock, kBlocks, false}));
  const bool replay = !gen.empty();
  std::vector<std::vector<float>> out;
  int32_t len = 0;
  auto step = [&](const std::vector<int32_t>& toks) -> Status {
    Batch b;
    b.max_blocks = kBlocks;
    b.seq_start = {0};
    for (int32_t t : toks) {
      b.tokens.push_back(t);
      b.positions.push_back(len++);
    }
    b.seq_start.push_back(b.n_tokens());
    b.seq_kv_len.push_back(len);
    for (int32_t i = 0; i < kBlocks; ++i) b.block_tables.push_back(i);
    b.logit_rows.push_back(b.n_tokens() - 1);
    out.emplace_back(static_cast<size_t>(model->info().n_vocab));
    return model->forward(b, out.back());
  };
  RETURN_IF_ERROR(step(prompt));
  for (int s = 0; s < kSteps; ++s) {
    if (!replay) gen.push_back(argmax(out.back()));
    if (s + 1 < kSteps) RETURN_IF_ERROR(step({gen[static_cast<size_t>(s)]}));
  }
  return out;
}

int probe(const char* spec_str) {
  auto spec = testing::parse_test_model_spec(spec_str);
  if (!spec.ok()) {
    std::fprintf(stderr, "%s: %s\n", spec_str, spec.error().message().c_str());
    return 1;
  }
  // The oracle's prompt (tools/llamacpp_oracle.mjs) for the 378-token test vocabulary.
  std::vector<int32_t> prompt = {1};
  for (uint64_t s = 12345; prompt.size() < 40;) {
    s = (s * 1103515245 + 12345) % 2147483648;
    prompt.push_back(static_cast<int32_t>(3 + s % 375));
  }
  std::vector<int32_t> gen;
  if (!quant::set_simd_level_for_testing("avx2")) std::fprintf(stderr, "note: no AVX2, comparing scalar with itself\n");
  auto a = run(*spec, prompt, gen);
  (void)quant::set_simd_level_for_testing("scalar");
  auto b = a.ok() ? run(*spec, prompt, gen) : a;
  if (!b.ok()) {
    std::fprintf(stderr, "%s: %s\n", spec_str, b.error().message().c_str());
    return 1;
  }
  double max_dl = 0, max_dp = 0;
  std::vector<double> top1;
  int close = 0, flips = 0;
  for (size_t i = 0; i < a->size(); ++i) {
    const auto& la = (*a)[i];
    const auto& lb = (*b)[i];
    const auto pa = testing::softmax(la), pb = testing::softmax(lb);
    for (size_t j = 0; j < la.size(); ++j) {
      max_dl = std::max(max_dl, static_cast<double>(std::fabs(la[j] - lb[j])));
      max_dp = std::max(max_dp, std::fabs(pa[j] - pb[j]));
    }
    std::vector<double> sorted = pa;
    std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end(), std::greater<>());
    top1.push_back(sorted[0]);
    if (sorted[0] - sorted[1] < 1e-2) ++close;
    if (argmax(la) != argmax(lb)) ++flips;
  }
  std::sort(top1.begin(), top1.end());
  std::vector<int32_t> distinct = gen;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  // The oracle test's degeneracy check (model_oracle_test.cpp) also counts the first 16 tokens.
  std::vector<int32_t> early(gen.begin(), gen.begin() + std::min<size_t>(16, gen.size()));
  std::sort(early.begin(), early.end());
  early.erase(std::unique(early.begin(), early.end()), early.end());
  std::printf(
      "%-32s max|dlogit| %.2e max|dp| %.2e flips %d | top1 min %.2f med %.2f max %.2f, gap<1e-2 %d, distinct %zu "
      "(%zu in the first 16)\n",
      spec_str, max_dl, max_dp, flips, top1.front(), top1[top1.size() / 2], top1.back(), close, distinct.size(),
      early.size());
  return 0;
}

}  // namespace
}  // namespace paddock

int main(int argc, char** argv) {
  int rc = 0;
  for (int i = 1; i < argc; ++i) rc |= paddock::probe(argv[i]);
  return rc;
}
