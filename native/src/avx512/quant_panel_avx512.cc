// quant_panel_avx512.cc — the batched matvec for q8_0 / q4_0 weights with AVX-512 VNNI, weight rows across the
// lanes: x · Wᵀ for 2–1,024 rows of x (a decode step of a batch, a prefill), 16 weight rows per zmm.
//
// Why this shape: the strip kernel (quant_strip_avx512.h) puts rows of x in the lanes and broadcasts weight qwords, so
// every vpdpbusd needs a broadcast instruction of its own plus address arithmetic; at 8 rows of x it ran at ~43 % of
// the machine's vpdpbusd rate (one zmm per cycle per core, measured on Zen 4), this kernel at ~58 %. Here a zmm holds
// dword c of one block for 16 consecutive weight rows (a 4 × 4 dword transpose of 16 row loads, done in registers), and
// x's dword comes in as vpdpbusd's broadcast memory operand ({1to16}) (no broadcast instruction of its own). Per block,
// 16 weight rows and r rows of x: 8 · r vpdpbusd, one convert, one multiply and one FMA per row of x, and the unpack of
// the 16 rows (loads, 8 unpacks, 8 and / shift) paid once for up to 8 rows of x. The 16 sums of a row of x land in one
// zmm in output order, so the result is one store per row: no horizontal reduction.
//
// x comes packed by pack_act_groups_avx512 (quant_tiles_avx512.cc; layout in quant_impl.h): row r of group g, block
// b, element dword c sits at lane 2r + (b & 1) of chunk c of pair b / 2, its seed (−C·Σx) and scale at the same lane.
// Operand signs as in quant_batch_avx512.cc: weights unsigned (q8_0: w xor 0x80, q4_0: the raw nibble), x signed.
// Each (weight row, row of x, block) sum is exact in int32 and scaled once by f32(d_w · d_x), as the reference
// (src/backend/reference/quant.ts matvecQuant) has it; only the order of the f32 sum over blocks differs.
// No threading here (quant.cc splits N over the pool).
// GCC 12 warns inside its own AVX-512 headers (_mm512_undefined_* in the conversion intrinsics), as in simd_avx512.cc.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC target("avx512vnni")
#include <immintrin.h>
#include <algorithm>
#include "../quant_impl.h"

namespace zj {

namespace {

constexpr int kLanes = 16;      // weight rows per zmm (a panel)
constexpr int kGroupRows = 8;   // rows of x per packed group
constexpr int64_t kChunkBytes = 64, kPairBytes = 8 * kChunkBytes;  // pack_act_groups_avx512's layout

// The 16 rows' dwords k = 0..3 of 16 bytes per row (row i at rows[i] + off): T_k dword i = row i's dword k.
inline void transpose16x4(const uint8_t* const* rows, int64_t off, __m512i t[4]) {
  __m512i z[4];
  for (int j = 0; j < 4; j++) {
    __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i*)(rows[j] + off)));
    v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i*)(rows[j + 4] + off)), 1);
    v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i*)(rows[j + 8] + off)), 2);
    z[j] = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i*)(rows[j + 12] + off)), 3);
  }
  // lane l of z[j] is row j + 4l; after the 4 × 4 transposes within lanes, dword 4l + j of t[k] is that row's dword k
  const __m512i a0 = _mm512_unpacklo_epi32(z[0], z[1]), a1 = _mm512_unpackhi_epi32(z[0], z[1]);
  const __m512i a2 = _mm512_unpacklo_epi32(z[2], z[3]), a3 = _mm512_unpackhi_epi32(z[2], z[3]);
  t[0] = _mm512_unpacklo_epi64(a0, a2);
  t[1] = _mm512_unpackhi_epi64(a0, a2);
  t[2] = _mm512_unpacklo_epi64(a1, a3);
  t[3] = _mm512_unpackhi_epi64(a1, a3);
}

// q4_0: block = f16 d + 16 bytes; byte j holds element j (low nibble) and j + 16 (high). Chunk c < 4 is the low
// nibbles of dword c, chunk 4 + c the high ones: unsigned values w + 8 (the seed takes the 8 back out).
struct PanelQ4 {
  static constexpr int64_t bytes = kQ4Bytes;
  static inline void block(const uint8_t* const* rows, int64_t b, __m512i w[8]) {
    __m512i t[4];
    transpose16x4(rows, b * bytes + 2, t);
    const __m512i m = _mm512_set1_epi8(0x0f);
    for (int k = 0; k < 4; k++) {
      w[k] = _mm512_and_si512(t[k], m);
      w[4 + k] = _mm512_and_si512(_mm512_srli_epi16(t[k], 4), m);
    }
  }
};

