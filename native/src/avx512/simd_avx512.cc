// simd_avx512.cc — the AVX-512 Vec (16 float lanes, masked tails, and an exp built from range reduction plus a
// polynomial, scaled with vscalefps, which handles overflow and denormals), and through simd_ops.h every op
// family's hot loops compiled for it.
// Compiled with AVX-512 flags into its own library; only called after cpu_isa() == ISA_AVX512.
// GCC 12 warns inside its own AVX-512 headers (_mm512_undefined_ps in the reduce/mask intrinsics).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#include <stdint.h>
#include "../kernels_impl.h"

namespace zj {
namespace avx512 {

struct Vec {
  static constexpr int W = 16, MR = 4, NB = 4;  // micro-GEMM: 4 rows x 4 vectors = 16 accumulators of 32 registers
  typedef __m512 R;
  static inline __mmask16 mask(int64_t n) { return (__mmask16)((1u << n) - 1u); }
  static inline R load(const float* p) { return _mm512_loadu_ps(p); }
  static inline void store(float* p, R v) { _mm512_storeu_ps(p, v); }
  static inline R load_n(const float* p, int64_t n, float fill) {
    return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), mask(n), p);
  }
  static inline void store_n(float* p, R v, int64_t n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  static inline R set1(float x) { return _mm512_set1_ps(x); }
  static inline R zero() { return _mm512_setzero_ps(); }
  static inline R add(R a, R b) { return _mm512_add_ps(a, b); }
  static inline R sub(R a, R b) { return _mm512_sub_ps(a, b); }
  static inline R mul(R a, R b) { return _mm512_mul_ps(a, b); }
  static inline R div(R a, R b) { return _mm512_div_ps(a, b); }
  static inline R fma(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
  static inline R max(R a, R b) { return _mm512_max_ps(a, b); }
  static inline R min(R a, R b) { return _mm512_min_ps(a, b); }
  static inline R sqrt(R a) { return _mm512_sqrt_ps(a); }
  static inline float hsum(R a) { return _mm512_reduce_add_ps(a); }
  static inline float hmax(R a) { return _mm512_reduce_max_ps(a); }
  static inline R neg_abs(R a) { return _mm512_or_ps(a, _mm512_set1_ps(-0.f)); }
  static inline R keep_n(R v, int64_t n, float fill) {
    return _mm512_mask_blend_ps(n <= 0 ? (__mmask16)0 : mask(n), _mm512_set1_ps(fill), v);
  }
  static inline R select_ge0(R x, R a, R b) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GE_OQ), b, a);
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
  // e^x = 2^n e^r with n = round(x / ln2), r = x - n ln2 (ln2 split in two for exactness), |r| <= ln2/2;
  // e^r by its degree-7 Taylor polynomial (truncation < 1e-8 relative). The clamp keeps NaN (max/min return
  // their second operand when unordered) and sends -inf to 0, +inf to inf through vscalefps.
  static inline R exp(R x) {
    x = _mm512_max_ps(_mm512_set1_ps(-104.f), x);
    x = _mm512_min_ps(_mm512_set1_ps(89.f), x);
    R n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    R r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860682030941723e-6f), r);
    R p = _mm512_set1_ps(1.f / 5040.f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 720.f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 120.f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 24.f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 6.f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
    return _mm512_scalef_ps(p, n);
  }
};

}  // namespace avx512
}  // namespace zj

#define ZJ_SIMD_NS avx512
#include "../simd_ops.h"

namespace zj {
const SimdOps* simd_ops_avx512() { return &avx512::ops; }
}  // namespace zj
