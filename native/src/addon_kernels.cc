// addon_kernels.cc — N-API glue for every kernel family except GEMM: argument types, dims, and lengths checked
// against the dims (so no kernel reads or writes out of bounds), then one call into zj_kernels.h. No math here.
// Exported names and argument order match the Kernels interface (src/backend/kernels.ts) one for one.
#include <cmath>
#include <string>
#include <vector>
#include "../include/zj_kernels.h"
#include "napi_util.h"

namespace zj {
namespace {

[[noreturn]] void fail(const Args& a, const std::string& msg) { throw NapiError{std::string("[") + a.fn + "] " + msg}; }

// A dimension: a finite integer >= 0 (and small enough that products of a few stay exact).
int64_t dim(const Args& a, size_t i, const char* name) {
  double d = a.num(i);
  if (!(d >= 0) || d != std::floor(d) || d > 9.007199254740992e15)
    fail(a, std::string(name) + " must be an integer >= 0");
  return (int64_t)d;
}

int64_t mul(const Args& a, std::initializer_list<int64_t> xs) {
  double p = 1;
  int64_t q = 1;
  for (int64_t x : xs) {
    p *= (double)x;
    q *= x;
  }
  if (p > 9.007199254740992e15) fail(a, "dims are too large");
  return q;
}

const uint16_t* u16(const Args& a, size_t i, int64_t min_len) {
  return a.arr<uint16_t>(i, napi_uint16_array, "Uint16Array", min_len);
}

// Keys of `name` outside [0, V) (ignore-index entries excepted) would index out of bounds.
void check_ids(const Args& a, const int32_t* ids, int64_t n, int64_t V, bool has_ignore, int32_t ignore) {
  for (int64_t i = 0; i < n; i++) {
    int32_t id = ids[i];
    if (has_ignore && id == ignore) continue;
    if (id < 0 || id >= V)
      fail(a, "id " + std::to_string(id) + " at " + std::to_string(i) + " outside the vocabulary [0, " +
                  std::to_string(V) + ")");
  }
}

// The view's smallest and largest element offsets must lie inside an array of `len`. Computed in double, so
// absurd strides cannot overflow into a passing check (shape has no zero dim here).
void check_view(const Args& a, const char* what, size_t len, const std::vector<int64_t>& shape,
                const std::vector<int64_t>& st, int64_t base) {
  double lo = (double)base, hi = (double)base;
  for (size_t d = 0; d < shape.size(); d++) {
    double span = (double)(shape[d] - 1) * (double)st[d];
    if (span < 0) lo += span;
    else hi += span;
  }
  if (lo < 0 || hi >= (double)len)
    fail(a, std::string(what) + " strides reach offsets [" + std::to_string((long long)lo) + ", " +
                std::to_string((long long)hi) + "] of an array of " + std::to_string(len));
}

std::vector<int64_t> shape_arg(const Args& a, size_t i) {
  std::vector<int64_t> s = a.ints(i);
  double n = 1;
  for (int64_t d : s) {
    if (d < 0) fail(a, "shape dims must be >= 0");
    n *= (double)d;
  }
  if (n > 9.007199254740992e15) fail(a, "shape is too large");
  return s;
}

// ---- elementwise --------------------------------------------------------------------------------

// binary(op, a, b, out, shape, aStrides, bStrides)
napi_value binary(napi_env env, napi_callback_info cbi) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, cbi, "binary", 7);
    int64_t op = a.i64(0);
    if (op < ZJ_ADD || op > ZJ_EQ) fail(a, "unknown op " + std::to_string(op));
    std::vector<int64_t> shape = shape_arg(a, 4), as = a.ints(5), bs = a.ints(6);
    if (as.size() != shape.size() || bs.size() != shape.size()) fail(a, "shape and strides must have the same rank");
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    const float* x = a.f32(1);
    const float* y = a.f32(2);
    float* out = a.f32(3, n);
    if (n > 0) {
      check_view(a, "a", a.length(1), shape, as, 0);
      check_view(a, "b", a.length(2), shape, bs, 0);
    }
    zj_binary((int)op, x, y, out, (int)shape.size(), shape.data(), as.data(), bs.data());
    return undefined(env);
  });
}

