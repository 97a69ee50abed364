// CPU backend: host memory, the step's arrays, and the elementwise / norm / rope / embedding ops.
// Each op splits its rows over the thread pool; matmul.cpp and attention.cpp hold the heavy ops.
#include "backend/cpu/cpu_backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "util/half.h"

namespace paddock::backend {

std::unique_ptr<Backend> make_cpu_backend(const CpuOptions& opts) {
  return std::make_unique<cpu::CpuBackend>(opts.n_threads);
}

namespace cpu {
namespace {

class HostBuffer final : public Buffer {
 public:
  HostBuffer(DType dtype, int64_t rows, int64_t cols, uint64_t row_bytes)
      : mem_(static_cast<size_t>(row_bytes * static_cast<uint64_t>(rows)) + 64, 0),
        t_{nullptr, dtype, rows, cols, cols} {
    // 64-byte aligned start for SIMD loads.
    auto addr = reinterpret_cast<uintptr_t>(mem_.data());
    t_.data = mem_.data() + ((64 - addr % 64) % 64);
  }
  Tensor tensor() const override { return t_; }

 private:
  std::vector<uint8_t> mem_;
  Tensor t_;
};

float gelu_tanh(float x) {
  constexpr float kSqrt2OverPi = 0.79788456080286535588f;
  return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + 0.044715f * x * x)));
}

// GELU as ggml's CPU backend evaluates it (our oracle): through an fp16 table, i.e. the input
// and output rounded to fp16, exact outside [-10, 10].
float gelu_ggml(float x) {
  if (x <= -10.0f) return 0.0f;
  if (x >= 10.0f) return x;
  return fp16_to_fp32(fp32_to_fp16(gelu_tanh(fp16_to_fp32(fp32_to_fp16(x)))));
}

}  // namespace

CpuBackend::CpuBackend(int n_threads) : pool_(n_threads) { scratch_.resize(static_cast<size_t>(pool_.size())); }

void CpuBackend::par(int64_t n, int64_t cost, const std::function<void(int, int64_t, int64_t)>& fn) {
  constexpr int64_t kInline = 1 << 15;
  if (n <= 0) return;
  if (n == 1 || pool_.size() == 1 || n * cost < kInline) {
    fn(0, 0, n);
    return;
  }
  pool_.parallel_for(n, fn);
}

std::string CpuBackend::name() const { return std::string("cpu/") + simd_name(simd_level()); }

Result<std::shared_ptr<Buffer>> CpuBackend::alloc(DType dtype, int64_t rows, int64_t cols) {
  if (rows < 0 || cols <= 0 || rows > (int64_t{1} << 40) / std::max<int64_t>(cols, 1))
    return make_error(ErrorCode::kInvalidArgument, "buffer shape {}x{} out of range", rows, cols);
  if (dtype == DType::kQ8_0 && cols % kQ8Block != 0)
    return make_error(ErrorCode::kInvalidArgument, "Q8_0 buffer row of {} is not a multiple of 32", cols);
  try {
    return std::shared_ptr<Buffer>(std::make_shared<HostBuffer>(dtype, rows, cols, dtype_row_bytes(dtype, cols)));
  } catch (const std::bad_alloc&) {
    return make_error(ErrorCode::kResourceExhausted, "out of memory allocating {}x{} buffer", rows, cols);
  }
}

Result<Weight> CpuBackend::upload_weight(quant::Type type, int64_t rows, int64_t cols, const void* host) {
  const quant::TypeInfo* ti = quant::type_info(type);
  if (ti == nullptr) return make_error(ErrorCode::kUnsupported, "unknown tensor type {}", static_cast<uint32_t>(type));
  if (!can_run_weight_type(type))
    return make_error(ErrorCode::kUnsupported, "tensor type {} is not supported by the CPU backend", ti->name);
  ASSIGN_OR_RETURN(uint64_t rb, quant::row_size(type, cols));
  return Weight{host, type, rows, cols, rb};
}

Status CpuBackend::set_step(const Batch& b) {
  // The batch passed validate_step; only the token -> sequence map is derived here.
  tok_seq_.assign(static_cast<size_t>(b.n_tokens()), 0);
  for (int32_t s = 0; s < b.n_seqs(); ++s)
    for (int32_t t = b.seq_start[s]; t < b.seq_start[s + 1]; ++t) tok_seq_[t] = s;
  step_ = b;
  return Status::Ok();
}

void CpuBackend::read_rows(const Tensor& src, int64_t n, float* dst) {
  for (int64_t r = 0; r < n; ++r)
    std::memcpy(dst + r * src.cols, src.f32() + r * src.stride, static_cast<size_t>(src.cols) * 4);
}

