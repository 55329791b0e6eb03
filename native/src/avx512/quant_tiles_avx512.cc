// quant_tiles_avx512.cc — x · Wᵀ for many rows of x (a prefill: 17 … thousands) against q8_0 / q4_0 weights with
// AVX-512 VNNI, and the parallel packer of x that it shares with the batched decode kernel (quant_batch_avx512.cc).
// x is quantized once into the batch kernel's interleaved layout (8 rows per zmm); W is taken a tile of rows at a time
// (sized for L2), repacked into broadcast-ready unsigned bytes with f32 scales, and every group of 16 rows of x is
// dotted with that tile before the next tile is read, so W crosses from DRAM once per call whatever M is.
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
#include "../quant_impl.h"

namespace zj {

namespace {

constexpr int kRows = 8;    // rows of x per zmm (one 8-byte chunk each)
constexpr int kChunks = 4;  // 8-byte chunks per block of 32
constexpr int kNt = 4;      // weight rows per micro-tile
// Repacked bytes per block of one micro-tile: kNt · 32 unsigned weight bytes, then kNt f32 scales.
constexpr int64_t kTileBlock = kNt * kQk + kNt * 4;
// Bytes of repacked weights per tile. Zen 4 and Zen 5 have 1 MiB of L2 per core; the tile must stay there while
// every 16-row panel of x passes over it. A panel is 16·K bytes plus 256 bytes of seeds and scales per block
// (≈ 117 KiB at K = 4864, the widest Qwen2.5-0.5B input), the next rows of W stream in during the repack, and out is
// written. 384 KiB leaves more than half of L2 for those; the panel itself (24·K bytes) fits L1 up to K ≈ 1300
// (Zen 4, 32 KiB) or 2000 (Zen 5, 48 KiB).
constexpr int64_t kTileBytes = 384 * 1024;

// Weight rows [r0, r1) (at most one tile) into `dst`, micro-tiles of kNt rows, rows past r1 zero.
template <int Format>
void repack_tile(int64_t K, const uint8_t* W, int64_t r0, int64_t r1, uint8_t* dst) {
  const int64_t nb = K / kQk, bb = block_bytes(Format), rb = nb * bb;
  for (int64_t u0 = r0; u0 < r1; u0 += kNt, dst += nb * kTileBlock) {
    for (int t = 0; t < kNt; t++) {
      const int64_t n = u0 + t;
      for (int64_t b = 0; b < nb; b++) {
        uint8_t* o = dst + b * kTileBlock + t * kQk;
        float* sc = (float*)(dst + b * kTileBlock + kNt * kQk) + t;
        if (n >= r1) {
          std::memset(o, 0, kQk), *sc = 0.0f;
          continue;
        }
        const uint8_t* p = W + n * rb + b * bb;
        *sc = f16_to_f32(load_u16(p));
        if (Format == 2 /* ZJ_W_Q8_0 */) {
          // chunk c is elements 8c .. 8c+7: the block in order, made unsigned
          const __m256i q = _mm256_loadu_si256((const __m256i*)(p + 2));
          _mm256_storeu_si256((__m256i*)o, _mm256_xor_si256(q, _mm256_set1_epi8((char)0x80)));
        } else {
          // chunks: low nibbles of bytes 0–7 (elements 0–7), their high nibbles (16–23), low of 8–15 (8–15), high (24–31)
          const __m128i q = _mm_loadu_si128((const __m128i*)(p + 2)), m = _mm_set1_epi8(15);
          const __m128i lo = _mm_and_si128(q, m), hi = _mm_and_si128(_mm_srli_epi16(q, 4), m);
          _mm_storeu_si128((__m128i*)o, _mm_unpacklo_epi64(lo, hi));
          _mm_storeu_si128((__m128i*)(o + 16), _mm_unpackhi_epi64(lo, hi));
        }
      }
    }
  }
}

// One micro-tile of kNt weight rows against G groups of 8 rows of x (G = 1 or 2), over all blocks. 2 × 4 keeps
// 8 accumulators, 8 x chunks, 2 seeds, 2 scales and 4 weight broadcasts in 24 of the 32 zmm registers; each
// weight broadcast then serves 16 rows and each x chunk 4 weight rows.
template <int G>
inline void micro_tile(int64_t nb, const uint8_t* wt, const QuantBatchAct& a, int64_t g0, int64_t M, int64_t N,
                       int64_t n, int64_t n1, float* out) {
  __m512 acc[kNt][G];
  for (int t = 0; t < kNt; t++)
    for (int g = 0; g < G; g++) acc[t][g] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t* wb = wt + b * kTileBlock;
    const float* sc = (const float*)(wb + kNt * kQk);
    __m512i x[G][kChunks], cr[G];
    __m512 dx[G];
    for (int g = 0; g < G; g++) {
      const int8_t* xb = a.x + ((g0 + g) * nb + b) * kChunks * 64;
      for (int c = 0; c < kChunks; c++) x[g][c] = _mm512_load_si512(xb + c * 64);
      cr[g] = _mm512_load_si512(a.corr + ((g0 + g) * nb + b) * 16);
      dx[g] = _mm512_load_ps(a.dx + ((g0 + g) * nb + b) * 16);
    }
    for (int t = 0; t < kNt; t++) {
      __m512i w[kChunks];
      for (int c = 0; c < kChunks; c++) {
        int64_t v;
        std::memcpy(&v, wb + t * kQk + 8 * c, 8);
        w[c] = _mm512_set1_epi64(v);
      }
      const __m512 dw = _mm512_set1_ps(sc[t]);
      for (int g = 0; g < G; g++) {
        __m512i s = _mm512_dpbusd_epi32(cr[g], w[0], x[g][0]);
        s = _mm512_dpbusd_epi32(s, w[1], x[g][1]);
        s = _mm512_dpbusd_epi32(s, w[2], x[g][2]);
        s = _mm512_dpbusd_epi32(s, w[3], x[g][3]);
        acc[t][g] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, dx[g]), acc[t][g]);
      }
    }
  }
  alignas(64) float lanes[16];
  for (int t = 0; t < kNt && n + t < n1; t++)
    for (int g = 0; g < G; g++) {
      // lanes 2r and 2r+1 hold the two 4-byte halves of row r's chunks
      _mm512_store_ps(lanes, _mm512_add_ps(acc[t][g], _mm512_permute_ps(acc[t][g], 0xb1)));
      const int64_t m0 = (g0 + g) * kRows;
      for (int r = 0; r < kRows && m0 + r < M; r++) out[(m0 + r) * N + n + t] = lanes[2 * r];
    }
}