// unary(op, x, out)
napi_value unary(napi_env env, napi_callback_info cbi) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, cbi, "unary", 3);
    int64_t op = a.i64(0);
    if (op < ZJ_NEG || op > ZJ_RELU) fail(a, "unknown op " + std::to_string(op));
    const float* x = a.f32(1);
    int64_t n = (int64_t)a.length(1);
    zj_unary((int)op, x, a.f32(2, n), n);
    return undefined(env);
  });
}

// unaryBackward(op, x, y, dy, dx)
napi_value unary_backward(napi_env env, napi_callback_info cbi) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, cbi, "unaryBackward", 5);
    int64_t op = a.i64(0);
    if (op < ZJ_NEG || op > ZJ_RELU) fail(a, "unknown op " + std::to_string(op));
    const float* x = a.f32(1);
    int64_t n = (int64_t)a.length(1);
    zj_unary_backward((int)op, x, a.f32(2, n), a.f32(3, n), a.f32(4, n), n);
    return undefined(env);
  });
}

// affine(x, out, alpha, beta)
napi_value affine(napi_env env, napi_callback_info cbi) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, cbi, "affine", 4);
    const float* x = a.f32(0);
    int64_t n = (int64_t)a.length(0);
    zj_affine(x, a.f32(1, n), n, (float)a.num(2), (float)a.num(3));
    return undefined(env);
  });
}

// clamp(x, out, lo, hi)
napi_value clamp(napi_env env, napi_callback_info cbi) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, cbi, "clamp", 4);
    const float* x = a.f32(0);
    int64_t n = (int64_t)a.length(0);
    zj_clamp(x, a.f32(1, n), n, (float)a.num(2), (float)a.num(3));
    return undefined(env);
  });
}

// where(cond, a, b, out)
napi_value where(napi_env env, napi_callback_info cbi) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, cbi, "where", 4);
    const float* c = a.f32(0);
    int64_t n = (int64_t)a.length(0);
    zj_where(c, a.f32(1, n), a.f32(2, n), a.f32(3, n), n);
    return undefined(env);
  });
}

// swigluForward(a, b, out)
napi_value swiglu_forward(napi_env env, napi_callback_info cbi) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, cbi, "swigluForward", 3);
    const float* x = a.f32(0);
    int64_t n = (int64_t)a.length(0);
    zj_swiglu_forward(x, a.f32(1, n), a.f32(2, n), n);
    return undefined(env);
  });
}

// swigluBackward(a, b, dOut, da, db)
napi_value swiglu_backward(napi_env env, napi_callback_info cbi) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, cbi, "swigluBackward", 5);
    const float* x = a.f32(0);
    int64_t n = (int64_t)a.length(0);
    zj_swiglu_backward(x, a.f32(1, n), a.f32(2, n), a.f32(3, n), a.f32(4, n), n);
    return undefined(env);
  });
}

// ---- reductions, layout, casts ------------------------------------------------------------------

// sumAxis(x, out, outer, n, inner)
napi_value sum_axis(napi_env env, napi_callback_info cbi) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, cbi, "sumAxis", 5);
    int64_t outer = dim(a, 2, "outer"), n = dim(a, 3, "n"), inner = dim(a, 4, "inner");
    zj_sum_axis(a.f32(0, mul(a, {outer, n, inner})), a.f32(1, mul(a, {outer, inner})), outer, n, inner);
    return undefined(env);
  });
}

// sumSquares(x) -> number
napi_value sum_squares(napi_env env, napi_callback_info cbi) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, cbi, "sumSquares", 1);
    const float* x = a.f32(0);
    napi_value r;
    napi_check(env, napi_create_double(env, zj_sum_squares(x, (int64_t)a.length(0)), &r), "create_double");
    return r;
  });
}

