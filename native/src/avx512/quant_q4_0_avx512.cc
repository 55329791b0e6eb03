// quant_q4_0_avx512.cc — the q4_0 weight-row loader for the AVX-512 VNNI decode matvec (quant_dot_avx512.h): two
// blocks' 16 bytes of nibbles become 64 signed bytes (low nibbles are values 0–15 of a block, high nibbles 16–31,
// minus 8). Only called when cpu_has_avx512vnni().
#pragma GCC target("avx512vnni")
#include "quant_dot_avx512.h"

namespace zj {

namespace {

struct LoadQ4 {
  static constexpr int64_t bytes = kQ4Bytes;
  // [qs0, qs0, qs1, qs1] per 128-bit lane, shifted right by 0 / 4 / 0 / 4, masked to nibbles, minus 8
  static inline __m512i expand(__m512i z) {
    const __m512i shifts = _mm512_set_epi64(4 * 0x0001000100010001ll, 4 * 0x0001000100010001ll, 0, 0,
                                            4 * 0x0001000100010001ll, 4 * 0x0001000100010001ll, 0, 0);
    const __m512i nib = _mm512_and_si512(_mm512_srlv_epi16(z, shifts), _mm512_set1_epi8(15));
    return _mm512_sub_epi8(nib, _mm512_set1_epi8(8));
  }
  static inline __m512i load2(const uint8_t* p) {
    const __m128i q0 = _mm_loadu_si128((const __m128i*)(p + 2));
    const __m128i q1 = _mm_loadu_si128((const __m128i*)(p + bytes + 2));
    const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set_m128i(q0, q0)), _mm256_set_m128i(q1, q1), 1);
    return expand(z);
  }
  static inline __m512i load1(const uint8_t* p) {
    const __m128i q0 = _mm_loadu_si128((const __m128i*)(p + 2));
    return _mm512_maskz_mov_epi8(0x00000000ffffffffull, expand(_mm512_castsi256_si512(_mm256_set_m128i(q0, q0))));
  }
};

}  // namespace

void matvec_q4_0_rows_avx512(int64_t M, int64_t K, int64_t N, const ActRows& a, const uint8_t* W, float* out,
                             int64_t n0, int64_t n1) {
  quant_rows<LoadQ4>(M, K, N, a, W, out, n0, n1);
}

}  // namespace zj