thread_local AlignedScratch tile_scratch; // the repacked tile of W, per thread

template <int Format>
void tiles_range(int64_t M, int64_t K, int64_t N, const QuantBatchAct& a, const uint8_t* W, float* out, int64_t n0,
                 int64_t n1) {
  const int64_t nb = K / kQk, groups = (M + kRows - 1) / kRows;
  const int64_t rows = std::max<int64_t>(kNt, kTileBytes / (nb * kTileBlock / kNt) / kNt * kNt);
  uint8_t* tile = tile_scratch.get((size_t)((std::min(rows, n1 - n0) + kNt - 1) / kNt * nb * kTileBlock));
  for (int64_t t0 = n0; t0 < n1; t0 += rows) {
    const int64_t t1 = std::min(n1, t0 + rows);
    repack_tile<Format>(K, W, t0, t1, tile);
    for (int64_t g = 0; g < groups; g += 2)
      for (int64_t u = t0; u < t1; u += kNt) {
        const uint8_t* wt = tile + (u - t0) / kNt * nb * kTileBlock;
        if (groups - g >= 2) micro_tile<2>(nb, wt, a, g, M, N, u, t1, out);
        else micro_tile<1>(nb, wt, a, g, M, N, u, t1, out);
      }
  }
}

}  // namespace

