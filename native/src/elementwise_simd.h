// elementwise_simd.h — the exp-based elementwise loops (exp, sigmoid, silu and its derivative, SwiGLU forward and
// backward) over `Vec`, compiled once per ISA through simd_ops.h. elementwise.cc holds the memory-bound ops (plain
// C++) and calls these through simd().
#pragma once
#include "simd_common.h"

namespace zj {
namespace ZJ_SIMD_NS {

// sigmoid written as the reference does, from e = exp(-|x|) so it never overflows:
// x >= 0: 1 / (1 + e);  x < 0: e / (1 + e)
static inline R v_sigmoid(R x) {
  R e = Vec::exp(Vec::neg_abs(x));
  R inv = Vec::div(Vec::set1(1.f), Vec::add(Vec::set1(1.f), e));
  return Vec::select_ge0(x, inv, Vec::mul(e, inv));
}

static void unary_exp(int op, const float* x, float* out, int64_t n) {
  if (op == ZJ_EXP) map1(x, out, n, [](R v) { return Vec::exp(v); });
  else if (op == ZJ_SIGMOID) map1(x, out, n, [](R v) { return v_sigmoid(v); });
  else map1(x, out, n, [](R v) { return Vec::mul(v, v_sigmoid(v)); });  // silu
}

// d silu = s * (1 + x (1 - s))
static void silu_backward(const float* x, const float* dy, float* dx, int64_t n) {
  map2(x, dy, dx, n, [](R v, R g) {
    R s = v_sigmoid(v);
    R one = Vec::set1(1.f);
    return Vec::mul(g, Vec::mul(s, Vec::fma(v, Vec::sub(one, s), one)));
  });
}

static void swiglu_forward(const float* a, const float* b, float* out, int64_t n) {
  map2(a, b, out, n, [](R x, R y) { return Vec::mul(Vec::mul(x, v_sigmoid(x)), y); });
}

static void swiglu_backward(const float* a, const float* b, const float* g, float* da, float* db, int64_t n) {
  R one = Vec::set1(1.f);
  auto body = [&](R x, R y, R gv, R* dav, R* dbv) {
    R s = v_sigmoid(x);
    *dbv = Vec::mul(Vec::mul(gv, x), s);
    *dav = Vec::mul(Vec::mul(Vec::mul(gv, y), s), Vec::fma(x, Vec::sub(one, s), one));
  };
  int64_t i = 0;
  R dav, dbv;
  for (; i + W <= n; i += W) {
    body(Vec::load(a + i), Vec::load(b + i), Vec::load(g + i), &dav, &dbv);
    Vec::store(da + i, dav);
    Vec::store(db + i, dbv);
  }
  if (i < n) {
    int64_t r = n - i;
    body(Vec::load_n(a + i, r, 0.f), Vec::load_n(b + i, r, 0.f), Vec::load_n(g + i, r, 0.f), &dav, &dbv);
    Vec::store_n(da + i, dav, r);
    Vec::store_n(db + i, dbv, r);
  }
}

}  // namespace ZJ_SIMD_NS
}  // namespace zj
