// paddock_bench_gpu MODEL [--pp 512] [--tg 128] [--batch 1] [--reps 3] [--device cuda]: the
// whole-model GPU benchmark. Measures the ceiling in the same run (device-to-device copy
// bandwidth, bytes read + written, median of 10 copies of 1 GiB), then, after a warm-up:
//   pp   one forward of `pp` prompt tokens (tokens/s);
//   tg   `tg` single-token decode steps after that prompt, for `batch` sequences at once
//        (aggregate tokens/s), and the weight bytes read per step over the step time as a
//        fraction of the copy bandwidth (each weight once per step; the embedding table counts
//        one row per token, as a decode reads it).
// Prints one JSON line per repetition. bench/gpu/run.sh makes the models and runs the table.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "model/model.h"

namespace {

double copy_bandwidth() {
  constexpr size_t kBytes = size_t{1} << 30;
  void *a = nullptr, *b = nullptr;
  if (cudaMalloc(&a, kBytes) != cudaSuccess || cudaMalloc(&b, kBytes) != cudaSuccess) return 0;
  cudaMemset(a, 1, kBytes);
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  std::vector<double> gbps;
  for (int i = 0; i < 12; ++i) {
    cudaEventRecord(e0);
    cudaMemcpy(b, a, kBytes, cudaMemcpyDeviceToDevice);
    cudaEventRecord(e1);
    cudaEventSynchronize(e1);
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    if (i >= 2) gbps.push_back(2.0 * kBytes / (ms * 1e-3) / 1e9);
  }
  cudaFree(a);
  cudaFree(b);
  std::sort(gbps.begin(), gbps.end());
  return gbps[gbps.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  using namespace paddock;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL [--pp N] [--tg N] [--batch N] [--reps N] [--device cuda]\n", argv[0]);
    return 2;
  }
  int pp = 512, tg = 128, batch_n = 1, reps = 3;
  std::string device = "cuda";
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--pp") pp = std::atoi(v.c_str());
    else if (k == "--tg") tg = std::atoi(v.c_str());
    else if (k == "--batch") batch_n = std::atoi(v.c_str());
    else if (k == "--reps") reps = std::atoi(v.c_str());
    else if (k == "--device") device = v;
  }
  const double bw = copy_bandwidth();
  auto f = gguf::File::open(argv[1]);
  if (!f.ok()) {
    std::fprintf(stderr, "error: %s\n", f.error().message().c_str());
    return 1;
  }
  auto file = std::make_shared<const gguf::File>(std::move(*f));
  uint64_t embd_bytes = 0;
  if (const gguf::TensorInfo* t = file->tensor("token_embd.weight")) embd_bytes = t->nbytes;
  const bool tied = file->tensor("output.weight") == nullptr;
  const auto t_load = std::chrono::steady_clock::now();
  auto m = Model::load(file, LoadOptions{0, device});
  if (!m.ok()) {
    std::fprintf(stderr, "error: %s\n", m.error().message().c_str());
    return 1;
  }
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();
  Model& model = **m;
  const ModelInfo& info = model.info();
  constexpr int32_t kBlock = 16;
  const int32_t per_seq = (pp + tg + kBlock) / kBlock + 1;
  if (auto st = model.init_kv(KvOptions{kBlock, per_seq * batch_n, false, std::max(pp, batch_n), batch_n}); !st.ok()) {
    std::fprintf(stderr, "error: %s\n", st.error().message().c_str());
    return 1;
  }
  const int32_t nv = info.n_vocab;
  std::vector<float> logits(static_cast<size_t>(nv) * static_cast<size_t>(batch_n));
  // Sequence s owns blocks [s * per_seq, (s + 1) * per_seq).
  auto make = [&](int32_t s0, int32_t ns, int32_t pos0, int32_t n) {
    Batch b;
    b.max_blocks = per_seq;
    b.seq_start = {0};
    for (int32_t s = s0; s < s0 + ns; ++s) {
      for (int32_t i = 0; i < n; ++i) {
        b.tokens.push_back(3 + (pos0 + i + 17 * s) * 7919 % (nv - 3));
        b.positions.push_back(pos0 + i);
      }
      b.seq_start.push_back(b.n_tokens());
      b.seq_kv_len.push_back(pos0 + n);
      for (int32_t j = 0; j < per_seq; ++j) b.block_tables.push_back(s * per_seq + j);
      b.logit_rows.push_back(b.n_tokens() - 1);
    }
    return b;
  };
  using Clock = std::chrono::steady_clock;
  auto fwd = [&](const Batch& b) {
    if (auto st = model.forward(b, logits); !st.ok()) {
      std::fprintf(stderr, "error: %s\n", st.error().message().c_str());
      std::exit(1);
    }
  };
  // Warm-up: a short prompt and a few steps.
  fwd(make(0, 1, 0, std::min(pp, 64)));
  for (int i = 0; i < 4; ++i) fwd(make(0, 1, std::min(pp, 64) + i, 1));
  const uint64_t step_bytes = info.weight_bytes - (tied ? 0 : embd_bytes);
  for (int r = 0; r < reps; ++r) {
    auto t0 = Clock::now();
    for (int32_t s = 0; s < batch_n; ++s) fwd(make(s, 1, 0, pp));
    const double s_pp = std::chrono::duration<double>(Clock::now() - t0).count() / batch_n;
    t0 = Clock::now();
    for (int32_t i = 0; i < tg; ++i) fwd(make(0, batch_n, pp + i, 1));
    const double s_tg = std::chrono::duration<double>(Clock::now() - t0).count();
    const double step_s = s_tg / tg;
    std::printf(
        "{\"engine\":\"paddock\",\"device\":\"%s\",\"pp\":%d,\"pp_tps\":%.1f,\"tg\":%d,\"batch\":%d,\"tg_tps\":%.1f,"
        "\"step_ms\":%.3f,\"weight_bytes\":%llu,\"step_weight_bytes\":%llu,\"copy_gbps\":%.1f,"
        "\"weight_gbps\":%.1f,\"frac_of_copy\":%.3f,\"load_s\":%.2f}\n",
        device.c_str(), pp, pp / s_pp, tg, batch_n, batch_n * tg / s_tg, step_s * 1e3,
        static_cast<unsigned long long>(info.weight_bytes), static_cast<unsigned long long>(step_bytes), bw,
        step_bytes / step_s / 1e9, step_bytes / step_s / 1e9 / bw, load_s);
    std::fflush(stdout);
  }
  return 0;
}
