// loss.cc — cross-entropy with an ignore index, and the per-token log-prob gather (for DPO / PPO). Forward reads
// each logits row once (chunked online logsumexp), backward reads it once and writes dLogits once.
// The per-row loops are the per-ISA ones in loss_simd.h; target ids are range-checked by the glue, not here.
#include "../include/zj_kernels.h"
#include "kernels_impl.h"

using namespace zj;

extern "C" void zj_cross_entropy_forward(const float* logits, const int32_t* targets, float* loss, float* lse,
                                         int64_t N, int64_t V, int32_t ignoreIndex) {
  parallel_rows(N, V, kParallelGrain, [&](int64_t r0, int64_t r1, int) {
    simd().xent_forward_rows(logits + r0 * V, targets + r0, loss + r0, lse + r0, r1 - r0, V, ignoreIndex, 0);
  });
}

extern "C" void zj_cross_entropy_backward(const float* logits, const int32_t* targets, const float* lse,
                                          const float* dLoss, float* dLogits, int64_t N, int64_t V,
                                          int32_t ignoreIndex) {
  parallel_rows(N, V, kParallelGrain, [&](int64_t r0, int64_t r1, int) {
    simd().xent_backward_rows(logits + r0 * V, targets + r0, lse + r0, dLoss + r0, dLogits + r0 * V, r1 - r0, V,
                              ignoreIndex, 0);
  });
}

extern "C" void zj_gather_logprobs_forward(const float* logits, const int32_t* ids, float* out, float* lse, int64_t N,
                                           int64_t V) {
  parallel_rows(N, V, kParallelGrain, [&](int64_t r0, int64_t r1, int) {
    simd().xent_forward_rows(logits + r0 * V, ids + r0, out + r0, lse + r0, r1 - r0, V, 0, 1);
  });
}

extern "C" void zj_gather_logprobs_backward(const float* logits, const int32_t* ids, const float* lse,
                                            const float* dOut, float* dLogits, int64_t N, int64_t V) {
  parallel_rows(N, V, kParallelGrain, [&](int64_t r0, int64_t r1, int) {
    simd().xent_backward_rows(logits + r0 * V, ids + r0, lse + r0, dOut + r0, dLogits + r0 * V, r1 - r0, V, 0, 1);
  });
}
