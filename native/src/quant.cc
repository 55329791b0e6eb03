// quant.cc — drivers of the q8_0 / q4_0 kernels: zj_quantize_rows / zj_dequantize_rows over the pool, the quantized
// branch of zj_matvec (quantize the rows of x once, then split the weight rows over the pool) with its run-time
// choice of ISA, and dequant_row_range for the GEMM packers and the embedding gather. The maths is in
// quant_q8_0.cc / quant_q4_0.cc and their ISA twins.
#include <algorithm>
#include <vector>
#include "../include/zj_kernels.h"
#include "cpu.h"
#include "pool.h"
#include "quant_impl.h"

namespace zj {

// The integer kernels need AVX512-VNNI (vpdpbusd) on top of the AVX-512 baseline; without it, AVX2's.
static bool use_avx512_int8() { return cpu_isa() == ISA_AVX512 && cpu_has_avx512vnni(); }
static bool use_avx2_int8() {
  return cpu_isa() == ISA_AVX2 || (cpu_isa() == ISA_AVX512 && !cpu_has_avx512vnni());
}

void dequant_row_range(const void* W, int format, int64_t K, int64_t r, int64_t c0, int64_t c1, float* dst) {
  switch (format) {
    case ZJ_W_F32: std::memcpy(dst, (const float*)W + r * K + c0, sizeof(float) * (size_t)(c1 - c0)); return;
    case ZJ_W_BF16: {
      const uint16_t* p = (const uint16_t*)W + r * K + c0;
      for (int64_t i = 0; i < c1 - c0; i++) dst[i] = bf16_to_f32(p[i]);
      return;
    }
    case ZJ_W_Q8_0: {
#if defined(__x86_64__) || defined(_M_X64)
      static const auto q8 = use_avx512_int8() ? dequant_range_q8_0_avx512 : dequant_range_q8_0;
#else
      static const auto q8 = dequant_range_q8_0;
#endif
      q8((const uint8_t*)W + r * (K / kQk) * kQ8Bytes, c0, c1, dst);
      return;
    }
    default: {
#if defined(__x86_64__) || defined(_M_X64)
      static const auto q4 = use_avx512_int8() ? dequant_range_q4_0_avx512 : dequant_range_q4_0;
#else
      static const auto q4 = dequant_range_q4_0;
#endif
      q4((const uint8_t*)W + r * (K / kQk) * kQ4Bytes, c0, c1, dst);
      return;
    }
  }
}

// Scratch for the quantized activations: grows only, one per calling thread (the pool's callers).
struct ActScratch {
  std::vector<int8_t> q;
  std::vector<float> d, d8;
};
static thread_local ActScratch act_scratch;

void matvec_quant(int64_t M, int64_t N, int64_t K, const float* x, const uint8_t* W, int format, float* out) {
  const int64_t blocks = M * K / kQk;
  ActScratch& s = act_scratch;
  // 64 bytes of slack: the AVX-512 kernels load two blocks at a time and may read past the last one.
  if ((int64_t)s.q.size() < M * K + 64) s.q.assign((size_t)(M * K + 64), 0);
  if ((int64_t)s.d.size() < blocks + 2) s.d.resize((size_t)blocks + 2), s.d8.resize((size_t)(blocks + 2) * 8);
  quant_rows_fn rows = format == ZJ_W_Q8_0 ? matvec_q8_0_rows_scalar : matvec_q4_0_rows_scalar;
#if defined(__x86_64__) || defined(_M_X64)
  if (use_avx512_int8()) {
    quantize_act_avx512(x, blocks, s.q.data(), s.d.data());
    for (int64_t b = 0; b < blocks; b++) std::fill_n(s.d8.data() + b * 8, 8, s.d[(size_t)b]);
    rows = format == ZJ_W_Q8_0 ? matvec_q8_0_rows_avx512 : matvec_q4_0_rows_avx512;
  } else if (use_avx2_int8()) {
    quantize_act_avx2(x, blocks, s.q.data(), s.d.data());
    rows = format == ZJ_W_Q8_0 ? matvec_q8_0_rows_avx2 : matvec_q4_0_rows_avx2;
  } else
#endif
    quantize_act_scalar(x, blocks, s.q.data(), s.d.data());
  const ActRows a{s.q.data(), s.d.data(), s.d8.data()};
  // chunks of whole rows; at least ~64k weights per chunk so small layers stay on one thread
  const int64_t grain = (65536 + K - 1) / K;
  parallel_for(N, grain, [&](int64_t n0, int64_t n1, int) { rows(M, K, N, a, W, out, n0, n1); });
}

}  // namespace zj

using namespace zj;

extern "C" void zj_quantize_rows(const void* x, int x_bf16, int64_t N, int64_t K, int format, uint8_t* out) {
  if (N <= 0 || K <= 0) return;
  const int64_t nb = K / kQk, bytes = block_bytes(format), elem = x_bf16 ? 2 : 4;
  auto blocks = format == ZJ_W_Q8_0 ? quantize_blocks_q8_0 : quantize_blocks_q4_0;
#if defined(__x86_64__) || defined(_M_X64)
  if (use_avx512_int8()) blocks = format == ZJ_W_Q8_0 ? quantize_blocks_q8_0_avx512 : quantize_blocks_q4_0_avx512;
#endif
  parallel_for(N, std::max<int64_t>(1, 16384 / K), [&](int64_t r0, int64_t r1, int) {
    blocks((const char*)x + r0 * K * elem, x_bf16, (r1 - r0) * nb, out + r0 * nb * bytes);
  });
}

extern "C" void zj_dequantize_rows(const uint8_t* w, int format, int64_t N, int64_t K, float* out) {
  if (N <= 0 || K <= 0) return;
  parallel_for(N, std::max<int64_t>(1, 16384 / K), [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; r++) dequant_row_range(w, format, K, r, 0, K, out + r * K);
  });
}
