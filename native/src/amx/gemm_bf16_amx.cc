// gemm_bf16_amx.cc — the AMX-BF16 GEMM microkernel (Intel Sapphire Rapids and later; its A packing is in
// avx512/gemm_pack_avx512.cc). A 32×32 tile of C is four 16×16 f32 accumulator tiles (tmm0–3) fed per 32-k step by two
// A tiles (tmm4–5: 16 rows × 32 bf16 each) and two B tiles (tmm6–7: 16 k-pairs × 16 columns). Only
// called when cpu_has_amx() (CPUID, XCR0 and the kernel's arch_prctl permission all said yes).
//
// Layouts (gemm_impl.h): A panels are bf16 rows, a[r*kp + k] with kp = kc rounded up to 32; B panels
// are the same bf16 k-pairs vdpbf16ps uses, NR = 32 columns, so the rows of a B tile (one k-pair of 16
// columns) lie 128 bytes apart. Both are zero-padded up to kp, so no step tests an edge.
//
// TDPBF16PS multiplies bf16 pairs exactly and adds them in f32 like vdpbf16ps, treating bf16 denormal
// inputs as zero and flushing denormal results; only the order of the additions differs.
#include <immintrin.h>
#include "../gemm_impl.h"
#include "../avx512/gemm_store_avx512.h"
#include "tiles.h"

namespace zj {
namespace {

constexpr int MR = kAmxBf16Mr;  // 32
constexpr int NR = kAmxBf16Nr;  // 32

}  // namespace

void gemm_bf16_amx(int64_t kc, const void* a_, const void* b_, float* c, int64_t ldc, int m, int n, float alpha,
                   float beta) {
  amx_use(AMX_BF16_GEMM);
  const int64_t kp = amx_padded_k(kc);
  const char* a = (const char*)a_;
  const char* b = (const char*)b_;
  const int64_t a_row = kp * 2;          // bytes between A rows
  const char* a_lo = a;                  // rows 0–15
  const char* a_hi = a + 16 * a_row;     // rows 16–31
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int64_t k = 0; k < kp; k += 32) {
    // 32 k steps = 16 k-pairs of B, each a 128-byte row of 32 columns.
    const char* bk = b + (k / 2) * NR * 4;
    _tile_loadd(4, a_lo + k * 2, a_row);
    _tile_loadd(6, bk, NR * 4);
    _tile_loadd(7, bk + 64, NR * 4);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_loadd(5, a_hi + k * 2, a_row);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  alignas(64) float acc[MR][NR];
  _tile_stored(0, &acc[0][0], NR * 4);
  _tile_stored(1, &acc[0][16], NR * 4);
  _tile_stored(2, &acc[16][0], NR * 4);
  _tile_stored(3, &acc[16][16], NR * 4);

  const Cols32 cols(n);
  const __m512 va = _mm512_set1_ps(alpha);
  const __m512 vb = _mm512_set1_ps(beta);
  for (int r = 0; r < m; r++)
    store_row32(c + r * ldc, _mm512_load_ps(&acc[r][0]), _mm512_load_ps(&acc[r][16]), cols, va, vb, beta);
}

}  // namespace zj
