// quant_q4_0_avx2.cc — the q4_0 block loader of the AVX2 decode matvec (quant_dot_avx2.h): 16 bytes of nibbles
// become 32 signed bytes (low nibbles are values 0–15, high nibbles 16–31, minus 8).
#include "quant_dot_avx2.h"

namespace zj {

namespace {

struct LoadQ4 {
  static constexpr int64_t bytes = kQ4Bytes;
  static inline __m256i load(const uint8_t* p) {
    const __m128i q = _mm_loadu_si128((const __m128i*)(p + 2)), m = _mm_set1_epi8(15);
    const __m256i nib = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m), _mm_and_si128(q, m));
    return _mm256_sub_epi8(nib, _mm256_set1_epi8(8));
  }
};

}  // namespace

void matvec_q4_0_rows_avx2(int64_t M, int64_t K, int64_t N, const ActRows& a, const uint8_t* W, float* out,
                           int64_t n0, int64_t n1) {
  quant_rows_avx2<LoadQ4>(M, K, N, a, W, out, n0, n1);
}

}  // namespace zj
