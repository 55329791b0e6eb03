// quant.cc — drivers of the q8_0 / q4_0 kernels: zj_quantize_rows / zj_dequantize_rows over the pool, the quantized
// branch of zj_matvec (quantize the rows of x once, then split the weight rows over the pool, each thread tiling its
// rows for L2 when x has many rows) with its run-time choice of ISA, and dequant_row_range for the GEMM packers and
// the embedding gather. The maths is in quant_q8_0.cc / quant_q4_0.cc and their ISA twins.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>
#include "../include/zj_kernels.h"
#include "cpu.h"
#include "pool.h"
#include "quant_impl.h"
#include "quant_row1.h"

namespace zj {

// The integer kernels need AVX512-VNNI (vpdpbusd) on top of the AVX-512 baseline; without it, AVX2's.
static bool use_avx512_int8() { return cpu_isa() == ISA_AVX512 && cpu_has_avx512vnni(); }
static bool use_avx2_int8() {
  return cpu_isa() == ISA_AVX2 || (cpu_isa() == ISA_AVX512 && !cpu_has_avx512vnni());
}

// Values [c0, c1) of row r of a panel-layout weight (zj_kernels.h): each block's scale and bytes gathered from its
// group back into a row-layout block, then dequantized as one. Only the embedding gather and the GEMM packers come
// here (a few rows a step, or once per prefill chunk), so plain code suffices.
static void dequant_panel_row_range(const uint8_t* W, int format, int64_t K, int64_t r, int64_t c0, int64_t c1,
                                    float* dst) {
  const int64_t nb = K / kQk, bytes = block_bytes(format), lane = r % 16;
  const uint8_t* panel = W + (r / 16) * 16 * nb * bytes;
  uint8_t blk[kQ8Bytes];
  float vals[kQk];
  for (int64_t b = c0 / kQk; b * kQk < c1; b++) {
    const uint8_t* g = panel + b * 16 * bytes;
    blk[0] = g[2 * lane], blk[1] = g[2 * lane + 1];
    for (int64_t c = 0; c < (bytes - 2) / 4; c++) std::memcpy(blk + 2 + 4 * c, g + 32 + 64 * c + 4 * lane, 4);
    if (is_q8_blocks(format)) dequant_range_q8_0(blk, 0, kQk, vals);
    else dequant_range_q4_0(blk, 0, kQk, vals);
    const int64_t lo = std::max(c0, b * kQk), hi = std::min(c1, (b + 1) * kQk);
    std::memcpy(dst + (lo - c0), vals + (lo - b * kQk), sizeof(float) * (size_t)(hi - lo));
  }
}

void dequant_row_range(const void* W, int format, int64_t K, int64_t r, int64_t c0, int64_t c1, float* dst) {
  if (is_panel_layout(format)) return dequant_panel_row_range((const uint8_t*)W, format, K, r, c0, c1, dst);
  switch (format) {
    case ZJ_W_F32: std::memcpy(dst, (const float*)W + r * K + c0, sizeof(float) * (size_t)(c1 - c0)); return;
    case ZJ_W_BF16: {
      const uint16_t* p = (const uint16_t*)W + r * K + c0;
      for (int64_t i = 0; i < c1 - c0; i++) dst[i] = bf16_to_f32(p[i]);
      return;
    }
    case ZJ_W_Q8_0: {
#if defined(__x86_64__) || defined(_M_X64)
      static const auto q8 = use_avx512_int8() ? dequant_range_q8_0_avx512 : dequant_range_q8_0;
#else
      static const auto q8 = dequant_range_q8_0;
#endif
      q8((const uint8_t*)W + r * (K / kQk) * kQ8Bytes, c0, c1, dst);
      return;
    }
    default: {
#if defined(__x86_64__) || defined(_M_X64)
      static const auto q4 = use_avx512_int8() ? dequant_range_q4_0_avx512 : dequant_range_q4_0;
#else
      static const auto q4 = dequant_range_q4_0;
#endif
      q4((const uint8_t*)W + r * (K / kQk) * kQ4Bytes, c0, c1, dst);
      return;
    }
  }
}

// Scratch for the quantized activations: grows only, one per calling thread (the pool's callers).
struct ActScratch {
  std::vector<int8_t> q;
  std::vector<float> d, d8;
};
static thread_local ActScratch act_scratch;

static int64_t env_rows(const char* name, int64_t dflt) {
  const char* e = std::getenv(name);
  const long n = e ? std::strtol(e, nullptr, 10) : 0;
  return n > 0 ? (int64_t)n : dflt;
}
// Rows of x below the tile kernel's threshold take the panel kernel (avx512/quant_panel_avx512.cc: 16 weight rows
// per zmm, x broadcast) unless ZJ_QUANT_PANEL=0 (A/B runs: then the strip kernel of quant_batch_avx512.cc).
static bool panel_enabled() {
  static const bool v = [] {
    const char* e = std::getenv("ZJ_QUANT_PANEL");
    return !(e && e[0] == '0');
  }();
  return v;
}
// From this many rows of x the VNNI path takes a batch kernel. The panel kernel beats the multi-row one of
// quant_dot_avx512.h from 2 rows (Zen 4, ZJ_THREADS=1, Qwen2.5-0.5B shapes: 4 rows 0.32 → 0.18 ms at 896→4864 q4_0,
// the head 10.2 → 6.4 ms); one row stays with the one-row kernels, which are faster in cache. The strip kernel's
// per-block work only pays from 5 rows. ZJ_QUANT_BATCH_MIN overrides it (A/B runs; 17 turns the batch kernels off).
static int64_t batch_min_rows() {
  static const int64_t v = env_rows("ZJ_QUANT_BATCH_MIN", panel_enabled() ? 2 : 5);
  return v;
}
// One row of x over a big q4_0 weight (7B-class layers and heads) takes the panel kernel too: from DRAM its 16 rows
// in flight keep more memory requests going than the one-row kernel's single stream. Zen 4, 2 threads, random
// weights, ms per call: Qwen2.5-7B gate/up 3584→18944 1.33 → 1.03, down 18944→3584 1.93 → 1.02, the head
// 3584→152064 11.0 → 10.3 (single runs; the machine's noise is ±20 % on these); `bench decode --preset qwen2.5-7b
// --layers 4 --weights q4_0`: 31.4 / 31.5 → 39.8 / 34.3 tok/s in alternating pairs. At ≤ 32M weights or K < 2048
// (3584→3584, every Qwen2.5-0.5B layer and its 896-wide head) the one-row kernel was as fast or faster. For q8_0 the
// per-call figures moved the same way, but the 4-layer bench did not (18.1–24.1 before vs 17.6–20.2 tok/s after in
// four pairs), so q8_0 keeps its one-row loop.
static bool panel_takes_one_row(int format, int64_t N, int64_t K) {
  return format == ZJ_W_Q4_0 && K >= 2048 && N * K >= (int64_t{1} << 25);
}
// From this many rows (a long prefill) the VNNI path takes the tiled kernel (avx512/quant_tiles_avx512.cc), which
// keeps an L2-sized tile of W unpacked and serves every row of x from it. The panel kernel re-reads all of x for each
// 16 weight rows, yet up to 1,024 rows it was faster (Zen 4, ZJ_THREADS=1, q4_0: 128 rows 3.4 vs 4.0 ms at
// 896→4864, 0.62 vs 0.75 at 896→896; 1,024 rows 27.8 vs 32.1 and 27.4 vs 29.7), so the tiles start past that
// (at 17 rows with the panel kernel off, as before it). ZJ_QUANT_TILE_MIN overrides it (tests run the tiled kernel
// at small M with it; A/B runs).
static int64_t tile_min_rows() {
  static const int64_t v = env_rows("ZJ_QUANT_TILE_MIN", panel_enabled() ? 1025 : 17);
  return v;
}
// One row of x (batch-1 decode) over q4_0 takes the one-row VNNI kernel (quant_row1.h) unless ZJ_QUANT_ROW1=0 (A/B
// runs: then the multi-row kernel of quant_dot_avx512.h takes it, as it takes 2–4 rows and q8_0).
static bool row1_enabled() {
  static const bool v = [] {
    const char* e = std::getenv("ZJ_QUANT_ROW1");
    return !(e && e[0] == '0');
  }();
  return v;
}

// The drivers' tiling of the one-row kernels (AVX2, scalar, and AVX-512 below batch_min_rows): weight rows in tiles
// of ~512 KiB (half of a Zen 4 / 5 core's 1 MiB L2; the rest holds the x panel and what streams past), each tile
// swept by panels of x rows of ~16 KiB (a third of L1 or less, so the panel stays there while the tile's rows stream
// from L2), so W is read from DRAM once and x once per tile. For M <= 16 (decoding) the panel is all of x: one pass.
constexpr int64_t kRowTileBytes = 512 * 1024;
constexpr int64_t kPanelBytes = 16 * 1024;

static void tiled_rows(quant_rows_fn rows, int64_t M, int64_t K, int64_t N, const ActRows& a, const uint8_t* W,
                       int format, float* out, int64_t n0, int64_t n1) {
  const int64_t nb = K / kQk;
  const int64_t tile = std::max<int64_t>(1, kRowTileBytes / (nb * block_bytes(format)));
  const int64_t panel = M <= 16 ? M : std::max<int64_t>(4, kPanelBytes / K / 4 * 4);
  for (int64_t t0 = n0; t0 < n1; t0 += tile) {
    const int64_t t1 = std::min(n1, t0 + tile);
    for (int64_t m0 = 0; m0 < M; m0 += panel) {
      const ActRows p{a.q + m0 * K, a.d + m0 * nb, a.d8 + m0 * nb * 8};
      rows(std::min(panel, M - m0), K, N, p, W, out + m0 * N, t0, t1);
    }
  }
}

// ZJ_QUANT_PANEL_SCALES=0: the panel kernel regroups the scales itself and callers are told not to make tables (A/B
// runs; the table then costs no memory either).
static bool panel_scales_enabled() {
  static const bool v = [] {
    const char* e = std::getenv("ZJ_QUANT_PANEL_SCALES");
    return !(e && e[0] == '0');
  }();
  return v;
}

#if defined(__x86_64__) || defined(_M_X64)
// Whether the VNNI path takes a batch kernel (panel, strip or tiles) rather than a one-row loop.
static bool takes_batch(int64_t M, int64_t N, int64_t K, int format) {
  const bool batch = M >= batch_min_rows() || (M == 1 && panel_enabled() && panel_takes_one_row(format, N, K));
  return use_avx512_int8() && (batch || M >= tile_min_rows());
}
#endif

bool matvec_quant_takes_panel(int64_t M, int64_t N, int64_t K, int format) {
#if defined(__x86_64__) || defined(_M_X64)
  return takes_batch(M, N, K, format) && M < tile_min_rows() && panel_enabled();
#else
  (void)M, (void)N, (void)K, (void)format;
  return false;
#endif
}

// x (M, K) packed for the batch kernels (quant_impl.h's QuantBatchAct, per-thread scratch), the groups of 8 rows
// split over the pool: packing costs about as much per value as a few weight rows' dot products, so it splits once
// past ~32k values.
#if defined(__x86_64__) || defined(_M_X64)
static QuantBatchAct pack_batch_act(const float* x, int64_t M, int64_t K, int format) {
  const QuantBatchBufs s = batch_act_buffers_avx512(M, K);
  parallel_for((M + 7) / 8, std::max<int64_t>(1, 4096 / K), [&](int64_t g0, int64_t g1, int) {
    pack_act_groups_avx512(x, M, K, format, g0, g1, s.x, s.corr, s.dx);
  });
  return QuantBatchAct{s.x, s.corr, s.dx};
}
#endif

// ZJ_QUANT_INTERLEAVE=0: callers are told the panel layout is not taken, so weights stay in the row layout (A/B
// runs against the regrouping kernels).
static bool interleave_enabled() {
  static const bool v = [] {
    const char* e = std::getenv("ZJ_QUANT_INTERLEAVE");
    return !(e && e[0] == '0');
  }();
  return v;
}

static bool quant_panels_supported() {
#if defined(__x86_64__) || defined(_M_X64)
  return use_avx512_int8() && panel_enabled() && interleave_enabled();
#else
  return false;
#endif
}

// A panel-layout weight: every M takes the panel kernel (one row too: the layout streams as well as the row kernels
// read theirs), x packed and served at most 1,024 rows at a time, as the row layout's panel kernel is used up to
// that size (past it, re-reading all of x for every panel costs more than its regrouping saved).
// Without the kernel (the glue refuses that; a C caller might not) the weight goes back to rows for the call: slow,
// but the same numbers.
static void matvec_quant_panels(int64_t M, int64_t N, int64_t K, const float* x, const uint8_t* W, int format,
                                float* out) {
  const int base = is_q8_blocks(format) ? ZJ_W_Q8_0 : ZJ_W_Q4_0;
#if defined(__x86_64__) || defined(_M_X64)
  if (use_avx512_int8()) {
    const quant_p16_fn rows = base == ZJ_W_Q8_0 ? matvec_q8_0_p16_avx512 : matvec_q4_0_p16_avx512;
    const int64_t grain = (65536 + K - 1) / K;  // at least ~64k weights per chunk of the pool, in whole panels
    for (int64_t m0 = 0; m0 < M; m0 += 1024) {
      const int64_t Ms = std::min<int64_t>(1024, M - m0);
      const QuantBatchAct a = pack_batch_act(x + m0 * K, Ms, K, base);
      parallel_for(N / 16, (grain + 15) / 16, [&](int64_t p0, int64_t p1, int) {
        rows(Ms, K, N, a, W, out + m0 * N, p0 * 16, p1 * 16);
      });
    }
    return;
  }
#endif
  std::vector<uint8_t> rows_layout((size_t)(N * (K / kQk) * block_bytes(base)));
  zj_quant_from_panels(W, base, N, K, rows_layout.data());
  matvec_quant(M, N, K, x, rows_layout.data(), base, out, nullptr);
}

void matvec_quant(int64_t M, int64_t N, int64_t K, const float* x, const uint8_t* W, int format, float* out,
                  const uint16_t* panel_scales) {
  if (is_panel_layout(format)) return matvec_quant_panels(M, N, K, x, W, format, out);
  const int64_t nb = K / kQk;
#if defined(__x86_64__) || defined(_M_X64)
  if (takes_batch(M, N, K, format)) {
    const QuantBatchAct a = pack_batch_act(x, M, K, format);
    if (M >= tile_min_rows()) {
      const quant_batch_fn rows = format == ZJ_W_Q8_0 ? matmul_q8_0_tiles_avx512 : matmul_q4_0_tiles_avx512;
      // at least ~1M multiply-adds per chunk of the pool, and whole micro-tiles of 4 weight rows
      const int64_t grain = std::max<int64_t>(4, ((1 << 20) / (M * K) + 3) / 4 * 4);
      parallel_for(N, grain, [&](int64_t n0, int64_t n1, int) { rows(M, K, N, a, W, out, n0, n1); });
      return;
    }
    // at least ~64k weights per chunk of the pool, as below
    const int64_t grain = (65536 + K - 1) / K;
    if (panel_enabled()) {
      // whole panels of 16 weight rows per chunk (a split inside one would compute a partial panel twice over)
      const quant_panel_fn rows = format == ZJ_W_Q8_0 ? matvec_q8_0_panel_avx512 : matvec_q4_0_panel_avx512;
      parallel_for((N + 15) / 16, (grain + 15) / 16, [&](int64_t p0, int64_t p1, int) {
        rows(M, K, N, a, W, panel_scales_enabled() ? panel_scales : nullptr, out, p0 * 16, std::min(N, p1 * 16));
      });
      return;
    }
    const quant_batch_fn rows = format == ZJ_W_Q8_0 ? matvec_q8_0_batch_avx512 : matvec_q4_0_batch_avx512;
    parallel_for(N, grain, [&](int64_t n0, int64_t n1, int) { rows(M, K, N, a, W, out, n0, n1); });
    return;
  }
  if (M == 1 && format == ZJ_W_Q4_0 && use_avx512_int8() && row1_enabled()) {
    const Row1Act a = row1_act_avx512(x, K);
    // chunks of whole rows; at least ~64k weights per chunk so small layers stay on one thread
    const int64_t grain = (65536 + K - 1) / K;
    parallel_for(N, grain, [&](int64_t n0, int64_t n1, int) { matvec_q4_0_row1_avx512(K, a, W, out, n0, n1); });
    return;
  }
#endif
  const int64_t blocks = M * nb;
  ActScratch& s = act_scratch;
  // 64 bytes of slack: the AVX-512 kernels load two blocks at a time and may read past the last one.
  if ((int64_t)s.q.size() < M * K + 64) s.q.assign((size_t)(M * K + 64), 0);
  if ((int64_t)s.d.size() < blocks + 2) s.d.resize((size_t)blocks + 2), s.d8.resize((size_t)(blocks + 2) * 8);
  quant_rows_fn rows = format == ZJ_W_Q8_0 ? matvec_q8_0_rows_scalar : matvec_q4_0_rows_scalar;
  void (*quantize)(const float*, int64_t, int8_t*, float*) = quantize_act_scalar;
  bool d8 = false;
#if defined(__x86_64__) || defined(_M_X64)
  if (use_avx512_int8()) {
    quantize = quantize_act_avx512, d8 = true;
    rows = format == ZJ_W_Q8_0 ? matvec_q8_0_rows_avx512 : matvec_q4_0_rows_avx512;
  } else if (use_avx2_int8()) {
    quantize = quantize_act_avx2;
    rows = format == ZJ_W_Q8_0 ? matvec_q8_0_rows_avx2 : matvec_q4_0_rows_avx2;
  }
#endif
  // the blocks of x over the pool once a prefill's worth (≥ 4096 blocks) is there
  parallel_for(blocks, 4096, [&](int64_t b0, int64_t b1, int) {
    quantize(x + b0 * kQk, b1 - b0, s.q.data() + b0 * kQk, s.d.data() + b0);
    if (d8)
      for (int64_t b = b0; b < b1; b++) std::fill_n(s.d8.data() + b * 8, 8, s.d[(size_t)b]);
  });
  const ActRows a{s.q.data(), s.d.data(), s.d8.data()};
  // chunks of whole rows; at least ~64k weights per chunk so small layers stay on one thread
  const int64_t grain = (65536 + K - 1) / K;
  parallel_for(N, grain, [&](int64_t n0, int64_t n1, int) { tiled_rows(rows, M, K, N, a, W, format, out, n0, n1); });
}

}  // namespace zj

