// rope.cc — rotary position embedding in the HF LLaMA rotate_half convention (Su et al. 2021, RoFormer).
// Angles are computed in double as the reference does; when positions span fewer values than rows (a batch
// repeats 0..T-1) cos/sin come from a table built once per call. x and out are the same array or disjoint
// (a partial overlap is not supported). Odd D is rejected by the glue.
#include <math.h>
#include <vector>
#include "../include/zj_kernels.h"
#include "kernels_impl.h"

using namespace zj;

namespace {

// Distinct input and output: __restrict lets the loop vectorise.
void rotate_row_distinct(const float* __restrict x, float* __restrict out, const float* __restrict cs, int64_t H,
                         int64_t D) {
  const int64_t half = D / 2;
  const float *c = cs, *s = cs + half;
  for (int64_t h = 0; h < H; h++) {
    const float* xr = x + h * D;
    float* o = out + h * D;
    for (int64_t i = 0; i < half; i++) {
      o[i] = xr[i] * c[i] - xr[i + half] * s[i];
      o[i + half] = xr[i + half] * c[i] + xr[i] * s[i];
    }
  }
}

// In place (x == out): each head's row is copied to a local buffer first (D <= 1024, checked by the caller).
void rotate_row_inplace(float* x, const float* cs, int64_t H, int64_t D) {
  float t[1024];
  for (int64_t h = 0; h < H; h++) {
    float* xr = x + h * D;
    for (int64_t i = 0; i < D; i++) t[i] = xr[i];
    rotate_row_distinct(t, xr, cs, 1, D);
  }
}

void rotate_row(const float* x, float* out, const float* cs, int64_t H, int64_t D) {
  if (x == out) rotate_row_inplace(out, cs, H, D);
  else rotate_row_distinct(x, out, cs, H, D);
}

}  // namespace

extern "C" void zj_rope(const float* x, float* out, const int32_t* positions, int64_t N, int64_t H, int64_t D,
                        float theta, int inverse, const double* inv_freq) {
  const int64_t half = D / 2;
  if (N <= 0 || half == 0) return;
  std::vector<double> freq(half);
  for (int64_t i = 0; i < half; i++) freq[i] = inv_freq ? inv_freq[i] : pow((double)theta, (-2.0 * (double)i) / (double)D);
  const double sign = inverse ? -1.0 : 1.0;
  int64_t pmin = positions[0], pmax = positions[0];
  for (int64_t n = 1; n < N; n++) {
    if (positions[n] < pmin) pmin = positions[n];
    if (positions[n] > pmax) pmax = positions[n];
  }
  const int64_t span = pmax - pmin + 1;
  // cos and sin of pos * f_i for one position, into cs[0, half) and cs[half, D)
  auto exact = [&](int64_t pos, float* cs) {
    for (int64_t i = 0; i < half; i++) {
      const double a = (double)pos * freq[i];
      cs[i] = (float)cos(a);
      cs[half + i] = (float)(sign * sin(a));
    }
  };
  if (half > 512) {  // beyond any real head size: no local buffers, plain per-element loop
    std::vector<float> cs(D);
    for (int64_t n = 0; n < N; n++) {
      exact(positions[n], cs.data());
      for (int64_t h = 0; h < H; h++)
        for (int64_t i = 0; i < half; i++) {
          const int64_t o = (n * H + h) * D;
          const float x1 = x[o + i], x2 = x[o + i + half];
          out[o + i] = x1 * cs[i] - x2 * cs[half + i];
          out[o + i + half] = x2 * cs[i] + x1 * cs[half + i];
        }
    }
    return;
  }
  if (span < N) {
    // A table over [pmin, pmax] (a batch repeats 0..T-1). Runs of 32 positions start from an exact sin/cos and
    // step by the angle-addition formulas in double: 31 steps add ~1e-14 relative error, invisible in float.
    std::vector<float> tab((size_t)(span * D));
    const int64_t RUN = 32, runs = (span + RUN - 1) / RUN;
    parallel_for(runs, 1, [&](int64_t r0, int64_t r1, int) {
      std::vector<double> c(half), s(half), cf(half), sf(half);
      for (int64_t i = 0; i < half; i++) {
        cf[i] = cos(freq[i]);
        sf[i] = sin(freq[i]);
      }
      for (int64_t r = r0; r < r1; r++) {
        const int64_t p0 = r * RUN, p1 = p0 + RUN < span ? p0 + RUN : span;
        for (int64_t i = 0; i < half; i++) {
          const double a = (double)(pmin + p0) * freq[i];
          c[i] = cos(a);
          s[i] = sin(a);
        }
        for (int64_t p = p0; p < p1; p++) {
          float* t = &tab[(size_t)(p * D)];
          for (int64_t i = 0; i < half; i++) {
            t[i] = (float)c[i];
            t[half + i] = (float)(sign * s[i]);
            const double cn = c[i] * cf[i] - s[i] * sf[i];
            s[i] = s[i] * cf[i] + c[i] * sf[i];
            c[i] = cn;
          }
        }
      }
    });
    parallel_rows(N, H * D, kParallelGrain, [&](int64_t n0, int64_t n1, int) {
      for (int64_t n = n0; n < n1; n++)
        rotate_row(x + n * H * D, out + n * H * D, &tab[(size_t)((positions[n] - pmin) * D)], H, D);
    });
  } else {
    parallel_rows(N, H * D, kParallelGrain, [&](int64_t n0, int64_t n1, int) {
      std::vector<float> cs(D);
      for (int64_t n = n0; n < n1; n++) {
        exact(positions[n], cs.data());
        rotate_row(x + n * H * D, out + n * H * D, cs.data(), H, D);
      }
    });
  }
}