// copyStrided(src, srcOffset, srcStrides, dst, dstOffset, dstStrides, shape, accumulate)
napi_value copy_strided(napi_env env, napi_callback_info cbi) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, cbi, "copyStrided", 8);
    const float* src = a.f32(0);
    float* dst = a.f32(3);
    int64_t so = a.i64(1), dof = a.i64(4);
    std::vector<int64_t> ss = a.ints(2), ds = a.ints(5), shape = shape_arg(a, 6);
    if (ss.size() != shape.size() || ds.size() != shape.size()) fail(a, "shape and strides must have the same rank");
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    if (n == 0) return undefined(env);
    check_view(a, "src", a.length(0), shape, ss, so);
    check_view(a, "dst", a.length(3), shape, ds, dof);
    zj_copy_strided(src, so, ss.data(), dst, dof, ds.data(), (int)shape.size(), shape.data(), a.flag(7));
    return undefined(env);
  });
}

// castF32ToBf16(x, out)
napi_value cast_f32_bf16(napi_env env, napi_callback_info cbi) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, cbi, "castF32ToBf16", 2);
    const float* x = a.f32(0);
    int64_t n = (int64_t)a.length(0);
    zj_cast_f32_bf16(x, (uint16_t*)u16(a, 1, n), n);
    return undefined(env);
  });
}

// castBf16ToF32(x, out)
napi_value cast_bf16_f32(napi_env env, napi_callback_info cbi) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, cbi, "castBf16ToF32", 2);
    const uint16_t* x = u16(a, 0, 0);
    int64_t n = (int64_t)a.length(0);
    zj_cast_bf16_f32(x, a.f32(1, n), n);
    return undefined(env);
  });
}

// ---- softmax family -------------------------------------------------------------------------------

// (x|y, [dy,] out|dx, rows, cols)
template <int kind>
napi_value softmax_any(napi_env env, napi_callback_info cbi) {
  static const char* names[4] = {"softmaxForward", "softmaxBackward", "logSoftmaxForward", "logSoftmaxBackward"};
  return guarded(env, [&]() -> napi_value {
    const bool bwd = kind & 1;
    Args a(env, cbi, names[kind], bwd ? 5 : 4);
    size_t ri = bwd ? 3 : 2;
    int64_t rows = dim(a, ri, "rows"), cols = dim(a, ri + 1, "cols"), n = mul(a, {rows, cols});
    if (!bwd) {
      const float* x = a.f32(0, n);
      float* out = a.f32(1, n);
      (kind == 0 ? zj_softmax_forward : zj_log_softmax_forward)(x, out, rows, cols);
    } else {
      const float* y = a.f32(0, n);
      const float* dy = a.f32(1, n);
      float* dx = a.f32(2, n);
      (kind == 1 ? zj_softmax_backward : zj_log_softmax_backward)(y, dy, dx, rows, cols);
    }
    return undefined(env);
  });
}

// ---- normalisation, rotary ------------------------------------------------------------------------

// rmsNormForward(x, w, out, rstd, rows, C, eps)
napi_value rmsnorm_forward(napi_env env, napi_callback_info cbi) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, cbi, "rmsNormForward", 7);
    int64_t rows = dim(a, 4, "rows"), C = dim(a, 5, "C"), n = mul(a, {rows, C});
    zj_rmsnorm_forward(a.f32(0, n), a.f32(1, C), a.f32(2, n), a.f32(3, rows), rows, C, (float)a.num(6));
    return undefined(env);
  });
}

// rmsNormBackward(x, w, rstd, dOut, dx, dw, rows, C)
napi_value rmsnorm_backward(napi_env env, napi_callback_info cbi) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, cbi, "rmsNormBackward", 8);
    int64_t rows = dim(a, 6, "rows"), C = dim(a, 7, "C"), n = mul(a, {rows, C});
    zj_rmsnorm_backward(a.f32(0, n), a.f32(1, C), a.f32(2, rows), a.f32(3, n), a.f32(4, n), a.f32(5, C), rows, C);
    return undefined(env);
  });
}

