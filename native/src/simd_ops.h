// simd_ops.h — one ISA's SimdOps table (kernels_impl.h). The including file (avx512/simd_avx512.cc,
// avx2/simd_avx2.cc, simd_scalar.cc) defines Vec and ZJ_SIMD_NS, then includes this, which compiles every op
// family's hot loops (<family>_simd.h) for that Vec. The namespace keeps each ISA's copies apart, so the linker
// never mixes AVX-512 code into the baseline path.
#ifndef ZJ_SIMD_NS
#error "define Vec and ZJ_SIMD_NS before including simd_ops.h"
#endif
#include "elementwise_simd.h"
#include "softmax_simd.h"
#include "norm_simd.h"
#include "loss_simd.h"
#include "adamw_simd.h"
#include "attention_simd.h"

namespace zj {
namespace ZJ_SIMD_NS {

static const SimdOps ops = {
    unary_exp,       silu_backward,         swiglu_forward,    swiglu_backward,    softmax_rows,
    softmax_backward_rows, rmsnorm_forward_rows, rmsnorm_backward_rows, xent_forward_rows, xent_backward_rows,
    adamw,           attention_forward_units, attention_backward_units,
};

}  // namespace ZJ_SIMD_NS
}  // namespace zj
