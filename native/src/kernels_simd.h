// kernels_simd.h — the hot loops of every op family, written once over a vector type `Vec` and compiled per
// ISA: avx512/kernels_avx512.cc, avx2/kernels_avx2.cc and simd_scalar.cc define Vec and ZJ_SIMD_NS, then include
// this file. The namespace keeps each ISA's copies apart, so the linker never mixes AVX-512 code into the
// baseline path. No threading and no allocation of outputs here: callers partition the work.
//
// Vec provides: W (lanes), MR x NB (micro-GEMM register block: rows x vectors), R (register type), load/store,
// load_n/store_n (first n lanes; load fills the rest), set1, zero, add, sub, mul, div, fma(a,b,c)=a*b+c, max,
// min, sqrt, hsum, hmax, neg_abs (-|x|), select_ge0(x, a, b) = x >= 0 ? a : b, keep_n(v, n, fill) (lanes >= n,
// n may be <= 0, replaced by fill), exp, and TB / transpose_block (a TB x TB in-register transpose).
#ifndef ZJ_SIMD_NS
#error "define Vec and ZJ_SIMD_NS before including kernels_simd.h"
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

// sigmoid written as the reference does, from e = exp(-|x|) so it never overflows:
// x >= 0: 1 / (1 + e);  x < 0: e / (1 + e)
static inline R v_sigmoid(R x) {
  R e = Vec::exp(Vec::neg_abs(x));
  R inv = Vec::div(Vec::set1(1.f), Vec::add(Vec::set1(1.f), e));
  return Vec::select_ge0(x, inv, Vec::mul(e, inv));
}

// ---- elementwise ------------------------------------------------------------------------------
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

// ---- softmax family ---------------------------------------------------------------------------
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

// ---- RMSNorm ----------------------------------------------------------------------------------
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

// ---- cross-entropy and log-prob gather ----------------------------------------------------------
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

// ---- AdamW ------------------------------------------------------------------------------------
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

// ---- small GEMM for attention tiles ------------------------------------------------------------
// C[r, 0:N] (+)= sum_k A[r*ars + k*aks] * Y[k*ldy + 0:N], N a multiple of W (callers pad their scratch).
// A is read one scalar at a time (broadcast), so it may be a transposed view; Y rows are vectors.
template <int M, int NB>
static inline void mg_block(int64_t K, const float* A, int64_t ars, int64_t aks, const float* Y, int64_t ldy,
                            float* C, int64_t ldc, bool acc) {
  R c[M][NB];
  for (int m = 0; m < M; m++)
    for (int n = 0; n < NB; n++) c[m][n] = acc ? Vec::load(C + m * ldc + n * W) : Vec::zero();
  for (int64_t k = 0; k < K; k++) {
    R y[NB];
    for (int n = 0; n < NB; n++) y[n] = Vec::load(Y + k * ldy + n * W);
    for (int m = 0; m < M; m++) {
      R a = Vec::set1(A[m * ars + k * aks]);
      for (int n = 0; n < NB; n++) c[m][n] = Vec::fma(a, y[n], c[m][n]);
    }
  }
  for (int m = 0; m < M; m++)
    for (int n = 0; n < NB; n++) Vec::store(C + m * ldc + n * W, c[m][n]);
}

template <int M, int NB>
static inline void mg_cols(int nb, int64_t K, const float* A, int64_t ars, int64_t aks, const float* Y, int64_t ldy,
                           float* C, int64_t ldc, bool acc) {
  if constexpr (NB > 1) {
    if (nb < NB) {
      mg_cols<M, NB - 1>(nb, K, A, ars, aks, Y, ldy, C, ldc, acc);
      return;
    }
  }
  mg_block<M, NB>(K, A, ars, aks, Y, ldy, C, ldc, acc);
}

template <int M>
static inline void mg_rows(int m, int nb, int64_t K, const float* A, int64_t ars, int64_t aks, const float* Y,
                           int64_t ldy, float* C, int64_t ldc, bool acc) {
  if constexpr (M > 1) {
    if (m < M) {
      mg_rows<M - 1>(m, nb, K, A, ars, aks, Y, ldy, C, ldc, acc);
      return;
    }
  }
  mg_cols<M, Vec::NB>(nb, K, A, ars, aks, Y, ldy, C, ldc, acc);
}

