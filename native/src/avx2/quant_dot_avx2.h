// quant_dot_avx2.h — the AVX2 decode matvec shared by q8_0 and q4_0 (also the path of AVX-512 CPUs without VNNI):
// one weight block per ymm as signed int8; maddubs multiplies unsigned by signed bytes, so the sign of each weight
// moves onto x (|w| · sign(x, w)), then pairs of int16 are summed into int32 lanes and scaled by d_w · d_x.
// A format supplies only its block loader (quant_q8_0_avx2.cc, quant_q4_0_avx2.cc).
#pragma once
#include <immintrin.h>
#include "../quant_impl.h"

namespace zj {

inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <class L, int MB>
inline void quant_row_mb_avx2(int64_t K, int64_t N, const ActRows& a, const uint8_t* row, float* out, int64_t n,
                              int64_t m0) {
  const int64_t nb = K / kQk;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[MB];
  for (int i = 0; i < MB; i++) acc[i] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t* p = row + b * L::bytes;
    const __m256i w = L::load(p);
    const __m256i aw = _mm256_sign_epi8(w, w);  // |w| as unsigned bytes (−128 gives 128)
    const float dw = f16_to_f32(load_u16(p));
    for (int i = 0; i < MB; i++) {
      const int64_t m = m0 + i;
      const __m256i x = _mm256_loadu_si256((const __m256i*)(a.q + m * K + b * kQk));
      const __m256i s16 = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(x, w));  // |pairs| <= 2·128·127: no saturation
      const __m256i s32 = _mm256_madd_epi16(s16, ones);
      acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s32), _mm256_set1_ps(dw * a.d[m * nb + b]), acc[i]);
    }
  }
  for (int i = 0; i < MB; i++) out[(m0 + i) * N + n] = hsum8(acc[i]);
}

template <class L>
void quant_rows_avx2(int64_t M, int64_t K, int64_t N, const ActRows& a, const uint8_t* W, float* out, int64_t n0,
                     int64_t n1) {
  const int64_t rb = K / kQk * L::bytes;
  for (int64_t n = n0; n < n1; n++) {
    const uint8_t* row = W + n * rb;
    for (int64_t m0 = 0; m0 < M; m0 += 4) {
      switch (M - m0 < 4 ? M - m0 : 4) {
        case 1: quant_row_mb_avx2<L, 1>(K, N, a, row, out, n, m0); break;
        case 2: quant_row_mb_avx2<L, 2>(K, N, a, row, out, n, m0); break;
        case 3: quant_row_mb_avx2<L, 3>(K, N, a, row, out, n, m0); break;
        default: quant_row_mb_avx2<L, 4>(K, N, a, row, out, n, m0); break;
      }
    }
  }
}

}  // namespace zj
