// norm.cc — RMSNorm (Zhang & Sennrich 2019) forward and backward. Rows are split over the pool; dw is the sum
// over rows of per-thread partials added in thread order, so it is bitwise stable for a given thread count.
// The per-row loops are the per-ISA ones in norm_simd.h; RoPE lives in rope.cc.
#include <vector>
#include "../include/zj_kernels.h"
#include "kernels_impl.h"

using namespace zj;

extern "C" void zj_rmsnorm_forward(const float* x, const float* w, float* out, float* rstd, int64_t rows, int64_t C,
                                   float eps) {
  parallel_rows(rows, C, kParallelGrain, [&](int64_t r0, int64_t r1, int) {
    simd().rmsnorm_forward_rows(x + r0 * C, w, out + r0 * C, rstd + r0, r1 - r0, C, eps);
  });
}

extern "C" void zj_rmsnorm_backward(const float* x, const float* w, const float* rstd, const float* dOut, float* dx,
                                    float* dw, int64_t rows, int64_t C) {
  const int threads = pool_threads();
  std::vector<float> part((size_t)threads * (size_t)C, 0.f);
  parallel_rows(rows, C, kParallelGrain, [&](int64_t r0, int64_t r1, int t) {
    simd().rmsnorm_backward_rows(x + r0 * C, w, rstd + r0, dOut + r0 * C, dx + r0 * C, part.data() + (size_t)t * C,
                                 r1 - r0, C);
  });
  for (int64_t c = 0; c < C; c++) {
    float s = 0.f;
    for (int t = 0; t < threads; t++) s += part[(size_t)t * C + c];
    dw[c] = s;
  }
}
