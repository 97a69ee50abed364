// paddock_bench_matmul [--types q4_K,q6_K,q8_0,q4_0,f16] [--n 1,8] [--device cuda]: the decode
// matmul against the memory-bandwidth ceiling measured in the same run (device-to-device copy,
// bytes read + written). Each case multiplies n activation rows by enough distinct copies of one
// weight (at least 256 MiB in all, so no copy stays in the 50 MiB L2) inside one backend step;
// from the third step on the backend replays the step as a CUDA graph, so the time is the GPU's,
// not the host's launches. Prints one JSON line per case: microseconds per matmul, weight bytes
// per second, and that as a fraction of the copy bandwidth.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/step.h"
#include "quant/quant.h"
#include "util/thread_pool.h"

namespace {

double copy_bandwidth() {
  constexpr size_t kBytes = size_t{1} << 30;
  void *a = nullptr, *b = nullptr;
  if (cudaMalloc(&a, kBytes) != cudaSuccess || cudaMalloc(&b, kBytes) != cudaSuccess) return 0;
  cudaMemset(a, 1, kBytes);
  std::vector<double> gbps;
  for (int i = 0; i < 12; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    cudaMemcpy(b, a, kBytes, cudaMemcpyDeviceToDevice);
    cudaDeviceSynchronize();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (i >= 2) gbps.push_back(2.0 * kBytes / s / 1e9);
  }
  cudaFree(a);
  cudaFree(b);
  std::sort(gbps.begin(), gbps.end());
  return gbps[gbps.size() / 2];
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(item);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace paddock;
  std::string types = "q4_K,q6_K,q8_0,q4_0,f16", ns = "1,8", device = "cuda";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--types") types = v;
    else if (k == "--n") ns = v;
    else if (k == "--device") device = v;
  }
  auto spec = backend::parse_device(device);
  if (!spec.ok()) {
    std::fprintf(stderr, "error: %s\n", spec.error().message().c_str());
    return 2;
  }
  auto be = backend::make_backend({*spec, {}});
  if (!be.ok()) {
    std::fprintf(stderr, "error: %s\n", be.error().message().c_str());
    return 1;
  }
  const double bw = copy_bandwidth();
  ThreadPool pool(0);
  // (K, R): Llama-3.2-1B's and Llama-3.1-8B's projections, and the 1B output head.
  const std::pair<int64_t, int64_t> shapes[] = {{2048, 2048}, {2048, 512},  {2048, 8192},   {8192, 2048},
                                                {4096, 4096}, {4096, 14336}, {14336, 4096}, {2048, 128256}};
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 0.02f);
  for (const std::string& tname : split(types)) {
    const quant::TypeInfo* ti = nullptr;
    for (int t = 0; t < 64 && ti == nullptr; ++t) {
      const quant::TypeInfo* c = quant::type_info(static_cast<quant::Type>(t));
      if (c != nullptr && tname == c->name) ti = c;
    }
    if (ti == nullptr || !ti->can_quantize) {
      std::fprintf(stderr, "error: unknown or unquantizable type %s\n", tname.c_str());
      return 2;
    }
    for (const auto& [K, R] : shapes) {
      const uint64_t rb = *quant::row_size(ti->type, K), wbytes = rb * static_cast<uint64_t>(R);
      std::vector<float> f(static_cast<size_t>(K * R));
      for (auto& v : f) v = nd(rng);
      std::vector<uint8_t> host(wbytes);
      quant::quantize_rows(ti->type, f.data(), host.data(), R, K, nullptr, &pool);
      const int copies = static_cast<int>(std::clamp<uint64_t>((uint64_t{256} << 20) / wbytes + 1, 4, 64));
      std::vector<backend::Weight> ws;
      for (int c = 0; c < copies; ++c) {
        auto w = (*be)->upload_weight(ti->type, R, K, host.data());
        if (!w.ok()) {
          std::fprintf(stderr, "error: %s\n", w.error().message().c_str());
          return 1;
        }
        ws.push_back(*w);
      }
      for (const std::string& nstr : split(ns)) {
        const int32_t n = std::atoi(nstr.c_str());
        auto xb = (*be)->alloc(backend::DType::kF32, n, K);
        auto ob = (*be)->alloc(backend::DType::kF32, n, R);
        if (!xb.ok() || !ob.ok()) return 1;
        std::vector<float> xv(static_cast<size_t>(n * K));
        for (auto& v : xv) v = nd(rng) * 50.0f;
        (*be)->write_rows((*xb)->tensor(), n, xv.data());
        Batch b;
        b.max_blocks = 1;
        b.seq_start = {0, n};
        for (int32_t i = 0; i < n; ++i) b.tokens.push_back(1), b.positions.push_back(i);
        b.seq_kv_len = {n};
        b.block_tables = {0};
        b.logit_rows = {n - 1};
        auto step = [&] {
          if (auto st = (*be)->set_step(b); !st.ok()) return st;
          for (const auto& w : ws) (*be)->matmul((*xb)->tensor(), w, nullptr, (*ob)->tensor());
          return (*be)->end_step();
        };
        for (int i = 0; i < 3; ++i)
          if (auto st = step(); !st.ok()) {
            std::fprintf(stderr, "error: %s\n", st.error().message().c_str());
            return 1;
          }
        constexpr int kReps = 10;
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < kReps; ++i) (void)step();
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / kReps / copies;
        std::printf(
            "{\"type\":\"%s\",\"K\":%lld,\"R\":%lld,\"n\":%d,\"us\":%.2f,\"weight_gbps\":%.1f,\"copy_gbps\":%.1f,"
            "\"frac_of_copy\":%.3f}\n",
            std::string(ti->name).c_str(), static_cast<long long>(K), static_cast<long long>(R), n, s * 1e6, wbytes / s / 1e9, bw,
            wbytes / s / 1e9 / bw);
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
