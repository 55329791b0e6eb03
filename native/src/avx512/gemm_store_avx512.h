// gemm_store_avx512.h — how the 32-column GEMM microkernels (AVX-512 f32 and BF16, AMX BF16) write their tile into
// C: c = alpha·acc + beta·c over the n valid columns of a row, beta == 0 never reading c (it may hold NaN).
// Include from files compiled with AVX-512 flags.
#pragma once
#include <immintrin.h>

namespace zj {

// The lanes of a 32-column tile's two 16-column halves that lie within its first n columns.
struct Cols32 {
  __mmask16 lo, hi;
  explicit Cols32(int n)
      : lo(n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1)),
        hi(n >= 32 ? (__mmask16)0xffff : n <= 16 ? (__mmask16)0 : (__mmask16)((1u << (n - 16)) - 1)) {}
};

// Row cr of C from the row's two accumulator halves; va / vb are alpha / beta broadcast.
inline void store_row32(float* cr, __m512 acc0, __m512 acc1, const Cols32& cols, __m512 va, __m512 vb, float beta) {
  __m512 v0 = _mm512_mul_ps(va, acc0);
  __m512 v1 = _mm512_mul_ps(va, acc1);
  if (beta != 0.0f) {
    v0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(cols.lo, cr), v0);
    v1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(cols.hi, cr + 16), v1);
  }
  _mm512_mask_storeu_ps(cr, cols.lo, v0);
  _mm512_mask_storeu_ps(cr + 16, cols.hi, v1);
}

}  // namespace zj
