// simd_scalar.cc — the one-lane Vec (baseline x86-64 and arm64) with every op family's hot loops compiled for it
// through simd_ops.h, and simd(), which picks the table for cpu_isa(). The scalar path runs the same tiled
// algorithms with libm's exp.
#include <math.h>
#include <stdint.h>
#include "cpu.h"
#include "kernels_impl.h"

namespace zj {
namespace scalar {

struct Vec {
  static constexpr int W = 1, MR = 4, NB = 4;
  typedef float R;
  static inline R load(const float* p) { return *p; }
  static inline void store(float* p, R v) { *p = v; }
  static inline R load_n(const float* p, int64_t n, float fill) { return n > 0 ? *p : fill; }
  static inline void store_n(float* p, R v, int64_t n) {
    if (n > 0) *p = v;
  }
  static inline R set1(float x) { return x; }
  static inline R zero() { return 0.f; }
  static inline R add(R a, R b) { return a + b; }
  static inline R sub(R a, R b) { return a - b; }
  static inline R mul(R a, R b) { return a * b; }
  static inline R div(R a, R b) { return a / b; }
  static inline R fma(R a, R b, R c) { return a * b + c; }
  static inline R max(R a, R b) { return a > b ? a : b; }  // the SSE rule: the second operand when unordered
  static inline R min(R a, R b) { return a < b ? a : b; }
  static inline R sqrt(R a) { return sqrtf(a); }
  static inline float hsum(R a) { return a; }
  static inline float hmax(R a) { return a; }
  static inline R neg_abs(R a) { return -fabsf(a); }
  static inline R keep_n(R v, int64_t n, float fill) { return n > 0 ? v : fill; }
  static inline R select_ge0(R x, R a, R b) { return x >= 0.f ? a : b; }
  static inline R exp(R x) { return expf(x); }
  static constexpr int TB = 1;
  static inline void transpose_block(const float* src, int64_t, float* dst, int64_t) { *dst = *src; }
};

}  // namespace scalar
}  // namespace zj

#define ZJ_SIMD_NS scalar
#include "simd_ops.h"

namespace zj {

const SimdOps* simd_ops_scalar() { return &scalar::ops; }

const SimdOps& simd() {
  static const SimdOps* table = [] {
#if defined(__x86_64__) || defined(_M_X64)
    switch (cpu_isa()) {
      case ISA_AVX512: return simd_ops_avx512();
      case ISA_AVX2: return simd_ops_avx2();
      default: break;
    }
#endif
    return simd_ops_scalar();
  }();
  return *table;
}

}  // namespace zj
