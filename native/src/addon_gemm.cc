// addon_gemm.cc — N-API glue for zj_gemm. A's dtype (f32 / bf16) comes from the typed array type; B's from its
// optional format argument (q8_0 / q4_0 byte weights must name it), else the array type.
#include "../include/zj_kernels.h"
#include "napi_util.h"

namespace zj {
namespace {

// B as a weight: stored N×K when transB, else K×N; a quantized one is a single matrix.
const Glue kGemm[] = {
    {"gemm(batch, M, N, K, a, transA, aStride, b, transB, bStride, out, alpha, beta, bf16Compute, bFormat?)",
     [](const Args& a) {
       int64_t batch = a.i64(0), M = a.i64(1), N = a.i64(2), K = a.i64(3);
       napi_typedarray_type ta, tb;
       size_t la, lb;
       const void* A = a.typed(4, &ta, &la);
       const void* B = a.typed(7, &tb, &lb);
       if (ta != napi_float32_array && ta != napi_uint16_array) a.fail("a must be Float32Array or Uint16Array (bf16)");
       int64_t aStride = a.i64(6), bStride = a.i64(9);
       const bool transB = a.flag(8);
       if ((int64_t)la < (batch - 1) * aStride + M * K) a.fail("a is too short for its shape");
       int b_format = tb == napi_uint16_array ? 1 : 0;
       if (a.argc > 14 && !a.is_null(14)) {
         const WeightArg w = transB ? weight_arg(a, 7, 14, N, K) : weight_arg(a, 7, 14, K, N);
         b_format = w.format;
         if (b_format >= 2 && bStride != 0 && batch > 1) a.fail("a quantized b is one 2-D weight: bStride must be 0");
       } else if (tb != napi_float32_array && tb != napi_uint16_array) {
         a.fail("b must be Float32Array or Uint16Array (bf16), or name its format (q8_0 / q4_0)");
       }
       if (b_format < 2 && (int64_t)lb < (batch - 1) * bStride + K * N) a.fail("b is too short for its shape");
       float* out = a.f32(10, batch * M * N);
       zj_gemm(batch, M, N, K, A, ta == napi_uint16_array, a.flag(5), aStride, B, b_format, transB, bStride, out,
               a.scalar(11), a.scalar(12), a.flag(13));
     }},
};

}  // namespace

void register_gemm(napi_env env, napi_value exports) { export_glue(env, exports, kGemm); }

}  // namespace zj