// q8_0: block = f16 d + 32 int8; chunk c is dword c, made unsigned (w xor 0x80 = w + 128).
struct PanelQ8 {
  static constexpr int64_t bytes = kQ8Bytes;
  static inline void block(const uint8_t* const* rows, int64_t b, __m512i w[8]) {
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    __m512i t[4];
    for (int h = 0; h < 2; h++) {
      transpose16x4(rows, b * bytes + 2 + 16 * h, t);
      for (int k = 0; k < 4; k++) w[4 * h + k] = _mm512_xor_si512(t[k], flip);
    }
  }
};

// s + w · (the dword at p, broadcast): vpdpbusd with an embedded {1to16} memory operand. GCC 12 turns
// _mm512_set1_epi32(load) into a separate vpbroadcastd (a shuffle-port op on Zen 4), so the form is spelled out.
inline __m512i dpbusd_bcast(__m512i s, __m512i w, const int8_t* p) {
  __asm__("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(s) : "v"(w), "m"(*(const int32_t*)p));
  return s;
}

// The 16 rows' scales of the blocks starting at rows[i] + off, as f32 in lane i: dword 0 of each row's block by the
// same transpose (its low word is the f16 d). Was a 16-dword gather: in-cache microbench over a 4,864 × 896
// weight on Zen 4, q4_0 at 2 / 4 / 8 rows of x 74-81 / 89-99 / 133-141 -> 64-75 / 83-90 / 133-141 us, q8_0
// 91-94 / 110-116 / 152-157 -> 77-78 / 97-100 / 142-149 us; one row over 3,584 × 18,944 (7B) q4_0 1.0 -> 0.86 ms.
// Zen 4 runs the gather's 16 loads as a long microcoded sequence; 16 plain loads and 3 shuffles issue beside the
// vpdpbusd. Masked broadcasts (one per row, merged) gained nothing at 8 rows.
inline __m512 panel_scales(const uint8_t* const* rows, int64_t off) {
  __m512i t[4];
  transpose16x4(rows, off, t);  // only t[0] is used: the compiler drops the other three unpacks
  return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(t[0]));
}

// Where a panel's blocks come from: unpacked from W as they are needed (one group of x: nothing to share), or read
// back from an L1/L2 scratch the panel was unpacked into once (several groups). Both hand out block b's 8 chunk
// vectors and its 16 f32 scales, for b = 0, 1, … in turn. With the weight's panel-scale table (zj_quant_panel_scales)
// the scales are one 32-byte load instead of panel_scales' 16 loads and shuffles: the regrouping is the same on every
// call, so it is done once per weight. At 8 rows of x (Zen 4, ZJ_THREADS=1, alternating runs), µs a call with vs
// without: 4,864 × 896 q4_0 from L3 259–267 vs 280–324 on a quiet host, 312–364 vs 313–378 on a busy one; the
// 151,936-row head from DRAM 9.1–9.6 vs 9.6–10.6 ms.
template <class P>
struct FromWeights {
  const uint8_t* const* rows;  // row i of the panel
  const uint16_t* scales;      // the panel's (nb, 16) part of the table, or null
  inline void next(int64_t b, __m512i w[8], __m512& dw) {
    P::block(rows, b, w);
    dw = scales ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(scales + b * kLanes)))
                : panel_scales(rows, b * P::bytes);
  }
};
// A weight already in the interleaved panel layout (ZJ_W_Q8_0_P16 / ZJ_W_Q4_0_P16, zj_kernels.h): block b of the
// panel is its 16 scales, then the chunks exactly as transpose16x4 would have made them, so a block is 4 (q4_0) or
// 8 (q8_0) aligned-stride loads and the nibble split or sign flip: no inserts, no unpacks. The layout is made once
// at load (zj_quant_to_panels) for weights that only these kernels read.
struct PanelQ4Interleaved {
  static constexpr int64_t bytes = kQ4Bytes;
  static inline void block(const uint8_t* p, __m512i w[8]) {
    const __m512i m = _mm512_set1_epi8(0x0f);
    for (int k = 0; k < 4; k++) {
      const __m512i t = _mm512_loadu_si512(p + 32 + 64 * k);
      w[k] = _mm512_and_si512(t, m);
      w[4 + k] = _mm512_and_si512(_mm512_srli_epi16(t, 4), m);
    }
  }
};
struct PanelQ8Interleaved {
  static constexpr int64_t bytes = kQ8Bytes;
  static inline void block(const uint8_t* p, __m512i w[8]) {
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (int c = 0; c < 8; c++) w[c] = _mm512_xor_si512(_mm512_loadu_si512(p + 32 + 64 * c), flip);
  }
};
template <class P>
struct FromPanels {
  const uint8_t* panel;  // block 0 of the panel; block b is 16 · P::bytes further on per block
  inline void next(int64_t b, __m512i w[8], __m512& dw) {
    const uint8_t* p = panel + b * (kLanes * P::bytes);
    P::block(p, w);
    dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)p));
  }
};