// Rows of x in groups [g0, g1) of 8 into the interleaved views (see QuantBatchAct); rows past M are zero. The values
// are quantize_act_avx512's (same operations), kept signed; chunk c of a block holds elements chunk_elem(format, c, ·).
void pack_act_groups_avx512(const float* x, int64_t M, int64_t K, int format, int64_t g0, int64_t g1,
                            int8_t* xs, int32_t* corr, float* dxs) {
  const int64_t nb = K / kQk;
  const int cshift = format == 2 /* ZJ_W_Q8_0 */ ? 7 : 3;  // C = 128 or 8
  const __m512 lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
  const __m512i ones = _mm512_set1_epi8(1);
  for (int64_t g = g0; g < g1; g++)
    for (int64_t b = 0; b < nb; b++) {
      int8_t* dst = xs + (g * nb + b) * kChunks * 64;
      float* dx = dxs + (g * nb + b) * 16;
      for (int r = 0; r < kRows; r++) {
        const int64_t m = g * kRows + r;
        if (m >= M) {
          for (int c = 0; c < kChunks; c++) std::memset(dst + c * 64 + r * 8, 0, 8);
          dx[2 * r] = dx[2 * r + 1] = 0.0f;
          continue;
        }
        const float* v = x + m * K + b * kQk;
        const __m512 v0 = _mm512_loadu_ps(v), v1 = _mm512_loadu_ps(v + 16);
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        const float d = amax / 127.0f;
        const __m512 id = _mm512_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
        __m128i q[2];
        const __m512 vs[2] = {v0, v1};
        for (int h = 0; h < 2; h++) {
          __m512 t = _mm512_mul_ps(vs[h], id);
          const __mmask16 ordered = _mm512_cmp_ps_mask(t, t, _CMP_ORD_Q);
          t = _mm512_maskz_mov_ps(ordered, _mm512_min_ps(_mm512_max_ps(t, lo), hi));
          q[h] = _mm512_cvtsepi32_epi8(_mm512_cvt_roundps_epi32(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        }
        // qwords of elements 0–7, 8–15, 16–23, 24–31 → chunks (q8_0: in order; q4_0: 0, 2, 1, 3)
        const int64_t qw[4] = {_mm_cvtsi128_si64(q[0]), _mm_extract_epi64(q[0], 1), _mm_cvtsi128_si64(q[1]),
                               _mm_extract_epi64(q[1], 1)};
        const int order[4] = {0, format == 2 ? 1 : 2, format == 2 ? 2 : 1, 3};
        for (int c = 0; c < kChunks; c++) std::memcpy(dst + c * 64 + r * 8, &qw[order[c]], 8);
        dx[2 * r] = dx[2 * r + 1] = d;
      }
      // each lane's seed: −C · the sum of its 4 bytes over the 4 chunks
      __m512i s = _mm512_setzero_si512();
      for (int c = 0; c < kChunks; c++) s = _mm512_dpbusd_epi32(s, ones, _mm512_load_si512(dst + c * 64));
      _mm512_store_si512(corr + (g * nb + b) * 16, _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(s, cshift)));
    }
}

void matmul_q8_0_tiles_avx512(int64_t M, int64_t K, int64_t N, const QuantBatchAct& a, const uint8_t* W, float* out,
                              int64_t n0, int64_t n1) {
  tiles_range<2>(M, K, N, a, W, out, n0, n1);
}

void matmul_q4_0_tiles_avx512(int64_t M, int64_t K, int64_t N, const QuantBatchAct& a, const uint8_t* W, float* out,
                              int64_t n0, int64_t n1) {
  tiles_range<3>(M, K, N, a, W, out, n0, n1);
}

}  // namespace zj