// The causal band of an attention tile: with diag = (S - T + i0) - j0, query row i of the tile sees key column j
// when j <= diag + i. Passing it lets mgemm skip the row blocks' work that the mask would zero anyway:
//   kBandCols: C rows are queries, columns keys (scores): row r needs columns c <= diag + r; the rest is left
//              unwritten and the caller masks it.
//   kBandKHi:  C rows are queries, k runs over keys (P V, dS K): row r sums k <= diag + r only.
//   kBandKLo:  C rows are keys, k runs over queries (P^T dO, dS^T Q): row r sums k >= r - diag only.
// Skipped terms are exact zeros of P or dS, so the results are bitwise those of the full product.
enum Band { kBandNone, kBandCols, kBandKHi, kBandKLo };

static void mgemm(int64_t Rn, int64_t N, int64_t K, const float* A, int64_t ars, int64_t aks, const float* Y,
                  int64_t ldy, float* C, int64_t ldc, bool acc, Band band = kBandNone, int64_t diag = 0) {
  for (int64_t c0 = 0; c0 < N; c0 += Vec::NB * W) {
    for (int64_t r0 = 0; r0 < Rn; r0 += Vec::MR) {
      const int m = (int)lmin(Vec::MR, Rn - r0);
      int64_t n_end = N, k0 = 0, k1 = K;
      if (band == kBandCols) n_end = lmin(N, round_up(diag + r0 + m));  // the block's last row decides
      else if (band == kBandKHi) k1 = lmin(K, diag + r0 + m);
      else if (band == kBandKLo) k0 = lmax(0, r0 - diag);
      const int nb = (int)lmin(Vec::NB, (n_end - c0) / W);
      if (nb <= 0) continue;
      if (k1 <= k0) {
        if (acc) continue;  // nothing to add
        k0 = k1 = 0;        // an empty sum still writes zeros
      }
      mg_rows<Vec::MR>(m, nb, k1 - k0, A + r0 * ars + k0 * aks, ars, aks, Y + k0 * ldy + c0, ldy, C + r0 * ldc + c0,
                       ldc, acc);
    }
  }
}

// ---- attention (FlashAttention-2, Dao 2023: tiles of queries x keys, online softmax) -------------
// Query rows per tile: 16 in the forward (a tile scores only keys up to its last row, and the row count costs
// the micro-GEMM nothing), 32 in the backward, whose dK/dV tiles are reloaded once per query tile. Within a
// diagonal tile the causal band (Band, above) trims the work further, four rows at a time.
static const int64_t kBrF = 16, kBrB = 32;
static const int64_t kBr = 32;  // the larger of the two: scratch sizes
static const int64_t kBc = 64;  // keys per tile (a multiple of every W)

static float* scratch_alloc(int64_t floats) {
  size_t bytes = (size_t)((floats * 4 + 63) / 64 * 64);
  float* p = (float*)aligned_alloc(64, bytes ? bytes : 64);
  if (!p) __builtin_trap();
  return p;
}

// A row-major operand: element (r, c) at p[r * ld + c].
struct Mat {
  float* p;
  int64_t ld;
};

// n rows of D floats (row stride ld) as an operand whose rows hold whole vectors: the source itself when D is a
// multiple of W (no copy), else a zero-padded copy in scratch (n x Dp).
static Mat padded_rows(const float* src, int64_t ld, int64_t n, int64_t D, int64_t Dp, float* scratch) {
  if (D == Dp) return Mat{(float*)src, ld};
  for (int64_t r = 0; r < n; r++) {
    const float* s = src + r * ld;
    float* d = scratch + r * Dp;
    for (int64_t c = 0; c < D; c++) d[c] = s[c];
    for (int64_t c = D; c < Dp; c++) d[c] = 0.f;
  }
  return Mat{scratch, Dp};
}

// S rows of D floats (stride ld) transposed into dst (D x Sp), columns [S, Sp) zero: whole TB x TB blocks in
// registers (Vec::transpose_block), the ragged edges element by element.
static void transpose_rows(const float* src, int64_t ld, int64_t S, int64_t D, int64_t Sp, float* dst) {
  constexpr int TB = Vec::TB;
  for (int64_t d = 0; d < D; d++)
    for (int64_t s = S; s < Sp; s++) dst[d * Sp + s] = 0.f;
  const int64_t Sb = S / TB * TB, Db = D / TB * TB;
  for (int64_t s0 = 0; s0 < Sb; s0 += TB) {
    for (int64_t d0 = 0; d0 < Db; d0 += TB) Vec::transpose_block(src + s0 * ld + d0, ld, dst + d0 * Sp + s0, Sp);
    for (int64_t d = Db; d < D; d++)
      for (int64_t j = 0; j < TB; j++) dst[d * Sp + s0 + j] = src[(s0 + j) * ld + d];
  }
  for (int64_t s = Sb; s < S; s++)
    for (int64_t d = 0; d < D; d++) dst[d * Sp + s] = src[s * ld + d];
}