using namespace zj;

extern "C" int zj_matvec_reads_panel_scales(int64_t M, int64_t N, int64_t K, int w_format) {
  if (M <= 0 || N <= 0 || K <= 0 || (w_format != ZJ_W_Q8_0 && w_format != ZJ_W_Q4_0)) return 0;
  return panel_scales_enabled() && matvec_quant_takes_panel(M, N, K, w_format) ? 1 : 0;
}

// A plain pass (N · K/32 two-byte copies): made once per weight, then read by every batched call.
extern "C" void zj_quant_panel_scales(const uint8_t* W, int w_format, int64_t N, int64_t K, uint16_t* out) {
  const int64_t nb = K / kQk, bytes = block_bytes(w_format), panels = (N + 15) / 16;
  if (panels * nb <= 0) return;
  std::memset(out, 0, sizeof(uint16_t) * (size_t)(panels * 16 * nb));
  for (int64_t n = 0; n < N; n++) {
    uint16_t* dst = out + (n / 16) * nb * 16 + n % 16;
    const uint8_t* src = W + n * nb * bytes;
    for (int64_t b = 0; b < nb; b++) std::memcpy(dst + b * 16, src + b * bytes, 2);
  }
}

extern "C" int zj_quant_panels_supported(int w_format) {
  return (w_format == ZJ_W_Q8_0 || w_format == ZJ_W_Q4_0) && quant_panels_supported() ? 1 : 0;
}

