// The backend factory and the interface's helpers: one place that turns "cpu" / "cuda:N" into a
// backend, so the model loader never names an implementation.
#include <charconv>

#include "backend/backend.h"
#include "util/log.h"

namespace paddock::backend {

uint64_t dtype_row_bytes(DType dtype, int64_t cols) {
  switch (dtype) {
    case DType::kF32: return static_cast<uint64_t>(cols) * 4;
    case DType::kF16: return static_cast<uint64_t>(cols) * 2;
    case DType::kQ8_0: return static_cast<uint64_t>(cols / kQ8_0Block) * kQ8_0BlockBytes;
  }
  return 0;
}

Result<DeviceSpec> parse_device(std::string_view spec) {
  DeviceSpec d;
  const size_t colon = spec.find(':');
  const std::string_view kind = spec.substr(0, colon);
  if (kind == "auto" && colon == std::string_view::npos) {
    d.kind = DeviceKind::kAuto;
    return d;
  }
  if (kind == "cpu") {
    d.kind = DeviceKind::kCpu;
  } else if (kind == "cuda") {
    d.kind = DeviceKind::kCuda;
  } else {
    return make_error(ErrorCode::kInvalidArgument, "unknown device '{}' (expected auto, cpu, cuda or cuda:N)", spec);
  }
  if (colon != std::string_view::npos) {
    const std::string_view idx = spec.substr(colon + 1);
    auto [p, ec] = std::from_chars(idx.data(), idx.data() + idx.size(), d.index);
    if (ec != std::errc() || p != idx.data() + idx.size() || d.index < 0 || d.index > 1023 || d.kind == DeviceKind::kCpu)
      return make_error(ErrorCode::kInvalidArgument, "bad device index in '{}'", spec);
  }
  return d;
}

bool cuda_built() {
#ifdef PADDOCK_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

Result<std::unique_ptr<Backend>> make_backend(const BackendOptions& opts) {
  switch (opts.device.kind) {
    case DeviceKind::kCpu: return make_cpu_backend(opts.cpu);
    case DeviceKind::kAuto: {
#ifdef PADDOCK_HAVE_CUDA
      auto g = make_cuda_backend(0);
      if (g.ok()) return g;
      log::info("no usable GPU ({}); running on the CPU", g.error().message());
#endif
      return make_cpu_backend(opts.cpu);
    }
    case DeviceKind::kCuda:
#ifdef PADDOCK_HAVE_CUDA
      return make_cuda_backend(opts.device.index);
#else
      return make_error(ErrorCode::kUnsupported, "this build has no CUDA backend (built: cpu)");
#endif
  }
  return make_error(ErrorCode::kInvalidArgument, "unknown device kind");
}

}  // namespace paddock::backend
