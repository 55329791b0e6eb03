// gemm.cc — GEMM entry point: validates nothing (the glue did), dispatches to the ISA's kernel.
// Placeholder scalar loop until the blocked kernels land.
#include <cstring>
#include "../include/zj_kernels.h"

static inline float bf16_to_f32(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

extern "C" void zj_gemm(int64_t batch, int64_t M, int64_t N, int64_t K, const void* A, int a_bf16, int transA,
                        int64_t aStride, const void* B, int b_bf16, int transB, int64_t bStride, float* out,
                        float alpha, float beta, int bf16_compute) {
  for (int64_t b = 0; b < batch; b++)
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) {
        float acc = 0;
        for (int64_t k = 0; k < K; k++) {
          int64_t ia = b * aStride + (transA ? k * M + i : i * K + k);
          int64_t ib = b * bStride + (transB ? j * K + k : k * N + j);
          float x = a_bf16 ? bf16_to_f32(((const uint16_t*)A)[ia]) : ((const float*)A)[ia];
          float y = b_bf16 ? bf16_to_f32(((const uint16_t*)B)[ib]) : ((const float*)B)[ib];
          acc += x * y;
        }
        float* o = out + b * M * N + i * N + j;
        *o = alpha * acc + (beta == 0 ? 0 : beta * *o);
      }
  (void)bf16_compute;
}
