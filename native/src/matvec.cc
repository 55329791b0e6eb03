// matvec.cc — zj_matvec: x (M, K) · Wᵀ with W stored (N, K) as HF [out, in] weights, for the handful of rows of
// token-by-token decoding. A GEMM packs all of W on every call; here each weight row is streamed once and dotted
// with every row of x, so decoding runs at memory bandwidth. Split over N on the pool; scalar path here, vector
// paths in avx512/ and avx2/. q8_0 / q4_0 weights go to quant.cc's integer kernels.
#include <cstring>
#include "../include/zj_kernels.h"
#include "convert.h"
#include "cpu.h"
#include "matvec_impl.h"
#include "pool.h"
#include "quant_impl.h"

namespace {

void matvec_rows_scalar(int64_t M, int64_t K, int64_t N, const float* x, const void* W, int w_bf16, float* out,
                        int64_t n0, int64_t n1) {
  for (int64_t n = n0; n < n1; n++) {
    for (int64_t m = 0; m < M; m++) {
      float acc = 0;
      const float* xm = x + m * K;
      if (w_bf16) {
        const uint16_t* w = (const uint16_t*)W + n * K;
        for (int64_t k = 0; k < K; k++) acc += xm[k] * zj::bf16_to_f32(w[k]);
      } else {
        const float* w = (const float*)W + n * K;
        for (int64_t k = 0; k < K; k++) acc += xm[k] * w[k];
      }
      out[m * N + n] = acc;
    }
  }
}

}  // namespace

extern "C" void zj_matvec(int64_t M, int64_t N, int64_t K, const float* x, const void* W, int w_format, float* out,
                          const uint16_t* panel_scales) {
  if (M <= 0 || N <= 0) return;
  if (K == 0) {
    std::memset(out, 0, sizeof(float) * M * N);
    return;
  }
  if (w_format >= ZJ_W_Q8_0 && w_format <= ZJ_W_Q4_0_P16) {  // the block formats: quant.cc
    zj::matvec_quant(M, N, K, x, (const uint8_t*)W, w_format, out, panel_scales);
    return;
  }
  const int w_bf16 = w_format == ZJ_W_BF16;
  auto rows = matvec_rows_scalar;
#if defined(__x86_64__) || defined(_M_X64)
  if (zj::cpu_isa() == zj::ISA_AVX512) rows = zj::matvec_rows_avx512;
  else if (zj::cpu_isa() == zj::ISA_AVX2) rows = zj::matvec_rows_avx2;
#endif
  // chunks of whole rows; at least ~32k weights per chunk so small layers stay on one thread
  int64_t grain = K > 0 ? (32768 + K - 1) / K : N;
  zj::parallel_for(N, grain, [&](int64_t n0, int64_t n1, int) { rows(M, K, N, x, W, w_bf16, out, n0, n1); });
}