// Per (b, kv-head): K transposed (D x Sp) for score tiles, a 0/-inf key bias (Sp; -inf in the padding) and
// whether each key tile has any visible key (tiles of padding only are skipped).
static void stage_keys(const AttnArgs& a, int64_t b, int64_t kh, int64_t Sp, float* Kt, float* bias, char* tile_vis) {
  const int64_t S = a.S, D = a.D, Hkv = a.Hkv;
  transpose_rows(a.k + (b * S * Hkv + kh) * D, Hkv * D, S, D, Sp, Kt);
  for (int64_t s = 0; s < Sp; s++) bias[s] = s < S && (!a.mask || a.mask[b * S + s] != 0) ? 0.f : kNegInf;
  for (int64_t j0 = 0, t = 0; j0 < S; j0 += kBc, t++) {
    char vis = 0;
    for (int64_t s = j0; s < lmin(S, j0 + kBc); s++) vis |= bias[s] == 0.f;
    tile_vis[t] = vis;
  }
}

// Rows (b, h, i0..i0+in) of q against key tile [j0, j0+jn): Sc[i, c] = scale q.k + bias, with keys past the
// row's causal limit and the padding up to a whole vector set to -inf. rowmax[i] gets each row's maximum.
static void score_tile(const AttnArgs& a, const float* qrows, int64_t i0, int64_t in, int64_t j0, int64_t jn,
                       const float* Kt, int64_t Sp, const float* bias, float* Sc, float* rowmax) {
  const int64_t D = a.D, H = a.H, S = a.S, T = a.T;
  const int64_t jnp = round_up(jn);
  const int64_t diag = (S - T + i0) - j0;
  mgemm(in, jnp, D, qrows, H * D, 1, Kt + j0, Sp, Sc, kBc, false, a.causal ? kBandCols : kBandNone, diag);
  const R sc = Vec::set1(a.scale);
  for (int64_t i = 0; i < in; i++) {
    float* row = Sc + i * kBc;
    // visible keys of this row inside the tile: [0, lim)
    const int64_t lim = a.causal ? lmin(jn, diag + i + 1) : jn;
    R m = Vec::set1(kNegInf);
    for (int64_t c = 0; c < jnp; c += W) {
      R v = Vec::fma(Vec::load(row + c), sc, Vec::load(bias + j0 + c));
      if (c + W > lim) v = Vec::keep_n(v, lim - c, kNegInf);
      Vec::store(row + c, v);
      m = Vec::max(m, v);
    }
    rowmax[i] = Vec::hmax(m);
  }
}

// Decoding (one or two queries against a long cache): per query row, scores by dot products over D and the
// output as a weighted sum of V rows. Reads K and V once per head, with no transposed staging, which costs more
// than the arithmetic it feeds when T is this small. Sc holds one row of S scores.
static const int64_t kSmallT = 2;  // measured: per-row dot products win below ~3 queries per head

static void attention_forward_small(const AttnArgs& a, int64_t b, int64_t h, float* Sc) {
  const int64_t T = a.T, S = a.S, H = a.H, Hkv = a.Hkv, D = a.D, kh = h / (H / Hkv);
  const float* kb = a.k + (b * S * Hkv + kh) * D;
  const float* vb = a.v + (b * S * Hkv + kh) * D;
  for (int64_t t = 0; t < T; t++) {
    const float* q = a.q + ((b * T + t) * H + h) * D;
    float* out = a.o + ((b * T + t) * H + h) * D;
    float* lse = a.lse + (b * H + h) * T + t;
    const int64_t send = a.causal ? lmax(0, lmin(S, S - T + t + 1)) : S;  // keys [0, send) before the mask
    float m = kNegInf;
    for (int64_t s = 0; s < send; s++) {
      const bool vis = !a.mask || a.mask[b * S + s] != 0;
      const float sc = vis ? row_dot(q, kb + s * Hkv * D, D) * a.scale : kNegInf;
      Sc[s] = sc;
      if (sc > m) m = sc;
    }
    if (m == kNegInf) {  // sees no key
      for (int64_t d = 0; d < D; d++) out[d] = 0.f;
      *lse = kNegInf;
      continue;
    }
    const float l = row_exp_sum(Sc, Sc, send, m);
    const float inv = 1.f / l;
    for (int64_t d = 0; d < D; d++) out[d] = 0.f;
    for (int64_t s = 0; s < send; s++) {
      if (Sc[s] == 0.f) continue;
      const R p = Vec::set1(Sc[s] * inv);
      const float* v = vb + s * Hkv * D;
      int64_t d = 0;
      for (; d + W <= D; d += W) Vec::store(out + d, Vec::fma(p, Vec::load(v + d), Vec::load(out + d)));
      if (d < D) {
        const int64_t r = D - d;
        Vec::store_n(out + d, Vec::fma(p, Vec::load_n(v + d, r, 0.f), Vec::load_n(out + d, r, 0.f)), r);
      }
    }
    *lse = (float)((double)m + __builtin_log((double)l));
  }
}

