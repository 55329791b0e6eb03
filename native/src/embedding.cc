// embedding.cc — token embedding gather and its scatter-add backward. The backward splits the channels (not the
// tokens) over threads: every thread walks all tokens in order, so repeated ids never race and sums are in a
// fixed order. Ids are range-checked by the glue. bf16 / q8_0 / q4_0 weights are dequantized row by row.
#include <string.h>
#include "../include/zj_kernels.h"
#include "kernels_impl.h"
#include "quant_impl.h"

using namespace zj;

extern "C" void zj_embedding_forward(const void* weight, int w_format, const int32_t* ids, float* out, int64_t N,
                                     int64_t C, int64_t V) {
  (void)V;
  parallel_rows(N, C, kParallelGrain, [&](int64_t n0, int64_t n1, int) {
    for (int64_t n = n0; n < n1; n++) dequant_row_range(weight, w_format, C, ids[n], 0, C, out + n * C);
  });
}

extern "C" void zj_embedding_backward(const int32_t* ids, const float* dOut, float* dWeight, int64_t N, int64_t C,
                                      int64_t V) {
  (void)V;
  // channel blocks of 64 floats keep threads on separate cache lines
  const int64_t BLK = 64, blocks = (C + BLK - 1) / BLK;
  parallel_rows(blocks, N * BLK, kParallelGrain, [&](int64_t b0, int64_t b1, int) {
    const int64_t c0 = b0 * BLK, c1 = b1 * BLK < C ? b1 * BLK : C;
    for (int64_t n = 0; n < N; n++) {
      float* d = dWeight + (int64_t)ids[n] * C;
      const float* g = dOut + n * C;
      for (int64_t c = c0; c < c1; c++) d[c] += g[c];
    }
  });
}
