// matvec_impl.h — per-ISA row-range entry points of zj_matvec (decode-time x · Wᵀ for a few rows of x).
#pragma once
#include <cstdint>

namespace zj {
// out[m, n] = Σ_k x[m, k] · W[n, k] for m < M (M <= 8) and n in [n0, n1); W is f32, or bf16 bits when w_bf16.
void matvec_rows_avx512(int64_t M, int64_t K, int64_t N, const float* x, const void* W, int w_bf16, float* out,
                        int64_t n0, int64_t n1);
void matvec_rows_avx2(int64_t M, int64_t K, int64_t N, const float* x, const void* W, int w_bf16, float* out,
                      int64_t n0, int64_t n1);
}  // namespace zj
