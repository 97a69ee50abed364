// CUDA backend (internal): the kernel launchers, callable from host C++ without CUDA headers
// beyond the runtime's. Each launcher queues its kernel on `st` and returns; the backend object
// (cuda_backend.cpp) checks for launch errors. Pointers are device pointers; strides in floats.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace paddock::backend::cuda {

// Weight types by their ggml ids (equal to quant::Type's; cuda_backend.cpp asserts it). Kept
// here so kernel files need no header that nvcc cannot compile.
enum class Type : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, IQ4_NL = 20, IQ4_XS = 23, BF16 = 30, MXFP4 = 39,
};
// The weight types the kernels read (every one above).
bool type_supported(uint32_t ggml_type);

// The step's integer arrays on the device.
struct DevStep {
  const int32_t* tokens = nullptr;       // [n_tokens]
  const int32_t* positions = nullptr;    // [n_tokens]
  const int32_t* tok_seq = nullptr;      // [n_tokens] sequence index of each token
  const int32_t* seq_kv_len = nullptr;   // [n_seqs]
  const int32_t* block_tables = nullptr; // [n_seqs * max_blocks]
  const int32_t* logit_rows = nullptr;   // [n_logit_rows]
  int32_t n_tokens = 0, n_seqs = 0, max_blocks = 0, n_logit_rows = 0;
};

// elementwise.cu
void launch_embed(Type t, const void* table, uint64_t row_bytes, const DevStep& s, float scale, float* out,
                  int64_t out_stride, int64_t cols, cudaStream_t st);
void launch_glu(bool gelu, const float* g, int64_t gs, const float* u, int64_t us, float* o, int64_t os, int64_t rows,
                int64_t cols, cudaStream_t st);
void launch_add(const float* a, int64_t as, const float* b, int64_t bs, float* o, int64_t os, int64_t rows,
                int64_t cols, cudaStream_t st);
void launch_scale(float* x, int64_t xs, int64_t rows, int64_t cols, float s, cudaStream_t st);
void launch_softcap(float* x, int64_t xs, int64_t rows, int64_t cols, float cap, cudaStream_t st);
void launch_add_bias(float* x, int64_t xs, int64_t rows, int64_t cols, const float* b, cudaStream_t st);
void launch_gather_rows(const float* x, int64_t xs, const DevStep& s, float* o, int64_t os, int64_t cols,
                        cudaStream_t st);

// norm_rope.cu
void launch_rms_norm(const float* x, int64_t xs, const float* w, float eps, float* o, int64_t os, int64_t rows,
                     int64_t cols, int64_t group, cudaStream_t st);
// x += d, then o = rms_norm(x) * w (o may alias x).
void launch_add_rms_norm(float* x, int64_t xs, const float* d, int64_t ds, const float* w, float eps, float* o,
                         int64_t os, int64_t rows, int64_t cols, cudaStream_t st);
void launch_layer_norm(const float* x, int64_t xs, const float* w, const float* b, float eps, float* o, int64_t os,
                       int64_t rows, int64_t cols, cudaStream_t st);
struct RopeArgs {
  int32_t n_head, head_dim, n_dims;
  bool neox;
  float freq_base, freq_scale, ext_factor, attn_factor;
  float corr0, corr1;          // YaRN correction dims (host-computed)
  const float* freq_factors;   // [n_dims / 2] or null
};
void launch_rope(float* x, int64_t xs, int64_t rows, const DevStep& s, const RopeArgs& a, cudaStream_t st);

// matmul.cu
constexpr int kMaxSmallRows = 8;  // activation rows served by the fused dequantize-dot kernel
// out[n, R] = x[n, K] · Wᵀ (+ bias) for n <= kMaxSmallRows; x 16-byte aligned rows.
void launch_mmv(Type t, const void* w, uint64_t row_bytes, int64_t R, int64_t K, const float* x, int64_t xs, int n,
                const float* bias, float* out, int64_t os, cudaStream_t st);
// Rows [r0, r0 + nr) of W to F16, row-major [nr, K].
void launch_dequant_f16(Type t, const void* w, uint64_t row_bytes, int64_t r0, int64_t nr, int64_t K, void* out,
                        cudaStream_t st);
// x rows to a contiguous [n, K] F16 (bf16 = false) or BF16 copy.
void launch_convert_rows(const float* x, int64_t xs, int64_t n, int64_t K, bool bf16, void* out, cudaStream_t st);
void launch_copy_rows(const float* x, int64_t xs, int64_t n, int64_t K, float* out, cudaStream_t st);
// How the fused kernel's activations are rounded first, to compute what the CPU backend (and
// llama.cpp) compute: the weight type's activation format, dequantized back to floats.
enum class ActRound { kNone, kF16, kBF16, kQ8_0, kQ8_K };
ActRound act_round_for(Type t);
// out[n, K] (contiguous) = x rounded through `r`.
void launch_round_act(ActRound r, const float* x, int64_t xs, int64_t n, int64_t K, float* out, cudaStream_t st);

// mmvq.cu: the integer decode matmul for quantized weights (every type but F32/F16/BF16).
bool mmvq_supported(Type t);
// x rows to int8 [n, K] (contiguous) with one float scale per 32 elements ([n, K / 32]), rounded
// as `r` (kQ8_0 or kQ8_K) rounds them.
void launch_quant_act(ActRound r, const float* x, int64_t xs, int64_t n, int64_t K, int8_t* q, float* d,
                      cudaStream_t st);
// Up to kMaxMmvqJobs weights of one type multiplied by the same activations in one launch
// (Q/K/V, gate/up): out_j[n, R_j] (row stride os_j) = act · W_jᵀ (+ bias_j).
struct MmvqJob {
  const void* w;
  uint64_t row_bytes;
  int64_t R;
  const float* bias;  // [R] or null
  float* out;
  int64_t os;
};
constexpr int kMaxMmvqJobs = 4;
struct MmvqJobs {
  MmvqJob job[kMaxMmvqJobs];
  int first_block[kMaxMmvqJobs];  // set by launch_mmvq
  int count;
};
// act from launch_quant_act with the weights' act_round_for; n <= kMaxSmallRows.
void launch_mmvq(Type t, const MmvqJobs& jobs, int64_t K, const int8_t* q, const float* d, int n, cudaStream_t st);

// attention.cu
constexpr int kMaxHeadDim = 256;
// K or V rows of the step into the paged cache (q8 = Q8_0 blocks, else F16).
void launch_store_kv(const float* src, int64_t ss, int64_t cols, const DevStep& s, int32_t block_size, bool q8,
                     void* cache, cudaStream_t st);
struct AttnArgs {
  const float* q;
  int64_t qs;
  const void* kc;
  const void* vc;
  int64_t kv_cols;   // n_head_kv * head_dim
  float* out;
  int64_t os;
  int32_t n_head, head_dim, group, block_size, window;
  float scale, softcap;
  bool q8;           // Q8_0 cache, else F16
};
void launch_attention(const AttnArgs& a, const DevStep& s, cudaStream_t st);
// Split-KV variant (opt-in while unmeasured): how the keys are split over blocks (fixed by the
// step's shape, so graphs replay it), and the launch.
struct AttnSplit {
  int32_t n_split, keys_per_split;
  size_t part_bytes;  // partials scratch launch_attention_split needs (0 with one split)
};
AttnSplit plan_attention(const AttnArgs& a, const DevStep& s);
void launch_attention_split(const AttnArgs& a, const DevStep& s, const AttnSplit& plan, float* part,
                            cudaStream_t st);

}  // namespace paddock::backend::cuda
