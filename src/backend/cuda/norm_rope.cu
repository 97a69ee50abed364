// CUDA backend: RMS norm (whole rows or per-head groups), layer norm, and rotary position
// embedding (normal and NeoX pairing, frequency factors, YaRN), written as the CPU backend's.
#include "backend/cuda/common.cuh"
#include "backend/cuda/ops.h"

namespace paddock::backend::cuda {
namespace {

// grid (rows, cols / group): one block normalises one group of one row.
__global__ void k_rms_norm(const float* x, int64_t xs, const float* w, float eps, float* o, int64_t os, int64_t group) {
  const int64_t r = blockIdx.x, g0 = static_cast<int64_t>(blockIdx.y) * group;
  const float* xi = x + r * xs + g0;
  float ss = 0.0f;
  for (int64_t c = threadIdx.x; c < group; c += blockDim.x) ss += xi[c] * xi[c];
  ss = block_sum(ss);
  const float sc = rsqrtf(ss / static_cast<float>(group) + eps);
  float* oi = o + r * os + g0;
  for (int64_t c = threadIdx.x; c < group; c += blockDim.x) oi[c] = xi[c] * sc * (w != nullptr ? w[c] : 1.0f);
}

// grid rows: the residual add, then the norm of the sum. Each thread reads back only the
// elements it wrote, so o may alias x.
__global__ void k_add_rms_norm(float* x, int64_t xs, const float* d, int64_t ds, const float* w, float eps, float* o,
                               int64_t os, int64_t cols) {
  const int64_t r = blockIdx.x;
  float* xi = x + r * xs;
  const float* di = d + r * ds;
  float ss = 0.0f;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    const float v = xi[c] + di[c];
    xi[c] = v;
    ss += v * v;
  }
  ss = block_sum(ss);
  const float sc = rsqrtf(ss / static_cast<float>(cols) + eps);
  float* oi = o + r * os;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) oi[c] = xi[c] * sc * (w != nullptr ? w[c] : 1.0f);
}

__global__ void k_layer_norm(const float* x, int64_t xs, const float* w, const float* b, float eps, float* o, int64_t os,
                             int64_t cols) {
  const int64_t r = blockIdx.x;
  const float* xi = x + r * xs;
  float s = 0.0f;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) s += xi[c];
  const float mean = block_sum(s) / static_cast<float>(cols);
  float v = 0.0f;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) v += (xi[c] - mean) * (xi[c] - mean);
  const float sc = rsqrtf(block_sum(v) / static_cast<float>(cols) + eps);
  float* oi = o + r * os;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    float y = (xi[c] - mean) * sc;
    if (w != nullptr) y *= w[c];
    if (b != nullptr) y += b[c];
    oi[c] = y;
  }
}

__device__ __forceinline__ float yarn_ramp(float low, float high, int i0) {
  const float y = (static_cast<float>(i0) / 2 - low) / fmaxf(0.001f, high - low);
  return 1.0f - fminf(1.0f, fmaxf(0.0f, y));
}

// grid n_tokens; threads over (head, pair).
__global__ void k_rope(float* x, int64_t xs, const int32_t* positions, RopeArgs a) {
  const int64_t t = blockIdx.x;
  const int half = a.n_dims / 2;
  const float pos = static_cast<float>(positions[t]);
  float* row = x + t * xs;
  for (int idx = threadIdx.x; idx < a.n_head * half; idx += blockDim.x) {
    const int h = idx / half, i = idx % half;
    float inv = powf(a.freq_base, -2.0f * static_cast<float>(i) / static_cast<float>(a.n_dims));
    if (a.freq_factors != nullptr) inv /= a.freq_factors[i];
    const float theta_extrap = pos * inv;
    const float theta_interp = a.freq_scale * theta_extrap;
    float theta = theta_interp, mscale = a.attn_factor;
    if (a.ext_factor != 0.0f) {
      const float mix = yarn_ramp(a.corr0, a.corr1, 2 * i) * a.ext_factor;
      theta = theta_interp * (1 - mix) + theta_extrap * mix;
      mscale *= 1.0f + 0.1f * logf(1.0f / a.freq_scale);
    }
    float sn, cs;
    sincosf(theta, &sn, &cs);
    cs *= mscale;
    sn *= mscale;
    float* v = row + static_cast<int64_t>(h) * a.head_dim;
    const int p0 = a.neox ? i : 2 * i, p1 = a.neox ? i + half : 2 * i + 1;
    const float x0 = v[p0], x1 = v[p1];
    v[p0] = x0 * cs - x1 * sn;
    v[p1] = x0 * sn + x1 * cs;
  }
}

int threads_for(int64_t n) { return static_cast<int>(n >= 256 ? 256 : (n + 31) / 32 * 32); }

}  // namespace

void launch_rms_norm(const float* x, int64_t xs, const float* w, float eps, float* o, int64_t os, int64_t rows,
                     int64_t cols, int64_t group, cudaStream_t st) {
  const dim3 grid(static_cast<unsigned>(rows), static_cast<unsigned>(cols / group));
  k_rms_norm<<<grid, threads_for(group), 0, st>>>(x, xs, w, eps, o, os, group);
}

void launch_add_rms_norm(float* x, int64_t xs, const float* d, int64_t ds, const float* w, float eps, float* o,
                         int64_t os, int64_t rows, int64_t cols, cudaStream_t st) {
  k_add_rms_norm<<<rows, threads_for(cols), 0, st>>>(x, xs, d, ds, w, eps, o, os, cols);
}

void launch_layer_norm(const float* x, int64_t xs, const float* w, const float* b, float eps, float* o, int64_t os,
                       int64_t rows, int64_t cols, cudaStream_t st) {
  k_layer_norm<<<rows, threads_for(cols), 0, st>>>(x, xs, w, b, eps, o, os, cols);
}

void launch_rope(float* x, int64_t xs, int64_t rows, const DevStep& s, const RopeArgs& a, cudaStream_t st) {
  k_rope<<<rows, threads_for(int64_t{a.n_head} * a.n_dims / 2), 0, st>>>(x, xs, s.positions, a);
}

}  // namespace paddock::backend::cuda
