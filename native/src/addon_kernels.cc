// addon_kernels.cc — N-API glue for every kernel family except GEMM, one Glue table per family: argument types,
// dims, and lengths checked against the dims (so no kernel reads or writes out of bounds), then one call into
// zj_kernels.h. No math here. Each entry's signature is the Kernels method it implements (src/backend/kernels.ts):
// the exported name, the argument order, and the names errors quote.
#include <cmath>
#include <string>
#include <vector>
#include "../include/zj_kernels.h"
#include "napi_util.h"

namespace zj {
namespace {

// A dimension: a finite integer >= 0 (and small enough that products of a few stay exact).
int64_t dim(const Args& a, size_t i) {
  double d = a.num(i);
  if (!(d >= 0) || d != std::floor(d) || d > 9.007199254740992e15) a.fail(a.name(i) + " must be an integer >= 0");
  return (int64_t)d;
}

// The element count of a few dims, refused when it would not be exact.
int64_t count(const Args& a, std::initializer_list<int64_t> xs) {
  double p = 1;
  int64_t q = 1;
  for (int64_t x : xs) {
    p *= (double)x;
    q *= x;
  }
  if (p > 9.007199254740992e15) a.fail("dims are too large");
  return q;
}

int64_t len(const Args& a, size_t i) { return (int64_t)a.length(i); }

// An op code of zj_kernels.h within [lo, hi].
int op_code(const Args& a, size_t i, int lo, int hi) {
  const int64_t op = a.i64(i);
  if (op < lo || op > hi) a.fail("unknown op " + std::to_string(op));
  return (int)op;
}

// Ids outside [0, V) (ignore-index entries excepted) would index out of bounds.
void check_ids(const Args& a, const int32_t* ids, int64_t n, int64_t V, bool has_ignore, int32_t ignore) {
  for (int64_t i = 0; i < n; i++) {
    int32_t id = ids[i];
    if (has_ignore && id == ignore) continue;
    if (id < 0 || id >= V)
      a.fail("id " + std::to_string(id) + " at " + std::to_string(i) + " outside the vocabulary [0, " +
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
    a.fail(std::string(what) + " strides reach offsets [" + std::to_string((long long)lo) + ", " +
           std::to_string((long long)hi) + "] of an array of " + std::to_string(len));
}

std::vector<int64_t> shape_arg(const Args& a, size_t i) {
  std::vector<int64_t> s = a.ints(i);
  double n = 1;
  for (int64_t d : s) {
    if (d < 0) a.fail("shape dims must be >= 0");
    n *= (double)d;
  }
  if (n > 9.007199254740992e15) a.fail("shape is too large");
  return s;
}

int64_t elements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// Quantized formats by name, for the (de)quantize glue: the row layouts, or with panels also their panel layouts.
int quant_format(const Args& a, size_t i, bool panels = false) {
  char name[16] = {0};
  size_t n = 0;
  if (napi_get_value_string_utf8(a.env, a.argv[i], name, sizeof name, &n) != napi_ok) a.fail("fmt must be a string");
  const std::string s(name, n);
  if (s == "q8_0") return ZJ_W_Q8_0;
  if (s == "q4_0") return ZJ_W_Q4_0;
  if (panels && s == "q8_0x16") return ZJ_W_Q8_0_P16;
  if (panels && s == "q4_0x16") return ZJ_W_Q4_0_P16;
  a.fail(std::string("fmt must be 'q8_0' or 'q4_0'") + (panels ? " (or 'q8_0x16' / 'q4_0x16')" : "") + ", got '" +
         s + "'");
}

// quantToPanels / quantFromPanels: the same arguments either way round.
void repack_glue(const Args& a, void (*repack)(const uint8_t*, int, int64_t, int64_t, uint8_t*)) {
  const int64_t N = dim(a, 2), K = dim(a, 3);
  const int fmt = quant_format(a, 1);
  if (N % 16) a.fail("N must be a multiple of 16 (whole panels), got " + std::to_string(N));
  const WeightArg w = weight_arg(a, 0, 1, N, K);
  const WeightArg o = weight_arg(a, 4, 1, N, K);
  repack((const uint8_t*)w.data, fmt, N, K, (uint8_t*)o.data);
}

// A panel-layout weight where this machine's matvec lacks the kernel that reads it: refused, since the slow way
// round (back to rows for every call) would look like a working fast path.
void check_panels_readable(const Args& a, int format) {
  if ((format == ZJ_W_Q8_0_P16 || format == ZJ_W_Q4_0_P16) &&
      !zj_quant_panels_supported(format == ZJ_W_Q8_0_P16 ? ZJ_W_Q8_0 : ZJ_W_Q4_0))
    a.fail("the panel layouts (q8_0x16 / q4_0x16) need the AVX-512 VNNI panel kernel, which this process does not "
           "take (see quantPanelsSupported); keep the weight in its row layout here");
}

// A panel-scale table (zj_quant_panel_scales) of an (N, K) weight: a Uint16Array of exactly its length, since a
// table of another weight's size would be read as this one's.
uint16_t* panel_scales_arg(const Args& a, size_t i, int64_t N, int64_t K) {
  const int64_t want = (N + 15) / 16 * 16 * (K / 32);
  uint16_t* t = a.u16(i, want);
  if ((int64_t)a.length(i) != want)
    a.fail_arg(i, "has " + std::to_string(a.length(i)) + " elements, needs exactly " + std::to_string(want) +
                      " (the weight's panel-scale table)");
  return t;
}

// ---- elementwise --------------------------------------------------------------------------------
const Glue kElementwise[] = {
    {"binary(op, a, b, out, shape, aStrides, bStrides)", [](const Args& a) {
       const int op = op_code(a, 0, ZJ_ADD, ZJ_EQ);
       std::vector<int64_t> shape = shape_arg(a, 4), as = a.ints(5), bs = a.ints(6);
       if (as.size() != shape.size() || bs.size() != shape.size()) a.fail("shape and strides must have the same rank");
       const int64_t n = elements(shape);
       const float* x = a.f32(1);
       const float* y = a.f32(2);
       float* out = a.f32(3, n);
       if (n > 0) {
         check_view(a, "a", a.length(1), shape, as, 0);
         check_view(a, "b", a.length(2), shape, bs, 0);
       }
       zj_binary(op, x, y, out, (int)shape.size(), shape.data(), as.data(), bs.data());
     }},
    {"unary(op, x, out)", [](const Args& a) {
       const int op = op_code(a, 0, ZJ_NEG, ZJ_RELU);
       const float* x = a.f32(1);
       const int64_t n = len(a, 1);
       zj_unary(op, x, a.f32(2, n), n);
     }},
    {"unaryBackward(op, x, y, dy, dx)", [](const Args& a) {
       const int op = op_code(a, 0, ZJ_NEG, ZJ_RELU);
       const float* x = a.f32(1);
       const int64_t n = len(a, 1);
       zj_unary_backward(op, x, a.f32(2, n), a.f32(3, n), a.f32(4, n), n);
     }},
    {"affine(x, out, alpha, beta)", [](const Args& a) {
       const float* x = a.f32(0);
       const int64_t n = len(a, 0);
       zj_affine(x, a.f32(1, n), n, a.scalar(2), a.scalar(3));
     }},
    {"clamp(x, out, lo, hi)", [](const Args& a) {
       const float* x = a.f32(0);
       const int64_t n = len(a, 0);
       zj_clamp(x, a.f32(1, n), n, a.scalar(2), a.scalar(3));
     }},
    {"where(cond, a, b, out)", [](const Args& a) {
       const float* c = a.f32(0);
       const int64_t n = len(a, 0);
       zj_where(c, a.f32(1, n), a.f32(2, n), a.f32(3, n), n);
     }},
    {"swigluForward(a, b, out)", [](const Args& a) {
       const float* x = a.f32(0);
       const int64_t n = len(a, 0);
       zj_swiglu_forward(x, a.f32(1, n), a.f32(2, n), n);
     }},
    {"swigluBackward(a, b, dOut, da, db)", [](const Args& a) {
       const float* x = a.f32(0);
       const int64_t n = len(a, 0);
       zj_swiglu_backward(x, a.f32(1, n), a.f32(2, n), a.f32(3, n), a.f32(4, n), n);
     }},
};

// ---- reductions, layout, casts ------------------------------------------------------------------
const Glue kLayout[] = {
    {"sumAxis(x, out, outer, n, inner)", [](const Args& a) {
       const int64_t outer = dim(a, 2), n = dim(a, 3), inner = dim(a, 4);
       zj_sum_axis(a.f32(0, count(a, {outer, n, inner})), a.f32(1, count(a, {outer, inner})), outer, n, inner);
     }},
    {"sumSquares(x)", [](const Args& a) { a.returns(zj_sum_squares(a.f32(0), len(a, 0))); }},
    {"copyStrided(src, srcOffset, srcStrides, dst, dstOffset, dstStrides, shape, accumulate)", [](const Args& a) {
       const float* src = a.f32(0);
       float* dst = a.f32(3);
       const int64_t so = a.i64(1), dof = a.i64(4);
       std::vector<int64_t> ss = a.ints(2), ds = a.ints(5), shape = shape_arg(a, 6);
       if (ss.size() != shape.size() || ds.size() != shape.size()) a.fail("shape and strides must have the same rank");
       if (elements(shape) == 0) return;
       check_view(a, "src", a.length(0), shape, ss, so);
       check_view(a, "dst", a.length(3), shape, ds, dof);
       zj_copy_strided(src, so, ss.data(), dst, dof, ds.data(), (int)shape.size(), shape.data(), a.flag(7));
     }},
    {"castF32ToBf16(x, out)", [](const Args& a) {
       const float* x = a.f32(0);
       const int64_t n = len(a, 0);
       zj_cast_f32_bf16(x, a.u16(1, n), n);
     }},
    {"castBf16ToF32(x, out)", [](const Args& a) {
       const uint16_t* x = a.u16(0);
       const int64_t n = len(a, 0);
       zj_cast_bf16_f32(x, a.f32(1, n), n);
     }},
};

// ---- softmax family -----------------------------------------------------------------------------
void softmax_forward_glue(const Args& a, void (*kernel)(const float*, float*, int64_t, int64_t)) {
  const int64_t rows = dim(a, 2), cols = dim(a, 3), n = count(a, {rows, cols});
  const float* x = a.f32(0, n);
  kernel(x, a.f32(1, n), rows, cols);
}

void softmax_backward_glue(const Args& a, void (*kernel)(const float*, const float*, float*, int64_t, int64_t)) {
  const int64_t rows = dim(a, 3), cols = dim(a, 4), n = count(a, {rows, cols});
  const float* y = a.f32(0, n);
  const float* dy = a.f32(1, n);
  kernel(y, dy, a.f32(2, n), rows, cols);
}

const Glue kSoftmax[] = {
    {"softmaxForward(x, out, rows, cols)", [](const Args& a) { softmax_forward_glue(a, zj_softmax_forward); }},
    {"softmaxBackward(y, dy, dx, rows, cols)", [](const Args& a) { softmax_backward_glue(a, zj_softmax_backward); }},
    {"logSoftmaxForward(x, out, rows, cols)", [](const Args& a) { softmax_forward_glue(a, zj_log_softmax_forward); }},
    {"logSoftmaxBackward(y, dy, dx, rows, cols)",
     [](const Args& a) { softmax_backward_glue(a, zj_log_softmax_backward); }},
};

// ---- normalisation, rotary ----------------------------------------------------------------------
const Glue kNorm[] = {
    {"rmsNormForward(x, w, out, rstd, rows, C, eps)", [](const Args& a) {
       const int64_t rows = dim(a, 4), C = dim(a, 5), n = count(a, {rows, C});
       zj_rmsnorm_forward(a.f32(0, n), a.f32(1, C), a.f32(2, n), a.f32(3, rows), rows, C, a.scalar(6));
     }},
    {"rmsNormBackward(x, w, rstd, dOut, dx, dw, rows, C)", [](const Args& a) {
       const int64_t rows = dim(a, 6), C = dim(a, 7), n = count(a, {rows, C});
       zj_rmsnorm_backward(a.f32(0, n), a.f32(1, C), a.f32(2, rows), a.f32(3, n), a.f32(4, n), a.f32(5, C), rows, C);
     }},
    {"rope(x, out, positions, N, H, D, theta, inverse, invFreq?)", [](const Args& a) {
       const int64_t N = dim(a, 3), H = dim(a, 4), D = dim(a, 5), n = count(a, {N, H, D});
       if (D % 2) a.fail("D must be even, got " + std::to_string(D));
       const double* inv_freq =
           a.argc > 8 && !a.is_null(8) ? a.arr<double>(8, napi_float64_array, "Float64Array", D / 2) : nullptr;
       zj_rope(a.f32(0, n), a.f32(1, n), a.i32(2, N), N, H, D, a.scalar(6), a.flag(7), inv_freq);
     }},
};

// ---- attention ----------------------------------------------------------------------------------
struct AttnDims {
  int64_t B, T, S, H, Hkv, D;
  int64_t nq, nk, nl;  // elements of q / out, of k / v, of lse
};

AttnDims attn_dims(const Args& a, size_t i) {
  AttnDims d{dim(a, i), dim(a, i + 1), dim(a, i + 2), dim(a, i + 3), dim(a, i + 4), dim(a, i + 5), 0, 0, 0};
  if (d.Hkv == 0 || d.H % d.Hkv != 0)
    a.fail("H (" + std::to_string(d.H) + ") must be a multiple of Hkv (" + std::to_string(d.Hkv) + ")");
  d.nq = count(a, {d.B, d.T, d.H, d.D});
  d.nk = count(a, {d.B, d.S, d.Hkv, d.D});
  d.nl = count(a, {d.B, d.H, d.T});
  return d;
}

const int32_t* key_mask(const Args& a, size_t i, const AttnDims& d) {
  return a.is_null(i) ? nullptr : a.i32(i, count(a, {d.B, d.S}));
}

const Glue kAttention[] = {
    {"attentionForward(q, k, v, out, lse, B, T, S, H, Hkv, D, scale, causal, keyMask)", [](const Args& a) {
       const AttnDims d = attn_dims(a, 5);
       zj_attention_forward(a.f32(0, d.nq), a.f32(1, d.nk), a.f32(2, d.nk), a.f32(3, d.nq), a.f32(4, d.nl), d.B, d.T,
                            d.S, d.H, d.Hkv, d.D, a.scalar(11), a.flag(12), key_mask(a, 13, d));
     }},
    {"attentionForwardKt(q, kt, ldk, v, out, lse, B, T, S, H, Hkv, D, scale, causal, keyMask)", [](const Args& a) {
       const AttnDims d = attn_dims(a, 6);
       const int64_t ldk = dim(a, 2);
       if (ldk % 16 != 0 || ldk < d.S)
         a.fail("ldk (" + std::to_string(ldk) + ") must be a multiple of 16 and at least S (" + std::to_string(d.S) + ")");
       // kt and v: both Float32Array, or both Uint16Array (a bf16 KV cache)
       napi_typedarray_type tk, tv;
       size_t lk, lv;
       a.typed(1, &tk, &lk);
       a.typed(3, &tv, &lv);
       if (tk != tv || (tk != napi_float32_array && tk != napi_uint16_array))
         a.fail("kt and v must both be Float32Array or both Uint16Array (bf16)");
       const int64_t nkt = count(a, {d.B, d.Hkv, d.D, ldk});
       if (tk == napi_uint16_array)
         zj_attention_forward_kt_bf16(a.f32(0, d.nq), a.u16(1, nkt), ldk, a.u16(3, d.nk), a.f32(4, d.nq),
                                      a.f32(5, d.nl), d.B, d.T, d.S, d.H, d.Hkv, d.D, a.scalar(12), a.flag(13),
                                      key_mask(a, 14, d));
       else
         zj_attention_forward_kt(a.f32(0, d.nq), a.f32(1, nkt), ldk, a.f32(3, d.nk), a.f32(4, d.nq), a.f32(5, d.nl),
                                 d.B, d.T, d.S, d.H, d.Hkv, d.D, a.scalar(12), a.flag(13), key_mask(a, 14, d));
     }},
    {"attentionBackward(q, k, v, out, lse, dOut, dq, dk, dv, B, T, S, H, Hkv, D, scale, causal, keyMask)",
     [](const Args& a) {
       const AttnDims d = attn_dims(a, 9);
       zj_attention_backward(a.f32(0, d.nq), a.f32(1, d.nk), a.f32(2, d.nk), a.f32(3, d.nq), a.f32(4, d.nl),
                             a.f32(5, d.nq), a.f32(6, d.nq), a.f32(7, d.nk), a.f32(8, d.nk), d.B, d.T, d.S, d.H,
                             d.Hkv, d.D, a.scalar(15), a.flag(16), key_mask(a, 17, d));
     }},
};

// ---- losses, gathers, embedding -----------------------------------------------------------------
const Glue kLoss[] = {
    {"crossEntropyForward(logits, targets, loss, lse, N, V, ignoreIndex)", [](const Args& a) {
       const int64_t N = dim(a, 4), V = dim(a, 5);
       const int32_t ignore = (int32_t)a.i64(6);
       const int32_t* t = a.i32(1, N);
       check_ids(a, t, N, V, true, ignore);
       zj_cross_entropy_forward(a.f32(0, count(a, {N, V})), t, a.f32(2, N), a.f32(3, N), N, V, ignore);
     }},
    {"crossEntropyBackward(logits, targets, lse, dLoss, dLogits, N, V, ignoreIndex)", [](const Args& a) {
       const int64_t N = dim(a, 5), V = dim(a, 6), n = count(a, {N, V});
       const int32_t ignore = (int32_t)a.i64(7);
       const int32_t* t = a.i32(1, N);
       check_ids(a, t, N, V, true, ignore);
       zj_cross_entropy_backward(a.f32(0, n), t, a.f32(2, N), a.f32(3, N), a.f32(4, n), N, V, ignore);
     }},
    {"gatherLogProbsForward(logits, ids, out, lse, N, V)", [](const Args& a) {
       const int64_t N = dim(a, 4), V = dim(a, 5);
       const int32_t* ids = a.i32(1, N);
       check_ids(a, ids, N, V, false, 0);
       zj_gather_logprobs_forward(a.f32(0, count(a, {N, V})), ids, a.f32(2, N), a.f32(3, N), N, V);
     }},
    {"gatherLogProbsBackward(logits, ids, lse, dOut, dLogits, N, V)", [](const Args& a) {
       const int64_t N = dim(a, 5), V = dim(a, 6), n = count(a, {N, V});
       const int32_t* ids = a.i32(1, N);
       check_ids(a, ids, N, V, false, 0);
       zj_gather_logprobs_backward(a.f32(0, n), ids, a.f32(2, N), a.f32(3, N), a.f32(4, n), N, V);
     }},
    {"argmaxRows(logits, out, N, V)", [](const Args& a) {
       const int64_t N = dim(a, 2), V = dim(a, 3);
       if (N > 0 && V == 0) a.fail("V must be at least 1");
       zj_argmax_rows(a.f32(0, count(a, {N, V})), a.i32(1, N), N, V);
     }},
    {"embeddingForward(weight, wFormat, ids, out, N, C, V)", [](const Args& a) {
       const int64_t N = dim(a, 4), C = dim(a, 5), V = dim(a, 6);
       const WeightArg w = weight_arg(a, 0, 1, V, C);
       const int32_t* ids = a.i32(2, N);
       check_ids(a, ids, N, V, false, 0);
       zj_embedding_forward(w.data, w.format, ids, a.f32(3, count(a, {N, C})), N, C, V);
     }},
    {"embeddingBackward(ids, dOut, dWeight, N, C, V)", [](const Args& a) {
       const int64_t N = dim(a, 3), C = dim(a, 4), V = dim(a, 5);
       const int32_t* ids = a.i32(0, N);
       check_ids(a, ids, N, V, false, 0);
       zj_embedding_backward(ids, a.f32(1, count(a, {N, C})), a.f32(2, count(a, {V, C})), N, C, V);
     }},
};

// ---- optimiser, random init ---------------------------------------------------------------------
const Glue kOptim[] = {
    {"adamw(p, g, m, v, lr, beta1, beta2, eps, weightDecay, step, gradScale)", [](const Args& a) {
       float* p = a.f32(0);
       const int64_t n = len(a, 0), step = a.i64(9);
       if (step < 1) a.fail("step is 1-based, got " + std::to_string(step));
       zj_adamw(p, a.f32(1, n), a.f32(2, n), a.f32(3, n), n, a.scalar(4), a.scalar(5), a.scalar(6), a.scalar(7),
                a.scalar(8), step, a.scalar(10));
     }},
    {"fillNormal(out, key, start, std)", [](const Args& a) {
       float* out = a.f32(0);
       const int64_t n = len(a, 0), key = a.i64(1), start = a.i64(2);
       if (key < 0 || key > 0xffffffffLL) a.fail("key must be a 32-bit unsigned integer");
       if (start < 0 || start + n > (1LL << 52)) a.fail("start must be >= 0 and start + length <= 2^52");
       zj_fill_normal(out, n, (uint32_t)key, start, a.num(3));
     }},
};

// ---- decode matvec, quantization ----------------------------------------------------------------
const Glue kQuant[] = {
    // w (N, K) in any weight format
    {"matvec(M, N, K, x, w, wFormat, out, panelScales?)", [](const Args& a) {
       const int64_t M = dim(a, 0), N = dim(a, 1), K = dim(a, 2);
       const float* x = a.f32(3, count(a, {M, K}));
       const WeightArg w = weight_arg(a, 4, 5, N, K);
       const uint16_t* scales = nullptr;
       if (a.argc > 7 && !a.is_null(7)) {
         if (w.format != ZJ_W_Q8_0 && w.format != ZJ_W_Q4_0) a.fail("panelScales is for q8_0 / q4_0 weights only");
         scales = panel_scales_arg(a, 7, N, K);
       }
       check_panels_readable(a, w.format);
       zj_matvec(M, N, K, x, w.data, w.format, a.f32(6, count(a, {M, N})), scales);
     }},
    {"quantPanelsSupported(fmt)", [](const Args& a) {
       a.returns_bool(zj_quant_panels_supported(quant_format(a, 0)) != 0);
     }},
    // w (N, K) in fmt's row layout → out in its panel layout, and back; N a multiple of 16; out may be w (in place)
    {"quantToPanels(w, fmt, N, K, out)", [](const Args& a) { repack_glue(a, zj_quant_to_panels); }},
    {"quantFromPanels(w, fmt, N, K, out)", [](const Args& a) { repack_glue(a, zj_quant_from_panels); }},
    {"matvecReadsPanelScales(M, N, K, fmt)", [](const Args& a) {
       a.returns_bool(zj_matvec_reads_panel_scales(dim(a, 0), dim(a, 1), dim(a, 2), quant_format(a, 3)) != 0);
     }},
    {"quantPanelScales(w, fmt, N, K, out)", [](const Args& a) {
       const int64_t N = dim(a, 2), K = dim(a, 3);
       const WeightArg w = weight_arg(a, 0, 1, N, K);
       quant_format(a, 1);
       zj_quant_panel_scales((const uint8_t*)w.data, w.format, N, K, panel_scales_arg(a, 4, N, K));
     }},
    // x: Float32Array or Uint16Array (bf16) of N·K values
    {"quantizeRows(x, N, K, fmt, out)", [](const Args& a) {
       const int64_t N = dim(a, 1), K = dim(a, 2);
       const int fmt = quant_format(a, 3);
       const WeightArg x = weight_arg(a, 0, 99, N, K);  // f32 or bf16 by array type
       const WeightArg w = weight_arg(a, 4, 3, N, K);
       zj_quantize_rows(x.data, x.format == ZJ_W_BF16, N, K, fmt, (uint8_t*)w.data);
     }},
    {"dequantizeRows(w, fmt, N, K, out)", [](const Args& a) {
       const int64_t N = dim(a, 2), K = dim(a, 3);
       const int fmt = quant_format(a, 1, true);
       const WeightArg w = weight_arg(a, 0, 1, N, K);
       zj_dequantize_rows((const uint8_t*)w.data, fmt, N, K, a.f32(4, count(a, {N, K})));
     }},
};

}  // namespace

void register_kernels(napi_env env, napi_value exports) {
  export_glue(env, exports, kElementwise);
  export_glue(env, exports, kLayout);
  export_glue(env, exports, kSoftmax);
  export_glue(env, exports, kNorm);
  export_glue(env, exports, kAttention);
  export_glue(env, exports, kLoss);
  export_glue(env, exports, kOptim);
  export_glue(env, exports, kQuant);
}

}  // namespace zj
