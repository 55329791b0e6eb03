// softmax.cc — softmax and log-softmax over the last axis, forward and backward. Rows are split over the pool;
// the per-row loops (max, exp-sum, scale) are the per-ISA ones in softmax_simd.h.
#include "../include/zj_kernels.h"
#include "kernels_impl.h"

using namespace zj;

extern "C" void zj_softmax_forward(const float* x, float* out, int64_t rows, int64_t cols) {
  parallel_rows(rows, cols, kParallelGrain, [&](int64_t r0, int64_t r1, int) {
    simd().softmax_rows(x + r0 * cols, out + r0 * cols, r1 - r0, cols, 0);
  });
}

extern "C" void zj_softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols) {
  parallel_rows(rows, cols, kParallelGrain, [&](int64_t r0, int64_t r1, int) {
    simd().softmax_backward_rows(y + r0 * cols, dy + r0 * cols, dx + r0 * cols, r1 - r0, cols, 0);
  });
}

extern "C" void zj_log_softmax_forward(const float* x, float* out, int64_t rows, int64_t cols) {
  parallel_rows(rows, cols, kParallelGrain, [&](int64_t r0, int64_t r1, int) {
    simd().softmax_rows(x + r0 * cols, out + r0 * cols, r1 - r0, cols, 1);
  });
}

extern "C" void zj_log_softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols) {
  parallel_rows(rows, cols, kParallelGrain, [&](int64_t r0, int64_t r1, int) {
    simd().softmax_backward_rows(y + r0 * cols, dy + r0 * cols, dx + r0 * cols, r1 - r0, cols, 1);
  });
}
