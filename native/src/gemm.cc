// gemm.cc — zj_gemm: the blocked GEMM driver (Goto & van de Geijn, "Anatomy of High-Performance Matrix
// Multiplication", 2008; BLIS's five-loop layout). Packs op(A)/op(B) panels from f32 or bf16 storage,
// transposed or not, into the layout the ISA microkernel wants, blocks for the caches, splits the work
// over the pool and picks the kernel at run time. Also holds the portable scalar microkernel (the arm64
// path) and a no-packing path for M <= 3. A q8_0 / q4_0 B (a frozen weight) is dequantized panel by panel into
// f32 scratch and packed from there, so no f32 copy of the whole weight exists. The SIMD microkernels and packers
// are in avx512/ and avx2/; this file uses no intrinsics.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>
#include "../include/zj_kernels.h"
#include "convert.h"
#include "cpu.h"
#include "gemm_impl.h"
#include "pool.h"
#include "quant_impl.h"

namespace zj {
namespace {

// ---- the portable microkernel -------------------------------------------------------------------

constexpr int kScalarMr = 4, kScalarNr = 8;

// Plain loops over a 4×8 tile; compilers keep it in SSE/NEON registers at baseline flags.
void gemm_f32_scalar(int64_t kc, const void* a_, const void* b_, float* c, int64_t ldc, int m, int n, float alpha,
                     float beta) {
  const float* a = (const float*)a_;
  const float* b = (const float*)b_;
  float acc[kScalarMr][kScalarNr] = {};
  for (int64_t k = 0; k < kc; k++, a += kScalarMr, b += kScalarNr)
    for (int r = 0; r < kScalarMr; r++)
      for (int j = 0; j < kScalarNr; j++) acc[r][j] += a[r] * b[j];
  for (int r = 0; r < m; r++)
    for (int j = 0; j < n; j++) {
      float* o = c + r * ldc + j;
      *o = beta != 0.0f ? alpha * acc[r][j] + beta * *o : alpha * acc[r][j];
    }
}

// ---- kernel choice and blocking -----------------------------------------------------------------

// How operands are packed: plain f32, f32 rounded to bf16 values (bf16 compute on an f32 kernel: the
// products of two bf16 values are exact in f32, so only accumulation order differs from vdpbf16ps),
// or bf16 k-pairs for vdpbf16ps.
// AMX packs A as bf16 rows instead (B stays in pairs).
enum PackMode { PACK_F32 = 0, PACK_F32_ROUND = 1, PACK_PAIRS = 2, PACK_ROWS = 3 };

struct Kernel {
  gemm_micro_fn fn;
  int mr, nr;
  bool pairs;
  bool a_rows;  // A packed as bf16 rows (AMX), B as pairs
  int kunit;    // packed panels are padded with zeros to a multiple of this many k steps (AMX: one tile step)
  // Cache blocking: a KC×NC block of packed B stays in L2 while MR×KC panels of A (from an MC×KC block
  // in L3) sweep over it; the A panel is reused across the NC/NR microkernel calls of one row panel.
  int64_t kc, mc, nc;
};

int64_t env_int(const char* name, int64_t fallback) {
  const char* s = std::getenv(name);
  return s && *s ? std::max<int64_t>(1, std::atoll(s)) : fallback;
}

Kernel make_kernel(gemm_micro_fn fn, int mr, int nr, bool pairs, int64_t kc, int64_t mc, int64_t nc, bool a_rows = false,
                   int kunit = 1) {
  // ZJ_GEMM_KC/MC/NC override the tuned sizes for experiments (rounded to what the packing needs).
  kc = env_int("ZJ_GEMM_KC", kc);
  mc = env_int("ZJ_GEMM_MC", mc);
  nc = env_int("ZJ_GEMM_NC", nc);
  kc = (kc + kunit - 1) / kunit * kunit;
  kc = (kc + 1) / 2 * 2;  // even, so only the last K block can hold an odd k-pair
  mc = std::max<int64_t>(mr, mc / mr * mr);
  nc = std::max<int64_t>(nr, nc / nr * nr);
  return Kernel{fn, mr, nr, pairs, a_rows, kunit, kc, mc, nc};
}

const Kernel& pick_kernel(bool bf16_compute) {
  static const Kernel scalar = make_kernel(gemm_f32_scalar, kScalarMr, kScalarNr, false, 256, 256, 512);
#if defined(__x86_64__) || defined(_M_X64)
  static const Kernel avx2 = make_kernel(gemm_f32_avx2, kAvx2F32Mr, kAvx2F32Nr, false, 256, 1200, 384);
  static const Kernel avx512 = make_kernel(gemm_f32_avx512, kAvx512F32Mr, kAvx512F32Nr, false, 384, 1680, 480);
  static const Kernel avx512_bf16 =
      make_kernel(gemm_bf16_avx512, kAvx512Bf16Mr, kAvx512Bf16Nr, true, 768, 1680, 480);
  static const Kernel amx_bf16 =
      make_kernel(gemm_bf16_amx, kAmxBf16Mr, kAmxBf16Nr, true, 1024, 1024, 512, true, kAmxK);
  switch (cpu_isa()) {
    case ISA_AVX512:
      if (bf16_compute && cpu_has_amx()) return amx_bf16;
      return bf16_compute && cpu_has_avx512bf16() ? avx512_bf16 : avx512;
    case ISA_AVX2: return avx2;
    default: return scalar;
  }
#else
  (void)bf16_compute;
  return scalar;
#endif
}

// ---- packing ------------------------------------------------------------------------------------

template <class T>
inline float load_f32(const T* p) {
  if constexpr (sizeof(T) == 2) return bf16_to_f32(*p);
  else return *p;
}

template <class T>
inline uint16_t load_bf16(const T* p) {
  if constexpr (sizeof(T) == 2) return *p;
  else return f32_to_bf16(*p);
}

template <class T, int mode>
inline float load_packed(const T* p) {
  if constexpr (mode == PACK_F32_ROUND && sizeof(T) == 4) return bf16_to_f32(f32_to_bf16(*p));
  else return load_f32(p);
}

// One panel: element (x, k) of the source, at src[x*sx + k*sk], goes to the panel slot for row/column x
// of W and step k (layouts in gemm_impl.h); x in [w, W) is zero-filled. One of sx, sk is 1 (GEMM
// operands are row-major), and the loop order follows it so that reads are contiguous.
template <class T, int mode>
void pack_panel(const T* src, int64_t sx, int64_t sk, int w, int64_t kc, int W, void* dst) {
  if constexpr (mode == PACK_ROWS) {
    uint16_t* d = (uint16_t*)dst;
    const int64_t kp = amx_padded_k(kc);
    for (int x = 0; x < W; x++)
      for (int64_t k = 0; k < kp; k++) d[x * kp + k] = x < w && k < kc ? load_bf16(src + x * sx + k * sk) : 0;
  } else if constexpr (mode != PACK_PAIRS) {
    float* d = (float*)dst;
    if (sx == 1) {
      for (int64_t k = 0; k < kc; k++) {
        const T* s = src + k * sk;
        float* o = d + k * W;
        for (int x = 0; x < w; x++) o[x] = load_packed<T, mode>(s + x);
        for (int x = w; x < W; x++) o[x] = 0.0f;
      }
    } else {
      if (w < W)
        for (int64_t k = 0; k < kc; k++)
          for (int x = w; x < W; x++) d[k * W + x] = 0.0f;
      for (int x = 0; x < w; x++) {
        const T* s = src + x * sx;
        float* o = d + x;
        for (int64_t k = 0; k < kc; k++) o[k * W] = load_packed<T, mode>(s + k);
      }
    }
  } else {
    uint16_t* d = (uint16_t*)dst;
    const int64_t kp = (kc + 1) / 2;
    if (sx == 1) {
      for (int64_t p = 0; p < kp; p++) {
        uint16_t* o = d + p * W * 2;
        const T* s0 = src + 2 * p * sk;
        const T* s1 = s0 + sk;
        const bool has1 = 2 * p + 1 < kc;
        for (int x = 0; x < w; x++) {
          o[2 * x] = load_bf16(s0 + x);
          o[2 * x + 1] = has1 ? load_bf16(s1 + x) : 0;
        }
        for (int x = w; x < W; x++) o[2 * x] = o[2 * x + 1] = 0;
      }
    } else {
      if (w < W)
        for (int64_t p = 0; p < kp; p++)
          for (int x = w; x < W; x++) d[(p * W + x) * 2] = d[(p * W + x) * 2 + 1] = 0;
      for (int x = 0; x < w; x++) {
        const T* s = src + x * sx;
        uint16_t* o = d + 2 * x;
        int64_t k = 0;
        for (; k + 2 <= kc; k += 2) {
          o[k * W] = load_bf16(s + k);
          o[k * W + 1] = load_bf16(s + k + 1);
        }
        if (k < kc) {
          o[k * W] = load_bf16(s + k);
          o[k * W + 1] = 0;
        }
      }
    }
  }
}

using pack_fn = void (*)(const void* src, int64_t sx, int64_t sk, int w, int64_t kc, int W, void* dst);

template <class T, int mode>
void pack_panel_erased(const void* src, int64_t sx, int64_t sk, int w, int64_t kc, int W, void* dst) {
  pack_panel<T, mode>((const T*)src, sx, sk, w, kc, W, dst);
}

#if defined(__x86_64__) || defined(_M_X64)
// The AVX-512 packers cover transposing packs and bf16 pairs, the AVX2 one f32 transposing packs;
// everything else stays generic.
template <class T, int mode>
void pack_panel_avx512(const void* src, int64_t sx, int64_t sk, int w, int64_t kc, int W, void* dst) {
  if (!gemm_pack_avx512(src, sizeof(T) == 2, mode == PACK_PAIRS, sx, sk, w, kc, W, dst))
    pack_panel<T, mode>((const T*)src, sx, sk, w, kc, W, dst);
}

template <class T>
void pack_panel_rows_avx512(const void* src, int64_t sx, int64_t sk, int w, int64_t kc, int W, void* dst) {
  if (!gemm_pack_rows_avx512(src, sizeof(T) == 2, sx, sk, w, kc, W, dst))
    pack_panel<T, PACK_ROWS>((const T*)src, sx, sk, w, kc, W, dst);
}

template <class T>
void pack_panel_avx2(const void* src, int64_t sx, int64_t sk, int w, int64_t kc, int W, void* dst) {
  if (!gemm_pack_avx2(src, sizeof(T) == 2, sx, sk, w, kc, W, dst))
    pack_panel<T, PACK_F32>((const T*)src, sx, sk, w, kc, W, dst);
}
#endif

pack_fn pick_pack(bool bf16_storage, int mode) {
  static const pack_fn table[2][4] = {
      {pack_panel_erased<float, PACK_F32>, pack_panel_erased<float, PACK_F32_ROUND>,
       pack_panel_erased<float, PACK_PAIRS>, pack_panel_erased<float, PACK_ROWS>},
      {pack_panel_erased<uint16_t, PACK_F32>, pack_panel_erased<uint16_t, PACK_F32_ROUND>,
       pack_panel_erased<uint16_t, PACK_PAIRS>, pack_panel_erased<uint16_t, PACK_ROWS>}};
#if defined(__x86_64__) || defined(_M_X64)
  // Rows packing only happens with the AMX kernel.
  if (mode == PACK_ROWS) return bf16_storage ? pack_panel_rows_avx512<uint16_t> : pack_panel_rows_avx512<float>;
  // Pairs packing only happens with the vdpbf16ps kernel, so AVX512-BF16 is there when it is needed.
  if (cpu_isa() == ISA_AVX512 && mode != PACK_F32_ROUND)
    return bf16_storage ? (mode == PACK_PAIRS ? pack_panel_avx512<uint16_t, PACK_PAIRS> : pack_panel_avx512<uint16_t, PACK_F32>)
                        : (mode == PACK_PAIRS ? pack_panel_avx512<float, PACK_PAIRS> : pack_panel_avx512<float, PACK_F32>);
  if (cpu_isa() == ISA_AVX2 && mode == PACK_F32)
    return bf16_storage ? pack_panel_avx2<uint16_t> : pack_panel_avx2<float>;
#endif
  return table[bf16_storage ? 1 : 0][mode];
}

// ---- per-thread scratch -------------------------------------------------------------------------

// Packed blocks live in per-thread buffers that only grow: pool workers are persistent, so after the
// first call no GEMM allocates (a fresh mmap per call would cost page faults on every block).
struct Scratch {
  void* p = nullptr;
  size_t bytes = 0;
  void* get(size_t want) {
    if (want > bytes) {
      std::free(p);
      bytes = (want + 4095) / 4096 * 4096;
      p = std::aligned_alloc(64, bytes);
      if (!p) {
        bytes = 0;
        throw std::bad_alloc();
      }
    }
    return p;
  }
  ~Scratch() { std::free(p); }
};

thread_local Scratch scratch_a, scratch_b;

// ---- the blocked loops --------------------------------------------------------------------------

// An operand in element terms: op(X)(r, c) = base[r*rs + c*cs], stored as f32 or bf16.
struct Operand {
  const char* base;
  bool bf16;
  int64_t rs, cs;
  const void* at(int64_t r, int64_t c) const { return base + (r * rs + c * cs) * (bf16 ? 2 : 4); }
};

struct Problem {
  const Kernel* kn;
  Operand a, b;  // op(A) is M×K, op(B) is K×N
  pack_fn pack_a, pack_b;
  int b_quant = 0;       // B's zj_wformat when q8_0 / q4_0 (then pack_b packs f32 scratch), else 0
  bool b_trans = false;  // B stored N×K (op(B) = Bᵀ)
  int64_t M, N, K;
  float alpha, beta;
};

// Bytes of one packed panel of W rows/columns over kc steps (f32 or pairs; both pad to 4 bytes a step).
inline int64_t panel_bytes(int W, int64_t kc, bool pairs) { return (pairs ? (kc + 1) / 2 : kc) * W * 4; }
// The k steps a kernel's panels hold for kc real ones (AMX pads to whole tile steps; rows and pairs of
// bf16 then take the same bytes).
inline int64_t padded_k(const Kernel& kn, int64_t kc) { return (kc + kn.kunit - 1) / kn.kunit * kn.kunit; }

// Zeros the k-pairs [kc, kp) at the end of each of `panels` consecutive pairs panels of W columns, padding
// each to kp steps (a no-op when kp == kc).
void zero_pairs_tail(char* dst, int64_t panels, int W, int64_t kc, int64_t kp) {
  const int64_t used = panel_bytes(W, kc, true), full = panel_bytes(W, kp, true);
  if (used == full) return;
  for (int64_t p = 0; p < panels; p++) std::memset(dst + p * full + used, 0, (size_t)(full - used));
}

// The block size for splitting `len` into ceil(len / max_block) near-equal blocks, a multiple of unit.
inline int64_t balanced_block(int64_t len, int64_t max_block, int64_t unit) {
  const int64_t blocks = std::max<int64_t>(1, (len + max_block - 1) / max_block);
  const int64_t b = (len + blocks - 1) / blocks;
  return std::min(std::max(unit, (b + unit - 1) / unit * unit), std::max(unit, max_block / unit * unit));
}

// Packs the len×kc block starting at panel index x0 and step k0 into consecutive panels of W. For A the
// panel index is op(A)'s row, for B op(B)'s column (is_a picks the strides).
// kp >= kc is the panel's padded length (padded_k); bf16 rows panels (rows = true) pad themselves, pairs
// panels get their tail zeroed here.
void pack_block(pack_fn pack, const Operand& op, int64_t x0, int64_t k0, int64_t len, int64_t kc, int64_t kp, int W,
                bool pairs, bool rows, char* dst, bool is_a) {
  const int64_t sx = is_a ? op.rs : op.cs, sk = is_a ? op.cs : op.rs;
  auto at = [&](int64_t x, int64_t k) { return is_a ? op.at(x, k) : op.at(k, x); };
  const int64_t panel = panel_bytes(W, kp, pairs);
  const int64_t panels = (len + W - 1) / W;
  if (sx != 1 || sk == 1 || rows) {
    for (int64_t x = 0; x < len; x += W)
      pack(at(x0 + x, k0), sx, sk, (int)std::min<int64_t>(W, len - x), kc, W, dst + x / W * panel);
    if (!rows) zero_pairs_tail(dst, panels, W, kc, kp);
    return;
  }
  // Contiguous along x, rows of k far apart: going panel by panel would read kc rows with a large
  // stride each time (cache-set and TLB thrash when the stride is a multiple of 4 KiB). Instead take
  // 16 k steps at a time across all panels, so each source row is read sequentially.
  constexpr int64_t kChunk = 16;  // even: pairs never straddle a chunk
  for (int64_t kk = 0; kk < kc; kk += kChunk) {
    const int64_t kn = std::min(kChunk, kc - kk);
    const int64_t offset = panel_bytes(W, kk, pairs);
    for (int64_t x = 0; x < len; x += W)
      pack(at(x0 + x, k0 + kk), sx, sk, (int)std::min<int64_t>(W, len - x), kn, W, dst + x / W * panel + offset);
  }
  zero_pairs_tail(dst, panels, W, kc, kp);
}

thread_local std::vector<float> dequant_scratch;

// pack_block for a quantized B: each panel's W columns of op(B) over kc steps are dequantized into f32 scratch
// (laid out as a plain operand), then packed by the f32 packer. Stored N×K (transB): panel columns are weight
// rows, read along k; stored K×N: weight rows are the k steps, read across the panel's columns.
void pack_block_quant(const Problem& pb, int64_t x0, int64_t k0, int64_t len, int64_t kc, int64_t kp, int W, bool pairs,
                      char* dst) {
  const int64_t panel = panel_bytes(W, kp, pairs);
  std::vector<float>& tmp = dequant_scratch;
  if ((int64_t)tmp.size() < W * kc) tmp.resize((size_t)(W * kc));
  for (int64_t x = 0; x < len; x += W) {
    const int w = (int)std::min<int64_t>(W, len - x);
    if (pb.b_trans) {
      for (int xi = 0; xi < w; xi++)
        dequant_row_range(pb.b.base, pb.b_quant, pb.K, x0 + x + xi, k0, k0 + kc, tmp.data() + xi * kc);
      pb.pack_b(tmp.data(), kc, 1, w, kc, W, dst + x / W * panel);
    } else {
      for (int64_t k = 0; k < kc; k++)
        dequant_row_range(pb.b.base, pb.b_quant, pb.N, k0 + k, x0 + x, x0 + x + w, tmp.data() + k * w);
      pb.pack_b(tmp.data(), 1, w, w, kc, W, dst + x / W * panel);
    }
  }
  if (pairs) zero_pairs_tail(dst, (len + W - 1) / W, W, kc, kp);
}

// C[m0:m1, n0:n1] of one matrix, on the calling thread.
void gemm_block(const Problem& pb, float* C, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  const Kernel& kn = *pb.kn;
  const int mr = kn.mr, nr = kn.nr;
  // Equal blocks no larger than the tuned sizes: 512 columns as 480 + 32 would run the last block
  // with almost no reuse of each packed A panel.
  const int64_t KC = balanced_block(pb.K, kn.kc, std::max(2, kn.kunit)), MC = balanced_block(m1 - m0, kn.mc, mr);
  const int64_t NC = balanced_block(n1 - n0, kn.nc, nr);
  const int64_t KP = padded_k(kn, KC);
  char* pa = (char*)scratch_a.get(panel_bytes(1, KP, kn.pairs) * (MC + mr));
  char* pbuf = (char*)scratch_b.get(panel_bytes(1, KP, kn.pairs) * (NC + nr));
  for (int64_t ic = m0; ic < m1; ic += MC) {
    const int64_t mc = std::min(MC, m1 - ic);
    for (int64_t pc = 0; pc < pb.K; pc += KC) {
      const int64_t kc = std::min(KC, pb.K - pc), kp = padded_k(kn, kc);
      const int64_t a_panel = panel_bytes(mr, kp, kn.pairs), b_panel = panel_bytes(nr, kp, kn.pairs);
      // op(A) rows are the panel's x index: sx = rs, sk = cs.
      pack_block(pb.pack_a, pb.a, ic, pc, mc, kc, kp, mr, kn.pairs, kn.a_rows, pa, true);
      // Later K blocks accumulate onto what the first wrote.
      const float beta = pc == 0 ? pb.beta : 1.0f;
      for (int64_t jc = n0; jc < n1; jc += NC) {
        const int64_t nc = std::min(NC, n1 - jc);
        // op(B) columns are the panel's x index: sx = cs, sk = rs.
        if (pb.b_quant) pack_block_quant(pb, jc, pc, nc, kc, kp, nr, kn.pairs, pbuf);
        else pack_block(pb.pack_b, pb.b, jc, pc, nc, kc, kp, nr, kn.pairs, false, pbuf, false);
        for (int64_t ir = 0; ir < mc; ir += mr) {
          const int m = (int)std::min<int64_t>(mr, mc - ir);
          const char* ap = pa + ir / mr * a_panel;
          float* crow = C + (ic + ir) * pb.N + jc;
          for (int64_t jr = 0; jr < nc; jr += nr)
            kn.fn(kc, ap, pbuf + jr / nr * b_panel, crow + jr, pb.N, m, (int)std::min<int64_t>(nr, nc - jr),
                  pb.alpha, beta);
        }
      }
    }
  }
}

// ---- a few rows: stream op(B) once ---------------------------------------------------------------

// With M this small (decode-time x @ W^T) the blocked path would pack all of op(B) to feed a 14-row
// tile that is mostly padding; reading op(B) once in place is several times faster, and memory-bound
// anyway, so plain loops at baseline flags keep up. Operands are converted (and, for bf16 compute,
// rounded) exactly as packing would: products of bf16 values are exact in f32, so results agree with
// the blocked path up to summation order.
constexpr int64_t kSmallM = 3;
constexpr int64_t kSmallChunk = 256;  // k steps of one op(B) column converted at a time

template <class T, int mode>
void load_row(const char* base, int64_t stride, int64_t n, float* dst) {
  const T* p = (const T*)base;
  if (stride == 1)
    for (int64_t i = 0; i < n; i++) dst[i] = load_packed<T, mode>(p + i);
  else
    for (int64_t i = 0; i < n; i++) dst[i] = load_packed<T, mode>(p + i * stride);
}

// C[0:M, n0:n1] for M <= kSmallM. a_rows holds op(A) converted, row-major M×K.
template <class TB, int mode>
void gemm_small_m(const Problem& pb, const float* a_rows, float* C, int64_t n0, int64_t n1) {
  const int64_t M = pb.M, K = pb.K, n = n1 - n0;
  const Operand& b = pb.b;
  std::vector<float> sums((size_t)(M * n), 0.0f);
  if (b.cs == 1) {
    // op(B) rows are contiguous (B stored K×N): out rows accumulate a(i,k) * B[k, n0:n1], k in order.
    // Whole rows at a time, so B streams sequentially (short pieces of many rows defeat the prefetcher).
    constexpr bool direct = mode == PACK_F32 && sizeof(TB) == 4;
    std::vector<float> row(direct ? 0 : (size_t)n);
    for (int64_t k = 0; k < K; k++) {
      const float* br = (const float*)b.at(k, n0);
      if (!direct) {
        load_row<TB, mode>((const char*)b.at(k, n0), 1, n, row.data());
        br = row.data();
      }
      for (int64_t i = 0; i < M; i++) {
        const float x = a_rows[i * K + k];
        float* r = sums.data() + i * n;
        for (int64_t j = 0; j < n; j++) r[j] += x * br[j];
      }
    }
  } else {
    // op(B) columns are contiguous along k (B stored N×K): dot products with 8 partial sums per row,
    // so the loop vectorises with a fixed summation order.
    constexpr bool f32_in = mode == PACK_F32 && sizeof(TB) == 4;
    const bool direct = f32_in && b.rs == 1;  // read f32 columns in place, no conversion copy
    float buf[kSmallChunk];
    for (int64_t j = 0; j < n; j++) {
      float part[kSmallM][8] = {};
      for (int64_t k0 = 0; k0 < K; k0 += kSmallChunk) {
        const int64_t kn = std::min(kSmallChunk, K - k0);
        const float* col = buf;
        if (direct) col = (const float*)b.at(k0, n0 + j);
        else load_row<TB, mode>((const char*)b.at(k0, n0 + j), b.rs, kn, buf);
        for (int64_t i = 0; i < M; i++) {
          const float* a = a_rows + i * K + k0;
          int64_t k = 0;
          for (; k + 8 <= kn; k += 8)
            for (int l = 0; l < 8; l++) part[i][l] += a[k + l] * col[k + l];
          for (; k < kn; k++) part[i][k & 7] += a[k] * col[k];
        }
      }
      for (int64_t i = 0; i < M; i++)
        sums[(size_t)(i * n + j)] = ((part[i][0] + part[i][1]) + (part[i][2] + part[i][3])) +
                                    ((part[i][4] + part[i][5]) + (part[i][6] + part[i][7]));
    }
  }
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < n; j++) {
      float* o = C + i * pb.N + n0 + j;
      const float v = pb.alpha * sums[(size_t)(i * n + j)];
      *o = pb.beta != 0.0f ? v + pb.beta * *o : v;
    }
}

using small_fn = void (*)(const Problem&, const float*, float*, int64_t, int64_t);
using row_fn = void (*)(const char*, int64_t, int64_t, float*);

// Below this many multiply-adds per matrix a GEMM runs on the calling thread: waking the pool costs
// more than it saves.
constexpr double kParallelMinWork = 1 << 17;

// One matrix over the pool: split the output along N (each thread then packs all of op(A)) or along M
// (each packs all of op(B)), whichever repeats the smaller operand, in whole NR / MR units so every
// thread runs full tiles. Each output element is computed the same way whatever the split, so results
// do not even depend on the thread count.
void gemm_matrix_parallel(const Problem& pb, float* C) {
  const Kernel& kn = *pb.kn;
  if (pb.M <= pb.N) {
    const int64_t units = (pb.N + kn.nr - 1) / kn.nr;
    parallel_for(units, 1, [&](int64_t b, int64_t e, int) {
      gemm_block(pb, C, 0, pb.M, b * kn.nr, std::min(pb.N, e * kn.nr));
    });
  } else {
    const int64_t units = (pb.M + kn.mr - 1) / kn.mr;
    parallel_for(units, 1, [&](int64_t b, int64_t e, int) {
      gemm_block(pb, C, b * kn.mr, std::min(pb.M, e * kn.mr), 0, pb.N);
    });
  }
}

}  // namespace
}  // namespace zj

