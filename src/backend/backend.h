// backend: the public header — the small table of ops every model forward is written over, and
// the memory it runs on. CPU implements it now, CUDA next: all tensors are backend-owned buffers
// (device-resident on a GPU), the step's integer arrays are uploaded once per step, and no op
// returns data to the host except read_rows, so a decode step can be captured as a CUDA graph.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "backend/step.h"
#include "quant/quant.h"
#include "util/status.h"

namespace paddock::backend {

// Element type of activations and KV storage (weights use quant::Type).
enum class DType : uint32_t { kF32 = 0, kF16 = 1, kQ8_0 = 2 };
// Q8_0 as a KV/activation dtype: blocks of 32 int8 with one fp16 scale.
constexpr int64_t kQ8_0Block = 32;
constexpr int64_t kQ8_0BlockBytes = 34;

// A strided 2-D view [rows, cols] of a backend buffer: row r starts at data + r * stride
// elements (stride >= cols). Views share memory; only alloc() owns it.
struct Tensor {
  void* data = nullptr;
  DType dtype = DType::kF32;
  int64_t rows = 0, cols = 0, stride = 0;

  float* f32() const { return static_cast<float*>(data); }
  // Columns [c0, c0 + n) of every row (e.g. q/k/v inside a fused qkv projection).
  Tensor cols_view(int64_t c0, int64_t n) const {
    return Tensor{static_cast<float*>(data) + c0, dtype, rows, n, stride};
  }
  // The first n rows.
  Tensor first_rows(int64_t n) const { return Tensor{data, dtype, n, cols, stride}; }
};

// A weight as stored in the GGUF: `rows` rows (ne[1]) of `cols` elements (ne[0]) of `type`,
// each row_bytes long. On CPU `data` points into the model's mmap; on a GPU at device memory.
struct Weight {
  const void* data = nullptr;
  quant::Type type = quant::Type::F32;
  int64_t rows = 0, cols = 0;
  uint64_t row_bytes = 0;
  explicit operator bool() const { return data != nullptr; }
};

enum class Act { kSilu, kGeluTanh };

struct RopeParams {
  int32_t n_dims = 0;         // rotated dimensions (<= head_dim); the rest pass through
  bool neox = false;          // pairs (i, i + n_dims/2) instead of (2i, 2i+1)
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;    // 1 / linear scaling factor
  const Weight* freq_factors = nullptr;  // [n_dims/2] F32 divisors of each frequency (llama3, LongRoPE)
  // YaRN (ext_factor 0 = off). attn_factor scales cos/sin (mscale).
  float ext_factor = 0.0f, attn_factor = 1.0f, beta_fast = 32.0f, beta_slow = 1.0f;
  int32_t n_ctx_orig = 0;
};

struct AttnParams {
  int32_t n_head = 0, n_head_kv = 0, head_dim = 0;
  float scale = 1.0f;         // applied to q·k
  float softcap = 0.0f;       // 0 = off; else scores = softcap * tanh(scores / softcap)
  int32_t sliding_window = 0; // 0 = off; else key j is visible to query p only if p - j < window
};

// One layer's slice of the paged KV pool: [n_blocks * block_size, n_head_kv * head_dim] each.
struct KvLayer {
  Tensor k, v;
};

class Buffer;

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual int n_threads() const = 0;

  // ---- memory ----
  // A zero-filled buffer of rows x cols; lives until the returned handle is destroyed.
  virtual Result<std::shared_ptr<Buffer>> alloc(DType dtype, int64_t rows, int64_t cols) = 0;
  // Makes a weight usable by the ops. CPU: a view of `host` (which must outlive the backend's
  // use of it); GPU: a device copy.
  virtual Result<Weight> upload_weight(quant::Type type, int64_t rows, int64_t cols, const void* host) = 0;
  // Copies the step's integer arrays (tokens, positions, sequence offsets, block tables, logit
  // rows) to the device. Every op below reads them; call once per step before the ops.
  virtual Status set_step(const Batch& batch) = 0;
  // Rows [0, n) of an F32 tensor to host memory (the only device -> host copy).
  virtual void read_rows(const Tensor& src, int64_t n, float* dst) = 0;
  // Rows [0, n) of an F32 tensor from host memory (tests, and inputs that start on the host).
  virtual void write_rows(const Tensor& dst, int64_t n, const float* src) = 0;

