// matvec_avx2.cc — zj_matvec rows with 8-lane FMAs (AVX2 machines); the tail is summed in scalar.
#include <immintrin.h>
#include <cstdint>
#include "../convert.h"
#include "../matvec_impl.h"

namespace zj {

static inline __m256 load_w8(const void* W, int w_bf16, int64_t off) {
  if (w_bf16) {
    __m128i h = _mm_loadu_si128((const __m128i*)((const uint16_t*)W + off));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  return _mm256_loadu_ps((const float*)W + off);
}

static inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

void matvec_rows_avx2(int64_t M, int64_t K, int64_t N, const float* x, const void* W, int w_bf16, float* out,
                      int64_t n0, int64_t n1) {
  for (int64_t m0 = 0; m0 < M; m0 += 4) {
    const int64_t mb = M - m0 < 4 ? M - m0 : 4;
    for (int64_t n = n0; n < n1; n++) {
      __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
      const int64_t row = n * K;
      int64_t k = 0;
      for (; k + 8 <= K; k += 8) {
        __m256 w = load_w8(W, w_bf16, row + k);
        for (int64_t i = 0; i < mb; i++) acc[i] = _mm256_fmadd_ps(_mm256_loadu_ps(x + (m0 + i) * K + k), w, acc[i]);
      }
      for (int64_t i = 0; i < mb; i++) {
        float s = hsum8(acc[i]);
        for (int64_t kk = k; kk < K; kk++) {
          float w = w_bf16 ? bf16_to_f32(((const uint16_t*)W)[row + kk]) : ((const float*)W)[row + kk];
          s += x[(m0 + i) * K + kk] * w;
        }
        out[(m0 + i) * N + n] = s;
      }
    }
  }
}

}  // namespace zj
