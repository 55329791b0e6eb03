// quant_q4_0.cc — q4_0 on the scalar path: the reference weight quantizer (llama.cpp's quantize_row_q4_0_ref rules:
// d = max/−8 with max the signed value of largest magnitude, q = min(15, (int8)(x·(1/d) + 8.5)), d stored as f16),
// dequantization and the scalar matvec rows against q8_0-quantized activations. SIMD versions: avx512/, avx2/.
#include <cmath>
#include "quant_impl.h"

namespace zj {

namespace {

inline float load_value(const void* src, int src_bf16, int64_t i) {
  return src_bf16 ? bf16_to_f32(((const uint16_t*)src)[i]) : ((const float*)src)[i];
}

// (int8)(v) for v = x·id + 8.5 clamped to [0, 15]; NaN gives 8 (the value 0).
inline uint8_t nibble(float v) {
  if (!(v == v)) return 8;
  const float c = v < 0.0f ? 0.0f : v > 15.0f ? 15.0f : v;
  return (uint8_t)(int)c;
}

}  // namespace

void quantize_blocks_q4_0(const void* src, int src_bf16, int64_t blocks, uint8_t* out) {
  for (int64_t b = 0; b < blocks; b++, out += kQ4Bytes) {
    float x[kQk];
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kQk; j++) {
      x[j] = load_value(src, src_bf16, b * kQk + j);
      if (amax < std::fabs(x[j])) amax = std::fabs(x[j]), max = x[j];
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t h = f32_to_f16(d);
    out[0] = (uint8_t)h, out[1] = (uint8_t)(h >> 8);
    for (int j = 0; j < kQk / 2; j++) {
      // two statements so that no FMA contraction can fuse the product with the + 8.5f
      const float v0 = x[j] * id, v1 = x[j + kQk / 2] * id;
      out[2 + j] = (uint8_t)(nibble(v0 + 8.5f) | (nibble(v1 + 8.5f) << 4));
    }
  }
}

void dequant_range_q4_0(const uint8_t* row, int64_t c0, int64_t c1, float* dst) {
  for (int64_t b = c0 / kQk; b * kQk < c1; b++) {
    const uint8_t* p = row + b * kQ4Bytes;
    const float d = f16_to_f32(load_u16(p));
    const int64_t j0 = b * kQk < c0 ? c0 - b * kQk : 0, j1 = (b + 1) * kQk > c1 ? c1 - b * kQk : kQk;
    for (int64_t j = j0; j < j1; j++) {
      const int q = j < 16 ? (p[2 + j] & 15) : (p[2 + j - 16] >> 4);
      dst[b * kQk + j - c0] = d * (float)(q - 8);
    }
  }
}

void matvec_q4_0_rows_scalar(int64_t M, int64_t K, int64_t N, const ActRows& a, const uint8_t* W, float* out,
                             int64_t n0, int64_t n1) {
  const int64_t nb = K / kQk;
  for (int64_t n = n0; n < n1; n++) {
    const uint8_t* row = W + n * nb * kQ4Bytes;
    for (int64_t m = 0; m < M; m++) {
      const int8_t* xq = a.q + m * K;
      const float* xd = a.d + m * nb;
      float acc = 0.0f;
      for (int64_t b = 0; b < nb; b++) {
        const uint8_t* p = row + b * kQ4Bytes;
        const int8_t* xb = xq + b * kQk;
        int32_t isum = 0;
        for (int j = 0; j < kQk / 2; j++)
          isum += ((p[2 + j] & 15) - 8) * xb[j] + ((p[2 + j] >> 4) - 8) * xb[j + kQk / 2];
        acc += (f16_to_f32(load_u16(p)) * xd[b]) * (float)isum;
      }
      out[m * N + n] = acc;
    }
  }
}

}  // namespace zj
