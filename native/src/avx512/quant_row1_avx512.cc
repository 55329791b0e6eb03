// quant_row1_avx512.cc — the batch-1 decode matvec of q4_0 with AVX-512 VNNI (layout: quant_row1.h). Per 4 weight
// blocks (128 weights): the nibbles masked out as they are (unsigned, w + 8) and taken by two vpdpbusd with x's
// signed bytes, seeded by x's bias correction (computed once per call, not once per weight pair); the 4 f16 scales
// spread to their lanes by one word permute of the group's first 64 bytes; then a convert and one FMA. Exact int32 partial sums as every other path; only the f32 order differs from the reference.
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
  std::vector<float> d, d4;
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
  if ((int64_t)s.seed.size() < (groups + 1) * 16) s.seed.assign((size_t)(groups + 1) * 16, 0), s.d4.assign((size_t)(groups + 1) * 16, 0.0f);
  int8_t* q = s.x.data();
  float* d = s.d.data();
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
    for (int i = 0; i < 16; i++) s.d4[(size_t)(g * 16 + i)] = d[g * 4 + i / 4];
  }
  for (int64_t b = groups * 4; b < nb; b++) quantize_block(x + b * kQk, q + b * kQk, d + b);
  return Row1Act{q, s.seed.data(), d, s.d4.data()};
}

void matvec_q4_0_row1_avx512(int64_t K, const Row1Act& a, const uint8_t* W, float* out, int64_t n0, int64_t n1) {
  const int64_t nb = K / kQk, rb = nb * kQ4Bytes, groups = nb / 4;
  const __m512i m4 = _mm512_set1_epi8(15);
  // words 4i .. 4i+3 ← block i's f16 scale (bytes 18i, 18i + 1 of the group, word 9i)
  const __m512i hidx = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                        27, 27, 27, 27, 18, 18, 18, 18, 9, 9, 9, 9, 0, 0, 0, 0);
  for (int64_t n = n0; n < n1; n++) {
    const uint8_t* row = W + n * rb;
    __m512 acc = _mm512_setzero_ps();
    for (int64_t g = 0; g < groups; g++) {
      const uint8_t* p = row + g * 4 * kQ4Bytes;
      _mm_prefetch((const char*)p + kPf, _MM_HINT_T0);
      // the group's first 64 bytes (its 72 end 8 bytes later) hold the 4 scales: one permute spreads them to lanes
      const __m512i head = _mm512_loadu_si512(p);
      const __m512 dw = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(hidx, head)));
      // 128-bit lane i: block i's 16 bytes of nibbles
      const __m256i q01 = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i*)(p + 2))),
                                                  _mm_loadu_si128((const __m128i*)(p + kQ4Bytes + 2)), 1);
      const __m256i q23 = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i*)(p + 2 * kQ4Bytes + 2))),
                                                  _mm_loadu_si128((const __m128i*)(p + 3 * kQ4Bytes + 2)), 1);
      const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(q01), q23, 1);
      const __m512i lo = _mm512_and_si512(z, m4), hi = _mm512_and_si512(_mm512_srli_epi16(z, 4), m4);
      const int8_t* xg = a.x + g * 128;
      __m512i sum = _mm512_dpbusd_epi32(_mm512_loadu_si512(a.seed + g * 16), lo, _mm512_loadu_si512(xg));
      sum = _mm512_dpbusd_epi32(sum, hi, _mm512_loadu_si512(xg + 64));
      acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_mul_ps(dw, _mm512_loadu_ps(a.d4 + g * 16)), acc);
    }
    float tail = 0.0f;
    for (int64_t b = groups * 4; b < nb; b++) tail += tail_q4(row + b * kQ4Bytes, a.x + b * kQk, a.d[b]);
    out[n] = _mm512_reduce_add_ps(acc) + tail;
  }
}

}  // namespace zj
