// gemm_pack_avx512.cc — AVX-512 packing for the GEMM panels whose generic loops are slow: transposing
// packs (the source is contiguous along k, the panel wants k-major: 16×16 register transposes), bf16
// k-pair packs (vcvtne2ps2bf16 rounds 32 floats at once), and the bf16 rows the AMX kernel takes for A.
// Layouts as in gemm_impl.h. Cases not covered here return false and gemm.cc packs them with its generic loops.
#include <immintrin.h>
#include "../gemm_impl.h"

// GCC 12 reports its own intrinsics' internal placeholder operands (_mm512_undefined_*) as "maybe
// uninitialized" once the transposes are inlined; every value used here is initialised.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace zj {
namespace {

inline __mmask16 lanes16(int64_t n) { return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }
inline __mmask32 lanes32(int64_t n) { return n >= 32 ? (__mmask32)0xffffffffu : n <= 0 ? 0 : (__mmask32)((1u << n) - 1); }

// r[i] lane c  →  r[c] lane i, for 16 vectors of 16 32-bit units (unpack within 128-bit lanes, then two
// rounds of 128-bit lane shuffles).
inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // u[4g + j], 128-bit lane L: column 4L + j of rows 4g..4g+3.
  for (int g = 0; g < 4; g++) {
    r[4 * g] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
    r[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0xee);
    r[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
    r[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xee);
  }
  for (int j = 0; j < 4; j++) {
    __m512 x0 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88), x1 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xdd);
    __m512 y0 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88), y1 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xdd);
    t[j] = _mm512_shuffle_f32x4(x0, y0, 0x88);
    t[8 + j] = _mm512_shuffle_f32x4(x0, y0, 0xdd);
    t[4 + j] = _mm512_shuffle_f32x4(x1, y1, 0x88);
    t[12 + j] = _mm512_shuffle_f32x4(x1, y1, 0xdd);
  }
  for (int i = 0; i < 16; i++) r[i] = t[i];
}

// 16 consecutive 32-bit panel units of source row x, starting at unit u (units beyond `units` are 0):
// f32 values (pairs = false) or bf16 k-pairs (pairs = true), from f32 or bf16 storage.
template <bool src_bf16, bool pairs>
inline __m512 load_units(const void* row, int64_t u, int64_t kc) {
  if constexpr (!pairs) {
    const int64_t left = kc - u;
    if constexpr (src_bf16) {
      __m256i h = _mm256_maskz_loadu_epi16(lanes16(left), (const uint16_t*)row + u);
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    } else {
      return _mm512_maskz_loadu_ps(lanes16(left), (const float*)row + u);
    }
  } else {
    const int64_t k = 2 * u, left = kc - k;  // 16 pairs = 32 k steps
    if constexpr (src_bf16) {
      return _mm512_castsi512_ps(_mm512_maskz_loadu_epi16(lanes32(left), (const uint16_t*)row + k));
    } else {
      const float* s = (const float*)row + k;
      __m512 lo = _mm512_maskz_loadu_ps(lanes16(left), s), hi = _mm512_maskz_loadu_ps(lanes16(left - 16), s + 16);
      // vcvtne2ps2bf16 puts its second operand in the low half: (hi, lo) keeps k order.
      return _mm512_castsi512_ps((__m512i)_mm512_cvtne2ps_pbh(hi, lo));
    }
  }
}

// Source contiguous along k (sk == 1): each group of 16 rows x is loaded 16 units at a time and
// transposed, so the panel's k-major rows come out as whole vectors.
template <bool src_bf16, bool pairs>
void pack_transposing(const void* src, int64_t sx, int w, int64_t kc, int W, void* dst) {
  const size_t esize = src_bf16 ? 2 : 4;
  const int64_t units = pairs ? (kc + 1) / 2 : kc;
  float* d = (float*)dst;  // 32-bit units
  for (int xb = 0; xb < W; xb += 16) {
    const __mmask16 store_mask = lanes16(W - xb);
    for (int64_t u = 0; u < units; u += 16) {
      __m512 r[16];
      for (int i = 0; i < 16; i++) {
        const int x = xb + i;
        r[i] = x < w ? load_units<src_bf16, pairs>((const char*)src + x * sx * esize, u, kc) : _mm512_setzero_ps();
      }
      transpose16(r);
      const int64_t n = units - u < 16 ? units - u : 16;
      for (int c = 0; c < n; c++) _mm512_mask_storeu_ps(d + (u + c) * W + xb, store_mask, r[c]);
    }
  }
}

// Word i of the result takes bf16 i of row k (low half) and bf16 i of row k+1 (high half), for the 16
// panel indices from r0 / r1 (rows k and k+1 of a source contiguous along the panel index); lanes off m
// (m1 for row k+1) are zero.
template <bool src_bf16>
inline __m512i pair_units(const char* r0, const char* r1, __mmask16 m, __mmask16 m1) {
  if constexpr (src_bf16) {
    __m512i a = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, (const uint16_t*)r0));
    __m512i b = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m1, (const uint16_t*)r1));
    return _mm512_or_si512(a, _mm512_slli_epi32(b, 16));
  } else {
    alignas(64) static const uint16_t interleave[32] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23,
                                                        8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
    const __m512i idx = _mm512_load_si512((const void*)interleave);
    __m512 a = _mm512_maskz_loadu_ps(m, (const float*)r0), b = _mm512_maskz_loadu_ps(m1, (const float*)r1);
    return _mm512_permutexvar_epi16(idx, (__m512i)_mm512_cvtne2ps_pbh(b, a));
  }
}

