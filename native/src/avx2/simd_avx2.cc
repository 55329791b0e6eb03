// simd_avx2.cc — the AVX2 + FMA Vec (8 float lanes, maskload tails, and the same exp as AVX-512 with 2^n applied
// as two exponent-field multiplies: no vscalefps here), and through simd_ops.h every op family's hot loops
// compiled for it.
// Compiled with AVX2 flags into its own library; only called after cpu_isa() >= ISA_AVX2.
#include <immintrin.h>
#include <stdint.h>
#include "../kernels_impl.h"

namespace zj {
namespace avx2 {

struct Vec {
  static constexpr int W = 8, MR = 4, NB = 2;  // 8 accumulators + 2 loads + 1 broadcast of 16 registers
  typedef __m256 R;
  static inline __m256i mask(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static inline R load(const float* p) { return _mm256_loadu_ps(p); }
  static inline void store(float* p, R v) { _mm256_storeu_ps(p, v); }
  static inline R load_n(const float* p, int64_t n, float fill) {
    __m256i m = mask(n);
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
  }
  static inline void store_n(float* p, R v, int64_t n) { _mm256_maskstore_ps(p, mask(n), v); }
  static inline R set1(float x) { return _mm256_set1_ps(x); }
  static inline R zero() { return _mm256_setzero_ps(); }
  static inline R add(R a, R b) { return _mm256_add_ps(a, b); }
  static inline R sub(R a, R b) { return _mm256_sub_ps(a, b); }
  static inline R mul(R a, R b) { return _mm256_mul_ps(a, b); }
  static inline R div(R a, R b) { return _mm256_div_ps(a, b); }
  static inline R fma(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
  static inline R max(R a, R b) { return _mm256_max_ps(a, b); }
  static inline R min(R a, R b) { return _mm256_min_ps(a, b); }
  static inline R sqrt(R a) { return _mm256_sqrt_ps(a); }
  static inline float hsum(R a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static inline float hmax(R a) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static inline R neg_abs(R a) { return _mm256_or_ps(a, _mm256_set1_ps(-0.f)); }
  static inline R keep_n(R v, int64_t n, float fill) {
    return _mm256_blendv_ps(_mm256_set1_ps(fill), v, _mm256_castsi256_ps(mask(n)));
  }
  static inline R select_ge0(R x, R a, R b) {
    return _mm256_blendv_ps(b, a, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ));
  }
  // dst[c * ldd + r] = src[r * ld + c] for an 8 x 8 block: unpack pairs of rows, shuffle 2x2 blocks, then swap
  // 128-bit halves (the classic AVX sequence; 256-bit is full speed on every AVX-512 part this runs on).
  static constexpr int TB = 8;
  static inline void transpose_block(const float* src, int64_t ld, float* dst, int64_t ldd) {
    __m256 r[8], t[8], s[8];
    for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(src + i * ld);
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);      // r_i0 r_j0 r_i1 r_j1 | r_i4 r_j4 r_i5 r_j5
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);  // r_i2 r_j2 r_i3 r_j3 | r_i6 ...
    }
    for (int i = 0; i < 8; i += 4) {
      s[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);      // column 0 | 4 of four rows
      s[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);  // column 1 | 5
      s[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
      s[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
    for (int c = 0; c < 4; c++) {
      _mm256_storeu_ps(dst + c * ldd, _mm256_permute2f128_ps(s[c], s[c + 4], 0x20));
      _mm256_storeu_ps(dst + (c + 4) * ldd, _mm256_permute2f128_ps(s[c], s[c + 4], 0x31));
    }
  }
  // See the AVX-512 exp. n in [-150, 129] is split n = n1 + n2 so both 2^n1 and 2^n2 are normal floats; the
  // last multiply rounds once into the denormal range or overflows to inf as the true result would.
  static inline R exp(R x) {
    x = _mm256_max_ps(_mm256_set1_ps(-104.f), x);
    x = _mm256_min_ps(_mm256_set1_ps(89.f), x);
    R n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    R r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.42860682030941723e-6f), r);
    R p = _mm256_set1_ps(1.f / 5040.f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f / 720.f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f / 120.f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f / 24.f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f / 6.f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f));
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i n1 = _mm256_srai_epi32(ni, 1);
    __m256i n2 = _mm256_sub_epi32(ni, n1);
    __m256i bias = _mm256_set1_epi32(127);
    R s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    R s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
  }
};

}  // namespace avx2
}  // namespace zj

#define ZJ_SIMD_NS avx2
#include "../simd_ops.h"

namespace zj {
const SimdOps* simd_ops_avx2() { return &avx2::ops; }
}  // namespace zj
