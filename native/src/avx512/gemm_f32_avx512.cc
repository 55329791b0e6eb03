// gemm_f32_avx512.cc — the AVX-512 f32 GEMM microkernel: a 14×32 tile of C held in 28 zmm
// accumulators, fed by packed panels (layout in gemm_impl.h). Packing, blocking and threading live
// in gemm.cc; this file is compiled with AVX-512 flags and only called when cpu_isa() says so.
#include <immintrin.h>
#include "../gemm_impl.h"
#include "gemm_store_avx512.h"

namespace zj {
namespace {

constexpr int MR = kAvx512F32Mr;
constexpr int NR = kAvx512F32Nr;

// Zen 4 runs one 512-bit FMA per cycle with 4-cycle latency, so 28 independent accumulators leave
// plenty of slack; per k step the kernel loads 2 vectors of B and 14 broadcasts of A (load ports
// are far from saturated) for 28 FMAs.
#define ZJ_STEP(K_OFF)                                                    \
  do {                                                                    \
    const __m512 b0 = _mm512_load_ps(b + (K_OFF) * NR);                   \
    const __m512 b1 = _mm512_load_ps(b + (K_OFF) * NR + 16);              \
    _Pragma("GCC unroll 14") for (int r = 0; r < MR; r++) {               \
      const __m512 av = _mm512_set1_ps(a[(K_OFF) * MR + r]);              \
      acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);                     \
      acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);                     \
    }                                                                     \
  } while (0)

}  // namespace

void gemm_f32_avx512(int64_t kc, const void* a_, const void* b_, float* c, int64_t ldc, int m, int n, float alpha,
                     float beta) {
  const float* a = (const float*)a_;
  const float* b = (const float*)b_;
  __m512 acc[MR][2];
#pragma GCC unroll 14
  for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  // Touch the C tile early so its lines arrive while the k loop runs.
  for (int r = 0; r < m; r++) {
    _mm_prefetch((const char*)(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch((const char*)(c + r * ldc + 16), _MM_HINT_T0);
  }
  int64_t k = 0;
  for (; k + 4 <= kc; k += 4) {
    // B streams from L2: ask for the panel 8 steps (1 KiB) ahead.
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
  for (; k < kc; k++) {
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