// Source contiguous along the panel index (sx == 1), bf16 pairs: rows k and k+1 interleave word by word.
template <bool src_bf16>
void pack_pairs_rows(const void* src, int64_t sk, int w, int64_t kc, int W, void* dst) {
  const size_t esize = src_bf16 ? 2 : 4;
  uint32_t* d = (uint32_t*)dst;
  const int64_t kp = (kc + 1) / 2;
  for (int64_t p = 0; p < kp; p++) {
    const char* r0 = (const char*)src + 2 * p * sk * esize;
    const char* r1 = r0 + sk * esize;
    const bool has1 = 2 * p + 1 < kc;
    for (int x = 0; x < W; x += 16) {
      const __mmask16 m = lanes16(w - x), m1 = has1 ? m : (__mmask16)0;
      const __m512i v = pair_units<src_bf16>(r0 + x * esize, r1 + x * esize, m, m1);
      _mm512_mask_storeu_epi32(d + p * W + x, lanes16(W - x), v);
    }
  }
}

// AMX A panels (bf16 rows, a[x*kp + k], kp = amx_padded_k(kc)) from a source contiguous along k: a
// straight conversion (f32 → bf16 rounding to nearest even) or copy per row, then zeros to kp.
template <bool src_bf16>
void pack_rows_along_k(const void* src, int64_t sx, int w, int64_t kc, int W, void* dst) {
  const int64_t kp = amx_padded_k(kc);
  uint16_t* d = (uint16_t*)dst;
  for (int x = 0; x < W; x++) {
    uint16_t* o = d + x * kp;
    for (int64_t k = 0; k < kp; k += kAmxK) {
      const int64_t left = x < w ? kc - k : 0;
      __m512i v;
      if constexpr (src_bf16) {
        v = _mm512_maskz_loadu_epi16(lanes32(left), (const uint16_t*)src + x * sx + k);
      } else {
        const float* s = (const float*)src + x * sx + k;
        v = (__m512i)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(lanes16(left - 16), s + 16),
                                         _mm512_maskz_loadu_ps(lanes16(left), s));
      }
      _mm512_storeu_si512((void*)(o + k), v);
    }
  }
}

// The same panels from a source contiguous along the panel index (sx == 1, op(A) transposed): 16 k-pair
// vectors of 16 rows each (as pack_pairs_rows builds them) transposed as 32-bit units give each row 32
// consecutive k steps.
template <bool src_bf16>
void pack_rows_across_k(const void* src, int64_t sk, int w, int64_t kc, int W, void* dst) {
  const size_t esize = src_bf16 ? 2 : 4;
  const int64_t kp = amx_padded_k(kc);
  uint16_t* d = (uint16_t*)dst;
  for (int xb = 0; xb < W; xb += 16) {
    const __mmask16 m = lanes16(w - xb);
    for (int64_t k0 = 0; k0 < kp; k0 += 32) {
      __m512 r[16];
      for (int c = 0; c < 16; c++) {
        const int64_t k = k0 + 2 * c;
        if (k >= kc) {
          r[c] = _mm512_setzero_ps();
          continue;
        }
        const char* r0 = (const char*)src + (k * sk + xb) * esize;
        r[c] = _mm512_castsi512_ps(pair_units<src_bf16>(r0, r0 + sk * esize, m, k + 1 < kc ? m : (__mmask16)0));
      }
      transpose16(r);
      for (int i = 0; i < 16; i++) _mm512_storeu_ps((float*)(d + (xb + i) * kp + k0), r[i]);
    }
  }
}

}  // namespace

bool gemm_pack_avx512(const void* src, bool src_bf16, bool pairs, int64_t sx, int64_t sk, int w, int64_t kc, int W,
                      void* dst) {
  if (sk == 1 && sx != 1) {
    if (pairs) src_bf16 ? pack_transposing<true, true>(src, sx, w, kc, W, dst)
                        : pack_transposing<false, true>(src, sx, w, kc, W, dst);
    else src_bf16 ? pack_transposing<true, false>(src, sx, w, kc, W, dst)
                  : pack_transposing<false, false>(src, sx, w, kc, W, dst);
    return true;
  }
  if (sx == 1 && pairs) {
    src_bf16 ? pack_pairs_rows<true>(src, sk, w, kc, W, dst) : pack_pairs_rows<false>(src, sk, w, kc, W, dst);
    return true;
  }
  return false;  // plain copies along x: the generic loop is already a vectorised copy
}

bool gemm_pack_rows_avx512(const void* src, bool src_bf16, int64_t sx, int64_t sk, int w, int64_t kc, int W,
                           void* dst) {
  if (W % 16) return false;
  if (sk == 1) src_bf16 ? pack_rows_along_k<true>(src, sx, w, kc, W, dst) : pack_rows_along_k<false>(src, sx, w, kc, W, dst);
  else if (sx == 1) src_bf16 ? pack_rows_across_k<true>(src, sk, w, kc, W, dst) : pack_rows_across_k<false>(src, sk, w, kc, W, dst);
  else return false;
  return true;
}

}  // namespace zj
