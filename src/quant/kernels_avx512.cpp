// quant kernels, AVX-512 (F/BW/VL/DQ + VNNI) level. Compiled with its own -m flags (CMakeLists.txt) and entered only
// after a cpuid check in kernels.cpp; the kernels themselves are in kernels_x86.inc,
// and the prompt-processing int8 GEMM in gemm_avx512.inc.
#include "quant/kernels_impl.h"

#if defined(__x86_64__) && defined(PADDOCK_QUANT_X86)
#include <immintrin.h>

#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "quant/blocks.h"

namespace paddock::quant::detail {
namespace {
#include "quant/kernels_x86.inc"
// GCC 12 warns (a false positive) about the undefined source register of _mm512_cvtepi32_ps.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "quant/gemm_avx512.inc"
}  // namespace

void fill_avx512(KernelTable* t) {
  install_all(t);
  install_gemm(t);
}
#pragma GCC diagnostic pop

}  // namespace paddock::quant::detail
#endif
