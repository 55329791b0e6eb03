// attention.cc — scaled dot-product attention with causal masking, GQA and key padding, FlashAttention-2 style
// (Dao 2023): tiles, online softmax, logsumexp saved, P recomputed in the backward. This file only splits the
// work; the tile loops are in kernels_simd.h. Forward units are (b, h); backward units are (b, kv-head).
#include "../include/zj_kernels.h"
#include "kernels_impl.h"

using namespace zj;

extern "C" void zj_attention_forward(const float* q, const float* k, const float* v, float* out, float* lse,
                                     int64_t B, int64_t T, int64_t S, int64_t H, int64_t Hkv, int64_t D, float scale,
                                     int causal, const int32_t* keyMask) {
  AttnArgs a{q, k, v, nullptr, nullptr, nullptr, out, lse, nullptr, nullptr, nullptr,
             B, T, S, H, Hkv, D, scale, causal, keyMask};
  parallel_for(B * H, 1, [&](int64_t u0, int64_t u1, int) { simd().attention_forward_units(&a, u0, u1); });
}

extern "C" void zj_attention_backward(const float* q, const float* k, const float* v, const float* out,
                                      const float* lse, const float* dOut, float* dq, float* dk, float* dv, int64_t B,
                                      int64_t T, int64_t S, int64_t H, int64_t Hkv, int64_t D, float scale, int causal,
                                      const int32_t* keyMask) {
  AttnArgs a{q, k, v, out, lse, dOut, nullptr, nullptr, dq, dk, dv, B, T, S, H, Hkv, D, scale, causal, keyMask};
  parallel_for(B * Hkv, 1, [&](int64_t u0, int64_t u1, int) { simd().attention_backward_units(&a, u0, u1); });
}
