// quant kernels benchmark: GB/s of weight bytes through dot_rows per type and SIMD level (the
// decode case: one activation row, weights streamed from memory) next to the machine's streaming
// read bandwidth measured in the same binary, and GOP/s of dot_rows_multi (prompt processing).
// Peer in the same run: with PADDOCK_GGML_CPU_LIB=<path to node-llama-cpp's libggml-cpu-<arch>.so>
// (e.g. tools/oracles/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-cpu-zen4.so)
// llama.cpp's own vec_dot kernels run on the same weight bytes as ggml_dot_rows/<type>.
// Run: build/release/bench/quant_bench [--benchmark_filter=...]; threads 1 and 2.
#include <benchmark/benchmark.h>
#include <dlfcn.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "quant/kernels.h"
#include "quant/quant.h"

namespace {

using paddock::quant::Type;
namespace q = paddock::quant;

constexpr int64_t kK = 2048;                  // Llama-3.2-1B hidden size
constexpr size_t kWeightBytes = 256u << 20;   // far beyond any cache

struct Weights {
  std::vector<uint8_t> data;
  uint64_t row_bytes = 0;
  int64_t rows = 0;
};

// Random weights: quantize a few distinct rows and tile them (speed does not depend on values).
const Weights& weights(Type t) {
  static std::vector<Weights> cache(64);
  Weights& w = cache[static_cast<size_t>(t)];
  if (!w.data.empty()) return w;
  w.row_bytes = *q::row_size(t, kK);
  w.rows = static_cast<int64_t>(kWeightBytes / w.row_bytes);
  w.data.resize(w.row_bytes * static_cast<uint64_t>(w.rows));
  std::mt19937 rng(1);
  std::normal_distribution<float> dist;
  std::vector<float> x(kK);
  std::vector<uint8_t> seed(w.row_bytes * 16);
  for (int r = 0; r < 16; ++r) {
    for (auto& v : x) v = dist(rng);
    q::quantize_row(t, x.data(), seed.data() + r * w.row_bytes, kK);
  }
  for (int64_t r = 0; r < w.rows; ++r)
    std::memcpy(&w.data[r * w.row_bytes], &seed[(r % 16) * w.row_bytes], w.row_bytes);
  return w;
}

std::vector<uint8_t> activation(Type t, int n_act) {
  std::mt19937 rng(2);
  std::normal_distribution<float> dist;
  std::vector<float> x(kK);
  const uint64_t as = q::act_row_size(t, kK);
  std::vector<uint8_t> a(as * static_cast<uint64_t>(n_act));
  for (int j = 0; j < n_act; ++j) {
    for (auto& v : x) v = dist(rng);
    q::quantize_act_row(t, x.data(), a.data() + j * as, kK);
  }
  return a;
}

bool use_level(benchmark::State& state, const char* level) {
  if (state.thread_index() == 0 && !q::set_simd_level_for_testing(level)) {
    state.SkipWithError("SIMD level not available on this CPU");
    return false;
  }
  return std::string(q::simd_level()) == level;
}

// Decode: every row of the weight matrix dotted with one activation row; threads split the rows.
// range(0): 0 = stream all 256 MiB of weights (memory-bound, the decode case); otherwise a
// cache-resident slice of that many KiB per thread (compute-bound: the kernel's own speed).
int64_t rows_per_thread(const benchmark::State& state, const Weights& w) {
  const int64_t kib = state.range(0);
  if (kib == 0) return w.rows / state.threads();
  return std::max<int64_t>(1, kib * 1024 / static_cast<int64_t>(w.row_bytes));
}

void BM_dot_rows(benchmark::State& state, Type t, const char* level) {
  if (!use_level(state, level)) return;
  const Weights& w = weights(t);
  const auto act = activation(t, 1);
  const int64_t per = rows_per_thread(state, w), r0 = per * state.thread_index();
  std::vector<float> out(static_cast<size_t>(per));
  for (auto _ : state) {
    q::dot_rows(t, w.data.data() + r0 * w.row_bytes, w.row_bytes, per, act.data(), kK, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * per * static_cast<int64_t>(w.row_bytes));
}

// Prompt processing: n_act activation rows against a 2048 x 2048 slice of the weights.
void BM_dot_rows_multi(benchmark::State& state, Type t, const char* level) {
  if (!use_level(state, level)) return;
  const int n_act = static_cast<int>(state.range(0));
  const Weights& w = weights(t);
  const int64_t rows = 2048 / state.threads(), r0 = rows * state.thread_index();
  const auto act = activation(t, n_act);
  std::vector<float> out(static_cast<size_t>(rows * n_act));
  for (auto _ : state) {
    q::dot_rows_multi(t, w.data.data() + r0 * w.row_bytes, w.row_bytes, rows, act.data(), q::act_row_size(t, kK),
                      n_act, kK, out.data(), rows);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["GOP/s"] = benchmark::Counter(2.0 * kK * rows * n_act * static_cast<double>(state.iterations()),
                                               benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

// ---- llama.cpp's CPU kernels as the peer (dlopen'd, public ggml-cpu C API) ----

using GgmlVecDot = void (*)(int n, float* s, size_t bs, const void* x, size_t bx, const void* y, size_t by, int nrc);
using GgmlFromFloat = void (*)(const float* x, void* y, int64_t k);
struct GgmlTraitsCpu {
  GgmlFromFloat from_float;
  GgmlVecDot vec_dot;
  int vec_dot_type;
  int64_t nrows;
};
struct GgmlPeer {
  const GgmlTraitsCpu* (*traits)(int) = nullptr;
};

const GgmlPeer& ggml_peer() {
  static const GgmlPeer peer = [] {
    GgmlPeer p;
    const char* path = std::getenv("PADDOCK_GGML_CPU_LIB");
    if (!path) return p;
    void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      std::fprintf(stderr, "quant_bench: %s\n", dlerror());
      return p;
    }
    auto init = reinterpret_cast<void (*)()>(dlsym(h, "ggml_cpu_init"));
    p.traits = reinterpret_cast<const GgmlTraitsCpu* (*)(int)>(dlsym(h, "ggml_get_type_traits_cpu"));
    if (init) init();
    return p;
  }();
  return peer;
}

void BM_ggml_dot_rows(benchmark::State& state, Type t) {
  const GgmlTraitsCpu* tr = ggml_peer().traits(static_cast<int>(t));
  const GgmlTraitsCpu* act_tr = ggml_peer().traits(tr->vec_dot_type);
  const Weights& w = weights(t);
  std::mt19937 rng(2);
  std::normal_distribution<float> dist;
  std::vector<float> x(kK);
  for (auto& v : x) v = dist(rng);
  std::vector<uint8_t> act(static_cast<size_t>(kK) * 4 + 1024);
  if (act_tr->from_float)
    act_tr->from_float(x.data(), act.data(), kK);
  else
    std::memcpy(act.data(), x.data(), kK * 4);
  const int64_t per = rows_per_thread(state, w), r0 = per * state.thread_index();
  std::vector<float> out(static_cast<size_t>(per));
  for (auto _ : state) {
    for (int64_t r = 0; r < per; ++r)
      tr->vec_dot(static_cast<int>(kK), &out[r], 0, w.data.data() + (r0 + r) * w.row_bytes, 0, act.data(), 0, 1);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * per * static_cast<int64_t>(w.row_bytes));
}

// The ceiling: a streaming read of the same amount of memory (sum of 64-bit words, 4 chains).
__attribute__((target("avx2"))) uint64_t read_sum_avx2(const uint64_t* p, size_t n) {
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (size_t i = 0; i + 4 <= n; i += 4) {
    s0 += p[i];
    s1 += p[i + 1];
    s2 += p[i + 2];
    s3 += p[i + 3];
  }
  return s0 + s1 + s2 + s3;
}
uint64_t read_sum(const uint64_t* p, size_t n) {
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (size_t i = 0; i + 4 <= n; i += 4) {
    s0 += p[i];
    s1 += p[i + 1];
    s2 += p[i + 2];
    s3 += p[i + 3];
  }
  return s0 + s1 + s2 + s3;
}

void BM_stream_read(benchmark::State& state) {
  static std::vector<uint64_t> buf(kWeightBytes / 8, 1);
  const size_t per = buf.size() / static_cast<size_t>(state.threads());
  const uint64_t* p = buf.data() + per * static_cast<size_t>(state.thread_index());
  const bool avx2 = __builtin_cpu_supports("avx2");
  for (auto _ : state) benchmark::DoNotOptimize(avx2 ? read_sum_avx2(p, per) : read_sum(p, per));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(per * 8));
}

void register_all() {
  // One thread: rates from CPU time (robust on a shared machine); two threads: from wall time.
  benchmark::RegisterBenchmark("stream_read", BM_stream_read)->Threads(1);
  benchmark::RegisterBenchmark("stream_read", BM_stream_read)->Threads(2)->UseRealTime();
  const Type types[] = {Type::Q8_0, Type::Q4_K, Type::Q6_K, Type::Q5_K, Type::Q4_0, Type::F16, Type::BF16,
                        Type::F32,  Type::Q2_K, Type::Q3_K, Type::Q4_1, Type::Q5_0, Type::Q5_1, Type::IQ4_NL};
  for (const char* level : {"avx512", "avx2", "scalar"})
    for (Type t : types) {
      const std::string name = std::string("dot_rows/") + std::string(q::type_info(t)->name) + "/" + level;
      benchmark::RegisterBenchmark(name.c_str(), BM_dot_rows, t, level)->Arg(0)->Arg(512)->Threads(1);
      benchmark::RegisterBenchmark(name.c_str(), BM_dot_rows, t, level)->Arg(0)->Threads(2)->UseRealTime();
    }
  if (ggml_peer().traits)
    for (Type t : types) {
      const std::string name = std::string("ggml_dot_rows/") + std::string(q::type_info(t)->name);
      benchmark::RegisterBenchmark(name.c_str(), BM_ggml_dot_rows, t)->Arg(0)->Arg(512)->Threads(1);
      benchmark::RegisterBenchmark(name.c_str(), BM_ggml_dot_rows, t)->Arg(0)->Threads(2)->UseRealTime();
    }
  for (const char* level : {"avx512", "avx2"})
    for (Type t : {Type::Q8_0, Type::Q4_K, Type::Q6_K, Type::F16}) {
      const std::string name = std::string("dot_rows_multi/") + std::string(q::type_info(t)->name) + "/" + level;
      benchmark::RegisterBenchmark(name.c_str(), BM_dot_rows_multi, t, level)->Arg(1)->Arg(4)->Arg(16)->Threads(1);
    }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