static void attention_forward_units(const AttnArgs* ap, int64_t u0, int64_t u1) {
  const AttnArgs& a = *ap;
  const int64_t T = a.T, S = a.S, H = a.H, Hkv = a.Hkv, D = a.D, group = H / Hkv;
  const int64_t Sp = round_up(lmax(S, 1)) + kBc, Dp = round_up(D);
  const int64_t ntiles = (S + kBc - 1) / kBc + 1;
  // Kt | Vpad | bias | Sc | Oacc | m | l | tile max | tile flags
  const int64_t off_vp = D * Sp, off_bias = off_vp + (D == Dp ? 0 : S * Dp), off_sc = off_bias + Sp;
  const int64_t off_o = off_sc + lmax(kBr * kBc, round_up(S));  // Sc also holds a row of S scores (decode path)
  const int64_t off_m = off_o + kBr * Dp, off_l = off_m + kBr, off_tm = off_l + kBr;
  const int64_t off_vis = off_tm + kBr;
  float* buf = scratch_alloc(off_vis + ntiles);
  float *Kt = buf, *Vpad = buf + off_vp, *bias = buf + off_bias, *Sc = buf + off_sc, *Oacc = buf + off_o;
  float *mrow = buf + off_m, *lrow = buf + off_l, *tmax = buf + off_tm;
  char* tile_vis = (char*)(buf + off_vis);
  Mat V{nullptr, 0};
  int64_t staged_b = -1, staged_kh = -1;
  for (int64_t u = u0; u < u1; u++) {
    const int64_t b = u / H, h = u % H, kh = h / group;
    if (T <= kSmallT) {
      attention_forward_small(a, b, h, Sc);
      continue;
    }
    if (b != staged_b || kh != staged_kh) {  // heads of one GQA group share the staged K and V
      stage_keys(a, b, kh, Sp, Kt, bias, tile_vis);
      V = padded_rows(a.v + (b * S * Hkv + kh) * D, Hkv * D, S, D, Dp, Vpad);
      staged_b = b;
      staged_kh = kh;
    }
    for (int64_t i0 = 0; i0 < T; i0 += kBrF) {
      const int64_t in = lmin(kBrF, T - i0);
      const float* qrows = a.q + ((b * T + i0) * H + h) * D;
      // keys any row of this tile may see: [0, kend)
      const int64_t kend = a.causal ? lmax(0, lmin(S, S - T + i0 + in)) : S;
      for (int64_t i = 0; i < in; i++) {
        mrow[i] = kNegInf;
        lrow[i] = 0.f;
      }
      fill(Oacc, in * Dp, 0.f);
      for (int64_t j0 = 0; j0 < kend; j0 += kBc) {
        if (!tile_vis[j0 / kBc]) continue;  // every key of the tile is padding
        const int64_t jn = lmin(kBc, kend - j0), jnp = round_up(jn);
        score_tile(a, qrows, i0, in, j0, jn, Kt, Sp, bias, Sc, tmax);
        // online softmax (Milakov & Gimelshein 2018): rescale what was accumulated when the row maximum grows
        for (int64_t i = 0; i < in; i++) {
          float* row = Sc + i * kBc;
          const float mnew = tmax[i] > mrow[i] ? tmax[i] : mrow[i];
          if (mnew == kNegInf) {  // nothing visible yet: this row of P is zero
            for (int64_t c = 0; c < jnp; c += W) Vec::store(row + c, Vec::zero());
            continue;
          }
          const float alpha = expf(mrow[i] - mnew);  // exp(-inf) = 0 on the first visible tile
          const float s = row_exp_sum(row, row, jnp, mnew);
          lrow[i] = lrow[i] * alpha + s;
          mrow[i] = mnew;
          if (alpha != 1.f) {
            const R av = Vec::set1(alpha);
            float* o = Oacc + i * Dp;
            for (int64_t d = 0; d < Dp; d += W) Vec::store(o + d, Vec::mul(Vec::load(o + d), av));
          }
        }
        const Band kb = a.causal ? kBandKHi : kBandNone;
        mgemm(in, Dp, jn, Sc, kBc, 1, V.p + j0 * V.ld, V.ld, Oacc, Dp, true, kb, S - T + i0 - j0);  // O += P V
      }
      for (int64_t i = 0; i < in; i++) {
        float* out = a.o + ((b * T + i0 + i) * H + h) * D;
        float* lse = a.lse + (b * H + h) * T + i0 + i;
        if (lrow[i] == 0.f) {  // a query that sees no key
          for (int64_t d = 0; d < D; d++) out[d] = 0.f;
          *lse = kNegInf;
          continue;
        }
        const R inv = Vec::set1(1.f / lrow[i]);
        map1(Oacc + i * Dp, out, D, [&](R v) { return Vec::mul(v, inv); });
        *lse = (float)((double)mrow[i] + __builtin_log((double)lrow[i]));
      }
    }
  }
  free(buf);
}