// rope(x, out, positions, N, H, D, theta, inverse)
napi_value rope(napi_env env, napi_callback_info cbi) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, cbi, "rope", 8);
    int64_t N = dim(a, 3, "N"), H = dim(a, 4, "H"), D = dim(a, 5, "D"), n = mul(a, {N, H, D});
    if (D % 2) fail(a, "D must be even, got " + std::to_string(D));
    zj_rope(a.f32(0, n), a.f32(1, n), a.i32(2, N), N, H, D, (float)a.num(6), a.flag(7));
    return undefined(env);
  });
}

// ---- attention ------------------------------------------------------------------------------------

struct AttnDims {
  int64_t B, T, S, H, Hkv, D;
};

AttnDims attn_dims(const Args& a, size_t i) {
  AttnDims d{dim(a, i, "B"), dim(a, i + 1, "T"), dim(a, i + 2, "S"), dim(a, i + 3, "H"), dim(a, i + 4, "Hkv"),
             dim(a, i + 5, "D")};
  if (d.Hkv == 0 || d.H % d.Hkv != 0)
    fail(a, "H (" + std::to_string(d.H) + ") must be a multiple of Hkv (" + std::to_string(d.Hkv) + ")");
  return d;
}

const int32_t* key_mask(const Args& a, size_t i, const AttnDims& d) {
  return a.is_null(i) ? nullptr : a.i32(i, mul(a, {d.B, d.S}));
}

// attentionForward(q, k, v, out, lse, B, T, S, H, Hkv, D, scale, causal, keyMask)
napi_value attention_forward(napi_env env, napi_callback_info cbi) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, cbi, "attentionForward", 14);
    AttnDims d = attn_dims(a, 5);
    int64_t nq = mul(a, {d.B, d.T, d.H, d.D}), nk = mul(a, {d.B, d.S, d.Hkv, d.D}), nl = mul(a, {d.B, d.H, d.T});
    zj_attention_forward(a.f32(0, nq), a.f32(1, nk), a.f32(2, nk), a.f32(3, nq), a.f32(4, nl), d.B, d.T, d.S, d.H,
                         d.Hkv, d.D, (float)a.num(11), a.flag(12), key_mask(a, 13, d));
    return undefined(env);
  });
}

// attentionBackward(q, k, v, out, lse, dOut, dq, dk, dv, B, T, S, H, Hkv, D, scale, causal, keyMask)
napi_value attention_backward(napi_env env, napi_callback_info cbi) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, cbi, "attentionBackward", 18);
    AttnDims d = attn_dims(a, 9);
    int64_t nq = mul(a, {d.B, d.T, d.H, d.D}), nk = mul(a, {d.B, d.S, d.Hkv, d.D}), nl = mul(a, {d.B, d.H, d.T});
    zj_attention_backward(a.f32(0, nq), a.f32(1, nk), a.f32(2, nk), a.f32(3, nq), a.f32(4, nl), a.f32(5, nq),
                          a.f32(6, nq), a.f32(7, nk), a.f32(8, nk), d.B, d.T, d.S, d.H, d.Hkv, d.D, (float)a.num(15),
                          a.flag(16), key_mask(a, 17, d));
    return undefined(env);
  });
}

// ---- losses, gathers, embedding -------------------------------------------------------------------

// crossEntropyForward(logits, targets, loss, lse, N, V, ignoreIndex)
napi_value cross_entropy_forward(napi_env env, napi_callback_info cbi) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, cbi, "crossEntropyForward", 7);
    int64_t N = dim(a, 4, "N"), V = dim(a, 5, "V");
    int32_t ignore = (int32_t)a.i64(6);
    const int32_t* t = a.i32(1, N);
    check_ids(a, t, N, V, true, ignore);
    zj_cross_entropy_forward(a.f32(0, mul(a, {N, V})), t, a.f32(2, N), a.f32(3, N), N, V, ignore);
    return undefined(env);
  });
}

// crossEntropyBackward(logits, targets, lse, dLoss, dLogits, N, V, ignoreIndex)
napi_value cross_entropy_backward(napi_env env, napi_callback_info cbi) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, cbi, "crossEntropyBackward", 8);
    int64_t N = dim(a, 5, "N"), V = dim(a, 6, "V"), n = mul(a, {N, V});
    int32_t ignore = (int32_t)a.i64(7);
    const int32_t* t = a.i32(1, N);
    check_ids(a, t, N, V, true, ignore);
    zj_cross_entropy_backward(a.f32(0, n), t, a.f32(2, N), a.f32(3, N), a.f32(4, n), N, V, ignore);
    return undefined(env);
  });
}

