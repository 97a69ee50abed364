// The CPU backend object: host buffers, the step's integer arrays, and the ops, split across
// cpu_backend.cpp (memory, elementwise, norms, rope), matmul.cpp and attention.cpp.
#pragma once
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/cpu.h"
#include "util/thread_pool.h"

namespace paddock::backend::cpu {

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int n_threads);
  std::string name() const override;
  int n_threads() const override { return pool_.size(); }

  Result<std::shared_ptr<Buffer>> alloc(DType dtype, int64_t rows, int64_t cols) override;
  Result<Weight> upload_weight(quant::Type type, int64_t rows, int64_t cols, const void* host) override;
  Status set_step(const Batch& batch) override;
  void read_rows(const Tensor& src, int64_t n, float* dst) override;
  void write_rows(const Tensor& dst, int64_t n, const float* src) override;

  void embed(const Weight& table, float scale, const Tensor& out) override;
  void rms_norm(const Tensor& x, const Weight* w, float eps, const Tensor& out, int64_t group) override;
  void layer_norm(const Tensor& x, const Weight* w, const Weight* b, float eps, const Tensor& out) override;
  void matmul(const Tensor& x, const Weight& w, const Weight* bias, const Tensor& out) override;
  void matmul_multi(const Tensor& x, std::span<const MatmulJob> jobs) override;
  void add_bias(const Tensor& x, const Weight& b) override;
  void rope(const Tensor& x, int32_t n_head, int32_t head_dim, const RopeParams& p) override;
  void attention(const Tensor& q, const Tensor& k, const Tensor& v, const KvLayer& kv, int32_t block_size,
                 const AttnParams& p, const Tensor& out) override;
  void glu(const Tensor& gate, const Tensor& up, Act act, const Tensor& out) override;
  void add(const Tensor& a, const Tensor& b, const Tensor& out) override;
  void add_rms_norm(const Tensor& x, const Tensor& delta, const Weight* w, float eps, const Tensor& out) override;
  void scale(const Tensor& x, float s) override;
  void softcap(const Tensor& x, float cap) override;
  void gather_logit_rows(const Tensor& x, const Tensor& out) override;
  void copy_kv_block(std::span<const KvLayer> layers, int32_t block_size, int32_t src, int32_t dst) override;
  Status end_step() override;

 private:
  void store_kv(const Tensor& src, const Tensor& cache, int32_t block_size);
  // parallel_for over n items of about `cost` elements each; small jobs run on the caller's
  // thread (a pool wake-up costs more than they do).
  void par(int64_t n, int64_t cost, const std::function<void(int, int64_t, int64_t)>& fn);
  ThreadPool pool_;
  Batch step_;                    // host copy of the current step
  std::vector<int32_t> tok_seq_;  // [n_tokens] sequence index of each token
  std::vector<std::vector<float>> scratch_;  // per thread
  std::vector<std::vector<uint8_t>> act_;    // matmul activations, one buffer per dot format
};

}  // namespace paddock::backend::cpu
