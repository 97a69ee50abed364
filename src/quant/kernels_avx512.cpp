// quant kernels, avx512 level (compiled with its own -m flags; entered only after a cpuid check).
#include "quant/kernels_impl.h"

#if defined(__x86_64__) && defined(PADDOCK_QUANT_X86)
namespace paddock::quant::detail {

void fill_avx512(KernelTable*) {}

}  // namespace paddock::quant::detail
#endif
