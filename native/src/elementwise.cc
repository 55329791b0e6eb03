// elementwise.cc — binary ops with strided broadcasting, unary ops and their derivatives, affine, clamp, where,
// SwiGLU. The memory-bound loops are plain C++ the compiler vectorises; the exp-based ones (exp, sigmoid, silu,
// SwiGLU) go to the per-ISA loops of elementwise_simd.h. JS semantics (NaN rules of Math.max etc.) are kept.
#include <math.h>
#include <vector>
#include "../include/zj_kernels.h"
#include "kernels_impl.h"

namespace zj {
namespace {

// Scalar definitions, matching src/backend/reference/elementwise.ts.
struct Add { static float f(float x, float y) { return x + y; } };
struct Sub { static float f(float x, float y) { return x - y; } };
struct Mul { static float f(float x, float y) { return x * y; } };
struct Div { static float f(float x, float y) { return x / y; } };
struct Max { static float f(float x, float y) { return x >= y || x != x ? x : y; } };
struct Min { static float f(float x, float y) { return x <= y || x != x ? x : y; } };
struct Gt { static float f(float x, float y) { return x > y ? 1.f : 0.f; } };
struct Lt { static float f(float x, float y) { return x < y ? 1.f : 0.f; } };
struct Ge { static float f(float x, float y) { return x >= y ? 1.f : 0.f; } };
struct Le { static float f(float x, float y) { return x <= y ? 1.f : 0.f; } };
struct Eq { static float f(float x, float y) { return x == y ? 1.f : 0.f; } };

// One innermost run, specialised for the stride patterns that matter: same shape, and a broadcast operand.
template <class Op>
void binary_run(const float* a, int64_t sa, const float* b, int64_t sb, float* out, int64_t n) {
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; i++) out[i] = Op::f(a[i], b[i]);
  } else if (sa == 1 && sb == 0) {
    const float y = *b;
    for (int64_t i = 0; i < n; i++) out[i] = Op::f(a[i], y);
  } else if (sa == 0 && sb == 1) {
    const float x = *a;
    for (int64_t i = 0; i < n; i++) out[i] = Op::f(x, b[i]);
  } else {
    for (int64_t i = 0; i < n; i++) out[i] = Op::f(a[i * sa], b[i * sb]);
  }
}

template <class Op>
void binary_collapsed(const float* a, const float* b, float* out, const StridedDims& dims) {
  const int r = (int)dims.shape.size();
  const int64_t inner = dims.shape[r - 1], ia = dims.st0[r - 1], ib = dims.st1[r - 1];
  const int64_t rows = dims.count / inner;
  parallel_rows(rows, inner, kParallelGrain, [&](int64_t r0, int64_t r1, int) {
    std::vector<int64_t> idx(r > 1 ? r - 1 : 1, 0);
    int64_t ao = 0, bo = 0;
    dims.start(r0, idx.data(), &ao, &bo);
    for (int64_t row = r0; row < r1; row++) {
      binary_run<Op>(a + ao, ia, b + bo, ib, out + row * inner, inner);
      dims.next_row(idx.data(), &ao, &bo);
    }
  });
}

template <class F>
void par_map(int64_t n, F f) {
  parallel_for(n, kParallelGrain, [&](int64_t i0, int64_t i1, int) { f(i0, i1); });
}

double sigmoid_d(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }

}  // namespace
}  // namespace zj

using namespace zj;

extern "C" void zj_binary(int op, const float* a, const float* b, float* out, int rank, const int64_t* shape,
                          const int64_t* aStrides, const int64_t* bStrides) {
  StridedDims dims(rank, shape, aStrides, bStrides);
  if (dims.count == 0) return;
  switch (op) {
    case ZJ_ADD: binary_collapsed<Add>(a, b, out, dims); break;
    case ZJ_SUB: binary_collapsed<Sub>(a, b, out, dims); break;
    case ZJ_MUL: binary_collapsed<Mul>(a, b, out, dims); break;
    case ZJ_DIV: binary_collapsed<Div>(a, b, out, dims); break;
    case ZJ_MAX: binary_collapsed<Max>(a, b, out, dims); break;
    case ZJ_MIN: binary_collapsed<Min>(a, b, out, dims); break;
    case ZJ_GT: binary_collapsed<Gt>(a, b, out, dims); break;
    case ZJ_LT: binary_collapsed<Lt>(a, b, out, dims); break;
    case ZJ_GE: binary_collapsed<Ge>(a, b, out, dims); break;
    case ZJ_LE: binary_collapsed<Le>(a, b, out, dims); break;
    case ZJ_EQ: binary_collapsed<Eq>(a, b, out, dims); break;
    default: break;  // the glue rejects unknown ops
  }
}

