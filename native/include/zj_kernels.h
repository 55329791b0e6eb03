// zj_kernels.h — the plain C interface of zhongjing's native kernels.
// Pointers are raw float* / uint16_t* (bf16 bit patterns) / int32_t*; every dimension is explicit.
// Kernels are pure functions over buffers: no tensors, no autograd, no allocation decisions beyond scratch.
// The TypeScript reference backend (src/backend/reference) defines the semantics each kernel must match.
//
// Outputs may not partially overlap inputs: a kernel may run in parallel, so only an output that is exactly an
// input (same pointer and length, where a kernel says in-place is allowed: elementwise, rope) is safe.
//
// Dimension legend: B batch, T query length, S key length, C channels (hidden), V vocabulary,
// H query heads, Hkv key/value heads, D head dim, N rows (B*T), M/K generic GEMM dims.
//
// Weight formats (zj_wformat): a weight matrix W (N, K) is stored row-major as
//   ZJ_W_F32   float per value;   ZJ_W_BF16  uint16_t bf16 bits per value;
//   ZJ_W_Q8_0  per row K/32 blocks of 34 bytes: f16 scale d (little-endian), then int8 q[32];  W = d · q[j]
//   ZJ_W_Q4_0  per row K/32 blocks of 18 bytes: f16 scale d, then uint8 qs[16];
//              W[j] = d · ((qs[j] & 15) − 8),  W[j + 16] = d · ((qs[j] >> 4) − 8)  for j < 16
//   ZJ_W_Q8_0_P16, ZJ_W_Q4_0_P16  the same blocks interleaved by panels of 16 rows (N a multiple of 16): panel p
//              (rows 16p .. 16p + 15) is K/32 groups, one per block b, each 16 f16 scales (row 16p + i's d at i),
//              then the rows' block bytes (q8_0: 32 int8, q4_0: 16 qs) as 4-byte chunks, chunk c of all 16 rows in
//              turn (row i's bytes 4c .. 4c + 3 at 64c + 4i): 16 · 34 or 16 · 18 bytes a group, the same total as
//              the row layout. The AVX-512 VNNI panel kernel reads it without regrouping (zj_quant_to_panels).
// (llama.cpp's block_q8_0 / block_q4_0, ggml/src/ggml-common.h; quantized K is a multiple of 32 and blocks are
// unaligned, so kernels load them with unaligned loads.) Quantizing follows llama.cpp's reference quantizers
// (quantize_row_q8_0_ref: d = amax/127, q = roundf(x/d); quantize_row_q4_0_ref: d = max/−8 with max the signed
// value of largest magnitude, q = min(15, (int8)(x/d + 8.5))), all in float, d stored as f16 (nearest even).
#pragma once
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum zj_wformat { ZJ_W_F32 = 0, ZJ_W_BF16 = 1, ZJ_W_Q8_0 = 2, ZJ_W_Q4_0 = 3, ZJ_W_Q8_0_P16 = 4, ZJ_W_Q4_0_P16 = 5 };

// ---- GEMM (gemm.cc + isa files) -------------------------------------------------------------
// out[b] = alpha * op(A[b]) @ op(B[b]) + beta * out[b]   for b in [0, batch)
// op(A) is M×K: A is stored row-major M×K, or K×M when transA. op(B) is K×N: stored K×N, or N×K when transB.
// aStride / bStride are element offsets between batches (0 broadcasts one matrix); out batches are M*N apart.
// a_bf16: A's storage is bf16 (uint16_t) rather than f32. b_format: B's zj_wformat (0 = f32 and 1 = bf16, as the
// old b_bf16 flag); a quantized B is one 2-D weight (bStride 0), dequantized to f32 block by block while packing.
// bf16_compute: operands are rounded to bf16 (round-to-nearest-even) and multiplied with f32 accumulation.
void zj_gemm(int64_t batch, int64_t M, int64_t N, int64_t K,
             const void* A, int a_bf16, int transA, int64_t aStride,
             const void* B, int b_format, int transB, int64_t bStride,
             float* out, float alpha, float beta, int bf16_compute);

