// quant_tiles_amx.cc — x·Wᵀ over a q8_0 / q4_0 W with AMX-INT8 (the prefill product from 17 rows of x when the CPU
// has AMX; quant.cc dispatches). x is quantized per block of 32 as every integer path here does
// (quantize_act_avx512, then made signed); W is repacked 16 rows at a time into B tiles, each block of 32 k a tile
// of 8 rows × 64 bytes (row r: the 16 weight rows' k = 4r … 4r+3, four signed bytes each; q4_0 nibbles minus 8).
// One TDPBSSD per block gives the 16 × 16 exact int32 dot products of 16 rows of x with the 16 weight rows; the
// tile goes to L1 and each row is scaled by d_x · d_w and added to f32 accumulators in registers. Two blocks are in
// flight (tmm0/1), so the tile unit works while the previous block is scaled.
//
// The int32 sums are those of the VNNI kernels; only the f32 order of the per-block additions differs.
#include <immintrin.h>
#include <algorithm>
#include <cstring>
#include <vector>
#include "../pool.h"
#include "../quant_impl.h"
#include "tiles.h"

namespace zj {
namespace {

constexpr int64_t kCols = 16;          // weight rows per B tile
constexpr int64_t kTileBytes = 512;    // one block of 16 weight rows: 8 × 64 bytes

// Weight rows [n0, n0 + nvalid) (nvalid ≤ 16; the rest zero) of every block into B tiles (nb × 512 bytes) and
// their scales (nb × 16 f32).
void pack_cols(const uint8_t* W, int format, int64_t K, int64_t n0, int64_t nvalid, int8_t* tiles, float* dw) {
  const int64_t nb = K / kQk, bb = block_bytes(format), rb = nb * bb;
  alignas(64) int8_t t[kCols][kQk];
  // dword offsets of (row j, k-quad 0) in t: a gather of dword r from each row is B tile row r
  const __m512i rows = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                          _mm512_set1_epi32((int)kQk));
  const __m128i low = _mm_set1_epi8(0x0f), eight = _mm_set1_epi8(8);
  for (int64_t b = 0; b < nb; b++) {
    for (int64_t j = 0; j < kCols; j++) {
      if (j >= nvalid) {
        std::memset(t[j], 0, kQk);
        dw[b * kCols + j] = 0.0f;
        continue;
      }
      const uint8_t* p = W + (n0 + j) * rb + b * bb;
      dw[b * kCols + j] = f16_to_f32(load_u16(p));
      if (format == 2) {  // ZJ_W_Q8_0
        std::memcpy(t[j], p + 2, kQk);
      } else {
        const __m128i q = _mm_loadu_si128((const __m128i*)(p + 2));
        _mm_store_si128((__m128i*)t[j], _mm_sub_epi8(_mm_and_si128(q, low), eight));
        _mm_store_si128((__m128i*)(t[j] + 16), _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(q, 4), low), eight));
      }
    }
    int8_t* o = tiles + b * kTileBytes;
    for (int r = 0; r < 8; r++)
      _mm512_store_si512((void*)(o + r * 64), _mm512_i32gather_epi32(rows, (const void*)(&t[0][0] + 4 * r), 1));
  }
}

// Scales one block's 16 × 16 int32 tile (in s) by d_x(row) · d_w(column) into acc.
inline void scale_add(const int32_t* s, const float* dx, int64_t nb, const float* dw, __m512 acc[16]) {
  const __m512 w = _mm512_loadu_ps(dw);
#pragma GCC unroll 16
  for (int i = 0; i < 16; i++) {
    const __m512 v = _mm512_cvtepi32_ps(_mm512_load_si512((const void*)(s + i * 16)));
    acc[i] = _mm512_fmadd_ps(v, _mm512_mul_ps(_mm512_set1_ps(dx[i * nb]), w), acc[i]);
  }
}

