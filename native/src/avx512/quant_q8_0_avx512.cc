// quant_q8_0_avx512.cc — q8_0 with AVX-512: the activation quantizer of the decode matvec (16 lanes, round half to
// even, the values of quantize_act_scalar but stored + 128 as unsigned bytes, the operand vpdpbusd wants) and the q8_0 weight-row loader for the VNNI matvec
// (quant_dot_avx512.h). Only called when cpu_has_avx512vnni().
#pragma GCC target("avx512vnni")
#include "quant_dot_avx512.h"

namespace zj {

namespace {

struct LoadQ8 {
  static constexpr int64_t bytes = kQ8Bytes;
  static inline __m512i load2(const uint8_t* p) {
    const __m256i lo = _mm256_loadu_si256((const __m256i*)(p + 2));
    const __m256i hi = _mm256_loadu_si256((const __m256i*)(p + bytes + 2));
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
  }
  static inline __m512i load1(const uint8_t* p) {
    return _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i*)(p + 2)));
  }
};

// 16 values of x·id: clamped to ±127, NaN → 0, rounded half to even, as int8 + 128.
inline __m128i quantize16(__m512 v, __m512 id) {
  __m512 t = _mm512_mul_ps(v, id);
  const __mmask16 ordered = _mm512_cmp_ps_mask(t, t, _CMP_ORD_Q);
  t = _mm512_min_ps(_mm512_max_ps(t, _mm512_set1_ps(-127.0f)), _mm512_set1_ps(127.0f));
  t = _mm512_maskz_mov_ps(ordered, t);
  const __m128i q = _mm512_cvtsepi32_epi8(_mm512_cvt_roundps_epi32(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  return _mm_xor_si128(q, _mm_set1_epi8((char)0x80));
}

}  // namespace

void quantize_act_avx512(const float* x, int64_t blocks, int8_t* q, float* d) {
  for (int64_t b = 0; b < blocks; b++, x += kQk, q += kQk) {
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const float db = amax / 127.0f;
    const __m512 id = _mm512_set1_ps(db != 0.0f ? 1.0f / db : 0.0f);
    d[b] = db;
    _mm_storeu_si128((__m128i*)q, quantize16(v0, id));
    _mm_storeu_si128((__m128i*)(q + 16), quantize16(v1, id));
  }
}

void matvec_q8_0_rows_avx512(int64_t M, int64_t K, int64_t N, const ActRows& a, const uint8_t* W, float* out,
                             int64_t n0, int64_t n1) {
  quant_rows<LoadQ8>(M, K, N, a, W, out, n0, n1);
}

}  // namespace zj
