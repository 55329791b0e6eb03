// random.cc — counter-based normal fill for random initialisation: value e of stream `key` depends only on
// (key, e), so the pool's split of the range cannot change a bit. The same steps as the reference
// (src/backend/reference/random.ts): murmur3 fmix32 over the pair counter, Box–Muller in double.
#include <math.h>
#include "../include/zj_kernels.h"
#include "kernels_impl.h"

using namespace zj;

namespace {

inline uint32_t mix32(uint32_t h) {
  h = (h ^ (h >> 16)) * 0x85ebca6bu;
  h = (h ^ (h >> 13)) * 0xc2b2ae35u;
  return h ^ (h >> 16);
}

// r and angle of pair k
inline void pair(uint32_t key, int64_t k, double stdev, double* r, double* t) {
  const uint32_t kl = (uint32_t)(uint64_t)k, kh = (uint32_t)((uint64_t)k >> 32);
  const uint32_t a = mix32((kl ^ key) + kh * 0x27d4eb2fu);
  const uint32_t b = mix32(a ^ kl ^ 0x68e31da4u);
  const double INV = 1.0 / 4294967296.0, TWO_PI = 2.0 * M_PI;
  *r = sqrt(-2.0 * log(((double)a + 1.0) * INV)) * stdev;
  *t = (TWO_PI * (double)b) * INV;
}

}  // namespace

extern "C" void zj_fill_normal(float* out, int64_t n, uint32_t key, int64_t start, double stdev) {
  if (n <= 0) return;
  const double s = stdev;
  parallel_for(n, kParallelGrain, [&](int64_t j0, int64_t j1, int) {
    for (int64_t j = j0; j < j1;) {
      const int64_t e = start + j;
      double r, t;
      pair(key, e / 2, s, &r, &t);
      if ((e & 1) == 0) {
        out[j++] = (float)(r * cos(t));
        if (j < j1) out[j++] = (float)(r * sin(t));
      } else {
        out[j++] = (float)(r * sin(t));
      }
    }
  });
}
