// rope.cc — rotary position embedding in the HF LLaMA rotate_half convention (Su et al. 2021, RoFormer).
// Angles are computed in double as the reference does; when positions span fewer values than rows (a batch
// repeats 0..T-1) cos/sin come from a table built once per call. Odd D is rejected by the glue.
#include <math.h>
#include <vector>
#include "../include/zj_kernels.h"
#include "kernels_impl.h"

using namespace zj;

namespace {

void rotate_row(const float* x, float* out, const float* c, const float* s, int64_t H, int64_t D) {
  const int64_t half = D / 2;
  for (int64_t h = 0; h < H; h++) {
    const float* xr = x + h * D;
    float* o = out + h * D;
    for (int64_t i = 0; i < half; i++) {
      const float x1 = xr[i], x2 = xr[i + half];
      o[i] = x1 * c[i] - x2 * s[i];
      o[i + half] = x2 * c[i] + x1 * s[i];
    }
  }
}

}  // namespace

extern "C" void zj_rope(const float* x, float* out, const int32_t* positions, int64_t N, int64_t H, int64_t D,
                        float theta, int inverse) {
  const int64_t half = D / 2;
  if (N <= 0 || half == 0) return;
  std::vector<double> freq(half);
  for (int64_t i = 0; i < half; i++) freq[i] = pow((double)theta, (-2.0 * (double)i) / (double)D);
  const double sign = inverse ? -1.0 : 1.0;
  int64_t pmin = positions[0], pmax = positions[0];
  for (int64_t n = 1; n < N; n++) {
    if (positions[n] < pmin) pmin = positions[n];
    if (positions[n] > pmax) pmax = positions[n];
  }
  const int64_t span = pmax - pmin + 1;
  auto fill = [&](int64_t pos, float* c, float* s) {
    for (int64_t i = 0; i < half; i++) {
      const double a = (double)pos * freq[i];
      c[i] = (float)cos(a);
      s[i] = (float)(sign * sin(a));
    }
  };
  if (span < N) {
    std::vector<float> cs((size_t)(span * 2 * half));  // per position: cos[half], sin[half]
    parallel_rows(span, half * 16, kParallelGrain, [&](int64_t p0, int64_t p1, int) {
      for (int64_t p = p0; p < p1; p++) fill(pmin + p, &cs[p * 2 * half], &cs[p * 2 * half + half]);
    });
    parallel_rows(N, H * D, kParallelGrain, [&](int64_t n0, int64_t n1, int) {
      for (int64_t n = n0; n < n1; n++) {
        const float* t = &cs[(positions[n] - pmin) * 2 * half];
        rotate_row(x + n * H * D, out + n * H * D, t, t + half, H, D);
      }
    });
  } else {
    parallel_rows(N, H * D, kParallelGrain, [&](int64_t n0, int64_t n1, int) {
      std::vector<float> cs(2 * half);
      for (int64_t n = n0; n < n1; n++) {
        fill(positions[n], cs.data(), cs.data() + half);
        rotate_row(x + n * H * D, out + n * H * D, cs.data(), cs.data() + half, H, D);
      }
    });
  }
}