// Backward per (b, kv-head): for each query tile, recompute P = exp(scale q.k - lse) tile by tile, then
// dV += P^T dO, dS = P (dO.V - delta) scale, dK += dS^T Q, dQ += dS K. A unit owns its dk, dv and the dq of
// its heads, so units never race and the summation order is fixed. When D is a multiple of W the GEMMs read
// and accumulate into the caller's arrays directly; otherwise through zero-padded copies.
static void attention_backward_units(const AttnArgs* ap, int64_t u0, int64_t u1) {
  const AttnArgs& a = *ap;
  const int64_t T = a.T, S = a.S, H = a.H, Hkv = a.Hkv, D = a.D, group = H / Hkv;
  const int64_t Sp = round_up(lmax(S, 1)) + kBc, Dp = round_up(D);
  const int64_t ldq = H * D, ldk = Hkv * D;
  const bool pad = D != Dp;
  const int64_t ntiles = (S + kBc - 1) / kBc + 1;
  // Kt | Vt | bias | P | dS | delta | lse | tile max | tile flags | (D % W != 0 only: Kpad | dKa | dVa | Qpad |
  // dOpad | dQa)
  const int64_t sz_t = D * Sp, sz_s = kBr * kBc, sz_kp = pad ? S * Dp : 0, sz_qp = pad ? kBr * Dp : 0;
  const int64_t off_vt = sz_t, off_bias = off_vt + sz_t, off_P = off_bias + Sp, off_dS = off_P + sz_s;
  const int64_t off_delta = off_dS + sz_s, off_lse = off_delta + kBr, off_tm = off_lse + kBr, off_vis = off_tm + kBr;
  const int64_t off_kp = off_vis + (ntiles + 15) / 16 * 16, off_dk = off_kp + sz_kp, off_dv = off_dk + sz_kp;
  const int64_t off_qp = off_dv + sz_kp, off_dop = off_qp + sz_qp, off_dq = off_dop + sz_qp;
  float* buf = scratch_alloc(off_dq + sz_qp);
  float *Kt = buf, *Vt = buf + off_vt, *bias = buf + off_bias, *P = buf + off_P, *dS = buf + off_dS;
  float *delta = buf + off_delta, *lrow = buf + off_lse, *tmax = buf + off_tm;
  char* tile_vis = (char*)(buf + off_vis);
  const R sc = Vec::set1(a.scale);
  for (int64_t u = u0; u < u1; u++) {
    const int64_t b = u / Hkv, kh = u % Hkv;
    const int64_t kvo = (b * S * Hkv + kh) * D;  // (b, s=0, kh, 0)
    stage_keys(a, b, kh, Sp, Kt, bias, tile_vis);
    transpose_rows(a.v + kvo, ldk, S, D, Sp, Vt);
    const Mat K = padded_rows(a.k + kvo, ldk, S, D, Dp, buf + off_kp);
    const Mat dK = pad ? Mat{buf + off_dk, Dp} : Mat{a.dk + kvo, ldk};
    const Mat dV = pad ? Mat{buf + off_dv, Dp} : Mat{a.dv + kvo, ldk};
    for (int64_t s = 0; s < S; s++) {
      fill(dK.p + s * dK.ld, Dp, 0.f);
      fill(dV.p + s * dV.ld, Dp, 0.f);
    }
    for (int64_t h = kh * group; h < (kh + 1) * group; h++) {
      for (int64_t i0 = 0; i0 < T; i0 += kBrB) {
        const int64_t in = lmin(kBrB, T - i0);
        const int64_t qo = ((b * T + i0) * H + h) * D;  // (b, i0, h, 0)
        const float* qrows = a.q + qo;
        const float* dorows = a.dout + qo;
        const Mat Q = padded_rows(qrows, ldq, in, D, Dp, buf + off_qp);
        const Mat dO = padded_rows(dorows, ldq, in, D, Dp, buf + off_dop);
        const Mat dQ = pad ? Mat{buf + off_dq, Dp} : Mat{a.dq + qo, ldq};
        const int64_t kend = a.causal ? lmax(0, lmin(S, S - T + i0 + in)) : S;
        for (int64_t i = 0; i < in; i++) {
          fill(dQ.p + i * dQ.ld, Dp, 0.f);
          delta[i] = row_dot(dorows + i * ldq, a.out + qo + i * ldq, D);
          lrow[i] = a.lse_in[(b * H + h) * T + i0 + i];
        }
        for (int64_t j0 = 0; j0 < kend; j0 += kBc) {
          if (!tile_vis[j0 / kBc]) continue;
          const int64_t jn = lmin(kBc, kend - j0), jnp = round_up(jn);
          score_tile(a, qrows, i0, in, j0, jn, Kt, Sp, bias, P, tmax);
          const int64_t diag = (S - T + i0) - j0;  // see Band
          const Band cols = a.causal ? kBandCols : kBandNone, khi = a.causal ? kBandKHi : kBandNone;
          const Band klo = a.causal ? kBandKLo : kBandNone;
          mgemm(in, jnp, D, dorows, ldq, 1, Vt + j0, Sp, dS, kBc, false, cols, diag);  // dP = dO V^T
          for (int64_t i = 0; i < in; i++) {
            float* pr = P + i * kBc;
            float* dr = dS + i * kBc;
            // dP past the row's causal limit was not computed: keep dS there an exact zero, like P
            const int64_t lim = a.causal ? lmin(jn, diag + i + 1) : jn;
            if (lrow[i] == kNegInf) {  // a query that saw no key has no gradient
              for (int64_t c = 0; c < jnp; c += W) {
                Vec::store(pr + c, Vec::zero());
                Vec::store(dr + c, Vec::zero());
              }
              continue;
            }
            const R lv = Vec::set1(lrow[i]), dl = Vec::set1(delta[i]);
            for (int64_t c = 0; c < jnp; c += W) {
              const R p = Vec::exp(Vec::sub(Vec::load(pr + c), lv));
              Vec::store(pr + c, p);
              R ds = Vec::mul(Vec::mul(p, Vec::sub(Vec::load(dr + c), dl)), sc);
              if (c + W > lim) ds = Vec::keep_n(ds, lim - c, 0.f);
              Vec::store(dr + c, ds);
            }
          }
          mgemm(jn, Dp, in, P, 1, kBc, dO.p, dO.ld, dV.p + j0 * dV.ld, dV.ld, true, klo, diag);  // dV += P^T dO
          mgemm(jn, Dp, in, dS, 1, kBc, Q.p, Q.ld, dK.p + j0 * dK.ld, dK.ld, true, klo, diag);   // dK += dS^T Q
          mgemm(in, Dp, jn, dS, kBc, 1, K.p + j0 * K.ld, K.ld, dQ.p, dQ.ld, true, khi, diag);    // dQ += dS K
        }
        if (pad)
          for (int64_t i = 0; i < in; i++)
            for (int64_t d = 0; d < D; d++) a.dq[qo + i * ldq + d] = dQ.p[i * Dp + d];
      }
    }
    if (pad)
      for (int64_t s = 0; s < S; s++)
        for (int64_t d = 0; d < D; d++) {
          a.dk[kvo + s * ldk + d] = dK.p[s * Dp + d];
          a.dv[kvo + s * ldk + d] = dV.p[s * Dp + d];
        }
  }
  free(buf);
}

static const SimdOps ops = {
    unary_exp,       silu_backward,         swiglu_forward,    swiglu_backward,    softmax_rows,
    softmax_backward_rows, rmsnorm_forward_rows, rmsnorm_backward_rows, xent_forward_rows, xent_backward_rows,
    adamw,           attention_forward_units, attention_backward_units,
};

}  // namespace ZJ_SIMD_NS
}  // namespace zj
