// quant_strip_avx512.h — the inner loop shared by the batched decode kernel (quant_batch_avx512.cc) and the prefill
// tiles (quant_tiles_avx512.cc), AVX-512 VNNI: unpacking a strip of 4 q8_0 / q4_0 weight rows into broadcast-ready
// unsigned bytes and f32 scales (a few vector ops per 4 blocks), and dotting such a strip with groups of 8 rows of x
// in the interleaved layout of QuantBatchAct (quant_impl.h). No threading, no choice of what to unpack when: callers.
//
// Pair layout: a zmm lane pair (2r, 2r+1) is row r of x, lane 2r block b and lane 2r+1 block b+1 of a block pair.
// Chunk c (0–7) of a pair holds element dword c (elements 4c .. 4c+3) of both blocks, so one broadcast qword of the
// weight row — [block b's dword c, block b+1's dword c] — is dotted with 8 rows × 2 blocks by one vpdpbusd, and the
// f32 scaling (convert, scale product, FMA) is paid once per 8 vpdpbusd. Each lane is one (row, block) sum: exact
// in int32, then × f32(d_w · d_x) as the reference (src/backend/reference/quant.ts matvecQuant) has it.
// Include after `#pragma GCC target("avx512vnni")` (callers run only once cpu_has_avx512vnni() said yes).
#pragma once
#include <immintrin.h>
#include <algorithm>
#include <cstring>
#include "../quant_impl.h"