// ---- matrix-vector for decoding (matvec.cc, quant.cc) ------------------------------------------------------
// out[m, n] = Σ_k x[m, k] · W[n, k]: x (M, K) f32, W (N, K) in zj_wformat w_format, out (M, N). Meant for the few
// rows of token-by-token decoding (M small): each weight row is read once for all M rows; no packing.
// For q8_0 / q4_0, each row of x is first quantized per block of 32: dx = amax/127 (kept in f32), qx = int8 of
// x·(1/dx) rounded half to even; then out[m, n] = Σ_b f32(dw_b · dx_b) · Σ_j qw[j] · qx[j] (exact int32 sums).
// panel_scales (q8_0 / q4_0 only; may be null): W's table from zj_quant_panel_scales, which the AVX-512 panel kernel
// reads instead of regrouping each 16 rows' block scales on every call. The result is the same with or without it.
void zj_matvec(int64_t M, int64_t N, int64_t K, const float* x, const void* W, int w_format, float* out,
               const uint16_t* panel_scales);
// 1 when zj_matvec of this shape and format, on this machine, reads a panel_scales table it is given; else 0.
int zj_matvec_reads_panel_scales(int64_t M, int64_t N, int64_t K, int w_format);
// A q8_0 / q4_0 weight's block scales (f16 bits) regrouped by panels of 16 rows: out[((n / 16) · K/32 + b) · 16 +
// n % 16] = row n's block b scale, rows past N zero (ceil(N/16) · 16 · K/32 values).
void zj_quant_panel_scales(const uint8_t* W, int w_format, int64_t N, int64_t K, uint16_t* out);
// 1 when zj_matvec on this machine reads the panel layout of w_format (ZJ_W_Q8_0 or ZJ_W_Q4_0) with its panel
// kernel (AVX-512 VNNI; not under ZJ_QUANT_PANEL=0 or ZJ_QUANT_INTERLEAVE=0); elsewhere it refuses that layout.
int zj_quant_panels_supported(int w_format);
// (N, K) weight in the row layout of format (ZJ_W_Q8_0 / ZJ_W_Q4_0) → the same bytes in its panel layout, and back
// (N a multiple of 16; out the same size as W: W itself (in place), or not overlapping it).
void zj_quant_to_panels(const uint8_t* W, int format, int64_t N, int64_t K, uint8_t* out);
void zj_quant_from_panels(const uint8_t* W, int format, int64_t N, int64_t K, uint8_t* out);

// ---- weight formats (quant.cc, quant_q8_0.cc, quant_q4_0.cc) ----------------------------------------------
// x (N, K), f32 or bf16 bits (x_bf16), → N · K/32 blocks of format (ZJ_W_Q8_0 or ZJ_W_Q4_0), byte-exact with
// llama.cpp's reference quantizers. (Where 1/d overflows, d below ~2^-127, or x is NaN, q is 0 (q4_0: 8).)
void zj_quantize_rows(const void* x, int x_bf16, int64_t N, int64_t K, int format, uint8_t* out);
// the inverse: N · K/32 blocks → out (N, K) f32 (each value d · q, exact in f32)
void zj_dequantize_rows(const uint8_t* w, int format, int64_t N, int64_t K, float* out);

// ---- elementwise (elementwise.cc) -----------------------------------------------------------
enum zj_binary_op { ZJ_ADD = 0, ZJ_SUB = 1, ZJ_MUL = 2, ZJ_DIV = 3, ZJ_MAX = 4, ZJ_MIN = 5,
                    ZJ_GT = 6, ZJ_LT = 7, ZJ_GE = 8, ZJ_LE = 9, ZJ_EQ = 10 };
// out (contiguous, `rank` dims of `shape`) = a op b, reading a and b through element strides (0 = broadcast).
void zj_binary(int op, const float* a, const float* b, float* out, int rank, const int64_t* shape,
               const int64_t* aStrides, const int64_t* bStrides);

enum zj_unary_op { ZJ_NEG = 0, ZJ_EXP = 1, ZJ_LOG = 2, ZJ_SQRT = 3, ZJ_RSQRT = 4, ZJ_SILU = 5, ZJ_SIGMOID = 6,
                   ZJ_LOGSIGMOID = 7, ZJ_TANH = 8, ZJ_ABS = 9, ZJ_RECIP = 10, ZJ_SQUARE = 11, ZJ_RELU = 12 };
