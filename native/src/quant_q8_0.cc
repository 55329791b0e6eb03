// quant_q8_0.cc — q8_0 on the scalar path: the reference weight quantizer (llama.cpp's quantize_row_q8_0_ref rules:
// d = amax/127 in float, q = roundf(x·(1/d)), d stored as f16), dequantization, the activation quantizer of the
// decode matvec (shared by every format: x always becomes q8_0-style int8 blocks) and the scalar q8_0 matvec rows.
// The AVX-512 / AVX2 versions are in avx512/quant_q8_0_avx512.cc and avx2/quant_q8_0_avx2.cc.
#include <cmath>
#include "quant_impl.h"

namespace zj {

namespace {

inline float load_value(const void* src, int src_bf16, int64_t i) {
  return src_bf16 ? bf16_to_f32(((const uint16_t*)src)[i]) : ((const float*)src)[i];
}

// roundf(v) clamped to [-127, 127]; NaN (0·inf where 1/d overflowed) gives 0. Exact: v − trunc(v) is exact.
inline int8_t round_away_q8(float v) {
  if (!(v == v)) return 0;
  const float c = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
  const int t = (int)c;
  const float r = c - (float)t;
  return (int8_t)(t + (r >= 0.5f) - (r <= -0.5f));
}

}  // namespace

void quantize_blocks_q8_0(const void* src, int src_bf16, int64_t blocks, uint8_t* out) {
  for (int64_t b = 0; b < blocks; b++, out += kQ8Bytes) {
    float x[kQk];
    float amax = 0.0f;
    for (int j = 0; j < kQk; j++) {
      x[j] = load_value(src, src_bf16, b * kQk + j);
      amax = std::fmax(amax, std::fabs(x[j]));
    }
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t h = f32_to_f16(d);
    out[0] = (uint8_t)h, out[1] = (uint8_t)(h >> 8);
    for (int j = 0; j < kQk; j++) out[2 + j] = (uint8_t)round_away_q8(x[j] * id);
  }
}

void dequant_range_q8_0(const uint8_t* row, int64_t c0, int64_t c1, float* dst) {
  for (int64_t b = c0 / kQk; b * kQk < c1; b++) {
    const uint8_t* p = row + b * kQ8Bytes;
    const float d = f16_to_f32(load_u16(p));
    const int64_t j0 = b * kQk < c0 ? c0 - b * kQk : 0, j1 = (b + 1) * kQk > c1 ? c1 - b * kQk : kQk;
    for (int64_t j = j0; j < j1; j++) dst[b * kQk + j - c0] = d * (float)(int8_t)p[2 + j];
  }
}

void quantize_act_scalar(const float* x, int64_t blocks, int8_t* q, float* d) {
  for (int64_t b = 0; b < blocks; b++, x += kQk, q += kQk) {
    float amax = 0.0f;
    for (int j = 0; j < kQk; j++) amax = std::fmax(amax, std::fabs(x[j]));
    const float db = amax / 127.0f;
    const float id = db != 0.0f ? 1.0f / db : 0.0f;
    d[b] = db;
    for (int j = 0; j < kQk; j++) {
      const float v = x[j] * id;
      // round half to even (the default rounding mode), as the SIMD paths' roundscale / cvtps do
      q[j] = !(v == v) ? 0 : (int8_t)std::nearbyint(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v);
    }
  }
}

void matvec_q8_0_rows_scalar(int64_t M, int64_t K, int64_t N, const ActRows& a, const uint8_t* W, float* out,
                             int64_t n0, int64_t n1) {
  const int64_t nb = K / kQk;
  for (int64_t n = n0; n < n1; n++) {
    const uint8_t* row = W + n * nb * kQ8Bytes;
    for (int64_t m = 0; m < M; m++) {
      const int8_t* xq = a.q + m * K;
      const float* xd = a.d + m * nb;
      float acc = 0.0f;
      for (int64_t b = 0; b < nb; b++) {
        const uint8_t* p = row + b * kQ8Bytes;
        int32_t isum = 0;
        for (int j = 0; j < kQk; j++) isum += (int32_t)(int8_t)p[2 + j] * xq[b * kQk + j];
        acc += (f16_to_f32(load_u16(p)) * xd[b]) * (float)isum;
      }
      out[m * N + n] = acc;
    }
  }
}

}  // namespace zj
