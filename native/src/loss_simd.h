// loss_simd.h — the per-row loops of cross-entropy and of the log-prob gather, forward and backward, over `Vec`,
// compiled once per ISA through simd_ops.h. loss.cc splits the rows; target ids are range-checked by the glue.
#pragma once
#include "simd_common.h"

namespace zj {
namespace ZJ_SIMD_NS {

// logsumexp of a row in one pass over memory: the running maximum moves per chunk (which stays in L1), so
// every element costs one exp, and the partial sums are rescaled only when a chunk raises the maximum.
static float row_logsumexp(const float* x, int64_t n) {
  const int64_t CH = 1024;
  float m = kNegInf;
  R s = Vec::zero();
  for (int64_t c0 = 0; c0 < n; c0 += CH) {
    int64_t cn = lmin(CH, n - c0);
    const float* xc = x + c0;
    float cm = row_max(xc, cn);
    if (cm > m) {
      if (m != kNegInf) s = Vec::mul(s, Vec::set1(expf(m - cm)));
      m = cm;
    }
    if (m == kNegInf) continue;
    R mv = Vec::set1(m);
    R s1 = Vec::zero();
    int64_t i = 0;
    for (; i + 2 * W <= cn; i += 2 * W) {
      s = Vec::add(s, Vec::exp(Vec::sub(Vec::load(xc + i), mv)));
      s1 = Vec::add(s1, Vec::exp(Vec::sub(Vec::load(xc + i + W), mv)));
    }
    for (; i + W <= cn; i += W) s = Vec::add(s, Vec::exp(Vec::sub(Vec::load(xc + i), mv)));
    if (i < cn) s1 = Vec::add(s1, Vec::exp(Vec::sub(Vec::load_n(xc + i, cn - i, kNegInf), mv)));
    s = Vec::add(s, s1);
  }
  if (m == kNegInf) return kNegInf;
  return (float)((double)m + __builtin_log((double)Vec::hsum(s)));
}

static void xent_forward_rows(const float* logits, const int32_t* ids, float* out, float* lse, int64_t rows,
                              int64_t V, int32_t ignore, int gather) {
  for (int64_t r = 0; r < rows; r++) {
    int32_t t = ids[r];
    if (!gather && t == ignore) {
      out[r] = 0.f;
      lse[r] = 0.f;
      continue;
    }
    const float* xr = logits + r * V;
    float l = row_logsumexp(xr, V);
    lse[r] = l;
    out[r] = gather ? xr[t] - l : l - xr[t];
  }
}

// cross-entropy: dl = g (softmax - onehot);  gather: dl = g (onehot - softmax). One read, one write per row.
static void xent_backward_rows(const float* logits, const int32_t* ids, const float* lse, const float* g, float* dl,
                               int64_t rows, int64_t V, int32_t ignore, int gather) {
  for (int64_t r = 0; r < rows; r++) {
    int32_t t = ids[r];
    float* o = dl + r * V;
    if (!gather && t == ignore) {
      fill(o, V, 0.f);
      continue;
    }
    float gr = g[r];
    R coef = Vec::set1(gather ? -gr : gr);
    R l = Vec::set1(lse[r]);
    map1(logits + r * V, o, V, [&](R v) { return Vec::mul(coef, Vec::exp(Vec::sub(v, l))); });
    o[t] += gather ? gr : -gr;
  }
}

}  // namespace ZJ_SIMD_NS
}  // namespace zj
