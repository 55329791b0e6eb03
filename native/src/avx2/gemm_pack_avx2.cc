// gemm_pack_avx2.cc — AVX2 packing for the f32 GEMM panels whose source is contiguous along k (op(A)
// stored M×K, op(B) stored N×K): 8×8 register transposes instead of one strided store per element.
// Layout as in gemm_impl.h; other cases return false and gemm.cc packs them with its generic loops.
#include <immintrin.h>
#include <cstring>
#include "../gemm_impl.h"

namespace zj {
namespace {

// r[i] lane c → r[c] lane i for 8 vectors of 8 floats.
inline void transpose8(__m256 r[8]) {
  __m256 t[8], s[8];
  for (int i = 0; i < 4; i++) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // s[4h + j], 128-bit lane L: column 4L + j of rows 4h..4h+3.
  for (int h = 0; h < 2; h++) {
    s[4 * h] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0x44);
    s[4 * h + 1] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0xee);
    s[4 * h + 2] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0x44);
    s[4 * h + 3] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0xee);
  }
  for (int j = 0; j < 4; j++) {
    r[j] = _mm256_permute2f128_ps(s[j], s[4 + j], 0x20);
    r[4 + j] = _mm256_permute2f128_ps(s[j], s[4 + j], 0x31);
  }
}

// 8 floats of row `row` from step k; steps at or past kc read as 0 (copied through a small buffer, as
// AVX2 has no masked 16-bit load).
template <bool src_bf16>
inline __m256 load8(const void* row, int64_t k, int64_t kc) {
  const int64_t n = kc - k;
  if constexpr (src_bf16) {
    const uint16_t* p = (const uint16_t*)row + k;
    alignas(16) uint16_t tmp[8] = {};
    if (n < 8) std::memcpy(tmp, p, (size_t)n * 2), p = tmp;
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
  } else {
    const float* p = (const float*)row + k;
    alignas(32) float tmp[8] = {};
    if (n < 8) std::memcpy(tmp, p, (size_t)n * 4), p = tmp;
    return _mm256_loadu_ps(p);
  }
}

template <bool src_bf16>
void pack_transposing(const void* src, int64_t sx, int w, int64_t kc, int W, float* d) {
  const size_t esize = src_bf16 ? 2 : 4;
  for (int xb = 0; xb < W; xb += 8) {
    const int lanes = W - xb < 8 ? W - xb : 8;
    // maskstore writes lane i where bit 31 of mask lane i is set.
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (int64_t k = 0; k < kc; k += 8) {
      __m256 r[8];
      for (int i = 0; i < 8; i++)
        r[i] = xb + i < w ? load8<src_bf16>((const char*)src + (xb + i) * sx * esize, k, kc) : _mm256_setzero_ps();
      transpose8(r);
      const int64_t n = kc - k < 8 ? kc - k : 8;
      for (int c = 0; c < n; c++) {
        if (lanes == 8) _mm256_storeu_ps(d + (k + c) * W + xb, r[c]);
        else _mm256_maskstore_ps(d + (k + c) * W + xb, mask, r[c]);
      }
    }
  }
}

}  // namespace

bool gemm_pack_avx2(const void* src, bool src_bf16, int64_t sx, int64_t sk, int w, int64_t kc, int W, void* dst) {
  if (sk != 1 || sx == 1) return false;  // copies along x: the generic loop is already vectorised
  if (src_bf16) pack_transposing<true>(src, sx, w, kc, W, (float*)dst);
  else pack_transposing<false>(src, sx, w, kc, W, (float*)dst);
  return true;
}

}  // namespace zj