namespace zj {
namespace strip {

constexpr int kRows = 8;    // rows of x per zmm (a group)
constexpr int kChunks = 8;  // chunks (dwords) per block pair
constexpr int kNt = 4;      // weight rows per strip
// Unpacked value bytes per 4 blocks ("quad") of one weight row: 2 pairs × 8 chunks × 8 bytes.
constexpr int64_t kQuadBytes = 128;
// x of one group and block pair: 8 chunks × 64 bytes, then the 16 seeds (int32) and 16 scales (f32) are elsewhere.
constexpr int64_t kPairXBytes = kChunks * 64;

inline __mmask64 first_bytes(int64_t n) { return n >= 64 ? ~0ull : n <= 0 ? 0ull : (1ull << n) - 1; }
// Bytes [0, n) of p (the rest zero) without touching memory past p + n.
inline __m512i load_upto(const uint8_t* p, int64_t n) { return _mm512_maskz_loadu_epi8(first_bytes(n), p); }

// vpermt2w index tables (word i < 32 of the first source, 32 + i of the second).
struct Perm {
  __m512i v0, v1, sc;
};
// Words 0, W, 2W, 3W (the f16 scales of a quad of blocks W words long) into the low 4 words.
inline __m512i scale_words(int w) {
  alignas(64) uint16_t t[32] = {};
  for (int i = 0; i < 4; i++) t[i] = (uint16_t)(w * i);
  return _mm512_load_si512(t);
}

// q4_0: a quad is 72 bytes (4 × (f16 d + 16 nibble bytes)). The 64 nibble bytes go into one zmm in pair order —
// per pair j, for k = 0..3, block 2j's nibble dword k then block 2j+1's — and split into low nibbles (element dword
// k) and high (dword 4 + k): chunk c of pair j is at (c >> 2) · 64 + 32j + 8 (c & 3). Weights stay the raw nibble.
struct UnpackQ4 {
  static constexpr int64_t bytes = kQ4Bytes;
  static constexpr int64_t off(int j, int c) { return (c >> 2) * 64 + 32 * j + 8 * (c & 3); }
  static Perm perm() {
    alignas(64) uint16_t t[32];
    for (int j = 0; j < 2; j++)
      for (int k = 0; k < 4; k++)
        for (int h = 0; h < 2; h++)
          for (int w = 0; w < 2; w++) t[16 * j + 4 * k + 2 * h + w] = (uint16_t)(9 * (2 * j + h) + 1 + 2 * k + w);
    return Perm{_mm512_load_si512(t), _mm512_setzero_si512(), scale_words(9)};
  }
  // the quad at p, of which only the first n bytes exist (a row's last blocks), into dst (128 bytes) and sc (4 f32)
  static inline void quad(const Perm& pm, const uint8_t* p, int64_t n, uint8_t* dst, float* sc) {
    const __m512i z0 = load_upto(p, n), z1 = load_upto(p + 64, n - 64);
    const __m512i v = _mm512_permutex2var_epi16(z0, pm.v0, z1), m = _mm512_set1_epi8(0x0f);
    _mm512_store_si512(dst, _mm512_and_si512(v, m));
    _mm512_store_si512(dst + 64, _mm512_and_si512(_mm512_srli_epi16(v, 4), m));
    _mm_storeu_ps(sc, _mm_cvtph_ps(_mm512_castsi512_si128(_mm512_permutex2var_epi16(z0, pm.sc, z1))));
  }
};

// q8_0: a quad is 136 bytes (4 × (f16 d + 32 bytes)); pair j's chunks at 64j + 8c, each [block 2j's dword c,
// block 2j+1's dword c], made unsigned (w + 128).
struct UnpackQ8 {
  static constexpr int64_t bytes = kQ8Bytes;
  static constexpr int64_t off(int j, int c) { return 64 * j + 8 * c; }
  static Perm perm() {
    // word 4c + 2h + w of pair j is word 1 + 2c + w of block 2j + h (block i starts at word 17i); pair 1 is read
    // from the second and third zmm (word 32 on)
    alignas(64) uint16_t t0[32], t1[32];
    for (int c = 0; c < 8; c++)
      for (int h = 0; h < 2; h++)
        for (int w = 0; w < 2; w++) {
          t0[4 * c + 2 * h + w] = (uint16_t)(17 * h + 1 + 2 * c + w);
          t1[4 * c + 2 * h + w] = (uint16_t)(17 * (2 + h) + 1 + 2 * c + w - 32);
        }
    return Perm{_mm512_load_si512(t0), _mm512_load_si512(t1), scale_words(17)};
  }
  static inline void quad(const Perm& pm, const uint8_t* p, int64_t n, uint8_t* dst, float* sc) {
    const __m512i z0 = load_upto(p, n), z1 = load_upto(p + 64, n - 64), z2 = load_upto(p + 128, n - 128);
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    _mm512_store_si512(dst, _mm512_xor_si512(_mm512_permutex2var_epi16(z0, pm.v0, z1), flip));
    _mm512_store_si512(dst + 64, _mm512_xor_si512(_mm512_permutex2var_epi16(z1, pm.v1, z2), flip));
    _mm_storeu_ps(sc, _mm_cvtph_ps(_mm512_castsi512_si128(_mm512_permutex2var_epi16(z0, pm.sc, z1))));
  }
};

// Unpacked rows: row t's values at vals + t · rv (⌈nb/4⌉ quads), its nb scales (padded to 4) at sc + t · rs.
struct Strip {
  const uint8_t* vals;
  const float* sc;
  int64_t rv, rs;
};
inline int64_t strip_row_vals(int64_t nb) { return (nb + 3) / 4 * kQuadBytes; }
inline int64_t strip_row_scales(int64_t nb) { return (nb + 3) / 4 * 4; }

// One weight row (nb blocks) into vals and sc.
template <class U>
inline void unpack_row(const Perm& pm, const uint8_t* row, int64_t nb, uint8_t* vals, float* sc) {
  for (int64_t q = 0; q * 4 < nb; q++)
    U::quad(pm, row + q * 4 * U::bytes, std::min<int64_t>(4, nb - q * 4) * U::bytes, vals + q * kQuadBytes, sc + q * 4);
}

// NT rows of the strip (outputs n .. n+NT) against G groups of 8 rows of x from group g0, over all block pairs.
// If pf is set, NT · 2 blocks of W bytes from pf + (pair) · NT · 2 · bytes are prefetched per pair (the caller's next
// strip). Registers at NT = 4, G = 2: 8 f32 and 8 int32 accumulators, 2 scales, 2 x chunks and a weight broadcast.
template <class U, int NT, int G>
inline void strip_groups(int64_t nb, const Strip& s, const QuantBatchAct& a, int64_t g0, int64_t M, int64_t N,
                         int64_t n, float* out, const char* pf) {
  const int64_t np = (nb + 1) / 2;
  __m512 acc[NT][G];
  for (int t = 0; t < NT; t++)
    for (int g = 0; g < G; g++) acc[t][g] = _mm512_setzero_ps();
  for (int64_t p = 0; p < np; p++) {
    if (pf) {
      constexpr int lines = (int)((NT * 2 * U::bytes + 63) / 64);
      for (int l = 0; l < lines; l++) _mm_prefetch(pf + p * NT * 2 * U::bytes + 64 * l, _MM_HINT_T0);
    }
    const int64_t q = p >> 1;
    const int j = (int)(p & 1);
    __m512i sum[NT][G];
    __m512 dx[G];
    const int8_t* xp[G];
    for (int g = 0; g < G; g++) {
      const int64_t gp = (g0 + g) * np + p;
      const __m512i cr = _mm512_load_si512(a.corr + gp * 16);
      dx[g] = _mm512_load_ps(a.dx + gp * 16);
      xp[g] = a.x + gp * kPairXBytes;
      for (int t = 0; t < NT; t++) sum[t][g] = cr;
    }
    for (int c = 0; c < kChunks; c++) {
      __m512i x[G];
      for (int g = 0; g < G; g++) x[g] = _mm512_load_si512(xp[g] + c * 64);
      for (int t = 0; t < NT; t++) {
        int64_t u;
        std::memcpy(&u, s.vals + t * s.rv + q * kQuadBytes + U::off(j, c), 8);
        const __m512i w = _mm512_set1_epi64(u);
        for (int g = 0; g < G; g++) sum[t][g] = _mm512_dpbusd_epi32(sum[t][g], w, x[g]);
      }
    }
    for (int t = 0; t < NT; t++) {
      int64_t u;  // the pair's two f32 weight scales, for the even and the odd lanes
      std::memcpy(&u, s.sc + t * s.rs + 2 * p, 8);
      const __m512 dw = _mm512_castsi512_ps(_mm512_set1_epi64(u));
      for (int g = 0; g < G; g++)
        acc[t][g] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum[t][g]), _mm512_mul_ps(dw, dx[g]), acc[t][g]);
    }
  }
  alignas(64) float lanes[16];
  for (int t = 0; t < NT; t++)
    for (int g = 0; g < G; g++) {
      // lanes 2r and 2r+1: row r's sums over the even and the odd blocks
      _mm512_store_ps(lanes, _mm512_add_ps(acc[t][g], _mm512_permute_ps(acc[t][g], 0xb1)));
      const int64_t m0 = (g0 + g) * kRows;
      for (int r = 0; r < kRows && m0 + r < M; r++) out[(m0 + r) * N + n + t] = lanes[2 * r];
    }
}

