// quant_q8_0_avx2.cc — q8_0 with AVX2: the activation quantizer of the decode matvec (8 lanes, round half to even,
// byte-identical to quantize_act_scalar) and the q8_0 block loader of the AVX2 matvec (quant_dot_avx2.h).
#include "quant_dot_avx2.h"

namespace zj {

namespace {

struct LoadQ8 {
  static constexpr int64_t bytes = kQ8Bytes;
  static inline __m256i load(const uint8_t* p) { return _mm256_loadu_si256((const __m256i*)(p + 2)); }
};

// 8 values of x·id: clamped to ±127, NaN → 0, rounded half to even.
inline __m256i quantize8(__m256 v, __m256 id) {
  __m256 t = _mm256_mul_ps(v, id);
  const __m256 ordered = _mm256_cmp_ps(t, t, _CMP_ORD_Q);
  t = _mm256_min_ps(_mm256_max_ps(t, _mm256_set1_ps(-127.0f)), _mm256_set1_ps(127.0f));
  t = _mm256_and_ps(t, ordered);
  return _mm256_cvtps_epi32(_mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

}  // namespace

void quantize_act_avx2(const float* x, int64_t blocks, int8_t* q, float* d) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t b = 0; b < blocks; b++, x += kQk, q += kQk) {
    __m256 v[4], m = _mm256_setzero_ps();
    for (int i = 0; i < 4; i++) {
      v[i] = _mm256_loadu_ps(x + 8 * i);
      m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[i]));
    }
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    const float db = _mm_cvtss_f32(h) / 127.0f;
    const __m256 id = _mm256_set1_ps(db != 0.0f ? 1.0f / db : 0.0f);
    d[b] = db;
    const __m256i i0 = quantize8(v[0], id), i1 = quantize8(v[1], id), i2 = quantize8(v[2], id), i3 = quantize8(v[3], id);
    // packs work within 128-bit lanes; the permute puts the four groups of 8 back in order
    const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    _mm256_storeu_si256((__m256i*)q, _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
  }
}

void matvec_q8_0_rows_avx2(int64_t M, int64_t K, int64_t N, const ActRows& a, const uint8_t* W, float* out,
                           int64_t n0, int64_t n1) {
  quant_rows_avx2<LoadQ8>(M, K, N, a, W, out, n0, n1);
}

}  // namespace zj
