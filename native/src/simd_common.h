// simd_common.h — what the hot loops of every op family share, written once over a vector type `Vec`: the lane
// count, loop helpers (full vectors, then one masked tail) and row reductions. Each family's <family>_simd.h
// builds on it, and simd_ops.h compiles them all for one ISA. No threading and no allocation of outputs here:
// callers partition the work.
//
// Vec provides: W (lanes), MR x NB (micro-GEMM register block: rows x vectors), R (register type), load/store,
// load_n/store_n (first n lanes; load fills the rest), set1, zero, add, sub, mul, div, fma(a,b,c)=a*b+c, max,
// min, sqrt, hsum, hmax, neg_abs (-|x|), select_ge0(x, a, b) = x >= 0 ? a : b, keep_n(v, n, fill) (lanes >= n,
// n may be <= 0, replaced by fill), exp, and TB / transpose_block (a TB x TB in-register transpose).
#pragma once
#ifndef ZJ_SIMD_NS
#error "define Vec and ZJ_SIMD_NS, then include simd_ops.h"
#endif
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include "../include/zj_kernels.h"
#include "kernels_impl.h"

namespace zj {
namespace ZJ_SIMD_NS {

typedef Vec::R R;
static constexpr int W = Vec::W;
static const float kNegInf = -__builtin_inff();

// Own min/max: std:: templates would be emitted as weak symbols compiled with this ISA's flags.
static inline int64_t lmin(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t lmax(int64_t a, int64_t b) { return a > b ? a : b; }
static inline int64_t round_up(int64_t n) { return (n + W - 1) / W * W; }

// ---- loop helpers: full vectors, then one masked tail -------------------------------------------
template <class F>
static inline void map1(const float* x, float* out, int64_t n, F f) {
  int64_t i = 0;
  for (; i + W <= n; i += W) Vec::store(out + i, f(Vec::load(x + i)));
  if (i < n) Vec::store_n(out + i, f(Vec::load_n(x + i, n - i, 0.f)), n - i);
}

template <class F>
static inline void map2(const float* x, const float* y, float* out, int64_t n, F f) {
  int64_t i = 0;
  for (; i + W <= n; i += W) Vec::store(out + i, f(Vec::load(x + i), Vec::load(y + i)));
  if (i < n) Vec::store_n(out + i, f(Vec::load_n(x + i, n - i, 0.f), Vec::load_n(y + i, n - i, 0.f)), n - i);
}

// Inline vector stores: for the short rows here a libc memset call costs more than the stores.
static inline void fill(float* out, int64_t n, float v) {
  const R vv = Vec::set1(v);
  int64_t i = 0;
  for (; i + W <= n; i += W) Vec::store(out + i, vv);
  if (i < n) Vec::store_n(out + i, vv, n - i);
}

static inline float row_max(const float* x, int64_t n) {
  R m = Vec::set1(kNegInf);
  int64_t i = 0;
  for (; i + W <= n; i += W) m = Vec::max(m, Vec::load(x + i));
  if (i < n) m = Vec::max(m, Vec::load_n(x + i, n - i, kNegInf));
  return Vec::hmax(m);
}

static inline float row_dot(const float* x, const float* y, int64_t n) {
  R s0 = Vec::zero(), s1 = Vec::zero();
  int64_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    s0 = Vec::fma(Vec::load(x + i), Vec::load(y + i), s0);
    s1 = Vec::fma(Vec::load(x + i + W), Vec::load(y + i + W), s1);
  }
  for (; i + W <= n; i += W) s0 = Vec::fma(Vec::load(x + i), Vec::load(y + i), s0);
  if (i < n) s1 = Vec::fma(Vec::load_n(x + i, n - i, 0.f), Vec::load_n(y + i, n - i, 0.f), s1);
  return Vec::hsum(Vec::add(s0, s1));
}
// out[i] = exp(x[i] - m); returns the sum of the outputs.
static inline float row_exp_sum(const float* x, float* out, int64_t n, float m) {
  R mv = Vec::set1(m), s = Vec::zero();
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    R e = Vec::exp(Vec::sub(Vec::load(x + i), mv));
    Vec::store(out + i, e);
    s = Vec::add(s, e);
  }
  if (i < n) {
    R e = Vec::exp(Vec::sub(Vec::load_n(x + i, n - i, kNegInf), mv));  // padded lanes give exp(-inf) = 0
    Vec::store_n(out + i, e, n - i);
    s = Vec::add(s, e);
  }
  return Vec::hsum(s);
}

}  // namespace ZJ_SIMD_NS
}  // namespace zj
