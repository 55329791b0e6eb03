// argmax.cc — zj_argmax_rows: the greedy choice over each row of logits (the first index of the largest value, NaN
// never chosen), one pass of SSE2 maxima (baseline x86-64; scalar elsewhere) and a second to the first index holding
// that maximum. No threads: a 151,936-wide row is ~0.6 MB, tens of microseconds.
#include <cmath>
#include "../include/zj_kernels.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace {

// The largest non-NaN value of x[0, V) given that x[0] is not NaN. maxps(v, m) returns m when v is NaN, so NaN never
// enters; four accumulators keep the loop off maxps's latency.
float row_max(const float* x, int64_t V) {
  float m = x[0];
  int64_t j = 0;
#if defined(__SSE2__)
  if (V >= 16) {
    __m128 m0 = _mm_set1_ps(m), m1 = m0, m2 = m0, m3 = m0;
    for (; j + 16 <= V; j += 16) {
      m0 = _mm_max_ps(_mm_loadu_ps(x + j), m0);
      m1 = _mm_max_ps(_mm_loadu_ps(x + j + 4), m1);
      m2 = _mm_max_ps(_mm_loadu_ps(x + j + 8), m2);
      m3 = _mm_max_ps(_mm_loadu_ps(x + j + 12), m3);
    }
    alignas(16) float l[4];
    _mm_store_ps(l, _mm_max_ps(_mm_max_ps(m0, m1), _mm_max_ps(m2, m3)));
    for (float v : l)
      if (v > m) m = v;
  }
#endif
  for (; j < V; j++)
    if (x[j] > m) m = x[j];
  return m;
}

// The first j with x[j] == m (m is one of x's values; ±0 compare equal).
int64_t first_equal(const float* x, int64_t V, float m) {
  int64_t j = 0;
#if defined(__SSE2__)
  const __m128 vm = _mm_set1_ps(m);
  for (; j + 8 <= V; j += 8) {
    const int hit = _mm_movemask_ps(_mm_cmpeq_ps(_mm_loadu_ps(x + j), vm)) |
                    (_mm_movemask_ps(_mm_cmpeq_ps(_mm_loadu_ps(x + j + 4), vm)) << 4);
    if (hit) return j + __builtin_ctz((unsigned)hit);
  }
#endif
  while (!(x[j] == m)) j++;
  return j;
}

}  // namespace

extern "C" void zj_argmax_rows(const float* x, int32_t* out, int64_t N, int64_t V) {
  for (int64_t n = 0; n < N; n++) {
    const float* r = x + n * V;
    // the sequential rule (keep the first, replace on strictly greater) never moves off a NaN first value
    if (std::isnan(r[0])) {
      out[n] = 0;
      continue;
    }
    out[n] = (int32_t)first_equal(r, V, row_max(r, V));
  }
}