  // ---- ops (all activations F32; `out` may alias an input only where noted) ----
  // out[t] = dequantized row tokens[t] of `table` (x scale).
  virtual void embed(const Weight& table, float scale, const Tensor& out) = 0;
  // out = x / rms(x) * w (w optional, F32 [cols]); in place allowed. Rows of length `group`
  // (default cols) are normalised separately: per-head q/k norm uses group = head_dim.
  virtual void rms_norm(const Tensor& x, const Weight* w, float eps, const Tensor& out, int64_t group = 0) = 0;
  virtual void layer_norm(const Tensor& x, const Weight* w, const Weight* b, float eps, const Tensor& out) = 0;
  // The residual add fused with the next norm: x += delta, then out = rms_norm(x) * w (whole
  // rows); out may alias x (the final norm), not delta. Equal to add() then rms_norm().
  virtual void add_rms_norm(const Tensor& x, const Tensor& delta, const Weight* w, float eps, const Tensor& out) = 0;
  // out[n, w.rows] = x[n, w.cols] · wᵀ (+ bias). x and out must not alias.
  virtual void matmul(const Tensor& x, const Weight& w, const Weight* bias, const Tensor& out) = 0;
  // Several matmuls of one input (q/k/v, gate/up): the input is converted once per activation
  // format and all the weights' rows are split over the threads together (one dispatch).
  struct MatmulJob {
    const Weight* w = nullptr;
    const Weight* bias = nullptr;
    Tensor out;
  };
  virtual void matmul_multi(const Tensor& x, std::span<const MatmulJob> jobs) = 0;
  // x[t, c] += b[c]; in place.
  virtual void add_bias(const Tensor& x, const Weight& b) = 0;
  // Rotates each head of x ([n_tokens, n_head * head_dim], in place) by the token's position.
  virtual void rope(const Tensor& x, int32_t n_head, int32_t head_dim, const RopeParams& p) = 0;
  // Writes k and v ([n_tokens, n_head_kv * head_dim]) into the layer's KV blocks at the tokens'
  // positions, then out[t] = softmax(q[t]·Kᵀ · scale, causal + window masked) · V over the
  // token's sequence. q: [n_tokens, n_head * head_dim]; out: same shape (must not alias q).
  virtual void attention(const Tensor& q, const Tensor& k, const Tensor& v, const KvLayer& kv,
                         int32_t block_size, const AttnParams& p, const Tensor& out) = 0;
  // out = act(gate) * up (elementwise); out may alias gate or up.
  virtual void glu(const Tensor& gate, const Tensor& up, Act act, const Tensor& out) = 0;
  // out = a + b; out may alias a or b.
  virtual void add(const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  // x *= s; in place.
  virtual void scale(const Tensor& x, float s) = 0;
  // x = cap * tanh(x / cap); in place.
  virtual void softcap(const Tensor& x, float cap) = 0;
  // out[i] = x[logit_rows[i]] for the step's logit rows.
  virtual void gather_logit_rows(const Tensor& x, const Tensor& out) = 0;
  // Copies one KV block (all rows of it) in every given layer.
  virtual void copy_kv_block(std::span<const KvLayer> layers, int32_t block_size, int32_t src, int32_t dst) = 0;

  // ---- errors ----
  // Ops return nothing; a device fault (a failed launch, an illegal address, out of memory) is
  // kept and reported here: the first error since the last call, or Ok. Waits for the queued
  // ops. The model calls it at the end of every step; after an error the backend is unusable.
  virtual Status end_step() = 0;
};

// Owner of one allocation; tensor() is the whole buffer as a view.
class Buffer {
 public:
  virtual ~Buffer() = default;
  virtual Tensor tensor() const = 0;
};

// ---- choosing a backend ----
enum class DeviceKind { kCpu, kCuda, kAuto };  // auto: cuda:0 when usable, else the CPU
struct DeviceSpec {
  DeviceKind kind = DeviceKind::kCpu;
  int index = 0;  // cuda:N (after CUDA_VISIBLE_DEVICES)
};
// "cpu", "cuda", "cuda:N", "auto".
Result<DeviceSpec> parse_device(std::string_view spec);

struct CpuOptions {
  int n_threads = 0;  // 0 = all cores
};
struct BackendOptions {
  DeviceSpec device;
  CpuOptions cpu;  // used by the CPU backend only
};
// The one place a backend is chosen. kUnsupported when the kind is not built or no device is usable.
Result<std::unique_ptr<Backend>> make_backend(const BackendOptions& opts);
// True when this binary contains the CUDA backend.
bool cuda_built();

std::unique_ptr<Backend> make_cpu_backend(const CpuOptions& opts);
Result<std::unique_ptr<Backend>> make_cuda_backend(int device_index);  // only when cuda_built()

// Bytes of one row of `cols` elements of a KV/activation dtype.
uint64_t dtype_row_bytes(DType dtype, int64_t cols);

}  // namespace paddock::backend
