// attention.cc — scaled dot-product attention with causal masking, GQA and key padding, FlashAttention-2 style
// (Dao 2023): tiles, online softmax, logsumexp saved, P recomputed in the backward. This file only splits the
// work; the tile loops are in attention_simd.h. Forward units are (b, h); backward units are (b, kv-head).
#include "../include/zj_kernels.h"
#include "kernels_impl.h"

using namespace zj;

// Units per chunk so that a chunk holds at least ~64K multiply-adds: decoding (T = 1) is too little work per head
// to be worth waking the pool for each.
static int64_t unit_grain(int64_t T, int64_t S, int64_t D) {
  const int64_t work = T * S * D > 0 ? T * S * D : 1;
  return work >= (1 << 16) ? 1 : (1 << 16) / work;
}

extern "C" void zj_attention_forward(const float* q, const float* k, const float* v, float* out, float* lse,
                                     int64_t B, int64_t T, int64_t S, int64_t H, int64_t Hkv, int64_t D, float scale,
                                     int causal, const int32_t* keyMask) {
  AttnArgs a{q, k, v, nullptr, nullptr, nullptr, out, lse, nullptr, nullptr, nullptr,
             B, T, S, H, Hkv, D, scale, causal, keyMask, nullptr, 0, nullptr, nullptr};
  parallel_for(B * H, unit_grain(T, S, D),
               [&](int64_t u0, int64_t u1, int) { simd().attention_forward_units(&a, u0, u1); });
}

extern "C" void zj_attention_forward_kt_bf16(const float* q, const uint16_t* kt, int64_t ldk, const uint16_t* v,
                                             float* out, float* lse, int64_t B, int64_t T, int64_t S, int64_t H,
                                             int64_t Hkv, int64_t D, float scale, int causal,
                                             const int32_t* keyMask) {
  AttnArgs a{q, nullptr, nullptr, nullptr, nullptr, nullptr, out, lse, nullptr, nullptr, nullptr,
             B, T, S, H, Hkv, D, scale, causal, keyMask, nullptr, ldk, kt, v};
  parallel_for(B * H, unit_grain(T, S, D),
               [&](int64_t u0, int64_t u1, int) { simd().attention_forward_units(&a, u0, u1); });
}

extern "C" void zj_attention_forward_kt(const float* q, const float* kt, int64_t ldk, const float* v, float* out,
                                        float* lse, int64_t B, int64_t T, int64_t S, int64_t H, int64_t Hkv,
                                        int64_t D, float scale, int causal, const int32_t* keyMask) {
  AttnArgs a{q, nullptr, v, nullptr, nullptr, nullptr, out, lse, nullptr, nullptr, nullptr,
             B, T, S, H, Hkv, D, scale, causal, keyMask, kt, ldk, nullptr, nullptr};
  parallel_for(B * H, unit_grain(T, S, D),
               [&](int64_t u0, int64_t u1, int) { simd().attention_forward_units(&a, u0, u1); });
}

extern "C" void zj_attention_backward(const float* q, const float* k, const float* v, const float* out,
                                      const float* lse, const float* dOut, float* dq, float* dk, float* dv, int64_t B,
                                      int64_t T, int64_t S, int64_t H, int64_t Hkv, int64_t D, float scale, int causal,
                                      const int32_t* keyMask) {
  AttnArgs a{q, k, v, out, lse, dOut, nullptr, nullptr, dq, dk, dv, B, T, S, H, Hkv, D, scale, causal, keyMask,
             nullptr, 0, nullptr, nullptr};
  const int64_t group = Hkv > 0 ? H / Hkv : 1;  // the glue guarantees Hkv > 0; a C caller might not
  parallel_for(B * Hkv, unit_grain(T * group, S, D),
               [&](int64_t u0, int64_t u1, int) { simd().attention_backward_units(&a, u0, u1); });
}
