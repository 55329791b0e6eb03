// quant_q8_0_avx512.cc — q8_0 with AVX-512: the activation quantizer of the decode matvec (16 lanes, round half to
// even, the values of quantize_act_scalar but stored + 128 as unsigned bytes, the operand vpdpbusd wants) and the q8_0 weight-row loader for the VNNI matvec
// (quant_dot_avx512.h), and the weight quantizer (llama.cpp's reference rules, byte-identical to
// quantize_blocks_q8_0). Only called when cpu_has_avx512vnni().
// GCC 12 warns inside its own AVX-512 headers (_mm512_undefined_* in the conversion intrinsics), as in simd_avx512.cc.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
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

// 16 f32 values from f32 or bf16 storage.
inline __m512 load16(const void* src, int src_bf16, int64_t i) {
  if (src_bf16)
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i*)((const uint16_t*)src + i))), 16));
  return _mm512_loadu_ps((const float*)src + i);
}

// roundf(x·id) clamped to ±127, NaN → 0, as int8: exact, since t − trunc(t) is exact.
inline __m128i round_away16(__m512 v, __m512 id) {
  __m512 t = _mm512_mul_ps(v, id);
  const __mmask16 ordered = _mm512_cmp_ps_mask(t, t, _CMP_ORD_Q);
  t = _mm512_maskz_mov_ps(ordered, _mm512_min_ps(_mm512_max_ps(t, _mm512_set1_ps(-127.0f)), _mm512_set1_ps(127.0f)));
  const __m512 tr = _mm512_roundscale_ps(t, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m512 r = _mm512_sub_ps(t, tr);
  __m512 q = _mm512_mask_add_ps(tr, _mm512_cmp_ps_mask(r, _mm512_set1_ps(0.5f), _CMP_GE_OQ), tr, _mm512_set1_ps(1.0f));
  q = _mm512_mask_sub_ps(q, _mm512_cmp_ps_mask(r, _mm512_set1_ps(-0.5f), _CMP_LE_OQ), q, _mm512_set1_ps(1.0f));
  return _mm512_cvtsepi32_epi8(_mm512_cvttps_epi32(q));
}

void quantize_blocks_q8_0_avx512(const void* src, int src_bf16, int64_t blocks, uint8_t* out) {
  for (int64_t b = 0; b < blocks; b++, out += kQ8Bytes) {
    const __m512 v0 = load16(src, src_bf16, b * kQk), v1 = load16(src, src_bf16, b * kQk + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const float d = amax / 127.0f;
    const __m512 id = _mm512_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
    const uint16_t h = f32_to_f16(d);
    out[0] = (uint8_t)h, out[1] = (uint8_t)(h >> 8);
    _mm_storeu_si128((__m128i*)(out + 2), round_away16(v0, id));
    _mm_storeu_si128((__m128i*)(out + 18), round_away16(v1, id));
  }
}

// Whole blocks with 16-lane converts (d · q is exact in f32, so the values equal the scalar ones); the partial
// blocks at either end of [c0, c1) go to the scalar code.
void dequant_range_q8_0_avx512(const uint8_t* row, int64_t c0, int64_t c1, float* dst) {
  const int64_t b0 = (c0 + kQk - 1) / kQk, b1 = c1 / kQk;
  if (b0 >= b1) return dequant_range_q8_0(row, c0, c1, dst);
  if (c0 < b0 * kQk) dequant_range_q8_0(row, c0, b0 * kQk, dst);
  for (int64_t b = b0; b < b1; b++) {
    const uint8_t* p = row + b * kQ8Bytes;
    const __m512 d = _mm512_set1_ps(f16_to_f32(load_u16(p)));
    float* o = dst + b * kQk - c0;
    _mm512_storeu_ps(o, _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)(p + 2))))));
    _mm512_storeu_ps(o + 16, _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)(p + 18))))));
  }
  if (b1 * kQk < c1) dequant_range_q8_0(row, b1 * kQk, c1, dst + b1 * kQk - c0);
}

void matvec_q8_0_rows_avx512(int64_t M, int64_t K, int64_t N, const ActRows& a, const uint8_t* W, float* out,
                             int64_t n0, int64_t n1) {
  quant_rows<LoadQ8>(M, K, N, a, W, out, n0, n1);
}

}  // namespace zj
