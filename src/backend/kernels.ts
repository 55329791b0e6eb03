// kernels.ts — the Backend interface: one typed list of kernel signatures.
// Kernels are pure functions over flat typed arrays with explicit dimensions; they allocate nothing the
// caller sees and know nothing of tensors or autograd. Outputs are preallocated by the caller and
// overwritten (unless a kernel says it accumulates). Outputs must not partially overlap inputs (native
// kernels run in parallel); an output identical to an input is allowed for elementwise kernels and rope.
// The semantics of each kernel are documented in native/include/zj_kernels.h and defined by the reference
// backend (src/backend/reference).
//
// Dimension legend: B batch, T query length, S key length, C channels, V vocabulary, H query heads,
// Hkv key/value heads, D head dim, N rows (B*T), M/K generic GEMM dims.
//
// Weight formats (WeightFormat, src/tensor/dtype.ts): a weight buffer is f32, bf16 bits, or q8_0 / q4_0 blocks
// (bytes); kernels that take weights take the format beside the buffer, since a Uint8Array cannot tell.
import type { BlockDType, QuantDType, StorageFormat, WeightFormat } from '../tensor/dtype.js';
export type { BlockDType, QuantDType, StorageFormat, WeightFormat } from '../tensor/dtype.js';

export type F32 = Float32Array;
/** bf16 values stored as their upper 16 bits. */
export type BF16 = Uint16Array;
export type I32 = Int32Array;
/** bytes of q8_0 / q4_0 blocks */
export type U8 = Uint8Array;
/** IEEE half-precision bits */
export type F16 = Uint16Array;
/** a weight matrix in any WeightFormat */
export type Weight = F32 | BF16 | U8;

export const BinaryOp = { add: 0, sub: 1, mul: 2, div: 3, max: 4, min: 5, gt: 6, lt: 7, ge: 8, le: 9, eq: 10 } as const;
export type BinaryOpName = keyof typeof BinaryOp;

export const UnaryOp = {
  neg: 0, exp: 1, log: 2, sqrt: 3, rsqrt: 4, silu: 5, sigmoid: 6, logsigmoid: 7, tanh: 8, abs: 9, recip: 10,
  square: 11, relu: 12,
} as const;
export type UnaryOpName = keyof typeof UnaryOp;

export interface Kernels {
  /**
   * out[b] = alpha * op(A[b]) @ op(B[b]) + beta * out[b]; op(A) is M×K, op(B) is K×N (see zj_gemm).
   * bFormat names B's storage when it is quantized (q8_0 / q4_0: a 2-D weight, bStride 0, dequantized while
   * packing); f32 / bf16 are told apart by the array type, so existing callers may leave it out.
   */
  gemm(batch: number, M: number, N: number, K: number,
    a: F32 | BF16, transA: boolean, aStride: number,
    b: Weight, transB: boolean, bStride: number,
    out: F32, alpha: number, beta: number, bf16Compute: boolean, bFormat?: StorageFormat): void;

  /**
   * out[m, n] = Σ_k x[m, k] · w[n, k]: few rows of x against HF [out, in] weights (decoding), no packing.
   * For q8_0 / q4_0 weights the rows of x are first quantized to q8_0-style int8 blocks (see zj_matvec).
   * panelScales (q8_0 / q4_0 only): w's quantPanelScales table, read where matvecReadsPanelScales says so; the result
   * is the same with or without it.
   */
  matvec(M: number, N: number, K: number, x: F32, w: Weight, wFormat: StorageFormat, out: F32, panelScales?: F16 | null): void;
  /**
   * Whether matvec reads fmt's panel layout (q8_0x16 / q4_0x16) with a kernel made for it: the native AVX-512 VNNI
   * panel kernel. Elsewhere the layout is only for tests (the reference) or refused (other native ISAs).
   */
  quantPanelsSupported(fmt: QuantDType): boolean;
  /** w (N, K) of fmt in the row layout → out in its panel layout (N a multiple of 16; same byte count), and back; out may be w (in place). */
  quantToPanels(w: U8, fmt: QuantDType, N: number, K: number, out: U8): void;
  quantFromPanels(w: U8, fmt: QuantDType, N: number, K: number, out: U8): void;
  /** Whether matvec of this shape reads a panelScales table it is given (a layout of the native panel kernel). */
  matvecReadsPanelScales(M: number, N: number, K: number, fmt: QuantDType): boolean;
  /**
   * w's block scales (f16 bits) regrouped by panels of 16 rows: out[(⌊n/16⌋·K/32 + b)·16 + n mod 16] = row n's
   * block b scale, rows past N zero; out holds exactly panelScalesLength(N, K) values.
   */
  quantPanelScales(w: U8, fmt: QuantDType, N: number, K: number, out: F16): void;

  /** N rows of K values (f32 or bf16) → N · K/32 blocks of fmt, llama.cpp's reference quantizer rules. */
  quantizeRows(x: F32 | BF16, N: number, K: number, fmt: QuantDType, out: U8): void;
  /** N · K/32 blocks of fmt → N rows of K f32 values. */
  dequantizeRows(w: U8, fmt: BlockDType, N: number, K: number, out: F32): void;

  /** out (contiguous over shape) = a op b read through element strides (0 broadcasts). */
  binary(op: number, a: F32, b: F32, out: F32, shape: readonly number[], aStrides: readonly number[], bStrides: readonly number[]): void;
  unary(op: number, x: F32, out: F32): void;
  /** dx = dy * f'(x), with y = f(x) also given. */
  unaryBackward(op: number, x: F32, y: F32, dy: F32, dx: F32): void;
  /** out = alpha * x + beta */
  affine(x: F32, out: F32, alpha: number, beta: number): void;
  clamp(x: F32, out: F32, lo: number, hi: number): void;
  where(cond: F32, a: F32, b: F32, out: F32): void;
  swigluForward(a: F32, b: F32, out: F32): void;
  swigluBackward(a: F32, b: F32, dOut: F32, da: F32, db: F32): void;

