// quant_row1_avx512.cc — the batch-1 decode matvec of q4_0 with AVX-512 VNNI (layout: quant_row1.h). Per weight
// row: the f16 scales of 16 blocks become one vector of d_w · d_x, spread to the lanes by a permute; per 4 blocks
// (128 weights) the nibbles are masked out as they are (unsigned, w + 8) and two vpdpbusd take them with x's signed
// bytes, seeded by x's bias correction (computed once per call, not once per weight pair), then a convert and one
// FMA. Exact int32 partial sums as every other path; only the f32 order differs from the reference.
// GCC 12 warns inside its own AVX-512 headers (_mm512_undefined_* in the conversion intrinsics), as in simd_avx512.cc.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC target("avx512vnni")
#include <immintrin.h>
#include <algorithm>
#include <vector>
#include "../quant_impl.h"
#include "../quant_row1.h"

namespace zj {

namespace {

// Software prefetch distance along the weights (a decode step streams them all from DRAM once; rows are contiguous,
// so this runs ahead across row boundaries too).
constexpr int kPf = 2048;

// 16 values of x·id clamped to ±127, NaN → 0, rounded half to even: quantize_act_scalar's values, signed.
inline __m128i quantize16(__m512 v, __m512 id) {
  __m512 t = _mm512_mul_ps(v, id);
  const __mmask16 ordered = _mm512_cmp_ps_mask(t, t, _CMP_ORD_Q);
  t = _mm512_min_ps(_mm512_max_ps(t, _mm512_set1_ps(-127.0f)), _mm512_set1_ps(127.0f));
  t = _mm512_maskz_mov_ps(ordered, t);
  return _mm512_cvtsepi32_epi8(_mm512_cvt_roundps_epi32(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

struct Scratch {
  std::vector<int8_t> x;   // with 64 bytes of slack
  std::vector<int32_t> seed;
  std::vector<float> d;
};
thread_local Scratch scratch;

// Block b's values as signed int8 (32 bytes at q) and its scale.
inline void quantize_block(const float* x, int8_t* q, float* d) {
  const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
  const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
  const float db = amax / 127.0f;
  const __m512 id = _mm512_set1_ps(db != 0.0f ? 1.0f / db : 0.0f);
  *d = db;
  _mm_storeu_si128((__m128i*)q, quantize16(v0, id));
  _mm_storeu_si128((__m128i*)(q + 16), quantize16(v1, id));
}

// d_w · d_x of blocks [c, c + cb) of a weight row (cb ≤ 16; lanes past cb are zero): the f16 scales fetched by
// one masked gather (a dword at every block start, its low word the scale; measured as fast on Zen 4 as 16 scalar
// stores and one reload, which store forwarding cannot serve).
inline __m512 chunk_scales(const uint8_t* row, int64_t bytes, int64_t c, int64_t cb, const float* dx) {
  const __m512i offs = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                          _mm512_set1_epi32((int)bytes));
  const __mmask16 m = (__mmask16)(cb >= 16 ? 0xffff : (1u << cb) - 1);
  const __m512i g = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, offs, row + c * bytes, 1);
  return _mm512_mul_ps(_mm512_cvtph_ps(_mm512_cvtepi32_epi16(g)), _mm512_loadu_ps(dx + c));
}

// Blocks past the last whole group: exact int32 block sum, scaled like the reference (d_w · d_x) · Σ.
inline float tail_q4(const uint8_t* p, const int8_t* x, float dx) {
  int32_t s = 0;
  for (int j = 0; j < kQk / 2; j++) s += ((p[2 + j] & 15) - 8) * x[j] + ((p[2 + j] >> 4) - 8) * x[j + kQk / 2];
  return (f16_to_f32(load_u16(p)) * dx) * (float)s;
}

}  // namespace

Row1Act row1_act_avx512(const float* x, int64_t K) {
  const int64_t nb = K / kQk, groups = nb / 4;
  Scratch& s = scratch;
  if ((int64_t)s.x.size() < K + 64) s.x.assign((size_t)(K + 64), 0);
  if ((int64_t)s.d.size() < nb + 16) s.d.assign((size_t)(nb + 16), 0.0f);
  if ((int64_t)s.seed.size() < (groups + 1) * 16) s.seed.assign((size_t)(groups + 1) * 16, 0);
  int8_t* q = s.x.data();
  float* d = s.d.data();
  std::fill(d + nb, d + nb + 16, 0.0f);  // chunk_scales reads 16 at a time
  const __m512i zero = _mm512_setzero_si512(), k8 = _mm512_set1_epi8(8);
  alignas(64) int8_t blk[4 * kQk];
  for (int64_t g = 0; g < groups; g++) {
    for (int i = 0; i < 4; i++) quantize_block(x + (g * 4 + i) * kQk, blk + i * kQk, d + g * 4 + i);
    int8_t* o = q + g * 128;
    for (int i = 0; i < 4; i++) {
      std::memcpy(o + i * 16, blk + i * kQk, 16);            // values 0–15: against the low nibbles
      std::memcpy(o + 64 + i * 16, blk + i * kQk + 16, 16);  // values 16–31: against the high nibbles
    }
    const __m512i lo = _mm512_loadu_si512(o), hi = _mm512_loadu_si512(o + 64);
    const __m512i sum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(zero, k8, lo), k8, hi);
    _mm512_storeu_si512(s.seed.data() + g * 16, _mm512_sub_epi32(zero, sum));
  }
  for (int64_t b = groups * 4; b < nb; b++) quantize_block(x + b * kQk, q + b * kQk, d + b);
  return Row1Act{q, s.seed.data(), d};
}

void matvec_q4_0_row1_avx512(int64_t K, const Row1Act& a, const uint8_t* W, float* out, int64_t n0, int64_t n1) {
  const int64_t nb = K / kQk, rb = nb * kQ4Bytes, whole = nb / 4 * 4;
  const __m512i m4 = _mm512_set1_epi8(15);
  // lanes 4i .. 4i+3 take block 4k + i's scale
  __m512i idx[4];
  for (int k = 0; k < 4; k++) {
    const int b = 4 * k;
    idx[k] = _mm512_set_epi32(b + 3, b + 3, b + 3, b + 3, b + 2, b + 2, b + 2, b + 2, b + 1, b + 1, b + 1, b + 1, b, b, b, b);
  }
  for (int64_t n = n0; n < n1; n++) {
    const uint8_t* row = W + n * rb;
    __m512 acc = _mm512_setzero_ps();
    for (int64_t c = 0; c < whole; c += 16) {
      const int64_t cb = std::min<int64_t>(16, whole - c);
      const __m512 sv = chunk_scales(row, kQ4Bytes, c, cb, a.d);
      for (int64_t k = 0; k < cb / 4; k++) {
        const int64_t b = c + 4 * k;
        const uint8_t* p = row + b * kQ4Bytes;
        _mm_prefetch((const char*)p + kPf, _MM_HINT_T0);
        // 128-bit lane i: block b + i's 16 bytes of nibbles
        const __m256i q01 = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i*)(p + 2))),
                                                    _mm_loadu_si128((const __m128i*)(p + kQ4Bytes + 2)), 1);
        const __m256i q23 = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i*)(p + 2 * kQ4Bytes + 2))),
                                                    _mm_loadu_si128((const __m128i*)(p + 3 * kQ4Bytes + 2)), 1);
        const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(q01), q23, 1);
        const __m512i lo = _mm512_and_si512(z, m4), hi = _mm512_and_si512(_mm512_srli_epi16(z, 4), m4);
        const int8_t* xg = a.x + b / 4 * 128;
        __m512i sum = _mm512_dpbusd_epi32(_mm512_loadu_si512(a.seed + b * 4), lo, _mm512_loadu_si512(xg));
        sum = _mm512_dpbusd_epi32(sum, hi, _mm512_loadu_si512(xg + 64));
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_permutexvar_ps(idx[k], sv), acc);
      }
    }
    float tail = 0.0f;
    for (int64_t b = whole; b < nb; b++) tail += tail_q4(row + b * kQ4Bytes, a.x + b * kQk, a.d[b]);
    out[n] = _mm512_reduce_add_ps(acc) + tail;
  }
}

}  // namespace zj