// Block b of row n moves to group b of panel n / 16: its scale to slot n % 16, its 4-byte chunks to chunk c's slot.
// to_panels and from_panels are the two directions of the one mapping. A panel's 16 rows occupy the same bytes in
// both layouts, so W == out works a panel at a time through a copy of it (loading a model repacks in place).
template <bool kToPanels>
static void panel_repack(const uint8_t* W, int format, int64_t N, int64_t K, uint8_t* out) {
  const int64_t nb = K / kQk, bytes = block_bytes(format), chunks = (bytes - 2) / 4, pb = 16 * nb * bytes;
  parallel_for(N / 16, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, nb)), [&](int64_t p0, int64_t p1, int) {
    thread_local std::vector<uint8_t> copy;
    for (int64_t p = p0; p < p1; p++) {
      const uint8_t* src = W + p * pb;
      uint8_t* dst = out + p * pb;
      if (src == dst) {
        copy.assign(src, src + pb);
        src = copy.data();
      }
      for (int64_t i = 0; i < 16; i++)
        for (int64_t b = 0; b < nb; b++) {
          const int64_t ro = (i * nb + b) * bytes, go = b * 16 * bytes;  // within the panel
          auto move = [&](int64_t row_off, int64_t group_off, size_t len) {
            if (kToPanels) std::memcpy(dst + go + group_off, src + ro + row_off, len);
            else std::memcpy(dst + ro + row_off, src + go + group_off, len);
          };
          move(0, 2 * i, 2);
          for (int64_t c = 0; c < chunks; c++) move(2 + 4 * c, 32 + 64 * c + 4 * i, 4);
        }
    }
  });
}

