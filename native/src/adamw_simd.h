// adamw_simd.h — the AdamW update loop over `Vec` (one pass over p, g, m, v), compiled once per ISA through
// simd_ops.h. adamw.cc computes the bias corrections and splits the range.
#pragma once
#include "simd_common.h"

namespace zj {
namespace ZJ_SIMD_NS {

static void adamw(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
                  float eps, float wd, float inv_bc1, float inv_bc2, float grad_scale) {
  R b1 = Vec::set1(beta1), b2 = Vec::set1(beta2), c1 = Vec::set1(1.f - beta1), c2 = Vec::set1(1.f - beta2);
  R gs = Vec::set1(grad_scale), ib1 = Vec::set1(inv_bc1), ib2 = Vec::set1(inv_bc2), ev = Vec::set1(eps);
  R lrv = Vec::set1(lr), wdv = Vec::set1(wd);
  auto step = [&](R pv, R gv, R mv, R vv, R* po, R* mo, R* vo) {
    R gi = Vec::mul(gv, gs);
    mv = Vec::fma(b1, mv, Vec::mul(c1, gi));
    vv = Vec::fma(b2, vv, Vec::mul(Vec::mul(c2, gi), gi));
    R upd = Vec::div(Vec::mul(mv, ib1), Vec::add(Vec::sqrt(Vec::mul(vv, ib2)), ev));
    *po = Vec::sub(pv, Vec::mul(lrv, Vec::fma(wdv, pv, upd)));
    *mo = mv;
    *vo = vv;
  };
  int64_t i = 0;
  R po, mo, vo;
  for (; i + W <= n; i += W) {
    step(Vec::load(p + i), Vec::load(g + i), Vec::load(m + i), Vec::load(v + i), &po, &mo, &vo);
    Vec::store(p + i, po);
    Vec::store(m + i, mo);
    Vec::store(v + i, vo);
  }
  if (i < n) {
    int64_t r = n - i;
    step(Vec::load_n(p + i, r, 0.f), Vec::load_n(g + i, r, 0.f), Vec::load_n(m + i, r, 0.f),
         Vec::load_n(v + i, r, 0.f), &po, &mo, &vo);
    Vec::store_n(p + i, po, r);
    Vec::store_n(m + i, mo, r);
    Vec::store_n(v + i, vo, r);
  }
}

}  // namespace ZJ_SIMD_NS
}  // namespace zj
