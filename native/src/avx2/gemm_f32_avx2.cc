// gemm_f32_avx2.cc — the AVX2 + FMA f32 GEMM microkernel: a 6×16 tile of C in 12 ymm accumulators
// (two ymm of B and one broadcast leave 1 of the 16 registers spare). Packed panels as in gemm_impl.h.
// Used when the CPU lacks AVX-512 or ZJ_ISA=avx2; bf16 compute arrives here as pre-rounded f32.
#include <immintrin.h>
#include "../gemm_impl.h"

namespace zj {
namespace {

constexpr int MR = kAvx2F32Mr;
constexpr int NR = kAvx2F32Nr;

#define ZJ_STEP(K_OFF)                                                  \
  do {                                                                  \
    const __m256 b0 = _mm256_load_ps(b + (K_OFF) * NR);                 \
    const __m256 b1 = _mm256_load_ps(b + (K_OFF) * NR + 8);             \
    _Pragma("GCC unroll 6") for (int r = 0; r < MR; r++) {              \
      const __m256 av = _mm256_broadcast_ss(a + (K_OFF) * MR + r);      \
      acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);                   \
      acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);                   \
    }                                                                   \
  } while (0)

}  // namespace

void gemm_f32_avx2(int64_t kc, const void* a_, const void* b_, float* c, int64_t ldc, int m, int n, float alpha,
                   float beta) {
  const float* a = (const float*)a_;
  const float* b = (const float*)b_;
  __m256 acc[MR][2];
#pragma GCC unroll 6
  for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 4 <= kc; k += 4) {
    _mm_prefetch((const char*)(b + 16 * NR), _MM_HINT_T0);
    _mm_prefetch((const char*)(b + 18 * NR), _MM_HINT_T0);
    ZJ_STEP(0);
    ZJ_STEP(1);
    ZJ_STEP(2);
    ZJ_STEP(3);
    a += 4 * MR;
    b += 4 * NR;
  }
  for (; k < kc; k++) {
    ZJ_STEP(0);
    a += MR;
    b += NR;
  }

  const __m256 va = _mm256_set1_ps(alpha);
  const __m256 vb = _mm256_set1_ps(beta);
  if (m == MR && n == NR) {
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
      float* cr = c + r * ldc;
      __m256 v0 = _mm256_mul_ps(va, acc[r][0]);
      __m256 v1 = _mm256_mul_ps(va, acc[r][1]);
      if (beta != 0.0f) {
        v0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr), v0);
        v1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr + 8), v1);
      }
      _mm256_storeu_ps(cr, v0);
      _mm256_storeu_ps(cr + 8, v1);
    }
    return;
  }
  // Edge tile: spill to a local tile and merge the m×n corner element by element.
  alignas(32) float tile[MR][NR];
#pragma GCC unroll 6
  for (int r = 0; r < MR; r++) {
    _mm256_store_ps(tile[r], _mm256_mul_ps(va, acc[r][0]));
    _mm256_store_ps(tile[r] + 8, _mm256_mul_ps(va, acc[r][1]));
  }
  for (int r = 0; r < m; r++)
    for (int j = 0; j < n; j++) c[r * ldc + j] = beta != 0.0f ? tile[r][j] + beta * c[r * ldc + j] : tile[r][j];
}

}  // namespace zj
