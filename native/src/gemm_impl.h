// gemm_impl.h — what the blocked GEMM driver (gemm.cc) and the per-ISA microkernels share:
// the microkernel signature, each kernel's register tile (MR×NR) and the packed-panel layouts.
// The driver packs, blocks and threads; a microkernel only multiplies one packed MR×KC panel of A
// by one packed KC×NR panel of B and merges the tile into C. No packing or threading here.
#pragma once
#include <cstdint>

namespace zj {

// Packed layouts (both zero-padded to full MR / NR, so kernels never test edges in the k loop):
//   f32 panels:  A: a[k*MR + r] = op(A)(i0 + r, k0 + k)      B: b[k*NR + j] = op(B)(k0 + k, j0 + j)
//   bf16 pairs:  A: a[(p*MR + r)*2 + e] = bf16(op(A)(i0 + r, k0 + 2p + e))
//                B: b[(p*NR + j)*2 + e] = bf16(op(B)(k0 + 2p + e, j0 + j))   (odd kc padded with 0)
// so one 32-bit word holds a k-pair, the operand layout vdpbf16ps multiplies lane by lane.
//   AMX (bf16 rows for A, bf16 pairs for B): A: a[r*kp + k] = bf16(op(A)(i0 + r, k0 + k)), B as bf16 pairs;
//                both padded with zeros from kc up to kp = kc rounded up to 32 (one tile step), so an
//                A panel row is what a tile row loads and a B panel's k-pairs are a B tile's rows.
//
// c points at the tile's top-left element in the output (row stride ldc). Only the m×n corner
// (m <= MR, n <= NR) is written: c = alpha*acc + beta*c, and beta == 0 never reads c (it may hold NaN).
// kc is the number of k steps (elements, not pairs, for the bf16 kernel).
using gemm_micro_fn = void (*)(int64_t kc, const void* a, const void* b, float* c, int64_t ldc, int m, int n,
                               float alpha, float beta);

// AVX-512 f32: 14 rows broadcast × 32 columns in two zmm = 28 accumulators (native/src/avx512).
constexpr int kAvx512F32Mr = 14, kAvx512F32Nr = 32;
void gemm_f32_avx512(int64_t kc, const void* a, const void* b, float* c, int64_t ldc, int m, int n, float alpha,
                     float beta);

// AVX-512 BF16 (vdpbf16ps): same 14×32 tile over k-pairs.
constexpr int kAvx512Bf16Mr = 14, kAvx512Bf16Nr = 32;
void gemm_bf16_avx512(int64_t kc, const void* a, const void* b, float* c, int64_t ldc, int m, int n, float alpha,
                      float beta);

// AMX-BF16 (tdpbf16ps): 32 × 32 = four 16×16 accumulator tiles (native/src/amx). Its panels hold kc steps padded
// with zeros to whole tile steps of kAmxK (one tile row of A: 32 bf16).
constexpr int kAmxBf16Mr = 32, kAmxBf16Nr = 32;
constexpr int kAmxK = 32;
inline int64_t amx_padded_k(int64_t kc) { return (kc + kAmxK - 1) / kAmxK * kAmxK; }
void gemm_bf16_amx(int64_t kc, const void* a, const void* b, float* c, int64_t ldc, int m, int n, float alpha,
                   float beta);

// AVX2 + FMA f32: 6 × 16 (two ymm) = 12 accumulators of the 16 ymm registers (native/src/avx2).
constexpr int kAvx2F32Mr = 6, kAvx2F32Nr = 16;
void gemm_f32_avx2(int64_t kc, const void* a, const void* b, float* c, int64_t ldc, int m, int n, float alpha,
                   float beta);

// AVX-512 packing of one panel (element (x, k) at src[x*sx + k*sk], see gemm.cc's pack_panel) into f32
// units (pairs = false, no rounding) or bf16 k-pairs (pairs = true; needs AVX512-BF16 for f32 sources).
// Returns false for the cases it leaves to the generic loops.
bool gemm_pack_avx512(const void* src, bool src_bf16, bool pairs, int64_t sx, int64_t sk, int w, int64_t kc, int W,
                      void* dst);
// AVX-512 packing of one AMX A panel (bf16 rows, padded to whole tile steps; needs AVX512-BF16 for f32
// sources); false for the cases it leaves to the generic loops.
bool gemm_pack_rows_avx512(const void* src, bool src_bf16, int64_t sx, int64_t sk, int w, int64_t kc, int W,
                           void* dst);
// AVX2 packing of one f32 panel (no rounding, no pairs): the transposing case only.
bool gemm_pack_avx2(const void* src, bool src_bf16, int64_t sx, int64_t sk, int w, int64_t kc, int W, void* dst);

}  // namespace zj
