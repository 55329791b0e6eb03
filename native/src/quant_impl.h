// quant_impl.h — what the q8_0 / q4_0 kernels share: block sizes (f16 conversions: convert.h), the quantized
// activation rows of the decode matvec, and the per-format, per-ISA entry points (quant_q8_0.cc, quant_q4_0.cc and
// their avx512/ and avx2/ twins). Drivers (threading, dispatch) are in quant.cc; no threading here.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>
#include "convert.h"

namespace zj {

constexpr int64_t kQk = 32;              // values per block
constexpr int64_t kQ8Bytes = 34;         // block_q8_0: f16 d + 32 int8
constexpr int64_t kQ4Bytes = 18;         // block_q4_0: f16 d + 16 bytes of nibbles

// ZJ_W_Q8_0 = 2 and ZJ_W_Q8_0_P16 = 4 hold q8_0 blocks; ZJ_W_Q4_0 = 3 and ZJ_W_Q4_0_P16 = 5 q4_0 ones.
inline bool is_q8_blocks(int format) { return format == 2 || format == 4; }
inline bool is_panel_layout(int format) { return format == 4 || format == 5; }
inline int64_t block_bytes(int format) { return is_q8_blocks(format) ? kQ8Bytes : kQ4Bytes; }

inline uint16_t load_u16(const uint8_t* p) { return (uint16_t)(p[0] | (p[1] << 8)); }

// x (M, K) quantized per block of 32 for the integer dot products: q (M·K int8, row-major), d (M·K/32 f32 scales)
// and d8 (each scale repeated 8 times: the per-lane scales of the AVX-512 kernels, which hold 2 blocks in 16 lanes).
// On the AVX-512 path q holds x + 128 as unsigned bytes (vpdpbusd's unsigned operand).
struct ActRows {
  const int8_t* q;
  const float* d;
  const float* d8;
};

// Quantize M·K/32 blocks of x into q, d (d8 is filled by the driver). The ISA versions give identical values.
void quantize_act_scalar(const float* x, int64_t blocks, int8_t* q, float* d);
void quantize_act_avx512(const float* x, int64_t blocks, int8_t* q, float* d);
void quantize_act_avx2(const float* x, int64_t blocks, int8_t* q, float* d);

// One weight row's worth of blocks, reference rules (weights: roundf; see zj_kernels.h). src is f32 or bf16 bits.
void quantize_blocks_q8_0(const void* src, int src_bf16, int64_t blocks, uint8_t* out);
void quantize_blocks_q4_0(const void* src, int src_bf16, int64_t blocks, uint8_t* out);
void quantize_blocks_q8_0_avx512(const void* src, int src_bf16, int64_t blocks, uint8_t* out);
void quantize_blocks_q4_0_avx512(const void* src, int src_bf16, int64_t blocks, uint8_t* out);
// Values [c0, c1) of one quantized row (any block alignment) into dst[0, c1 − c0).
void dequant_range_q8_0(const uint8_t* row, int64_t c0, int64_t c1, float* dst);
void dequant_range_q4_0(const uint8_t* row, int64_t c0, int64_t c1, float* dst);
void dequant_range_q8_0_avx512(const uint8_t* row, int64_t c0, int64_t c1, float* dst);
void dequant_range_q4_0_avx512(const uint8_t* row, int64_t c0, int64_t c1, float* dst);

// out[m, n] for m < M, n in [n0, n1): x quantized as `a`, W (N, K) of the format. One row of W is read once for
// all M rows (the AVX-512 and AVX2 kernels take M in groups of up to 8 from L1).
using quant_rows_fn = void (*)(int64_t M, int64_t K, int64_t N, const ActRows& a, const uint8_t* W, float* out,
                               int64_t n0, int64_t n1);
void matvec_q8_0_rows_scalar(int64_t M, int64_t K, int64_t N, const ActRows& a, const uint8_t* W, float* out,
                             int64_t n0, int64_t n1);
void matvec_q4_0_rows_scalar(int64_t M, int64_t K, int64_t N, const ActRows& a, const uint8_t* W, float* out,
                             int64_t n0, int64_t n1);
void matvec_q8_0_rows_avx512(int64_t M, int64_t K, int64_t N, const ActRows& a, const uint8_t* W, float* out,
                             int64_t n0, int64_t n1);
void matvec_q4_0_rows_avx512(int64_t M, int64_t K, int64_t N, const ActRows& a, const uint8_t* W, float* out,
                             int64_t n0, int64_t n1);
void matvec_q8_0_rows_avx2(int64_t M, int64_t K, int64_t N, const ActRows& a, const uint8_t* W, float* out,
                           int64_t n0, int64_t n1);
void matvec_q4_0_rows_avx2(int64_t M, int64_t K, int64_t N, const ActRows& a, const uint8_t* W, float* out,
                           int64_t n0, int64_t n1);

// A grow-only, zero-filled buffer whose get() returns a 64-byte aligned start (with 64 bytes of slack past n): one per
// thread in the VNNI batch and tile kernels (pool workers are persistent, so after the first call nothing allocates).
struct AlignedScratch {
  std::vector<uint8_t> buf;
  uint8_t* get(size_t n) {
    if (buf.size() < n + 64) buf.assign(n + 64, 0);
    return buf.data() + ((64 - ((uintptr_t)buf.data() & 63)) & 63);
  }
};

// The batched matvecs (avx512/quant_panel_avx512.cc, and the strip kernel of quant_batch_avx512.cc; VNNI only): x (M,
// K) quantized like ActRows, then interleaved 8 rows per zmm, two blocks per lane pair (avx512/quant_strip_avx512.h) —
// x: per group of 8 rows and block pair, 8 chunks of 64 signed bytes (lane 2r + h: row r, block 2p + h, element dword
// c); corr: per group and block pair, 16 int32 seeds (−C·Σx of each lane's block); dx: per group and block pair, 16 f32
// (each lane's scale). Padding rows and a missing last block are zero. batch_act_buffers_avx512 gives views into a
// per-thread scratch (valid until its next call on that thread); pack_act_groups_avx512 (avx512/quant_tiles_avx512.cc)
// fills groups [g0, g1) of them, so the driver can split the packing over the pool.
struct QuantBatchAct {
  const int8_t* x;
  const int32_t* corr;
  const float* dx;
};
struct QuantBatchBufs {
  int8_t* x;
  int32_t* corr;
  float* dx;
};
QuantBatchBufs batch_act_buffers_avx512(int64_t M, int64_t K);
void pack_act_groups_avx512(const float* x, int64_t M, int64_t K, int format, int64_t g0, int64_t g1,
                            int8_t* xs, int32_t* corr, float* dxs);
using quant_batch_fn = void (*)(int64_t M, int64_t K, int64_t N, const QuantBatchAct& a, const uint8_t* W, float* out,
                                int64_t n0, int64_t n1);
void matvec_q8_0_batch_avx512(int64_t M, int64_t K, int64_t N, const QuantBatchAct& a, const uint8_t* W, float* out,
                              int64_t n0, int64_t n1);
void matvec_q4_0_batch_avx512(int64_t M, int64_t K, int64_t N, const QuantBatchAct& a, const uint8_t* W, float* out,
                              int64_t n0, int64_t n1);
// The same product with 16 weight rows across the lanes and x broadcast (avx512/quant_panel_avx512.cc): what
// quant.cc takes for the batch sizes of decoding; weight rows [n0, n1) in panels of 16 (a last partial one padded),
// n0 a multiple of 16. scales: W's zj_quant_panel_scales table, or null (then each block's 16 scales are regrouped
// from the rows).
using quant_panel_fn = void (*)(int64_t M, int64_t K, int64_t N, const QuantBatchAct& a, const uint8_t* W,
                                const uint16_t* scales, float* out, int64_t n0, int64_t n1);
void matvec_q8_0_panel_avx512(int64_t M, int64_t K, int64_t N, const QuantBatchAct& a, const uint8_t* W,
                              const uint16_t* scales, float* out, int64_t n0, int64_t n1);
void matvec_q4_0_panel_avx512(int64_t M, int64_t K, int64_t N, const QuantBatchAct& a, const uint8_t* W,
                              const uint16_t* scales, float* out, int64_t n0, int64_t n1);
// The same kernel over a weight in the interleaved panel layout (ZJ_W_*_P16): N a multiple of 16, any M (the
// driver hands it at most 1,024 rows of x at a time), rows [n0, n1) whole panels.
using quant_p16_fn = void (*)(int64_t M, int64_t K, int64_t N, const QuantBatchAct& a, const uint8_t* W, float* out,
                              int64_t n0, int64_t n1);
void matvec_q8_0_p16_avx512(int64_t M, int64_t K, int64_t N, const QuantBatchAct& a, const uint8_t* W, float* out,
                            int64_t n0, int64_t n1);
void matvec_q4_0_p16_avx512(int64_t M, int64_t K, int64_t N, const QuantBatchAct& a, const uint8_t* W, float* out,
                            int64_t n0, int64_t n1);
// The prefill product (avx512/quant_tiles_avx512.cc, VNNI only, any M; taken above 16 rows): the same packed x,
// weight rows [n0, n1) taken a tile at a time (sized for L2), unpacked, and dotted with every 16 rows of x.
void matmul_q8_0_tiles_avx512(int64_t M, int64_t K, int64_t N, const QuantBatchAct& a, const uint8_t* W, float* out,
                              int64_t n0, int64_t n1);
void matmul_q4_0_tiles_avx512(int64_t M, int64_t K, int64_t N, const QuantBatchAct& a, const uint8_t* W, float* out,
                              int64_t n0, int64_t n1);

// The q8_0 / q4_0 branch of zj_matvec (quant.cc); panel_scales as zj_matvec's.
void matvec_quant(int64_t M, int64_t N, int64_t K, const float* x, const uint8_t* W, int format, float* out,
                  const uint16_t* panel_scales);
// Whether matvec_quant of this shape takes the panel kernel (the one reader of a panel_scales table).
bool matvec_quant_takes_panel(int64_t M, int64_t N, int64_t K, int format);

// Dequantize values [c0, c1) of row r of a weight in any zj_wformat (f32 / bf16 too) into dst: the GEMM's packers
// and the embedding gather read quantized weights through this.
void dequant_row_range(const void* W, int format, int64_t K, int64_t r, int64_t c0, int64_t c1, float* dst);

}  // namespace zj
