// gemm_bf16_avx512.cc — the AVX512-BF16 GEMM microkernel: vdpbf16ps over k-pairs, a 14×32 tile of C
// in 28 zmm f32 accumulators, fed by bf16-pair panels (layout in gemm_impl.h). Only called when
// cpu_has_avx512bf16(). Note vdpbf16ps flushes bf16 denormal inputs and f32 denormal results to zero.
#include <immintrin.h>
#include "../gemm_impl.h"
#include "gemm_store_avx512.h"

namespace zj {
namespace {

constexpr int MR = kAvx512Bf16Mr;
constexpr int NR = kAvx512Bf16Nr;

// One step = one k-pair: each 32-bit lane of b holds (B[k][j], B[k+1][j]); the broadcast A word holds
// (A[i][k], A[i][k+1]); vdpbf16ps adds both products to the f32 lane. a and b are uint32 pairs.
#define ZJ_STEP(P_OFF)                                                                   \
  do {                                                                                   \
    const __m512bh b0 = (__m512bh)_mm512_load_si512((const void*)(b + (P_OFF) * NR));    \
    const __m512bh b1 = (__m512bh)_mm512_load_si512((const void*)(b + (P_OFF) * NR + 16)); \
    _Pragma("GCC unroll 14") for (int r = 0; r < MR; r++) {                              \
      const __m512bh av = (__m512bh)_mm512_set1_epi32((int)a[(P_OFF) * MR + r]);        \
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, b0);                                   \
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, b1);                                   \
    }                                                                                    \
  } while (0)

}  // namespace

void gemm_bf16_avx512(int64_t kc, const void* a_, const void* b_, float* c, int64_t ldc, int m, int n, float alpha,
                      float beta) {
  const uint32_t* a = (const uint32_t*)a_;
  const uint32_t* b = (const uint32_t*)b_;
  const int64_t kp = (kc + 1) / 2;
  __m512 acc[MR][2];
#pragma GCC unroll 14
  for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int r = 0; r < m; r++) {
    _mm_prefetch((const char*)(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch((const char*)(c + r * ldc + 16), _MM_HINT_T0);
  }
  int64_t p = 0;
  for (; p + 4 <= kp; p += 4) {
    _mm_prefetch((const char*)(b + 8 * NR), _MM_HINT_T0);
    _mm_prefetch((const char*)(b + 8 * NR + 16), _MM_HINT_T0);
    _mm_prefetch((const char*)(b + 10 * NR), _MM_HINT_T0);
    _mm_prefetch((const char*)(b + 10 * NR + 16), _MM_HINT_T0);
    ZJ_STEP(0);
    ZJ_STEP(1);
    ZJ_STEP(2);
    ZJ_STEP(3);
    a += 4 * MR;
    b += 4 * NR;
  }
  for (; p < kp; p++) {
    ZJ_STEP(0);
    a += MR;
    b += NR;
  }

  const Cols32 cols(n);
  const __m512 va = _mm512_set1_ps(alpha);
  const __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 14
  for (int r = 0; r < MR; r++) {
    if (r >= m) break;
    store_row32(c + r * ldc, acc[r][0], acc[r][1], cols, va, vb, beta);
  }
}

}  // namespace zj
