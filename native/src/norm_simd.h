// norm_simd.h — the per-row loops of RMSNorm, forward and backward (dw accumulated into the caller's partial),
// over `Vec`, compiled once per ISA through simd_ops.h. norm.cc splits the rows and sums the dw partials.
#pragma once
#include "simd_common.h"

namespace zj {
namespace ZJ_SIMD_NS {

static void rmsnorm_forward_rows(const float* x, const float* w, float* out, float* rstd, int64_t rows, int64_t C,
                                 float eps) {
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * C;
    double ss = row_dot(xr, xr, C);
    float rs = (float)(1.0 / __builtin_sqrt(ss / (double)C + (double)eps));
    rstd[r] = rs;
    R rv = Vec::set1(rs);
    map2(xr, w, out + r * C, C, [&](R xv, R wv) { return Vec::mul(Vec::mul(xv, rv), wv); });
  }
}

// dx = rs w g - x rs^3/C sum(w g x);  dw += g x rs
static void rmsnorm_backward_rows(const float* x, const float* w, const float* rstd, const float* g, float* dx,
                                  float* dwp, int64_t rows, int64_t C) {
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * C;
    const float* gr = g + r * C;
    float* o = dx + r * C;
    double rs = rstd[r];
    // sum(w g x) in one pass
    R s0 = Vec::zero();
    int64_t i = 0;
    for (; i + W <= C; i += W) s0 = Vec::fma(Vec::mul(Vec::load(w + i), Vec::load(gr + i)), Vec::load(xr + i), s0);
    if (i < C) {
      int64_t n = C - i;
      s0 = Vec::fma(Vec::mul(Vec::load_n(w + i, n, 0.f), Vec::load_n(gr + i, n, 0.f)), Vec::load_n(xr + i, n, 0.f), s0);
    }
    double dot = Vec::hsum(s0);
    R k = Vec::set1((float)(dot * rs * rs * rs / (double)C));
    R rv = Vec::set1((float)rs);
    i = 0;
    for (; i + W <= C; i += W) {
      R xv = Vec::load(xr + i), gv = Vec::load(gr + i);
      R gr_s = Vec::mul(gv, rv);
      Vec::store(o + i, Vec::sub(Vec::mul(gr_s, Vec::load(w + i)), Vec::mul(xv, k)));
      Vec::store(dwp + i, Vec::fma(gr_s, xv, Vec::load(dwp + i)));
    }
    if (i < C) {
      int64_t n = C - i;
      R xv = Vec::load_n(xr + i, n, 0.f), gv = Vec::load_n(gr + i, n, 0.f);
      R gr_s = Vec::mul(gv, rv);
      Vec::store_n(o + i, Vec::sub(Vec::mul(gr_s, Vec::load_n(w + i, n, 0.f)), Vec::mul(xv, k)), n);
      Vec::store_n(dwp + i, Vec::fma(gr_s, xv, Vec::load_n(dwp + i, n, 0.f)), n);
    }
  }
}

}  // namespace ZJ_SIMD_NS
}  // namespace zj