// gatherLogProbsForward(logits, ids, out, lse, N, V)
napi_value gather_logprobs_forward(napi_env env, napi_callback_info cbi) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, cbi, "gatherLogProbsForward", 6);
    int64_t N = dim(a, 4, "N"), V = dim(a, 5, "V");
    const int32_t* ids = a.i32(1, N);
    check_ids(a, ids, N, V, false, 0);
    zj_gather_logprobs_forward(a.f32(0, mul(a, {N, V})), ids, a.f32(2, N), a.f32(3, N), N, V);
    return undefined(env);
  });
}

// gatherLogProbsBackward(logits, ids, lse, dOut, dLogits, N, V)
napi_value gather_logprobs_backward(napi_env env, napi_callback_info cbi) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, cbi, "gatherLogProbsBackward", 7);
    int64_t N = dim(a, 5, "N"), V = dim(a, 6, "V"), n = mul(a, {N, V});
    const int32_t* ids = a.i32(1, N);
    check_ids(a, ids, N, V, false, 0);
    zj_gather_logprobs_backward(a.f32(0, n), ids, a.f32(2, N), a.f32(3, N), a.f32(4, n), N, V);
    return undefined(env);
  });
}

// embeddingForward(weight, wFormat, ids, out, N, C, V)
napi_value embedding_forward(napi_env env, napi_callback_info cbi) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, cbi, "embeddingForward", 7);
    int64_t N = dim(a, 4, "N"), C = dim(a, 5, "C"), V = dim(a, 6, "V");
    const WeightArg w = weight_arg(a, 0, 1, V, C);
    const int32_t* ids = a.i32(2, N);
    check_ids(a, ids, N, V, false, 0);
    zj_embedding_forward(w.data, w.format, ids, a.f32(3, mul(a, {N, C})), N, C, V);
    return undefined(env);
  });
}

// embeddingBackward(ids, dOut, dWeight, N, C, V)
napi_value embedding_backward(napi_env env, napi_callback_info cbi) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, cbi, "embeddingBackward", 6);
    int64_t N = dim(a, 3, "N"), C = dim(a, 4, "C"), V = dim(a, 5, "V");
    const int32_t* ids = a.i32(0, N);
    check_ids(a, ids, N, V, false, 0);
    zj_embedding_backward(ids, a.f32(1, mul(a, {N, C})), a.f32(2, mul(a, {V, C})), N, C, V);
    return undefined(env);
  });
}

// ---- optimiser ------------------------------------------------------------------------------------

// adamw(p, g, m, v, lr, beta1, beta2, eps, weightDecay, step, gradScale)
napi_value adamw(napi_env env, napi_callback_info cbi) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, cbi, "adamw", 11);
    float* p = a.f32(0);
    int64_t n = (int64_t)a.length(0);
    int64_t step = a.i64(9);
    if (step < 1) fail(a, "step is 1-based, got " + std::to_string(step));
    zj_adamw(p, a.f32(1, n), a.f32(2, n), a.f32(3, n), n, (float)a.num(4), (float)a.num(5), (float)a.num(6),
             (float)a.num(7), (float)a.num(8), step, (float)a.num(10));
    return undefined(env);
  });
}

// matvec(M, N, K, x, w, wFormat, out): w (N, K) in any weight format
napi_value matvec_glue(napi_env env, napi_callback_info cbi) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, cbi, "matvec", 7);
    int64_t M = dim(a, 0, "M"), N = dim(a, 1, "N"), K = dim(a, 2, "K");
    const float* x = a.f32(3, mul(a, {M, K}));
    const WeightArg w = weight_arg(a, 4, 5, N, K);
    float* out = a.f32(6, mul(a, {M, N}));
    zj_matvec(M, N, K, x, w.data, w.format, out);
    return undefined(env);
  });
}

