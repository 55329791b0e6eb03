// quant_tiles_avx512.cc — x · Wᵀ for many rows of x (a prefill: 17 … thousands) against q8_0 / q4_0 weights with
// AVX-512 VNNI, and the parallel packer of x that it shares with the batched decode kernel (quant_batch_avx512.cc).
// x is quantized once into the interleaved pair layout (8 rows per zmm, quant_strip_avx512.h); W is taken a tile of
// rows at a time (sized for L2), unpacked by the strip unpacker, and every pair of 8-row groups of x is dotted with
// each 4-row strip of that tile before the next tile is read, so W crosses from DRAM once per call whatever M is.
// No threading here (quant.cc splits N over the pool; each thread tiles its own rows).
//
// Operand signs as in quant_batch_avx512.cc: weights unsigned (q8_0: w + 128, q4_0: the raw nibble = value + 8), x
// signed, and −C·Σx (C = 128 or 8) seeds each block's integer sum. Integer sums are exact; the f32 sums run in
// another order than the reference's (src/backend/reference/quant.ts matvecQuant).
// GCC 12 warns inside its own AVX-512 headers (_mm512_undefined_* in the conversion intrinsics), as in simd_avx512.cc.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC target("avx512vnni")
#include <immintrin.h>
#include <algorithm>
#include "quant_strip_avx512.h"

namespace zj {

namespace {

using namespace strip;

// Unpacked bytes of W per tile. Zen 4 and Zen 5 have 1 MiB of L2 per core; the tile must stay there while every
// 16-row panel of x passes over it. A panel is 16·K bytes plus 256 bytes of seeds and scales per block pair
// (≈ 96 KiB at K = 4864, the widest Qwen2.5-0.5B input), the next rows of W stream in during the unpack, and out is
// written. 384 KiB (36 bytes per weight block) leaves more than half of L2 for those.
constexpr int64_t kTileBytes = 384 * 1024;

thread_local AlignedScratch tile_scratch;  // the unpacked tile of W, per thread

template <class U>
void tiles_range(int64_t M, int64_t K, int64_t N, const QuantBatchAct& a, const uint8_t* W, float* out, int64_t n0,
                 int64_t n1) {
  static const Perm pm = U::perm();
  const int64_t nb = K / kQk, rb = nb * U::bytes, groups = (M + kRows - 1) / kRows;
  const int64_t rv = strip_row_vals(nb), rs = strip_row_scales(nb);
  const int64_t rows = std::max<int64_t>(kNt, kTileBytes / (rv + rs * 4) / kNt * kNt);
  const int64_t held = std::min(rows, n1 - n0);
  uint8_t* tv = tile_scratch.get((size_t)(held * (rv + rs * 4)));
  float* ts = (float*)(tv + held * rv);
  for (int64_t t0 = n0; t0 < n1; t0 += rows) {
    const int64_t t1 = std::min(n1, t0 + rows);
    for (int64_t n = t0; n < t1; n++) unpack_row<U>(pm, W + n * rb, nb, tv + (n - t0) * rv, ts + (n - t0) * rs);
    for (int64_t g = 0; g < groups; g += 2)
      for (int64_t u = t0; u < t1; u += kNt) {
        const Strip s{tv + (u - t0) * rv, ts + (u - t0) * rs, rv, rs};
        strip_range_nt<U>((int)std::min<int64_t>(kNt, t1 - u), nb, s, a, g, std::min(groups, g + 2), M, N, u, out,
                          nullptr);
      }
  }
}

}  // namespace

// Rows of x in groups [g0, g1) of 8 into the interleaved pair layout (see quant_strip_avx512.h; QuantBatchAct): per
// group and block pair, 8 chunks of 64 bytes (lane 2r + h: row r, block 2p + h, elements 4c .. 4c+3), 16 seeds
// −C · Σ of the lane's 32 values, and 16 scales. Rows past M and a missing last block are zero. The values are
// quantize_act_avx512's (same operations), kept signed.
void pack_act_groups_avx512(const float* x, int64_t M, int64_t K, int format, int64_t g0, int64_t g1,
                            int8_t* xs, int32_t* corr, float* dxs) {
  const int64_t nb = K / kQk, np = (nb + 1) / 2;
  const int cshift = format == 2 /* ZJ_W_Q8_0 */ ? 7 : 3;  // C = 128 or 8
  const __m512 lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
  const __m512i ones = _mm512_set1_epi8(1);
  for (int64_t g = g0; g < g1; g++)
    for (int64_t p = 0; p < np; p++) {
      int8_t* dst = xs + (g * np + p) * kPairXBytes;
      float* dx = dxs + (g * np + p) * 16;
      for (int lane = 0; lane < 16; lane++) {
        const int64_t m = g * kRows + lane / 2, b = 2 * p + (lane & 1);
        if (m >= M || b >= nb) {
          for (int c = 0; c < kChunks; c++) std::memset(dst + c * 64 + lane * 4, 0, 4);
          dx[lane] = 0.0f;
          continue;
        }
        const float* v = x + m * K + b * kQk;
        const __m512 v0 = _mm512_loadu_ps(v), v1 = _mm512_loadu_ps(v + 16);
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        const float d = amax / 127.0f;
        const __m512 id = _mm512_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
        alignas(16) int8_t q[kQk];
        const __m512 vs[2] = {v0, v1};
        for (int h = 0; h < 2; h++) {
          __m512 t = _mm512_mul_ps(vs[h], id);
          const __mmask16 ordered = _mm512_cmp_ps_mask(t, t, _CMP_ORD_Q);
          t = _mm512_maskz_mov_ps(ordered, _mm512_min_ps(_mm512_max_ps(t, lo), hi));
          _mm_store_si128((__m128i*)(q + 16 * h),
                          _mm512_cvtsepi32_epi8(_mm512_cvt_roundps_epi32(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)));
        }
        for (int c = 0; c < kChunks; c++) std::memcpy(dst + c * 64 + lane * 4, q + 4 * c, 4);
        dx[lane] = d;
      }
      // each lane's seed: −C · the sum of its 4 bytes over the 8 chunks
      __m512i s = _mm512_setzero_si512();
      for (int c = 0; c < kChunks; c++) s = _mm512_dpbusd_epi32(s, ones, _mm512_load_si512(dst + c * 64));
      _mm512_store_si512(corr + (g * np + p) * 16, _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(s, cshift)));
    }
}

void matmul_q8_0_tiles_avx512(int64_t M, int64_t K, int64_t N, const QuantBatchAct& a, const uint8_t* W, float* out,
                              int64_t n0, int64_t n1) {
  tiles_range<UnpackQ8>(M, K, N, a, W, out, n0, n1);
}

void matmul_q4_0_tiles_avx512(int64_t M, int64_t K, int64_t N, const QuantBatchAct& a, const uint8_t* W, float* out,
                              int64_t n0, int64_t n1) {
  tiles_range<UnpackQ4>(M, K, N, a, W, out, n0, n1);
}

}  // namespace zj
