// quant_batch_avx512.cc — the batched decode matvec for q8_0 / q4_0 weights with AVX-512 VNNI: x · Wᵀ for 5–16 rows
// of x (a decode step of a batch). The one-row kernel (quant_dot_avx512.h) spends a multiply, a convert and an FMA
// per 16 lanes of every (weight row, x row) pair, which makes each extra row cost as much as the first. Here the
// rows of x are interleaved instead: one zmm holds the same 8-byte chunk of 8 rows of x, so a weight chunk broadcast
// to all lanes (one load) is dotted with 8 rows by one vpdpbusd, and the per-block f32 scaling is one FMA per 8 rows.
// Weights stay in llama.cpp's block layout; only the activations are rearranged, once per call (the packer is
// pack_act_groups_avx512 in quant_tiles_avx512.cc; this file holds its buffers). One weight row at a
// time with a software prefetch ahead along it (docs/log.md 2026-12-02 has the A/B). No threading here.
//
// Operand signs: vpdpbusd multiplies unsigned by signed bytes. The weight side is made unsigned — q8_0: w + 128
// (xor 0x80), q4_0: the raw nibble (value + 8) — and x stays signed; the extra C · Σx (C = 128 or 8) depends on x
// only and seeds each block's integer sum. Integer sums are exact; the f32 sums run in another order than the
// reference's (src/backend/reference/quant.ts matvecQuant), as in every native kernel.
// GCC 12 warns inside its own AVX-512 headers (_mm512_undefined_* in the conversion intrinsics), as in simd_avx512.cc.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC target("avx512vnni")
#include <immintrin.h>
#include <algorithm>
#include "../quant_impl.h"

namespace zj {

namespace {

constexpr int kRows = 8;    // rows of x per zmm
constexpr int kChunks = 4;  // 8-byte chunks per block of 32
// Software prefetch distance along the weight row. 8 rows of work per byte leave the loads too sparse for the
// hardware prefetcher to keep DRAM busy (measured: the 151,936 × 896 head at 8 rows took 2.1× less CPU time with it).
constexpr int kPrefetchBytes = 2048;

struct BatchQ8 {
  static constexpr int64_t bytes = kQ8Bytes;
  static inline void chunks(const uint8_t* blk, __m512i* w) {
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (int c = 0; c < kChunks; c++) {
      int64_t v;
      std::memcpy(&v, blk + 2 + 8 * c, 8);
      w[c] = _mm512_xor_si512(_mm512_set1_epi64(v), flip);
    }
  }
};

struct BatchQ4 {
  static constexpr int64_t bytes = kQ4Bytes;
  static inline void chunks(const uint8_t* blk, __m512i* w) {
    const __m512i lo = _mm512_set1_epi8(0x0f);
    for (int p = 0; p < 2; p++) {
      int64_t v;
      std::memcpy(&v, blk + 2 + 8 * p, 8);
      const __m512i b = _mm512_set1_epi64(v);
      w[2 * p] = _mm512_and_si512(b, lo);
      w[2 * p + 1] = _mm512_and_si512(_mm512_srli_epi16(b, 4), lo);
    }
  }
};

// NT weight rows n .. n+NT against one group of 8 rows of x (packed by pack_act_groups_avx512, quant_tiles_avx512.cc), outputs for rows m < rows.
template <class L, int NT>
inline void tile(int64_t K, int64_t N, const int8_t* xi, const int32_t* corr, const float* dxv, const uint8_t* W,
                 float* out, int64_t n, int64_t m0, int rows) {
  const int64_t nb = K / kQk, rb = nb * L::bytes;
  __m512 acc[NT];
  for (int t = 0; t < NT; t++) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const int8_t* xb = xi + b * kChunks * 64;
    const __m512i x0 = _mm512_load_si512(xb), x1 = _mm512_load_si512(xb + 64);
    const __m512i x2 = _mm512_load_si512(xb + 128), x3 = _mm512_load_si512(xb + 192);
    const __m512i cr = _mm512_load_si512(corr + b * 16);
    const __m512 dx = _mm512_load_ps(dxv + b * 16);
    for (int t = 0; t < NT; t++) {
      const uint8_t* blk = W + (n + t) * rb + b * L::bytes;
      if ((b & 1) == 0) _mm_prefetch((const char*)blk + kPrefetchBytes, _MM_HINT_T0);
      __m512i w[kChunks];
      L::chunks(blk, w);
      __m512i s = _mm512_dpbusd_epi32(cr, w[0], x0);
      s = _mm512_dpbusd_epi32(s, w[1], x1);
      s = _mm512_dpbusd_epi32(s, w[2], x2);
      s = _mm512_dpbusd_epi32(s, w[3], x3);
      const __m512 dw = _mm512_cvtph_ps(_mm256_set1_epi16((short)load_u16(blk)));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, dx), acc[t]);
    }
  }
  alignas(64) float lanes[16];
  for (int t = 0; t < NT; t++) {
    // lanes 2r and 2r+1 hold the two 4-byte halves of row r's chunks
    _mm512_store_ps(lanes, _mm512_add_ps(acc[t], _mm512_permute_ps(acc[t], 0xb1)));
    for (int r = 0; r < rows; r++) out[(m0 + r) * N + n + t] = lanes[2 * r];
  }
}

template <class L>
void rows_range(int64_t M, int64_t K, int64_t N, const QuantBatchAct& a, const uint8_t* W, float* out, int64_t n0,
                int64_t n1) {
  const int64_t nb = K / kQk;
  for (int64_t g = 0; g * kRows < M; g++) {
    const int rows = (int)std::min<int64_t>(kRows, M - g * kRows);
    const int8_t* xi = a.x + g * nb * kChunks * 64;
    const int32_t* corr = a.corr + g * nb * 16;
    const float* dxv = a.dx + g * nb * 16;
    // one weight row at a time: interleaving 4 rows (x chunks loaded once for 4) measured faster only while W sat in
    // cache, and 1.4× slower streaming from DRAM as decoding does
    for (int64_t n = n0; n < n1; n++) tile<L, 1>(K, N, xi, corr, dxv, W, out, n, g * kRows, rows);
  }
}

thread_local AlignedScratch batch_scratch; // the packed x, per thread

}  // namespace

QuantBatchBufs batch_act_buffers_avx512(int64_t M, int64_t K) {
  const int64_t nb = K / kQk, G = (M + kRows - 1) / kRows;
  const size_t xb = (size_t)(G * nb * kChunks * 64), cb = (size_t)(G * nb * 16 * 4);
  uint8_t* base = batch_scratch.get(xb + 2 * cb);
  return QuantBatchBufs{(int8_t*)base, (int32_t*)(base + xb), (float*)(base + xb + cb)};
}

void matvec_q8_0_batch_avx512(int64_t M, int64_t K, int64_t N, const QuantBatchAct& a, const uint8_t* W, float* out,
                              int64_t n0, int64_t n1) {
  rows_range<BatchQ8>(M, K, N, a, W, out, n0, n1);
}

void matvec_q4_0_batch_avx512(int64_t M, int64_t K, int64_t N, const QuantBatchAct& a, const uint8_t* W, float* out,
                              int64_t n0, int64_t n1) {
  rows_range<BatchQ4>(M, K, N, a, W, out, n0, n1);
}

}  // namespace zj