extern "C" void zj_unary(int op, const float* x, float* out, int64_t n) {
  par_map(n, [&](int64_t i0, int64_t i1) {
    const float* xs = x + i0;
    float* o = out + i0;
    const int64_t m = i1 - i0;
    switch (op) {
      case ZJ_NEG: for (int64_t i = 0; i < m; i++) o[i] = -xs[i]; break;
      case ZJ_EXP:
      case ZJ_SIGMOID:
      case ZJ_SILU: simd().unary_exp(op, xs, o, m); break;
      case ZJ_LOG: for (int64_t i = 0; i < m; i++) o[i] = logf(xs[i]); break;
      case ZJ_SQRT: for (int64_t i = 0; i < m; i++) o[i] = sqrtf(xs[i]); break;
      case ZJ_RSQRT: for (int64_t i = 0; i < m; i++) o[i] = (float)(1.0 / sqrt((double)xs[i])); break;
      case ZJ_LOGSIGMOID:
        for (int64_t i = 0; i < m; i++) {
          double v = xs[i];
          o[i] = (float)(v < 0 ? v - log1p(exp(v)) : -log1p(exp(-v)));
        }
        break;
      case ZJ_TANH: for (int64_t i = 0; i < m; i++) o[i] = tanhf(xs[i]); break;
      case ZJ_ABS: for (int64_t i = 0; i < m; i++) o[i] = fabsf(xs[i]); break;
      case ZJ_RECIP: for (int64_t i = 0; i < m; i++) o[i] = 1.f / xs[i]; break;
      case ZJ_SQUARE: for (int64_t i = 0; i < m; i++) o[i] = xs[i] * xs[i]; break;
      case ZJ_RELU: for (int64_t i = 0; i < m; i++) o[i] = xs[i] > 0.f ? xs[i] : 0.f; break;
      default: break;
    }
  });
}

// dx = dy * f'(x); the derivative comes from y where that is cheaper (see the reference's derivFns).
extern "C" void zj_unary_backward(int op, const float* x, const float* y, const float* dy, float* dx, int64_t n) {
  par_map(n, [&](int64_t i0, int64_t i1) {
    const float *xs = x + i0, *ys = y + i0, *g = dy + i0;
    float* o = dx + i0;
    const int64_t m = i1 - i0;
    switch (op) {
      case ZJ_NEG: for (int64_t i = 0; i < m; i++) o[i] = -g[i]; break;
      case ZJ_EXP: for (int64_t i = 0; i < m; i++) o[i] = g[i] * ys[i]; break;
      case ZJ_LOG: for (int64_t i = 0; i < m; i++) o[i] = g[i] / xs[i]; break;
      case ZJ_SQRT: for (int64_t i = 0; i < m; i++) o[i] = g[i] * (0.5f / ys[i]); break;
      case ZJ_RSQRT: for (int64_t i = 0; i < m; i++) o[i] = g[i] * (-0.5f * ys[i] * ys[i] * ys[i]); break;
      case ZJ_SILU: simd().silu_backward(xs, g, o, m); break;
      case ZJ_SIGMOID: for (int64_t i = 0; i < m; i++) o[i] = g[i] * (ys[i] * (1.f - ys[i])); break;
      case ZJ_LOGSIGMOID: for (int64_t i = 0; i < m; i++) o[i] = (float)(g[i] * sigmoid_d(-(double)xs[i])); break;
      case ZJ_TANH: for (int64_t i = 0; i < m; i++) o[i] = g[i] * (1.f - ys[i] * ys[i]); break;
      case ZJ_ABS:
        for (int64_t i = 0; i < m; i++) o[i] = g[i] * (xs[i] > 0.f ? 1.f : xs[i] < 0.f ? -1.f : 0.f);
        break;
      case ZJ_RECIP: for (int64_t i = 0; i < m; i++) o[i] = g[i] * (-ys[i] * ys[i]); break;
      case ZJ_SQUARE: for (int64_t i = 0; i < m; i++) o[i] = g[i] * (2.f * xs[i]); break;
      case ZJ_RELU: for (int64_t i = 0; i < m; i++) o[i] = g[i] * (xs[i] > 0.f ? 1.f : 0.f); break;
      default: break;
    }
  });
}

// In double, as the reference does: one rounding instead of two.
extern "C" void zj_affine(const float* x, float* out, int64_t n, float alpha, float beta) {
  const double al = alpha, be = beta;
  par_map(n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) out[i] = (float)(al * x[i] + be);
  });
}

// NaN passes through, as Math.min(Math.max(NaN, lo), hi) does.
extern "C" void zj_clamp(const float* x, float* out, int64_t n, float lo, float hi) {
  par_map(n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) {
      float t = x[i] < lo ? lo : x[i];
      out[i] = t > hi ? hi : t;
    }
  });
}

extern "C" void zj_where(const float* cond, const float* a, const float* b, float* out, int64_t n) {
  par_map(n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) out[i] = cond[i] != 0.f ? a[i] : b[i];
  });
}

extern "C" void zj_swiglu_forward(const float* a, const float* b, float* out, int64_t n) {
  par_map(n, [&](int64_t i0, int64_t i1) { simd().swiglu_forward(a + i0, b + i0, out + i0, i1 - i0); });
}

extern "C" void zj_swiglu_backward(const float* a, const float* b, const float* dOut, float* da, float* db,
                                   int64_t n) {
  par_map(n, [&](int64_t i0, int64_t i1) {
    simd().swiglu_backward(a + i0, b + i0, dOut + i0, da + i0, db + i0, i1 - i0);
  });
}
