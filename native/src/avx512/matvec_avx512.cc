// matvec_avx512.cc — zj_matvec rows with 16-lane FMAs: one pass over each weight row, up to 8 rows of x at once.
// GCC 12 warns inside its own AVX-512 headers (_mm512_undefined_* in the conversion intrinsics), as in simd_avx512.cc.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#include <cstdint>
#include "../matvec_impl.h"

namespace zj {

static inline __m512 load_w(const void* W, int w_bf16, int64_t off) {
  if (w_bf16) {
    __m256i h = _mm256_loadu_si256((const __m256i*)((const uint16_t*)W + off));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  return _mm512_loadu_ps((const float*)W + off);
}

static inline __m512 load_w_tail(const void* W, int w_bf16, int64_t off, __mmask16 mask) {
  if (w_bf16) {
    __m256i h = _mm256_maskz_loadu_epi16(mask, (const uint16_t*)W + off);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  return _mm512_maskz_loadu_ps(mask, (const float*)W + off);
}

void matvec_rows_avx512(int64_t M, int64_t K, int64_t N, const float* x, const void* W, int w_bf16, float* out,
                        int64_t n0, int64_t n1) {
  for (int64_t m0 = 0; m0 < M; m0 += 8) {
    const int64_t mb = M - m0 < 8 ? M - m0 : 8;
    for (int64_t n = n0; n < n1; n++) {
      __m512 acc[8];
      for (int i = 0; i < 8; i++) acc[i] = _mm512_setzero_ps();
      const int64_t row = n * K;
      int64_t k = 0;
      for (; k + 16 <= K; k += 16) {
        __m512 w = load_w(W, w_bf16, row + k);
        for (int64_t i = 0; i < mb; i++) acc[i] = _mm512_fmadd_ps(_mm512_loadu_ps(x + (m0 + i) * K + k), w, acc[i]);
      }
      if (k < K) {
        __mmask16 mask = (__mmask16)((1u << (K - k)) - 1);
        __m512 w = load_w_tail(W, w_bf16, row + k, mask);
        for (int64_t i = 0; i < mb; i++) acc[i] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, x + (m0 + i) * K + k), w, acc[i]);
      }
      for (int64_t i = 0; i < mb; i++) out[(m0 + i) * N + n] = _mm512_reduce_add_ps(acc[i]);
    }
  }
}

}  // namespace zj