void CpuBackend::write_rows(const Tensor& dst, int64_t n, const float* src) {
  for (int64_t r = 0; r < n; ++r)
    std::memcpy(dst.f32() + r * dst.stride, src + r * dst.cols, static_cast<size_t>(dst.cols) * 4);
}

void CpuBackend::embed(const Weight& table, float scale, const Tensor& out) {
  par(step_.n_tokens(), out.cols, [&](int, int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      float* o = out.f32() + t * out.stride;
      weight_row_to_f32(table, step_.tokens[t], o);
      if (scale != 1.0f)
        for (int64_t c = 0; c < out.cols; ++c) o[c] *= scale;
    }
  });
}

void CpuBackend::rms_norm(const Tensor& x, const Weight* w, float eps, const Tensor& out, int64_t group) {
  if (group <= 0) group = x.cols;
  const float* wf = w != nullptr ? static_cast<const float*>(w->data) : nullptr;
  par(x.rows, x.cols, [&](int, int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* xi = x.f32() + r * x.stride;
      float* o = out.f32() + r * out.stride;
      for (int64_t g = 0; g < x.cols; g += group) {
        double ss = 0;
        for (int64_t c = 0; c < group; ++c) ss += static_cast<double>(xi[g + c]) * xi[g + c];
        const float sc = 1.0f / std::sqrt(static_cast<float>(ss / static_cast<double>(group)) + eps);
        for (int64_t c = 0; c < group; ++c) o[g + c] = xi[g + c] * sc * (wf != nullptr ? wf[c] : 1.0f);
      }
    }
  });
}

void CpuBackend::layer_norm(const Tensor& x, const Weight* w, const Weight* bias, float eps, const Tensor& out) {
  const float* wf = w != nullptr ? static_cast<const float*>(w->data) : nullptr;
  const float* bf = bias != nullptr ? static_cast<const float*>(bias->data) : nullptr;
  par(x.rows, x.cols, [&](int, int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* xi = x.f32() + r * x.stride;
      float* o = out.f32() + r * out.stride;
      double mean = 0, var = 0;
      for (int64_t c = 0; c < x.cols; ++c) mean += xi[c];
      mean /= static_cast<double>(x.cols);
      for (int64_t c = 0; c < x.cols; ++c) var += (xi[c] - mean) * (xi[c] - mean);
      var /= static_cast<double>(x.cols);
      const float sc = 1.0f / std::sqrt(static_cast<float>(var) + eps);
      for (int64_t c = 0; c < x.cols; ++c) {
        float v = static_cast<float>(xi[c] - mean) * sc;
        if (wf != nullptr) v *= wf[c];
        if (bf != nullptr) v += bf[c];
        o[c] = v;
      }
    }
  });
}

void CpuBackend::add_bias(const Tensor& x, const Weight& bias) {
  const float* bf = static_cast<const float*>(bias.data);
  par(x.rows, x.cols, [&](int, int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      float* xi = x.f32() + r * x.stride;
      for (int64_t c = 0; c < x.cols; ++c) xi[c] += bf[c];
    }
  });
}

namespace {
float yarn_ramp(float low, float high, int64_t i0) {
  const float y = (static_cast<float>(i0) / 2 - low) / std::max(0.001f, high - low);
  return 1.0f - std::min(1.0f, std::max(0.0f, y));
}
float yarn_corr_dim(int n_dims, int n_ctx_orig, float n_rot, float base) {
  return static_cast<float>(n_dims) * std::log(static_cast<float>(n_ctx_orig) / (n_rot * 2.0f * 3.14159265358979f)) /
         (2.0f * std::log(base));
}
}  // namespace

