// quant kernels, AVX2 + FMA + F16C level. Compiled with its own -m flags (CMakeLists.txt) and entered only
// after a cpuid check in kernels.cpp; the kernels themselves are in kernels_x86.inc.
#include "quant/kernels_impl.h"

#if defined(__x86_64__) && defined(PADDOCK_QUANT_X86)
#include <immintrin.h>

#include "quant/blocks.h"

namespace paddock::quant::detail {
namespace {
#include "quant/kernels_x86.inc"
}  // namespace

void fill_avx2(KernelTable* t) { install_all(t); }

}  // namespace paddock::quant::detail
#endif
