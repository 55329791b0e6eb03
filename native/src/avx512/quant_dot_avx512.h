// quant_dot_avx512.h — the AVX-512 VNNI decode matvec shared by q8_0 and q4_0: two weight blocks per zmm as signed
// int8, dotted with the q8_0-quantized rows of x by vpdpbusd (unsigned × signed bytes). x is made unsigned by
// adding 128 (quantize_act_avx512 stores x + 128); the extra 128·Σw, which depends on the weights only, is one
// more vpdpbusd shared by all rows of x, and its negation seeds each row's accumulation. Each 16-lane sum is scaled per lane (lanes 0–7 block b, 8–15 block b+1) by d_w · d_x. A format
// supplies only its block loader (quant_q8_0_avx512.cc, quant_q4_0_avx512.cc).
// Include after `#pragma GCC target("avx512vnni")`: vpdpbusd is beyond the library's AVX-512 flags, and the callers
// only run once cpu_has_avx512vnni() said yes.
#pragma once
#include <immintrin.h>
#include "../quant_impl.h"

namespace zj {

// Software prefetch distance along a weight row (a decode step streams all weights from DRAM; measured on the
// Qwen2.5-0.5B shape at batch 1: 10-20 % less CPU time in the head and layers, q8_0 and q4_0).
constexpr int kOneRowPf = 2048;

// f16 scales of two blocks broadcast to lanes 0–7 and 8–15.
inline __m512 pair_scales(uint16_t h0, uint16_t h1) {
  return _mm512_cvtph_ps(_mm256_set_m128i(_mm_set1_epi16((short)h1), _mm_set1_epi16((short)h0)));
}

// Rows m0 .. m0+MB of x against weight row n. L::bytes is the block size; L::load2(p) gives two blocks' values as
// signed bytes, L::load1(p) one block in the low half (high half zero).
template <class L, int MB>
inline void quant_row_mb(
    int64_t K, int64_t N, const ActRows& a, const uint8_t* row, float* out, int64_t n, int64_t m0) {
  const int64_t nb = K / kQk;
  const __m512i k128 = _mm512_set1_epi8((char)0x80), zero = _mm512_setzero_si512();
  __m512 acc[MB];
  for (int i = 0; i < MB; i++) acc[i] = _mm512_setzero_ps();
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    const uint8_t* p = row + b * L::bytes;
    _mm_prefetch((const char*)p + kOneRowPf, _MM_HINT_T0);
    const __m512i w = L::load2(p);
    const __m512i neg_corr = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, k128, w));
    const __m512 dw = pair_scales(load_u16(p), load_u16(p + L::bytes));
    for (int i = 0; i < MB; i++) {
      const int64_t m = m0 + i;
      const __m512i s = _mm512_dpbusd_epi32(neg_corr, _mm512_loadu_si512(a.q + m * K + b * kQk), w);
      const __m512 sc = _mm512_mul_ps(dw, _mm512_loadu_ps(a.d8 + (m * nb + b) * 8));
      acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), sc, acc[i]);
    }
  }
  if (b < nb) {  // an odd last block: the high half of w is zero, and so its lanes' sums
    const uint8_t* p = row + b * L::bytes;
    const __m512i w = L::load1(p);
    const __m512i neg_corr = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, k128, w));
    const __m512 dw = pair_scales(load_u16(p), 0);
    for (int i = 0; i < MB; i++) {
      const int64_t m = m0 + i;
      const __m512i xu = _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i*)(a.q + m * K + b * kQk)));
      const __m512i s = _mm512_dpbusd_epi32(neg_corr, xu, w);
      const __m512 sc = _mm512_mul_ps(dw, _mm512_maskz_loadu_ps(0x00ff, a.d8 + (m * nb + b) * 8));
      acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), sc, acc[i]);
    }
  }
  for (int i = 0; i < MB; i++) out[(m0 + i) * N + n] = _mm512_reduce_add_ps(acc[i]);
}

// Weight rows [n0, n1), each read from memory once: groups of up to 8 rows of x re-read it from L1.
template <class L>
void quant_rows(
    int64_t M, int64_t K, int64_t N, const ActRows& a, const uint8_t* W, float* out, int64_t n0, int64_t n1) {
  const int64_t rb = K / kQk * L::bytes;
  for (int64_t n = n0; n < n1; n++) {
    const uint8_t* row = W + n * rb;
    for (int64_t m0 = 0; m0 < M; m0 += 8) {
      switch (M - m0 < 8 ? M - m0 : 8) {
        case 1: quant_row_mb<L, 1>(K, N, a, row, out, n, m0); break;
        case 2: quant_row_mb<L, 2>(K, N, a, row, out, n, m0); break;
        case 3: quant_row_mb<L, 3>(K, N, a, row, out, n, m0); break;
        case 4: quant_row_mb<L, 4>(K, N, a, row, out, n, m0); break;
        case 5: quant_row_mb<L, 5>(K, N, a, row, out, n, m0); break;
        case 6: quant_row_mb<L, 6>(K, N, a, row, out, n, m0); break;
        case 7: quant_row_mb<L, 7>(K, N, a, row, out, n, m0); break;
        default: quant_row_mb<L, 8>(K, N, a, row, out, n, m0); break;
      }
    }
  }
}

}  // namespace zj
