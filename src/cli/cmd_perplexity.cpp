// `paddock perplexity`: llama.cpp-style perplexity of a text file — the tokens are cut into
// windows of --ctx tokens (the first replaced by BOS when the vocabulary adds one), each window
// is evaluated from an empty cache, and only the second half of each window is scored, so every
// scored token sees at least ctx/2 tokens of context. Prints PPL ± its standard error.
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/command.h"
#include "cli/model_open.h"
#include "model/model.h"

namespace paddock::cli {
namespace {

struct PplArgs {
  std::string model, file;
  int32_t ctx = 512, batch = 128, threads = 0, max_chunks = -1;
};

int run_perplexity(const PplArgs& a) {
  auto opened = open_model_file(a.model);
  if (!opened.ok()) {
    std::cerr << "Error: " << opened.error().message() << "\n";
    return 1;
  }
  std::ifstream in(a.file, std::ios::binary);
  if (!in) {
    std::cerr << "Error: cannot read " << a.file << "\n";
    return 1;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  const std::vector<int32_t> toks = opened->tok->encode(text, true, false);
  const int32_t n_ctx = a.ctx;
  const int64_t n_chunks_all = static_cast<int64_t>(toks.size()) / n_ctx;
  if (n_chunks_all == 0) {
    std::cerr << "Error: " << toks.size() << " tokens is less than one window of " << n_ctx << "\n";
    return 1;
  }
  const int64_t n_chunks = a.max_chunks > 0 ? std::min<int64_t>(a.max_chunks, n_chunks_all) : n_chunks_all;
  auto model = Model::load(opened->file, LoadOptions{a.threads, "cpu"});
  if (!model.ok()) {
    std::cerr << "Error: " << model.error().message() << "\n";
    return 1;
  }
  Model& m = **model;
  constexpr int32_t kBlock = 16;
  const int32_t n_blocks = (n_ctx + kBlock - 1) / kBlock;
  if (auto st = m.init_kv(KvOptions{kBlock, n_blocks, false, a.batch, a.batch}); !st.ok()) {
    std::cerr << "Error: " << st.error().message() << "\n";
    return 1;
  }
  const int32_t n_vocab = m.info().n_vocab, first = n_ctx / 2, bos = opened->tok->bos();
  std::vector<float> logits;
  double nll = 0, nll2 = 0;
  int64_t count = 0;
  std::cerr << fmt::format("perplexity: {} tokens, {} windows of {}, scoring the last {} of each\n", toks.size(),
                           n_chunks, n_ctx, n_ctx - first - 1);
  for (int64_t c = 0; c < n_chunks; ++c) {
    std::vector<int32_t> win(toks.begin() + c * n_ctx, toks.begin() + (c + 1) * n_ctx);
    if (bos >= 0) win[0] = bos;
    for (int32_t b0 = 0; b0 < n_ctx; b0 += a.batch) {
      const int32_t b1 = std::min(n_ctx, b0 + a.batch);
      Batch b;
      b.seq_start = {0, b1 - b0};
      b.seq_kv_len = {b1};
      b.max_blocks = n_blocks;
      for (int32_t i = 0; i < n_blocks; ++i) b.block_tables.push_back(i);
      for (int32_t i = b0; i < b1; ++i) {
        b.tokens.push_back(win[i]);
        b.positions.push_back(i);
        if (i >= first && i + 1 < n_ctx) b.logit_rows.push_back(i - b0);
      }
      logits.resize(b.logit_rows.size() * static_cast<size_t>(n_vocab));
      if (auto st = m.forward(b, logits); !st.ok()) {
        std::cerr << "Error: " << st.error().message() << "\n";
        return 1;
      }
      for (size_t r = 0; r < b.logit_rows.size(); ++r) {
        const float* l = logits.data() + r * n_vocab;
        const int32_t next = toks[c * n_ctx + b0 + b.logit_rows[r] + 1];
        double mx = l[0];
        for (int32_t v = 1; v < n_vocab; ++v) mx = std::max<double>(mx, l[v]);
        double sum = 0;
        for (int32_t v = 0; v < n_vocab; ++v) sum += std::exp(l[v] - mx);
        const double x = -(l[next] - mx - std::log(sum));
        nll += x;
        nll2 += x * x;
        ++count;
      }
    }
    std::cerr << fmt::format("[{}]{:.4f} ", c + 1, std::exp(nll / static_cast<double>(count))) << std::flush;
  }
  const double mean = nll / static_cast<double>(count);
  const double var = nll2 / static_cast<double>(count) - mean * mean;
  const double ppl = std::exp(mean);
  const double err = count > 1 ? std::sqrt(std::max(0.0, var) / static_cast<double>(count - 1)) * ppl : 0.0;
  std::cerr << "\n";
  std::cout << fmt::format("Final estimate: PPL = {:.4f} +/- {:.5f}\n", ppl, err);
  return 0;
}

Registration reg({"perplexity", 61, [](CLI::App& app, std::function<int()>& run) {
  auto a = std::make_shared<PplArgs>();
  auto* sub = app.add_subcommand("perplexity", "Perplexity of a local model on a text file (llama.cpp-style windows)");
  sub->add_option("--model,-m", a->model, "GGUF file or model name")->required();
  sub->add_option("--file,-f", a->file, "Text file")->required();
  sub->add_option("--ctx,--num-ctx", a->ctx, "Window length in tokens")->check(CLI::Range(8, 1 << 20));
  sub->add_option("--batch", a->batch, "Tokens per forward step")->check(CLI::Range(1, 1 << 16));
  sub->add_option("--chunks", a->max_chunks, "Evaluate at most this many windows (-1 = all)");
  sub->add_option("--threads", a->threads, "CPU threads (0 = all cores)")->check(CLI::Range(0, 1024));
  run = [a] { return run_perplexity(*a); };
  return sub;
}});

}  // namespace
}  // namespace paddock::cli