constexpr int64_t kUnpackedBlock = 9;  // zmm per unpacked block: 8 chunks, then the scales
struct FromScratch {
  const __m512i* p;
  inline void next(int64_t b, __m512i w[8], __m512& dw) {
    const __m512i* q = p + b * kUnpackedBlock;
    for (int c = 0; c < 8; c++) w[c] = _mm512_load_si512(q + c);
    dw = _mm512_castsi512_ps(_mm512_load_si512(q + 8));
  }
};

// R rows of x (group g, R ≤ 8) against one panel of 16 weight rows, all nb blocks from src: out rows 8g .. 8g + R,
// columns n .. n + 16 under the mask keep. If pf is set, pf_step bytes from pf + b · pf_step are prefetched per block.
template <int R, class Src>
void panel_group(int64_t nb, Src src, const QuantBatchAct& a, int64_t g, int64_t N, int64_t n, __mmask16 keep,
                 float* out, const char* pf, int64_t pf_step) {
  const int64_t np = (nb + 1) / 2;
  __m512 acc[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    if (pf)
      for (int64_t l = 0; l < pf_step; l += 64) _mm_prefetch(pf + b * pf_step + l, _MM_HINT_T1);
    __m512i w[8];
    __m512 dw;
    src.next(b, w, dw);
    const int64_t pair = g * np + b / 2, lane = b & 1;
    const int8_t* xp = a.x + pair * kPairBytes + lane * 4;
    const int32_t* cp = a.corr + pair * 16 + lane;
    const float* dp = a.dx + pair * 16 + lane;
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
      __m512i s = _mm512_set1_epi32(cp[2 * r]);
#pragma GCC unroll 8
      for (int c = 0; c < 8; c++) s = dpbusd_bcast(s, w[c], xp + c * kChunkBytes + 8 * r);
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, _mm512_set1_ps(dp[2 * r])), acc[r]);
    }
  }
  for (int r = 0; r < R; r++) _mm512_mask_storeu_ps(out + (g * kGroupRows + r) * N + n, keep, acc[r]);
}

template <class Src>
void panel_rows(int64_t R, int64_t nb, const Src& src, const QuantBatchAct& a, int64_t g, int64_t N, int64_t n,
                __mmask16 keep, float* out, const char* pf, int64_t pf_step) {
  switch (R) {
    case 1: panel_group<1>(nb, src, a, g, N, n, keep, out, pf, pf_step); break;
    case 2: panel_group<2>(nb, src, a, g, N, n, keep, out, pf, pf_step); break;
    case 3: panel_group<3>(nb, src, a, g, N, n, keep, out, pf, pf_step); break;
    case 4: panel_group<4>(nb, src, a, g, N, n, keep, out, pf, pf_step); break;
    case 5: panel_group<5>(nb, src, a, g, N, n, keep, out, pf, pf_step); break;
    case 6: panel_group<6>(nb, src, a, g, N, n, keep, out, pf, pf_step); break;
    case 7: panel_group<7>(nb, src, a, g, N, n, keep, out, pf, pf_step); break;
    default: panel_group<8>(nb, src, a, g, N, n, keep, out, pf, pf_step); break;
  }
}

// Groups of x against one panel from src: straight from it for a single group, else unpacked once into the
// scratch `up` and read back from there by every group. pf: the next panel's bytes, prefetched while this one runs.
template <class Src>
void panel_all_groups(int64_t M, int64_t nb, Src src, __m512i* up, const QuantBatchAct& a, int64_t N, int64_t n,
                      __mmask16 keep, float* out, const char* pf, int64_t pf_step) {
  const int64_t groups = (M + kGroupRows - 1) / kGroupRows;
  if (!up) {
    panel_rows(M, nb, src, a, 0, N, n, keep, out, pf, pf_step);
    return;
  }
  for (int64_t b = 0; b < nb; b++) {
    if (pf)
      for (int64_t l = 0; l < pf_step; l += 64) _mm_prefetch(pf + b * pf_step + l, _MM_HINT_T1);
    __m512i w[8];
    __m512 dw;
    src.next(b, w, dw);
    for (int c = 0; c < 8; c++) _mm512_store_si512(up + b * kUnpackedBlock + c, w[c]);
    _mm512_store_si512(up + b * kUnpackedBlock + 8, _mm512_castps_si512(dw));
  }
  for (int64_t g = 0; g < groups; g++)
    panel_rows(std::min<int64_t>(kGroupRows, M - g * kGroupRows), nb, FromScratch{up}, a, g, N, n, keep, out,
               nullptr, pf_step);
}