void zj_unary(int op, const float* x, float* out, int64_t n);
// dx = dy * f'(x); y = f(x) is given too because some derivatives are cheaper from it (exp, sqrt, sigmoid).
void zj_unary_backward(int op, const float* x, const float* y, const float* dy, float* dx, int64_t n);
// out = alpha * x + beta   (alpha, beta arrive as float: a JS double is rounded once at this boundary)
void zj_affine(const float* x, float* out, int64_t n, float alpha, float beta);
// out = min(max(x, lo), hi)
void zj_clamp(const float* x, float* out, int64_t n, float lo, float hi);
// out = cond != 0 ? a : b   (same length)
void zj_where(const float* cond, const float* a, const float* b, float* out, int64_t n);
// SwiGLU: out = silu(a) * b; backward gives da, db.
void zj_swiglu_forward(const float* a, const float* b, float* out, int64_t n);
void zj_swiglu_backward(const float* a, const float* b, const float* dOut, float* da, float* db, int64_t n);

// ---- reductions and layout (layout.cc) -------------------------------------------------------------
// x viewed as (outer, n, inner): out[o, i] = sum_k x[o, k, i]
void zj_sum_axis(const float* x, float* out, int64_t outer, int64_t n, int64_t inner);
// sum of squares of x (double accumulation), for global-norm clipping
double zj_sum_squares(const float* x, int64_t n);
// dst[dstOffset + sum_i idx_i*dstStrides_i] (+)= src[srcOffset + sum_i idx_i*srcStrides_i] over `shape`
void zj_copy_strided(const float* src, int64_t srcOffset, const int64_t* srcStrides,
                     float* dst, int64_t dstOffset, const int64_t* dstStrides,
                     int rank, const int64_t* shape, int accumulate);
void zj_cast_f32_bf16(const float* x, uint16_t* out, int64_t n);   // round to nearest even; NaN stays NaN
void zj_cast_bf16_f32(const uint16_t* x, float* out, int64_t n);

// ---- softmax family over the last axis (softmax.cc) ------------------------------------------
void zj_softmax_forward(const float* x, float* out, int64_t rows, int64_t cols);
void zj_softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols);
void zj_log_softmax_forward(const float* x, float* out, int64_t rows, int64_t cols);
void zj_log_softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols);

// ---- normalisation, rotary, SwiGLU MLP pieces (norm.cc, rope.cc) -----------------------------
// RMSNorm (Zhang & Sennrich 2019): out = x * rstd * w, rstd = 1/sqrt(mean(x^2) + eps), per row of C.
void zj_rmsnorm_forward(const float* x, const float* w, float* out, float* rstd, int64_t rows, int64_t C, float eps);
// dw is overwritten with the sum over rows.
void zj_rmsnorm_backward(const float* x, const float* w, const float* rstd, const float* dOut,
                         float* dx, float* dw, int64_t rows, int64_t C);
// RoPE in the HF LLaMA rotate_half convention: x is (N, H, D) with N = B*T rows and positions[N]; D is even.
// For i < D/2, f_i = theta^(-2i/D), a = pos * f_i:
//   out[i] = x[i]*cos a - x[i+D/2]*sin a ;  out[i+D/2] = x[i+D/2]*cos a + x[i]*sin a
// inverse != 0 rotates by -a (this is the backward pass). inv_freq (D/2 values) replaces theta^(-2i/D) when
// non-NULL: scaled RoPE variants (llama3, linear, dynamic NTK) are all a rewrite of these frequencies.
void zj_rope(const float* x, float* out, const int32_t* positions, int64_t N, int64_t H, int64_t D,
             float theta, int inverse, const double* inv_freq);

// ---- attention (attention.cc) ----------------------------------------------------------------
// q (B, T, H, D), k/v (B, S, Hkv, D), out (B, T, H, D), lse (B, H, T). H % Hkv == 0 (GQA).
// Query t sits at absolute position (S - T) + t; with causal != 0 it sees keys s <= S - T + t.
// keyMask (B, S): nonzero keeps the key, 0 drops it (padding); may be NULL.
// A query that sees no key gets out = 0 and lse = -inf. Never materialises (T, S) per head beyond a tile.
void zj_attention_forward(const float* q, const float* k, const float* v, float* out, float* lse,
                          int64_t B, int64_t T, int64_t S, int64_t H, int64_t Hkv, int64_t D,
                          float scale, int causal, const int32_t* keyMask);