void CpuBackend::rope(const Tensor& x, int32_t n_head, int32_t head_dim, const RopeParams& p) {
  const int32_t half = p.n_dims / 2;
  // Per-pair inverse frequency base^(-2i/n_dims) / factor.
  std::vector<float> inv_freq(static_cast<size_t>(half));
  const float* ff = p.freq_factors != nullptr ? static_cast<const float*>(p.freq_factors->data) : nullptr;
  for (int32_t i = 0; i < half; ++i) {
    inv_freq[i] = std::pow(p.freq_base, -2.0f * static_cast<float>(i) / static_cast<float>(p.n_dims));
    if (ff != nullptr) inv_freq[i] /= ff[i];
  }
  float corr[2] = {0, 0};
  if (p.ext_factor != 0.0f) {
    corr[0] = std::max(0.0f, std::floor(yarn_corr_dim(p.n_dims, p.n_ctx_orig, p.beta_fast, p.freq_base)));
    corr[1] = std::min(static_cast<float>(p.n_dims - 1),
                       std::ceil(yarn_corr_dim(p.n_dims, p.n_ctx_orig, p.beta_slow, p.freq_base)));
  }
  par(x.rows, x.cols, [&](int tid, int64_t b, int64_t e) {
    std::vector<float>& cs = scratch_[tid];
    cs.resize(static_cast<size_t>(2 * half));
    for (int64_t t = b; t < e; ++t) {
      const float pos = static_cast<float>(step_.positions[t]);
      for (int32_t i = 0; i < half; ++i) {
        const float theta_extrap = pos * inv_freq[i];
        const float theta_interp = p.freq_scale * theta_extrap;
        float theta = theta_interp, mscale = p.attn_factor;
        if (p.ext_factor != 0.0f) {
          const float mix = yarn_ramp(corr[0], corr[1], 2 * i) * p.ext_factor;
          theta = theta_interp * (1 - mix) + theta_extrap * mix;
          mscale *= 1.0f + 0.1f * std::log(1.0f / p.freq_scale);
        }
        cs[2 * i] = std::cos(theta) * mscale;
        cs[2 * i + 1] = std::sin(theta) * mscale;
      }
      float* row = x.f32() + t * x.stride;
      for (int32_t h = 0; h < n_head; ++h) {
        float* v = row + static_cast<int64_t>(h) * head_dim;
        for (int32_t i = 0; i < half; ++i) {
          const int32_t a = p.neox ? i : 2 * i, c = p.neox ? i + half : 2 * i + 1;
          const float x0 = v[a], x1 = v[c];
          v[a] = x0 * cs[2 * i] - x1 * cs[2 * i + 1];
          v[c] = x0 * cs[2 * i + 1] + x1 * cs[2 * i];
        }
      }
    }
  });
}

void CpuBackend::glu(const Tensor& gate, const Tensor& up, Act act, const Tensor& out) {
  par(gate.rows, 8 * gate.cols, [&](int, int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* g = gate.f32() + r * gate.stride;
      const float* u = up.f32() + r * up.stride;
      float* o = out.f32() + r * out.stride;
      if (act == Act::kSilu) {
        for (int64_t c = 0; c < gate.cols; ++c) o[c] = g[c] / (1.0f + std::exp(-g[c])) * u[c];
      } else {
        for (int64_t c = 0; c < gate.cols; ++c) o[c] = gelu_ggml(g[c]) * u[c];
      }
    }
  });
}

void CpuBackend::add(const Tensor& a, const Tensor& b2, const Tensor& out) {
  par(a.rows, a.cols, [&](int, int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* x = a.f32() + r * a.stride;
      const float* y = b2.f32() + r * b2.stride;
      float* o = out.f32() + r * out.stride;
      for (int64_t c = 0; c < a.cols; ++c) o[c] = x[c] + y[c];
    }
  });
}

void CpuBackend::add_rms_norm(const Tensor& x, const Tensor& delta, const Weight* w, float eps, const Tensor& out) {
  // Two passes over memory the CPU reads at cache speed anyway; the fusion pays on devices where
  // each op is a launch.
  add(x, delta, x);
  rms_norm(x, w, eps, out, 0);
}

void CpuBackend::scale(const Tensor& x, float s) {
  for (int64_t r = 0; r < x.rows; ++r) {
    float* xi = x.f32() + r * x.stride;
    for (int64_t c = 0; c < x.cols; ++c) xi[c] *= s;
  }
}

void CpuBackend::softcap(const Tensor& x, float cap) {
  par(x.rows, x.cols, [&](int, int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      float* xi = x.f32() + r * x.stride;
      for (int64_t c = 0; c < x.cols; ++c) xi[c] = cap * std::tanh(xi[c] / cap);
    }
  });
}

void CpuBackend::gather_logit_rows(const Tensor& x, const Tensor& out) {
  for (size_t i = 0; i < step_.logit_rows.size(); ++i)
    std::memcpy(out.f32() + static_cast<int64_t>(i) * out.stride, x.f32() + step_.logit_rows[i] * x.stride,
                static_cast<size_t>(x.cols) * 4);
}

void CpuBackend::copy_kv_block(std::span<const KvLayer> layers, int32_t block_size, int32_t src, int32_t dst) {
  for (const KvLayer& l : layers) {
    for (const Tensor* t : {&l.k, &l.v}) {
      const uint64_t rb = dtype_row_bytes(t->dtype, t->cols);
      auto* base = static_cast<uint8_t*>(t->data);
      std::memmove(base + static_cast<uint64_t>(dst) * block_size * rb, base + static_cast<uint64_t>(src) * block_size * rb,
                   rb * static_cast<uint64_t>(block_size));
    }
  }
}

Status CpuBackend::end_step() { return Status::Ok(); }

}  // namespace cpu
}  // namespace paddock::backend
