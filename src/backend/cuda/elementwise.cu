// CUDA backend: embedding gather, GLU, residual add, scale, soft-capping, bias and the logit-row
// gather. One block per row; the row's columns strided over the threads.
#include "backend/cuda/common.cuh"
#include "backend/cuda/dequant.cuh"

namespace paddock::backend::cuda {
namespace {

constexpr int kThreads = 256;

template <Type T>
__global__ void k_embed(const uint8_t* __restrict__ table, uint64_t row_bytes, const int32_t* __restrict__ tokens,
                        float scale, float* __restrict__ out, int64_t out_stride, int64_t cols) {
  const int64_t t = blockIdx.x;
  const uint8_t* row = table + static_cast<uint64_t>(tokens[t]) * row_bytes;
  float* o = out + t * out_stride;
  float v[32];
  for (int64_t c = threadIdx.x; c < cols / 32; c += blockDim.x) {
    dequant_chunk<T>(row, c, v);
#pragma unroll
    for (int i = 0; i < 32; ++i) o[32 * c + i] = v[i] * scale;
  }
}

__device__ __forceinline__ float gelu_tanh(float x) {
  constexpr float kSqrt2OverPi = 0.79788456080286535588f;
  return 0.5f * x * (1.0f + tanhf(kSqrt2OverPi * x * (1.0f + 0.044715f * x * x)));
}
// As ggml's CPU backend (the oracle): input and output rounded through fp16, exact outside [-10, 10].
__device__ __forceinline__ float gelu_ggml(float x) {
  if (x <= -10.0f) return 0.0f;
  if (x >= 10.0f) return x;
  return __half2float(__float2half_rn(gelu_tanh(__half2float(__float2half_rn(x)))));
}

// Elementwise kernels: grid (column tiles of kThreads, rows); rows beyond the grid's y limit loop.
#define ROWS_COLS                                                           \
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; \
  if (c >= cols) return;                                                    \
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y)

template <bool kGelu>
__global__ void k_glu(const float* g, int64_t gs, const float* u, int64_t us, float* o, int64_t os, int64_t rows,
                      int64_t cols) {
  ROWS_COLS {
    const float x = g[r * gs + c];
    const float a = kGelu ? gelu_ggml(x) : x / (1.0f + expf(-x));
    o[r * os + c] = a * u[r * us + c];
  }
}

__global__ void k_add(const float* a, int64_t as, const float* b, int64_t bs, float* o, int64_t os, int64_t rows,
                      int64_t cols) {
  ROWS_COLS { o[r * os + c] = a[r * as + c] + b[r * bs + c]; }
}

__global__ void k_scale(float* x, int64_t xs, int64_t rows, int64_t cols, float s) {
  ROWS_COLS { x[r * xs + c] *= s; }
}

__global__ void k_softcap(float* x, int64_t xs, int64_t rows, int64_t cols, float cap) {
  ROWS_COLS { x[r * xs + c] = cap * tanhf(x[r * xs + c] / cap); }
}

__global__ void k_add_bias(float* x, int64_t xs, int64_t rows, int64_t cols, const float* b) {
  ROWS_COLS { x[r * xs + c] += b[c]; }
}
#undef ROWS_COLS

dim3 grid2(int64_t rows, int64_t cols) {
  return dim3(static_cast<unsigned>((cols + kThreads - 1) / kThreads), static_cast<unsigned>(rows < 65535 ? rows : 65535));
}

__global__ void k_gather_rows(const float* x, int64_t xs, const int32_t* rows, float* o, int64_t os, int64_t cols) {
  const int64_t i = blockIdx.x;
  const float* src = x + static_cast<int64_t>(rows[i]) * xs;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) o[i * os + c] = src[c];
}

int threads_for(int64_t cols) { return static_cast<int>(cols >= kThreads ? kThreads : (cols + 31) / 32 * 32); }

}  // namespace

bool type_supported(uint32_t t) {
  switch (static_cast<Type>(t)) {
    case Type::F32: case Type::F16: case Type::BF16: case Type::Q8_0: case Type::Q4_0: case Type::Q4_1:
    case Type::Q5_0: case Type::Q5_1: case Type::IQ4_NL: case Type::MXFP4: case Type::Q2_K: case Type::Q3_K:
    case Type::Q4_K: case Type::Q5_K: case Type::Q6_K: case Type::IQ4_XS:
      return true;
  }
  return false;
}

void launch_embed(Type t, const void* table, uint64_t row_bytes, const DevStep& s, float scale, float* out,
                  int64_t out_stride, int64_t cols, cudaStream_t st) {
  dispatch_type(t, [&]<Type T>() {
    k_embed<T><<<s.n_tokens, threads_for(cols / 32), 0, st>>>(static_cast<const uint8_t*>(table), row_bytes,
                                                               s.tokens, scale, out, out_stride, cols);
  });
}

void launch_glu(bool gelu, const float* g, int64_t gs, const float* u, int64_t us, float* o, int64_t os, int64_t rows,
                int64_t cols, cudaStream_t st) {
  if (gelu)
    k_glu<true><<<grid2(rows, cols), kThreads, 0, st>>>(g, gs, u, us, o, os, rows, cols);
  else
    k_glu<false><<<grid2(rows, cols), kThreads, 0, st>>>(g, gs, u, us, o, os, rows, cols);
}

void launch_add(const float* a, int64_t as, const float* b, int64_t bs, float* o, int64_t os, int64_t rows,
                int64_t cols, cudaStream_t st) {
  k_add<<<grid2(rows, cols), kThreads, 0, st>>>(a, as, b, bs, o, os, rows, cols);
}

void launch_scale(float* x, int64_t xs, int64_t rows, int64_t cols, float s, cudaStream_t st) {
  k_scale<<<grid2(rows, cols), kThreads, 0, st>>>(x, xs, rows, cols, s);
}

void launch_softcap(float* x, int64_t xs, int64_t rows, int64_t cols, float cap, cudaStream_t st) {
  k_softcap<<<grid2(rows, cols), kThreads, 0, st>>>(x, xs, rows, cols, cap);
}

void launch_add_bias(float* x, int64_t xs, int64_t rows, int64_t cols, const float* b, cudaStream_t st) {
  k_add_bias<<<grid2(rows, cols), kThreads, 0, st>>>(x, xs, rows, cols, b);
}

void launch_gather_rows(const float* x, int64_t xs, const DevStep& s, float* o, int64_t os, int64_t cols,
                        cudaStream_t st) {
  k_gather_rows<<<s.n_logit_rows, threads_for(cols), 0, st>>>(x, xs, s.logit_rows, o, os, cols);
}

}  // namespace paddock::backend::cuda
