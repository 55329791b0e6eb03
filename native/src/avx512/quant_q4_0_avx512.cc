// quant_q4_0_avx512.cc — the q4_0 weight-row loader for the AVX-512 VNNI decode matvec (quant_dot_avx512.h): two
// blocks' 16 bytes of nibbles become 64 signed bytes (low nibbles are values 0–15 of a block, high nibbles 16–31,
// minus 8), and the q4_0 weight quantizer (llama.cpp's reference rules, byte-identical to quantize_blocks_q4_0).
// Only called when cpu_has_avx512vnni().
// GCC 12 warns inside its own AVX-512 headers (_mm512_undefined_* in the conversion intrinsics), as in simd_avx512.cc.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
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

inline __m512 load16(const void* src, int src_bf16, int64_t i) {
  if (src_bf16)
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i*)((const uint16_t*)src + i))), 16));
  return _mm512_loadu_ps((const float*)src + i);
}

// (int8)(x·id + 8.5) clamped to [0, 15], NaN → 8, as int32 lanes. The product and the sum stay two roundings.
inline __m512i nibbles16(__m512 v, __m512 id) {
  const __m512 t = _mm512_add_ps(_mm512_mul_ps(v, id), _mm512_set1_ps(8.5f));
  const __mmask16 ordered = _mm512_cmp_ps_mask(t, t, _CMP_ORD_Q);
  const __m512 c = _mm512_min_ps(_mm512_max_ps(t, _mm512_setzero_ps()), _mm512_set1_ps(15.0f));
  return _mm512_mask_mov_epi32(_mm512_set1_epi32(8), ordered, _mm512_cvttps_epi32(c));
}

void quantize_blocks_q4_0_avx512(const void* src, int src_bf16, int64_t blocks, uint8_t* out) {
  for (int64_t b = 0; b < blocks; b++, out += kQ4Bytes) {
    const __m512 v0 = load16(src, src_bf16, b * kQk), v1 = load16(src, src_bf16, b * kQk + 16);
    const __m512 a0 = _mm512_abs_ps(v0), a1 = _mm512_abs_ps(v1);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(a0, a1));
    // the first value whose magnitude is amax (the scalar loop keeps the first on ties)
    const uint32_t hit = (uint32_t)_mm512_cmp_ps_mask(a0, _mm512_set1_ps(amax), _CMP_EQ_OQ) |
                         ((uint32_t)_mm512_cmp_ps_mask(a1, _mm512_set1_ps(amax), _CMP_EQ_OQ) << 16);
    float max = 0.0f;
    if (amax != 0.0f && hit) {
      alignas(64) float x[32];
      _mm512_store_ps(x, v0), _mm512_store_ps(x + 16, v1);
      max = x[__builtin_ctz(hit)];
    }
    const float d = max / -8.0f;
    const __m512 id = _mm512_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
    const uint16_t h = f32_to_f16(d);
    out[0] = (uint8_t)h, out[1] = (uint8_t)(h >> 8);
    const __m512i q = _mm512_or_si512(nibbles16(v0, id), _mm512_slli_epi32(nibbles16(v1, id), 4));
    _mm_storeu_si128((__m128i*)(out + 2), _mm512_cvtepi32_epi8(q));
  }
}

// Whole blocks with 16-lane converts (values equal the scalar ones); partial end blocks go to the scalar code.
void dequant_range_q4_0_avx512(const uint8_t* row, int64_t c0, int64_t c1, float* dst) {
  const int64_t b0 = (c0 + kQk - 1) / kQk, b1 = c1 / kQk;
  if (b0 >= b1) return dequant_range_q4_0(row, c0, c1, dst);
  if (c0 < b0 * kQk) dequant_range_q4_0(row, c0, b0 * kQk, dst);
  const __m128i m = _mm_set1_epi8(15), eight = _mm_set1_epi8(8);
  for (int64_t b = b0; b < b1; b++) {
    const uint8_t* p = row + b * kQ4Bytes;
    const __m512 d = _mm512_set1_ps(f16_to_f32(load_u16(p)));
    const __m128i q = _mm_loadu_si128((const __m128i*)(p + 2));
    const __m128i lo = _mm_sub_epi8(_mm_and_si128(q, m), eight), hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(q, 4), m), eight);
    float* o = dst + b * kQk - c0;
    _mm512_storeu_ps(o, _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(lo))));
    _mm512_storeu_ps(o + 16, _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(hi))));
  }
  if (b1 * kQk < c1) dequant_range_q4_0(row, b1 * kQk, c1, dst + b1 * kQk - c0);
}

void matvec_q4_0_rows_avx512(int64_t M, int64_t K, int64_t N, const ActRows& a, const uint8_t* W, float* out,
                             int64_t n0, int64_t n1) {
  quant_rows<LoadQ4>(M, K, N, a, W, out, n0, n1);
}

}  // namespace zj
