// kernels_impl.h — the internal contract between the generic kernel files (partitioning, dispatch, the
// memory-bound loops) and the vectorised hot loops of each family's <family>_simd.h, gathered into one SimdOps
// table per ISA by simd_ops.h.
// Holds no math; the C interface the addon exposes is native/include/zj_kernels.h.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>
#include "pool.h"

namespace zj {

// Everything an attention kernel needs; read-only inputs are const. Forward work units are (b, h),
// backward units are (b, kv-head) so dk/dv of a unit belong to it alone.
struct AttnArgs {
  const float *q, *k, *v, *out, *lse_in, *dout;
  float *o, *lse, *dq, *dk, *dv;
  int64_t B, T, S, H, Hkv, D;
  float scale;
  int causal;
  const int32_t* mask;  // (B, S) or nullptr
  // The keys given already transposed (zj_attention_forward_kt), or nullptr: the key s of (b, kv head) at
  // kt[((b * Hkv + kh) * D + d) * ldk + s], ldk a multiple of 16 and >= S. The forward then stages no keys.
  const float* kt;
  int64_t ldk;
  // Or both as bf16 bits (zj_attention_forward_kt_bf16: a bf16 KV cache): keys as kt above, values as v; each
  // (b, kv head)'s first S keys and values are widened into the staging scratch once, then read as f32.
  const uint16_t *kt16, *v16;
};

// The per-ISA hot loops. Every entry works on a range the caller (inside parallel_for) hands it.
struct SimdOps {
  // op is ZJ_EXP, ZJ_SIGMOID or ZJ_SILU
  void (*unary_exp)(int op, const float* x, float* out, int64_t n);
  void (*silu_backward)(const float* x, const float* dy, float* dx, int64_t n);
  void (*swiglu_forward)(const float* a, const float* b, float* out, int64_t n);
  void (*swiglu_backward)(const float* a, const float* b, const float* g, float* da, float* db, int64_t n);
  // log != 0 selects log-softmax
  void (*softmax_rows)(const float* x, float* out, int64_t rows, int64_t cols, int log);
  void (*softmax_backward_rows)(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols, int log);
  void (*rmsnorm_forward_rows)(const float* x, const float* w, float* out, float* rstd, int64_t rows, int64_t C,
                               float eps);
  // dw_partial (C) is accumulated into, never cleared
  void (*rmsnorm_backward_rows)(const float* x, const float* w, const float* rstd, const float* g, float* dx,
                                float* dw_partial, int64_t rows, int64_t C);
  // gather != 0: gather_logprobs semantics (no ignore index, out = x[id] - lse); else cross-entropy
  void (*xent_forward_rows)(const float* logits, const int32_t* ids, float* out, float* lse, int64_t rows, int64_t V,
                            int32_t ignore, int gather);
  void (*xent_backward_rows)(const float* logits, const int32_t* ids, const float* lse, const float* g, float* dl,
                             int64_t rows, int64_t V, int32_t ignore, int gather);
  void (*adamw)(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
                float eps, float wd, float inv_bc1, float inv_bc2, float grad_scale);
  void (*attention_forward_units)(const AttnArgs* a, int64_t u0, int64_t u1);
  void (*attention_backward_units)(const AttnArgs* a, int64_t u0, int64_t u1);
};

const SimdOps* simd_ops_scalar();
#if defined(__x86_64__) || defined(_M_X64)
const SimdOps* simd_ops_avx2();
const SimdOps* simd_ops_avx512();
#endif

// The table for cpu_isa() (ZJ_ISA may lower it).
const SimdOps& simd();

// Elementwise work below this many elements runs on the calling thread: waking the pool costs more.
constexpr int64_t kParallelGrain = 1 << 14;

// parallel_for over rows, with at least `min_elems` elements of work per chunk.
inline void parallel_rows(int64_t rows, int64_t elems_per_row, int64_t min_elems,
                          const std::function<void(int64_t, int64_t, int)>& fn) {
  int64_t per = elems_per_row > 0 ? elems_per_row : 1;
  int64_t grain = (min_elems + per - 1) / per;
  parallel_for(rows, grain < 1 ? 1 : grain, fn);
}

// Iteration over a strided index space with two operands (binary: a and b; copy: src and dst). Size-1 dims are
// dropped and neighbours contiguous in both operands merged, so the innermost run is as long as possible.
struct StridedDims {
  std::vector<int64_t> shape, st0, st1;  // outermost first, never empty
  int64_t count = 1;                     // elements in the whole space
  StridedDims(int rank, const int64_t* sh, const int64_t* s0, const int64_t* s1) {
    for (int d = 0; d < rank; d++) count *= sh[d];
    for (int d = 0; d < rank; d++) {
      if (sh[d] == 1) continue;
      if (!shape.empty() && st0.back() == s0[d] * sh[d] && st1.back() == s1[d] * sh[d]) {
        shape.back() *= sh[d];
        st0.back() = s0[d];
        st1.back() = s1[d];
      } else {
        shape.push_back(sh[d]);
        st0.push_back(s0[d]);
        st1.push_back(s1[d]);
      }
    }
    if (shape.empty()) {
      shape.push_back(1);
      st0.push_back(0);
      st1.push_back(0);
    }
  }
  // Offsets of row `row` (a flat index over every dim but the innermost); idx holds rank-1 counters.
  void start(int64_t row, int64_t* idx, int64_t* o0, int64_t* o1) const {
    *o0 = *o1 = 0;
    for (int d = (int)shape.size() - 2; d >= 0; d--) {
      idx[d] = row % shape[d];
      row /= shape[d];
      *o0 += idx[d] * st0[d];
      *o1 += idx[d] * st1[d];
    }
  }
  void next_row(int64_t* idx, int64_t* o0, int64_t* o1) const {
    for (int d = (int)shape.size() - 2; d >= 0; d--) {
      idx[d]++;
      *o0 += st0[d];
      *o1 += st1[d];
      if (idx[d] < shape[d]) return;
      *o0 -= st0[d] * shape[d];
      *o1 -= st1[d] * shape[d];
      idx[d] = 0;
    }
  }
};

}  // namespace zj