// Quantized formats by name, for the (de)quantize glue.
int quant_format(const Args& a, size_t i) {
  char name[8] = {0};
  size_t n = 0;
  if (napi_get_value_string_utf8(a.env, a.argv[i], name, sizeof name, &n) != napi_ok) fail(a, "fmt must be a string");
  const std::string s(name, n);
  if (s == "q8_0") return ZJ_W_Q8_0;
  if (s == "q4_0") return ZJ_W_Q4_0;
  fail(a, "fmt must be 'q8_0' or 'q4_0', got '" + s + "'");
}

// quantizeRows(x, N, K, fmt, out): x Float32Array or Uint16Array (bf16) of N·K values
napi_value quantize_rows(napi_env env, napi_callback_info cbi) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, cbi, "quantizeRows", 5);
    int64_t N = dim(a, 1, "N"), K = dim(a, 2, "K");
    const int fmt = quant_format(a, 3);
    const WeightArg x = weight_arg(a, 0, 99, N, K);  // f32 or bf16 by array type
    const WeightArg w = weight_arg(a, 4, 3, N, K);
    zj_quantize_rows(x.data, x.format == ZJ_W_BF16, N, K, fmt, (uint8_t*)w.data);
    return undefined(env);
  });
}

// dequantizeRows(w, fmt, N, K, out)
napi_value dequantize_rows(napi_env env, napi_callback_info cbi) {
  return guarded(env, [&]() -> napi_value {
    Args a(env, cbi, "dequantizeRows", 5);
    int64_t N = dim(a, 2, "N"), K = dim(a, 3, "K");
    const int fmt = quant_format(a, 1);
    const WeightArg w = weight_arg(a, 0, 1, N, K);
    zj_dequantize_rows((const uint8_t*)w.data, fmt, N, K, a.f32(4, mul(a, {N, K})));
    return undefined(env);
  });
}

}  // namespace

void register_kernels(napi_env env, napi_value exports) {
  export_fn(env, exports, "binary", binary);
  export_fn(env, exports, "unary", unary);
  export_fn(env, exports, "unaryBackward", unary_backward);
  export_fn(env, exports, "affine", affine);
  export_fn(env, exports, "clamp", clamp);
  export_fn(env, exports, "where", where);
  export_fn(env, exports, "swigluForward", swiglu_forward);
  export_fn(env, exports, "swigluBackward", swiglu_backward);
  export_fn(env, exports, "sumAxis", sum_axis);
  export_fn(env, exports, "sumSquares", sum_squares);
  export_fn(env, exports, "copyStrided", copy_strided);
  export_fn(env, exports, "castF32ToBf16", cast_f32_bf16);
  export_fn(env, exports, "castBf16ToF32", cast_bf16_f32);
  export_fn(env, exports, "softmaxForward", softmax_any<0>);
  export_fn(env, exports, "softmaxBackward", softmax_any<1>);
  export_fn(env, exports, "logSoftmaxForward", softmax_any<2>);
  export_fn(env, exports, "logSoftmaxBackward", softmax_any<3>);
  export_fn(env, exports, "rmsNormForward", rmsnorm_forward);
  export_fn(env, exports, "rmsNormBackward", rmsnorm_backward);
  export_fn(env, exports, "rope", rope);
  export_fn(env, exports, "attentionForward", attention_forward);
  export_fn(env, exports, "attentionBackward", attention_backward);
  export_fn(env, exports, "crossEntropyForward", cross_entropy_forward);
  export_fn(env, exports, "crossEntropyBackward", cross_entropy_backward);
  export_fn(env, exports, "gatherLogProbsForward", gather_logprobs_forward);
  export_fn(env, exports, "gatherLogProbsBackward", gather_logprobs_backward);
  export_fn(env, exports, "embeddingForward", embedding_forward);
  export_fn(env, exports, "embeddingBackward", embedding_backward);
  export_fn(env, exports, "adamw", adamw);
  export_fn(env, exports, "matvec", matvec_glue);
  export_fn(env, exports, "quantizeRows", quantize_rows);
  export_fn(env, exports, "dequantizeRows", dequantize_rows);
}

}  // namespace zj