extern "C" void zj_quant_to_panels(const uint8_t* W, int format, int64_t N, int64_t K, uint8_t* out) {
  if (N > 0 && K > 0) panel_repack<true>(W, format, N, K, out);
}

extern "C" void zj_quant_from_panels(const uint8_t* W, int format, int64_t N, int64_t K, uint8_t* out) {
  if (N > 0 && K > 0) panel_repack<false>(W, format, N, K, out);
}

extern "C" void zj_quantize_rows(const void* x, int x_bf16, int64_t N, int64_t K, int format, uint8_t* out) {
  if (N <= 0 || K <= 0) return;
  const int64_t nb = K / kQk, bytes = block_bytes(format), elem = x_bf16 ? 2 : 4;
  auto blocks = format == ZJ_W_Q8_0 ? quantize_blocks_q8_0 : quantize_blocks_q4_0;
#if defined(__x86_64__) || defined(_M_X64)
  if (use_avx512_int8()) blocks = format == ZJ_W_Q8_0 ? quantize_blocks_q8_0_avx512 : quantize_blocks_q4_0_avx512;
#endif
  parallel_for(N, std::max<int64_t>(1, 16384 / K), [&](int64_t r0, int64_t r1, int) {
    blocks((const char*)x + r0 * K * elem, x_bf16, (r1 - r0) * nb, out + r0 * nb * bytes);
  });
}

extern "C" void zj_dequantize_rows(const uint8_t* w, int format, int64_t N, int64_t K, float* out) {
  if (N <= 0 || K <= 0) return;
  parallel_for(N, std::max<int64_t>(1, 16384 / K), [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; r++) dequant_row_range(w, format, K, r, 0, K, out + r * K);
  });
}
