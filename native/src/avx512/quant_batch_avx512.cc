// quant_batch_avx512.cc — the strip batched decode matvec for q8_0 / q4_0 weights with AVX-512 VNNI: x · Wᵀ for 5–16
// rows of x (a decode step of a batch; any M works). Since the panel kernel (quant_panel_avx512.cc) it runs only with
// ZJ_QUANT_PANEL=0 (A/B runs); its strip unpacker and inner loop still serve the prefill tiles. Rows of x come
// interleaved 8 per zmm, two blocks per lane pair (pack_act_groups_avx512 in quant_tiles_avx512.cc; this file holds its
// buffers). Weights are taken a strip of 4 rows at a time: the strip (contiguous in memory) is unpacked once into an L1
// buffer of broadcast-ready unsigned bytes and f32 scales, and every group of 8 rows of x is dotted with it, two groups
// and four weight rows per x load (quant_strip_avx512.h). So W is read from memory once per call and unpacked once per
// block whatever M is, and the loop over a strip is loads, vpdpbusd and one convert / scale product / FMA per 8
// vpdpbusd. While a strip is computed the next one is prefetched: 8 rows of work per byte leave the hardware prefetcher
// too far behind a stream from DRAM (docs/log.md). No threading here.
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
#include "quant_strip_avx512.h"

namespace zj {

namespace {

using namespace strip;

// Prefetch distance along W in strips (see rows_range). Measured on the 151,936 × 896 head at 8 and 16 rows: 1 strip
// ahead (3.8 KiB at q8_0) was best, 2 and 3 within noise or worse at q8_0.
constexpr int kPrefetchStrips = 1;

thread_local AlignedScratch batch_scratch;  // the packed x, per thread
thread_local AlignedScratch strip_scratch;  // the unpacked strip of W, per thread

template <class U>
void rows_range(int64_t M, int64_t K, int64_t N, const QuantBatchAct& a, const uint8_t* W, float* out, int64_t n0,
                int64_t n1) {
  static const Perm pm = U::perm();
  const int64_t nb = K / kQk, rb = nb * U::bytes, groups = (M + kRows - 1) / kRows;
  const int64_t rv = strip_row_vals(nb), rs = strip_row_scales(nb);
  uint8_t* buf = strip_scratch.get((size_t)(kNt * (rv + rs * 4)));
  float* sc = (float*)(buf + kNt * rv);
  const Strip s{buf, sc, rv, rs};
  for (int64_t n = n0; n < n1; n += kNt) {
    const int nt = (int)std::min<int64_t>(kNt, n1 - n);
    for (int t = 0; t < nt; t++) unpack_row<U>(pm, W + (n + t) * rb, nb, buf + t * rv, sc + t * rs);
    // W is one stream: while this strip is computed, the one kPrefetchStrips ahead is fetched
    const char* pf = (const char*)W + (n + kNt * kPrefetchStrips) * rb;
    strip_range_nt<U>(nt, nb, s, a, 0, groups, M, N, n, out, pf);
  }
}

}  // namespace

QuantBatchBufs batch_act_buffers_avx512(int64_t M, int64_t K) {
  const int64_t np = (K / kQk + 1) / 2, G = (M + kRows - 1) / kRows;
  const size_t xb = (size_t)(G * np * kPairXBytes), cb = (size_t)(G * np * 16 * 4);
  uint8_t* base = batch_scratch.get(xb + 2 * cb);
  return QuantBatchBufs{(int8_t*)base, (int32_t*)(base + xb), (float*)(base + xb + cb)};
}

void matvec_q8_0_batch_avx512(int64_t M, int64_t K, int64_t N, const QuantBatchAct& a, const uint8_t* W, float* out,
                              int64_t n0, int64_t n1) {
  rows_range<UnpackQ8>(M, K, N, a, W, out, n0, n1);
}

void matvec_q4_0_batch_avx512(int64_t M, int64_t K, int64_t N, const QuantBatchAct& a, const uint8_t* W, float* out,
                              int64_t n0, int64_t n1) {
  rows_range<UnpackQ4>(M, K, N, a, W, out, n0, n1);
}

}  // namespace zj