// Groups [g0, g1) of x over NT rows of a strip: two groups at a time, one for an odd last group.
template <class U, int NT>
inline void strip_range(int64_t nb, const Strip& s, const QuantBatchAct& a, int64_t g0, int64_t g1, int64_t M,
                        int64_t N, int64_t n, float* out, const char* pf) {
  for (int64_t g = g0; g < g1; g += 2) {
    if (g1 - g >= 2) strip_groups<U, NT, 2>(nb, s, a, g, M, N, n, out, pf);
    else strip_groups<U, NT, 1>(nb, s, a, g, M, N, n, out, pf);
    pf = nullptr;  // once per strip
  }
}

// The same with NT = nt chosen at run time (a range's last, partial strip).
template <class U>
inline void strip_range_nt(int nt, int64_t nb, const Strip& s, const QuantBatchAct& a, int64_t g0, int64_t g1,
                           int64_t M, int64_t N, int64_t n, float* out, const char* pf) {
  switch (nt) {
    case 1: strip_range<U, 1>(nb, s, a, g0, g1, M, N, n, out, pf); break;
    case 2: strip_range<U, 2>(nb, s, a, g0, g1, M, N, n, out, pf); break;
    case 3: strip_range<U, 3>(nb, s, a, g0, g1, M, N, n, out, pf); break;
    default: strip_range<U, 4>(nb, s, a, g0, g1, M, N, n, out, pf); break;
  }
}

}  // namespace strip
}  // namespace zj
