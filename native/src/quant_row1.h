// quant_row1.h — the one-row (batch-1 decode) VNNI matvec of q4_0 (avx512/quant_row1_avx512.cc): x is quantized
// once into signed q8 blocks laid out against the low and high nibbles of 4 weight blocks, with per-lane int32 seeds
// that remove the nibbles' bias of 8, so the inner loop is two vpdpbusd per 128 weights plus their scaling. q8_0
// keeps the multi-row kernel at one row (quant_dot_avx512.h: a one-row variant of this shape was slower there, see
// docs/log.md). The driver is quant.cc.
#pragma once
#include <cstdint>

namespace zj {

// x (1, K) for the one-row kernel. x: int8 values of q8_0-style blocks (the values of quantize_act_scalar, signed):
// per group of 4 blocks the 4 × 16 first values, then the 4 × 16 last (against the low and high nibbles of the 4
// weight blocks), blocks past the last whole group natural. seed: per group 16 int32, lane i = −8 · Σ of the 8 bytes
// of x that lane i of the two dot products takes (the nibbles are w + 8). d: the blocks' f32 scales; d4: per group 16
// f32, lanes 4i .. 4i+3 block i's scale (the lanes its sums land in).
struct Row1Act {
  const int8_t* x;
  const int32_t* seed;
  const float* d;
  const float* d4;
};

// Quantize x into a per-thread scratch; the views stay valid until the next call on this thread. Only called when
// cpu_has_avx512vnni().
Row1Act row1_act_avx512(const float* x, int64_t K);

// out[n] for n in [n0, n1) against W (N, K) in q4_0.
void matvec_q4_0_row1_avx512(int64_t K, const Row1Act& a, const uint8_t* W, float* out, int64_t n0, int64_t n1);

}  // namespace zj