// out rows [0, M) × columns [n0, n0 + nvalid) from the packed column block. xq: Mp × K signed bytes (Mp = M
// rounded up to 16, padding rows zero), dx: Mp × nb scales.
void run_cols(int64_t M, int64_t K, int64_t N, const int8_t* xq, const float* dx, const int8_t* tiles, const float* dw,
              float* out, int64_t n0, int64_t nvalid) {
  const int64_t nb = K / kQk;
  alignas(64) int32_t s0[256], s1[256];
  const __mmask16 cols = nvalid >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nvalid) - 1);
  for (int64_t m0 = 0; m0 < M; m0 += 16) {
    const int8_t* xa = xq + m0 * K;
    const float* da = dx + m0 * nb;
    __m512 acc[16];
    for (int i = 0; i < 16; i++) acc[i] = _mm512_setzero_ps();
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
      _tile_loadd(2, xa + b * kQk, K);
      _tile_loadd(4, tiles + b * kTileBytes, 64);
      _tile_loadd(3, xa + (b + 1) * kQk, K);
      _tile_loadd(5, tiles + (b + 1) * kTileBytes, 64);
      _tile_zero(0);
      _tile_zero(1);
      _tile_dpbssd(0, 2, 4);
      _tile_dpbssd(1, 3, 5);
      _tile_stored(0, s0, 64);
      _tile_stored(1, s1, 64);
      scale_add(s0, da + b, nb, dw + b * kCols, acc);
      scale_add(s1, da + b + 1, nb, dw + (b + 1) * kCols, acc);
    }
    if (b < nb) {
      _tile_loadd(2, xa + b * kQk, K);
      _tile_loadd(4, tiles + b * kTileBytes, 64);
      _tile_zero(0);
      _tile_dpbssd(0, 2, 4);
      _tile_stored(0, s0, 64);
      scale_add(s0, da + b, nb, dw + b * kCols, acc);
    }
    const int64_t rows = std::min<int64_t>(16, M - m0);
    for (int64_t i = 0; i < rows; i++) _mm512_mask_storeu_ps(out + (m0 + i) * N + n0, cols, acc[i]);
  }
}

struct Scratch {
  std::vector<int8_t> xq;
  std::vector<float> dx;
};
thread_local Scratch act;
thread_local std::vector<__m512i> packed;  // 64-byte aligned B tiles of one column block
thread_local std::vector<float> packed_dw;

}  // namespace

void matmul_quant_amx(int64_t M, int64_t N, int64_t K, const float* x, const uint8_t* W, int format, float* out) {
  const int64_t nb = K / kQk, Mp = (M + 15) / 16 * 16;
  Scratch& s = act;
  if ((int64_t)s.xq.size() < Mp * K) s.xq.resize((size_t)(Mp * K));
  if ((int64_t)s.dx.size() < Mp * nb) s.dx.resize((size_t)(Mp * nb));
  int8_t* xq = s.xq.data();
  float* dx = s.dx.data();
  // quantize_act_avx512 stores x + 128 (vpdpbusd's unsigned operand); flipping the top bit gives the signed value
  parallel_for(M * nb, 4096, [&](int64_t b0, int64_t b1, int) {
    quantize_act_avx512(x + b0 * kQk, b1 - b0, xq + b0 * kQk, dx + b0);
    const __m256i top = _mm256_set1_epi8((char)0x80);
    for (int64_t i = b0 * kQk; i < b1 * kQk; i += kQk)  // one block at a time: never into the next chunk
      _mm256_storeu_si256((__m256i*)(xq + i), _mm256_xor_si256(_mm256_loadu_si256((const __m256i*)(xq + i)), top));
  });
  std::memset(xq + M * K, 0, (size_t)((Mp - M) * K));
  std::fill(dx + M * nb, dx + Mp * nb, 0.0f);
  const int64_t col_blocks = (N + kCols - 1) / kCols;
  // at least ~1M multiply-adds per chunk of the pool
  const int64_t grain = std::max<int64_t>(1, (1 << 20) / (Mp * K * kCols));
  parallel_for(col_blocks, grain, [&](int64_t c0, int64_t c1, int) {
    amx_use(AMX_INT8_Q);
    if ((int64_t)packed.size() < nb * kTileBytes / 64) packed.resize((size_t)(nb * kTileBytes / 64));
    if ((int64_t)packed_dw.size() < nb * kCols) packed_dw.resize((size_t)(nb * kCols));
    int8_t* tiles = (int8_t*)packed.data();
    for (int64_t c = c0; c < c1; c++) {
      const int64_t n0 = c * kCols, nvalid = std::min<int64_t>(kCols, N - n0);
      pack_cols(W, format, K, n0, nvalid, tiles, packed_dw.data());
      run_cols(M, K, N, xq, dx, tiles, packed_dw.data(), out, n0, nvalid);
    }
  });
}

}  // namespace zj