// The interleaved layout: N a multiple of 16 (zj_quant_to_panels refuses others), panel n / 16 at W + n · rb.
template <class P>
void interleaved_range(int64_t M, int64_t K, int64_t N, const QuantBatchAct& a, const uint8_t* W, float* out,
                       int64_t n0, int64_t n1) {
  const int64_t nb = K / kQk, rb = nb * P::bytes, groups = (M + kGroupRows - 1) / kGroupRows;
  thread_local AlignedScratch unpacked;
  const int64_t pf_step = kLanes * P::bytes;
  __m512i* up = groups > 1 ? (__m512i*)unpacked.get((size_t)(nb * kUnpackedBlock * 64)) : nullptr;
  for (int64_t n = n0; n < n1; n += kLanes) {
    const char* pf = n + kLanes < n1 ? (const char*)(W + (n + kLanes) * rb) : nullptr;
    panel_all_groups(M, nb, FromPanels<P>{W + n * rb}, up, a, N, n, (__mmask16)0xffff, out, pf, pf_step);
  }
}

template <class P>
void panels_range(int64_t M, int64_t K, int64_t N, const QuantBatchAct& a, const uint8_t* W, const uint16_t* scales,
                  float* out, int64_t n0, int64_t n1) {
  const int64_t nb = K / kQk, rb = nb * P::bytes, groups = (M + kGroupRows - 1) / kGroupRows;
  thread_local AlignedScratch tail;      // a last, partial panel's rows, zero-padded to 16
  thread_local AlignedScratch unpacked;  // one panel's blocks, unpacked, when several groups of x share them
  const int64_t pf_step = kLanes * P::bytes;
  __m512i* up = groups > 1 ? (__m512i*)unpacked.get((size_t)(nb * kUnpackedBlock * 64)) : nullptr;
  for (int64_t n = n0; n < n1; n += kLanes) {
    const int nt = (int)std::min<int64_t>(kLanes, n1 - n);
    const uint8_t* base = W + n * rb;
    if (nt < kLanes) {
      uint8_t* t = tail.get((size_t)(kLanes * rb));
      std::memset(t, 0, (size_t)(kLanes * rb));
      std::memcpy(t, base, (size_t)(nt * rb));
      base = t;
    }
    const uint8_t* rows[kLanes];
    for (int i = 0; i < kLanes; i++) rows[i] = base + i * rb;
    const __mmask16 keep = (__mmask16)((1u << nt) - 1);
    // the next panel (16 · rb contiguous bytes) streams from DRAM while this one is computed, spread over its blocks
    const char* pf = n + kLanes < n1 ? (const char*)(W + (n + kLanes) * rb) : nullptr;
    FromWeights<P> fw{rows, scales ? scales + n * nb : nullptr};  // n / 16 panels of nb · 16 scales before it
    panel_all_groups(M, nb, fw, up, a, N, n, keep, out, pf, pf_step);
  }
}

}  // namespace

void matvec_q8_0_panel_avx512(int64_t M, int64_t K, int64_t N, const QuantBatchAct& a, const uint8_t* W,
                              const uint16_t* scales, float* out, int64_t n0, int64_t n1) {
  panels_range<PanelQ8>(M, K, N, a, W, scales, out, n0, n1);
}

void matvec_q4_0_panel_avx512(int64_t M, int64_t K, int64_t N, const QuantBatchAct& a, const uint8_t* W,
                              const uint16_t* scales, float* out, int64_t n0, int64_t n1) {
  panels_range<PanelQ4>(M, K, N, a, W, scales, out, n0, n1);
}

void matvec_q8_0_p16_avx512(int64_t M, int64_t K, int64_t N, const QuantBatchAct& a, const uint8_t* W, float* out,
                            int64_t n0, int64_t n1) {
  interleaved_range<PanelQ8Interleaved>(M, K, N, a, W, out, n0, n1);
}

void matvec_q4_0_p16_avx512(int64_t M, int64_t K, int64_t N, const QuantBatchAct& a, const uint8_t* W, float* out,
                            int64_t n0, int64_t n1) {
  interleaved_range<PanelQ4Interleaved>(M, K, N, a, W, out, n0, n1);
}

}  // namespace zj
