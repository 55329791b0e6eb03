// adamw.cc — AdamW (Loshchilov & Hutter 2019): decoupled weight decay, bias correction at 1-based step, the
// gradient pre-multiplied by gradScale (global-norm clipping folded in). One pass over p, g, m, v; the loop is the
// per-ISA one in adamw_simd.h.
#include <math.h>
#include "../include/zj_kernels.h"
#include "kernels_impl.h"

using namespace zj;

extern "C" void zj_adamw(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
                         float eps, float weightDecay, int64_t step, float gradScale) {
  const double bc1 = 1.0 - pow((double)beta1, (double)step), bc2 = 1.0 - pow((double)beta2, (double)step);
  const float ib1 = (float)(1.0 / bc1), ib2 = (float)(1.0 / bc2);
  parallel_for(n, kParallelGrain, [&](int64_t i0, int64_t i1, int) {
    simd().adamw(p + i0, g + i0, m + i0, v + i0, i1 - i0, lr, beta1, beta2, eps, weightDecay, ib1, ib2, gradScale);
  });
}