// The same forward with the keys held transposed, as a decoding KV cache keeps them: kt (B, Hkv, D, ldk), key s of
// (b, kv head) at kt[((b * Hkv + kh) * D + d) * ldk + s]; ldk a multiple of 16, >= S (the columns from S on are
// never used). v stays (B, S, Hkv, D). Saves the per-call transpose of every cached key.
void zj_attention_forward_kt(const float* q, const float* kt, int64_t ldk, const float* v, float* out, float* lse,
                             int64_t B, int64_t T, int64_t S, int64_t H, int64_t Hkv, int64_t D,
                             float scale, int causal, const int32_t* keyMask);
// The same over a bf16 cache: kt as above and v (B, S, Hkv, D), both bf16 bits (the upper half of an f32).
void zj_attention_forward_kt_bf16(const float* q, const uint16_t* kt, int64_t ldk, const uint16_t* v, float* out,
                                  float* lse, int64_t B, int64_t T, int64_t S, int64_t H, int64_t Hkv, int64_t D,
                                  float scale, int causal, const int32_t* keyMask);
// dq (B, T, H, D), dk/dv (B, S, Hkv, D) are overwritten.
void zj_attention_backward(const float* q, const float* k, const float* v, const float* out, const float* lse,
                           const float* dOut, float* dq, float* dk, float* dv,
                           int64_t B, int64_t T, int64_t S, int64_t H, int64_t Hkv, int64_t D,
                           float scale, int causal, const int32_t* keyMask);

// ---- losses and gathers (loss.cc, embedding.cc) ----------------------------------------------
// Per row of logits (N, V): loss[n] = lse[n] - logits[n, target[n]], 0 where target == ignoreIndex.
void zj_cross_entropy_forward(const float* logits, const int32_t* targets, float* loss, float* lse,
                              int64_t N, int64_t V, int32_t ignoreIndex);
// dLogits[n, :] = dLoss[n] * (softmax(logits[n]) - onehot(target[n])), 0 rows where ignored.
void zj_cross_entropy_backward(const float* logits, const int32_t* targets, const float* lse, const float* dLoss,
                               float* dLogits, int64_t N, int64_t V, int32_t ignoreIndex);
// out[n] = logits[n, ids[n]] - logsumexp(logits[n]) ; lse saved.
void zj_gather_logprobs_forward(const float* logits, const int32_t* ids, float* out, float* lse, int64_t N, int64_t V);
void zj_gather_logprobs_backward(const float* logits, const int32_t* ids, const float* lse, const float* dOut,
                                 float* dLogits, int64_t N, int64_t V);
// out[n] = the first j of the largest logits[n, j] (NaN never chosen; 0 when logits[n, 0] is NaN): greedy decoding
// (argmax.cc). V >= 1.
void zj_argmax_rows(const float* logits, int32_t* out, int64_t N, int64_t V);
// out[n, :] = weight[ids[n], :] as f32 (weight (V, C) in zj_wformat w_format)
// backward: dWeight[ids[n], :] += dOut[n, :] (f32 dWeight, not cleared)
void zj_embedding_forward(const void* weight, int w_format, const int32_t* ids, float* out, int64_t N, int64_t C,
                          int64_t V);
void zj_embedding_backward(const int32_t* ids, const float* dOut, float* dWeight, int64_t N, int64_t C, int64_t V);

// ---- optimiser (adamw.cc) -------------------------------------------------------------------
// Decoupled weight decay (Loshchilov & Hutter 2019) with bias correction at 1-based `step`:
// p -= lr * (wd * p + mhat / (sqrt(vhat) + eps)) where m,v are updated first from g.
// g is multiplied by gradScale first (global-norm clipping folded in).
void zj_adamw(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
              float eps, float weightDecay, int64_t step, float gradScale);

// ---- random initialisation (random.cc) --------------------------------------------------------
// out[j] = normal(0, stdev) value number start + j of stream `key` (counter-based: independent of threading);
// the steps are spelled out in src/backend/reference/random.ts. start + n <= 2^52.
void zj_fill_normal(float* out, int64_t n, uint32_t key, int64_t start, double stdev);

#ifdef __cplusplus
}
#endif