extern "C" void zj_gemm(int64_t batch, int64_t M, int64_t N, int64_t K, const void* A, int a_bf16, int transA,
                        int64_t aStride, const void* B, int b_format, int transB, int64_t bStride, float* out,
                        float alpha, float beta, int bf16_compute) {
  using namespace zj;
  const int b_quant = b_format >= ZJ_W_Q8_0 && b_format <= ZJ_W_Q4_0_P16 ? b_format : 0;
  const int b_bf16 = b_format == ZJ_W_BF16;
  if (b_quant) bStride = 0;  // one weight (the glue rejects anything else)
  if (batch <= 0 || M <= 0 || N <= 0) return;
  if (K <= 0) {
    // Empty sum: out = beta * out, and beta == 0 clears whatever was there (NaN included).
    const int64_t total = batch * M * N;
    for (int64_t i = 0; i < total; i++) out[i] = beta != 0.0f ? beta * out[i] : 0.0f;
    return;
  }
  Problem pb;
  pb.kn = &pick_kernel(bf16_compute != 0);
  const int mode = pb.kn->pairs ? PACK_PAIRS : bf16_compute ? PACK_F32_ROUND : PACK_F32;
  pb.pack_a = pick_pack(a_bf16 != 0, pb.kn->a_rows ? PACK_ROWS : mode);
  pb.pack_b = pick_pack(b_bf16 != 0, mode);  // for a quantized B: the f32 packer over dequantized scratch
  pb.b_quant = b_quant;
  pb.b_trans = transB != 0;
  // op(A) is M×K: stored M×K (rs = K, cs = 1) or K×M when transposed (rs = 1, cs = M); likewise op(B).
  pb.a = Operand{(const char*)A, a_bf16 != 0, transA ? 1 : K, transA ? M : 1};
  pb.b = Operand{(const char*)B, b_bf16 != 0, transB ? 1 : N, transB ? K : 1};
  pb.M = M, pb.N = N, pb.K = K, pb.alpha = alpha, pb.beta = beta;
  const size_t a_elem = a_bf16 ? 2 : 4, b_elem = b_bf16 ? 2 : 4;
  const char* a0 = (const char*)A;
  const char* b0 = (const char*)B;

  if (M <= kSmallM && !b_quant) {
    // bf16 compute rounds on load here whatever the kernel: the same values the packers produce.
    const int rmode = bf16_compute ? PACK_F32_ROUND : PACK_F32;
    const row_fn load_a = a_bf16 ? (rmode ? load_row<uint16_t, PACK_F32_ROUND> : load_row<uint16_t, PACK_F32>)
                                 : (rmode ? load_row<float, PACK_F32_ROUND> : load_row<float, PACK_F32>);
    const small_fn run = b_bf16 ? (rmode ? gemm_small_m<uint16_t, PACK_F32_ROUND> : gemm_small_m<uint16_t, PACK_F32>)
                                : (rmode ? gemm_small_m<float, PACK_F32_ROUND> : gemm_small_m<float, PACK_F32>);
    std::vector<float> a_rows((size_t)(M * K));
    const bool parallel = pool_threads() > 1 && (double)M * N * K >= kParallelMinWork;
    for (int64_t bt = 0; bt < batch; bt++) {
      Problem p = pb;
      p.a.base = a0 + bt * aStride * (int64_t)a_elem;
      p.b.base = b0 + bt * bStride * (int64_t)b_elem;
      for (int64_t i = 0; i < M; i++) load_a((const char*)p.a.at(i, 0), p.a.cs, K, a_rows.data() + i * K);
      float* C = out + bt * M * N;
      if (parallel)
        parallel_for((N + 63) / 64, 1, [&](int64_t b, int64_t e, int) {
          run(p, a_rows.data(), C, b * 64, std::min(N, e * 64));
        });
      else
        run(p, a_rows.data(), C, 0, N);
    }
    return;
  }

  auto one = [&](int64_t bt, bool parallel) {
    Problem p = pb;
    p.a.base = a0 + bt * aStride * (int64_t)a_elem;
    p.b.base = b0 + bt * bStride * (int64_t)b_elem;
    float* C = out + bt * M * N;
    if (parallel) gemm_matrix_parallel(p, C);
    else gemm_block(p, C, 0, M, 0, N);
  };

  const int threads = pool_threads();
  const double work = (double)M * (double)N * (double)K;
  if (threads <= 1 || work * (double)batch < kParallelMinWork) {
    for (int64_t bt = 0; bt < batch; bt++) one(bt, false);
  } else if (batch >= threads && (batch % threads == 0 || batch >= 4 * threads || work < kParallelMinWork)) {
    // Many matrices: whole matrices per thread, no split inside (static chunks keep it deterministic).
    parallel_for(batch, 1, [&](int64_t b, int64_t e, int) {
      for (int64_t bt = b; bt < e; bt++) one(bt, false);
    });
  } else {
    for (int64_t bt = 0; bt < batch; bt++) one(bt, work >= kParallelMinWork);
  }
}