  /** x as (outer, n, inner): out[o, i] = sum_k x[o, k, i] */
  sumAxis(x: F32, out: F32, outer: number, n: number, inner: number): void;
  sumSquares(x: F32): number;
  /** dst[dstOffset + idx·dstStrides] (+)= src[srcOffset + idx·srcStrides] for every idx in shape. */
  copyStrided(src: F32, srcOffset: number, srcStrides: readonly number[], dst: F32, dstOffset: number,
    dstStrides: readonly number[], shape: readonly number[], accumulate: boolean): void;
  castF32ToBf16(x: F32, out: BF16): void;
  castBf16ToF32(x: BF16, out: F32): void;

  softmaxForward(x: F32, out: F32, rows: number, cols: number): void;
  softmaxBackward(y: F32, dy: F32, dx: F32, rows: number, cols: number): void;
  logSoftmaxForward(x: F32, out: F32, rows: number, cols: number): void;
  logSoftmaxBackward(y: F32, dy: F32, dx: F32, rows: number, cols: number): void;

  rmsNormForward(x: F32, w: F32, out: F32, rstd: F32, rows: number, C: number, eps: number): void;
  /** dw is overwritten with the sum over rows. */
  rmsNormBackward(x: F32, w: F32, rstd: F32, dOut: F32, dx: F32, dw: F32, rows: number, C: number): void;
  /**
   * HF rotate_half RoPE over x (N, H, D) at positions[N]; inverse rotates by -angle (the backward). The D/2
   * inverse frequencies are theta^(-2i/D), or invFreq[i] when given (scaled RoPE: llama3, linear, dynamic).
   */
  rope(x: F32, out: F32, positions: I32, N: number, H: number, D: number, theta: number, inverse: boolean,
    invFreq?: Float64Array | null): void;

  /** q (B,T,H,D), k/v (B,S,Hkv,D) → out (B,T,H,D), lse (B,H,T). Query t is at position S-T+t. */
  attentionForward(q: F32, k: F32, v: F32, out: F32, lse: F32, B: number, T: number, S: number, H: number,
    Hkv: number, D: number, scale: number, causal: boolean, keyMask: I32 | null): void;
  /**
   * attentionForward with the keys held transposed, as the decoding KV cache keeps them: kt (B, Hkv, D, ldk), key s
   * of (b, kv head) at kt[((b·Hkv + kh)·D + d)·ldk + s], ldk a multiple of 16 and ≥ S (columns from S on unused);
   * v stays (B, S, Hkv, D). The native kernel then reads the keys in place instead of transposing them every call.
   * kt and v may both be bf16 bits instead (a bf16 KV cache: half the bytes read per decode step), widened to f32
   * as they are read; the arithmetic is f32 either way.
   */
  attentionForwardKt(q: F32, kt: F32 | BF16, ldk: number, v: F32 | BF16, out: F32, lse: F32, B: number, T: number, S: number,
    H: number, Hkv: number, D: number, scale: number, causal: boolean, keyMask: I32 | null): void;
  attentionBackward(q: F32, k: F32, v: F32, out: F32, lse: F32, dOut: F32, dq: F32, dk: F32, dv: F32,
    B: number, T: number, S: number, H: number, Hkv: number, D: number, scale: number, causal: boolean,
    keyMask: I32 | null): void;

  crossEntropyForward(logits: F32, targets: I32, loss: F32, lse: F32, N: number, V: number, ignoreIndex: number): void;
  /** dLogits may be logits itself (overwritten in place: each element is read before it is written) */
  crossEntropyBackward(logits: F32, targets: I32, lse: F32, dLoss: F32, dLogits: F32, N: number, V: number, ignoreIndex: number): void;
  gatherLogProbsForward(logits: F32, ids: I32, out: F32, lse: F32, N: number, V: number): void;
  gatherLogProbsBackward(logits: F32, ids: I32, lse: F32, dOut: F32, dLogits: F32, N: number, V: number): void;
  /**
   * out[n] = the first j of the largest logits[n, j] (greedy decoding; no sort): the rule "start at 0, move on a
   * strictly greater value", so NaN is never chosen and a row starting with NaN gives 0. V >= 1.
   */
  argmaxRows(logits: F32, out: I32, N: number, V: number): void;
  /** out[n] = row ids[n] of weight (V, C) in any format, as f32. */
  embeddingForward(weight: Weight, wFormat: StorageFormat, ids: I32, out: F32, N: number, C: number, V: number): void;
  /** dWeight[ids[n]] += dOut[n]; dWeight is not cleared. */
  embeddingBackward(ids: I32, dOut: F32, dWeight: F32, N: number, C: number, V: number): void;

  /** In-place AdamW with decoupled weight decay and bias correction at 1-based step; g scaled by gradScale first. */
  adamw(p: F32, g: F32, m: F32, v: F32, lr: number, beta1: number, beta2: number, eps: number,
    weightDecay: number, step: number, gradScale: number): void;

  /** out[j] = normal(0, std) value number start + j of the counter-based stream `key` (random init). */
  fillNormal(out: F32, key: number, start: number, std: number): void;
}

export type KernelName = Exclude<keyof Kernels, never>;

export interface BackendInfo {
  name: 'reference' | 'native';
  isa: string;
  threads: number;
  /** kernels that fall back to the reference implementation on this backend */
  fallbacks: string[];
}

export interface Backend extends Kernels {
  info(): BackendInfo;
}
