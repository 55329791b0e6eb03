// softmax_simd.h — the per-row loops of softmax and log-softmax, forward and backward, over `Vec`, compiled once
// per ISA through simd_ops.h. softmax.cc splits the rows over the pool and calls these through simd().
#pragma once
#include "simd_common.h"

namespace zj {
namespace ZJ_SIMD_NS {

static inline float row_sum(const float* x, int64_t n) {
  R s0 = Vec::zero(), s1 = Vec::zero();
  int64_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    s0 = Vec::add(s0, Vec::load(x + i));
    s1 = Vec::add(s1, Vec::load(x + i + W));
  }
  for (; i + W <= n; i += W) s0 = Vec::add(s0, Vec::load(x + i));
  if (i < n) s1 = Vec::add(s1, Vec::load_n(x + i, n - i, 0.f));
  return Vec::hsum(Vec::add(s0, s1));
}

static void softmax_rows(const float* x, float* out, int64_t rows, int64_t cols, int log) {
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * cols;
    float* o = out + r * cols;
    float m = row_max(xr, cols);
    if (!log) {
      if (m == kNegInf) {  // every entry -inf: the reference defines the row as zeros
        fill(o, cols, 0.f);
        continue;
      }
      float s = row_exp_sum(xr, o, cols, m);
      R inv = Vec::set1(1.f / s);
      map1(o, o, cols, [&](R v) { return Vec::mul(v, inv); });
    } else {
      float lse = kNegInf;
      if (m != kNegInf) {
        // exp(x - m) is written to out as scratch, then overwritten by x - lse
        float s = row_exp_sum(xr, o, cols, m);
        lse = (float)((double)m + __builtin_log((double)s));
      }
      R l = Vec::set1(lse);
      map1(xr, o, cols, [&](R v) { return Vec::sub(v, l); });
    }
  }
}

static void softmax_backward_rows(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols, int log) {
  for (int64_t r = 0; r < rows; r++) {
    const float* yr = y + r * cols;
    const float* gr = dy + r * cols;
    float* o = dx + r * cols;
    if (!log) {  // dx = y (dy - y.dy)
      R dot = Vec::set1(row_dot(yr, gr, cols));
      map2(yr, gr, o, cols, [&](R yv, R gv) { return Vec::mul(yv, Vec::sub(gv, dot)); });
    } else {  // dx = dy - exp(y) sum(dy)
      R s = Vec::set1(row_sum(gr, cols));
      map2(yr, gr, o, cols, [&](R yv, R gv) { return Vec::sub(gv, Vec::mul(Vec::exp(yv), s)); });
    }
  }
}

}  // namespace ZJ_SIMD_NS
}  // namespace zj
