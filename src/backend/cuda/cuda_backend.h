// CUDA backend (internal): the backend object — device buffers, the step's arrays on the
// device, one stream, the cuBLAS handle and the sticky error. Host C++ (cuda_backend.cpp); the
// kernels sit in the .cu files behind ops.h's launchers.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "backend/backend.h"
#include "backend/cuda/ops.h"

namespace paddock::backend::cuda {

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device);
  ~CudaBackend() override;
  Status init();

  std::string name() const override;
  int n_threads() const override { return 1; }

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

  // Records the first failure (a CUDA or cuBLAS error) for end_step.
  void check(cudaError_t e, const char* what);
  void check_blas(cublasStatus_t s, const char* what);
  void check_launch(const char* what) { check(cudaGetLastError(), what); }
  cudaStream_t stream() const { return stream_; }

 private:
  // Device scratch of at least `bytes` (grown, never shrunk; contents undefined).
  void* scratch(size_t which, size_t bytes);
  // Activations quantized for the integer matmul (scratch; valid until the next quant_act of
  // the same format).
  struct QuantAct {
    int8_t* q = nullptr;  // [n, K]
    float* d = nullptr;   // [n, K / 32]
  };
  QuantAct quant_act(const Tensor& x, ActRound ar);
  void matmul_q(const QuantAct& qa, int64_t n, std::span<const MatmulJob> jobs);  // jobs: one weight type, <= kMaxMmvqJobs
  void matmul_small(const Tensor& x, const Weight& w, const Weight* bias, const Tensor& out);
  void matmul_blas(const Tensor& x, const Weight& w, const Weight* bias, const Tensor& out);
  // Graphs: a step shape seen twice is captured on its third run and replayed after, so its
  // kernels cost one launch (ops queue nothing while replaying; read_rows launches the graph).
  using ShapeKey = std::tuple<int32_t, int32_t, int32_t, int32_t>;  // tokens, seqs, max_blocks, logit rows
  void finish_graph();  // ends a capture or launches a replay, before the step's first host copy
  void drop_graphs();
  bool replaying() const { return mode_ == Mode::kReplay; }

  int device_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  std::string name_;
  Status err_;
  std::vector<void*> weights_;             // device copies owned by the backend
  int32_t* step_dev_ = nullptr;            // DevStep arrays
  int32_t* step_host_ = nullptr;           // pinned staging
  size_t step_cap_ = 0;                    // int32 capacity of both
  DevStep step_;
  std::vector<std::pair<void*, size_t>> scratch_;  // per slot: pointer, bytes

  enum class Mode { kEager, kCapture, kReplay };
  Mode mode_ = Mode::kEager;
  bool graphs_enabled_ = true;  // PADDOCK_CUDA_GRAPHS=0 turns them off
  bool split_attention_ = false;  // PADDOCK_CUDA_ATTN=split: the split-KV kernel (not yet measured)
  bool mmvq_enabled_ = true;    // PADDOCK_CUDA_MMVQ=0: quantized decode through the float kernel (comparisons)
  ShapeKey key_{};
  std::map<ShapeKey, int> seen_;
  std::map<ShapeKey, cudaGraphExec_t> graphs_;
};

}  // namespace paddock::backend::cuda
