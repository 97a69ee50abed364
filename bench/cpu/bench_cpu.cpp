// paddock_bench_cpu MODEL [--threads N] [--pp 512] [--tg 128] [--ctx 4096] [--reps 1]: prompt
// processing (one batch of `pp` tokens) and generation (`tg` single-token steps from an empty
// cache) on the CPU backend, like llama-bench's pp512 / tg128. After a warm-up (a short prompt
// and a few steps, which touch every weight page), prints one JSON line per repetition with
// tokens/s and memory: the resident set (file-backed = mmapped weights, anonymous = KV pool,
// activations, the rest) next to the weights and the KV pool for `ctx` tokens.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "model/model.h"
#include "quant/kernels.h"

namespace {

// A /proc/self/status field in bytes ("VmRSS", "RssAnon", "RssFile").
uint64_t status_bytes(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const std::string k = std::string(key) + ":";
  while (std::getline(f, line))
    if (line.rfind(k, 0) == 0) return std::stoull(line.substr(k.size())) * 1024;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace paddock;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL [--threads N] [--pp N] [--tg N] [--ctx N] [--reps N]\n", argv[0]);
    return 2;
  }
  int threads = 2, pp = 512, tg = 128, ctx = 4096, reps = 1;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const int v = std::atoi(argv[i + 1]);
    if (k == "--threads") threads = v;
    else if (k == "--pp") pp = v;
    else if (k == "--tg") tg = v;
    else if (k == "--ctx") ctx = v;
    else if (k == "--reps") reps = v;
  }
  const uint64_t rss_start = status_bytes("VmRSS");
  auto f = gguf::File::open(argv[1]);
  if (!f.ok()) {
    std::fprintf(stderr, "error: %s\n", f.error().message().c_str());
    return 1;
  }
  auto m = Model::load(std::make_shared<const gguf::File>(std::move(*f)), LoadOptions{threads, "cpu"});
  if (!m.ok()) {
    std::fprintf(stderr, "error: %s\n", m.error().message().c_str());
    return 1;
  }
  Model& model = **m;
  constexpr int32_t kBlock = 16;
  const int32_t n_blocks = (ctx + kBlock - 1) / kBlock;
  if (auto st = model.init_kv(KvOptions{kBlock, n_blocks, false, pp, 1}); !st.ok()) {
    std::fprintf(stderr, "error: %s\n", st.error().message().c_str());
    return 1;
  }
  const int32_t nv = model.info().n_vocab;
  std::vector<float> logits(static_cast<size_t>(nv));
  auto batch = [&](int32_t pos0, int32_t n) {
    Batch b;
    for (int32_t i = 0; i < n; ++i) {
      b.tokens.push_back(3 + (pos0 + i) * 7919 % (nv - 3));
      b.positions.push_back(pos0 + i);
    }
    b.seq_start = {0, n};
    b.seq_kv_len = {pos0 + n};
    b.max_blocks = n_blocks;
    for (int32_t i = 0; i < n_blocks; ++i) b.block_tables.push_back(i);
    b.logit_rows = {n - 1};
    return b;
  };
  using Clock = std::chrono::steady_clock;
  auto run_pp = [&](int32_t n) {
    const auto t0 = Clock::now();
    if (!model.forward(batch(0, n), logits).ok()) std::exit(1);
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  auto run_tg = [&](int32_t n) {
    const auto t0 = Clock::now();
    for (int32_t i = 0; i < n; ++i)
      if (!model.forward(batch(i, 1), logits).ok()) std::exit(1);
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  run_pp(std::min(pp, 64));
  run_tg(std::min(tg, 4));
  const uint64_t kv = model.info().kv_bytes_per_token(false) * static_cast<uint64_t>(n_blocks) * kBlock;
  for (int r = 0; r < reps; ++r) {
    const double s_pp = run_pp(pp);
    const double s_tg = run_tg(tg);
    std::printf(
        "{\"engine\":\"paddock\",\"simd\":\"%s\",\"threads\":%d,\"pp\":%d,\"pp_tps\":%.3f,\"tg\":%d,"
        "\"tg_tps\":%.3f,\"ctx\":%d,\"weight_bytes\":%llu,\"kv_bytes\":%llu,\"rss_bytes\":%llu,"
        "\"rss_anon_bytes\":%llu,\"rss_file_bytes\":%llu,\"rss_start_bytes\":%llu}\n",
        quant::simd_level(), threads, pp, pp / s_pp, tg, tg / s_tg, ctx,
        static_cast<unsigned long long>(model.info().weight_bytes), static_cast<unsigned long long>(kv),
        static_cast<unsigned long long>(status_bytes("VmRSS")), static_cast<unsigned long long>(status_bytes("RssAnon")),
        static_cast<unsigned long long>(status_bytes("RssFile")), static_cast<unsigned long long>(rss_start));
    std::fflush(stdout);
  }
  return 0;
}
