// matmul.ts — matrix products through the GEMM kernel: 2-D, batched with broadcast of a 2-D operand,
// either operand transposed, and an optional bf16 compute precision (operands rounded to bf16,
// f32 accumulation) for mixed-precision training with f32 master weights. The second operand may be a weight in
// any WeightFormat (f32, bf16, q8_0, q4_0): one dispatch here, so model code never branches on the format.
import { Tensor, shapeStr } from '../tensor/tensor.js';
import { isQuantized, type StorageFormat } from '../tensor/dtype.js';
import { backend } from '../backend/index.js';
import { needsGrad, record } from './record.js';
import { isGradEnabled } from '../autograd/grad-mode.js';
import { priorGradient } from '../autograd/prior-grad.js';
import { assertFrozen } from './quant.js';
import { panelScalesFor } from './panel-scales.js';

export type Precision = 'f32' | 'bf16';
/**
 * Up to this many rows of x, x · Wᵀ with an f32 / bf16 W goes to the matrix-vector kernel (the decode path) instead
 * of the GEMM, which would pack all of W for a tile that is mostly padding. A quantized W goes to the integer kernels
 * at any row count (x quantized per block of 32, as llama.cpp's prompt processing does): the native side reads each
 * weight block once per call and tiles W for L2 when x has many rows (native/src/quant.cc).
 */
const MATVEC_MAX_ROWS = 4;
/** While gradients are recorded, quantized products of more rows than this keep the GEMM (see matmul). */
const QUANT_MATVEC_MAX_ROWS = 16;
let defaultPrecision: Precision = 'f32';

/** The precision matmul uses when none is given (the mixed-precision switch of a training run). */
export function setMatmulPrecision(p: Precision): Precision {
  const prev = defaultPrecision;
  defaultPrecision = p;
  return prev;
}

export function getMatmulPrecision(): Precision {
  return defaultPrecision;
}

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  precision?: Precision;
}

function operand(t: Tensor): Float32Array | Uint16Array {
  if (t.dtype === 'i32') throw new Error(`[matmul] integer tensor ${shapeStr(t.shape)} cannot be multiplied`);
  if (isQuantized(t.dtype))
    throw new Error(`[matmul] a ${t.dtype} tensor ${shapeStr(t.shape)} can only be the second operand (a weight)`);
  return t.data as Float32Array | Uint16Array;
}

/** The second operand's buffer and format: any WeightFormat (or its panel layout); a quantized one must be a single 2-D weight. */
function weightOperand(t: Tensor): { data: Float32Array | Uint16Array | Uint8Array; fmt: StorageFormat } {
  if (!isQuantized(t.dtype)) return { data: operand(t), fmt: t.dtype === 'bf16' ? 'bf16' : 'f32' };
  if (t.rank !== 2) throw new Error(`[matmul] a ${t.dtype} operand must be a 2-D weight, got ${shapeStr(t.shape)}`);
  assertFrozen(t, 'matmul');
  return { data: t.data as Uint8Array, fmt: t.dtype };
}

/**
 * a (..., M, K) @ b (..., K, N) → (..., M, N), with transA / transB reading the last two axes swapped.
 * A 2-D operand broadcasts over the other's batch axes (weights); batch axes must otherwise match.
 */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const transA = !!opts.transA, transB = !!opts.transB;
  const precision = opts.precision ?? defaultPrecision;
  if (a.rank < 2 || b.rank < 2) throw new Error(`[matmul] operands must be at least 2-D: ${shapeStr(a.shape)} × ${shapeStr(b.shape)}`);
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  const M = transA ? ac : ar, K = transA ? ar : ac;
  const Kb = transB ? bc : br, N = transB ? br : bc;
  if (K !== Kb)
    throw new Error(`[matmul] inner dims differ: ${shapeStr(a.shape)}${transA ? 'ᵀ' : ''} × ${shapeStr(b.shape)}${transB ? 'ᵀ' : ''}`);
  const aBatch = a.shape.slice(0, -2), bBatch = b.shape.slice(0, -2);
  let batchShape: number[];
  if (aBatch.length && bBatch.length) {
    if (aBatch.join() !== bBatch.join())
      throw new Error(`[matmul] batch dims differ: ${shapeStr(a.shape)} × ${shapeStr(b.shape)}`);
    batchShape = aBatch;
  } else batchShape = aBatch.length ? aBatch : bBatch;
  const batch = batchShape.reduce((p, d) => p * d, 1);
  const out = Tensor.empty([...batchShape, M, N], 'f32');
  const av = operand(a), w = weightOperand(b), quant = isQuantized(w.fmt), rows = batch * M;
  // Quantized weights: the integer kernels quantize x to int8 blocks, whose gradient is not G·W, so a recorded
  // product (training through a frozen base) takes the GEMM, which dequantizes W and keeps x exact. While a graph is
  // being recorded at all, products of more than QUANT_MATVEC_MAX_ROWS unrecorded rows (layer 0 of a LoRA model
  // over frozen embeddings) keep the GEMM too, so that a training forward stays that of the dequantized weights;
  // without recording (generation, evaluation, serving) any row count takes the integer kernels.
  const matvec = !transA && transB && !bBatch.length && a.dtype === 'f32' && (quant
    ? !needsGrad(a) && (rows <= QUANT_MATVEC_MAX_ROWS || !isGradEnabled())
    : rows <= MATVEC_MAX_ROWS && precision === 'f32');
  if (matvec) {
    // decoding: a few rows against [out, in] weights — stream each weight row once instead of packing W
    backend().matvec(rows, N, K, av as Float32Array, w.data, w.fmt, out.f32(), quant ? panelScalesFor(b, rows) : null);
  } else if (!transA && aBatch.length && !bBatch.length) {
    // a shared B (weights): a's batch rows stack into one tall GEMM, which blocks better than many short ones
    backend().gemm(1, rows, N, K, av, false, 0, w.data, transB, 0, out.f32(), 1, 0, precision === 'bf16', w.fmt);
  } else {
    backend().gemm(batch, M, N, K, av, transA, aBatch.length ? M * K : 0, w.data, transB,
      bBatch.length ? K * N : 0, out.f32(), 1, 0, precision === 'bf16', w.fmt);
  }
  return recordMatmul(a, b, out, { transA, transB, precision });
}

/**
 * Record `out = a @ b` (as matmul computed it, with these options) without computing it: activation checkpointing
 * hands back a product kept from the forward, whose node is recorded again on the recomputed inputs.
 */
export function recordMatmul(a: Tensor, b: Tensor, out: Tensor, opts: MatmulOptions = {}): Tensor {
  const transA = !!opts.transA, transB = !!opts.transB;
  const precision = opts.precision ?? defaultPrecision;
  return record('matmul', out, [a, b], [], (g) => [
    a.requiresGrad ? gradA(g, a, b, transA, transB, precision) : null,
    b.requiresGrad ? gradB(g, a, b, transA, transB, precision) : null,
  ]);
}

// C = op(A) op(B).  dop(A) = G op(B)ᵀ ; dop(B) = op(A)ᵀ G.  When an operand was broadcast over the batch,
// its gradient is summed over the batch, which for 2-D weights is one GEMM over the flattened batch.
function gradA(g: Tensor, a: Tensor, b: Tensor, transA: boolean, transB: boolean, p: Precision): Tensor {
  const opts = { precision: p };
  // x Wᵀ with x's gradient already holding other consumers' parts (q / k / v, gate / up read one x): G W goes onto it
  // in the GEMM (beta = 1) instead of into a fresh buffer that backward adds in another pass (autograd/prior-grad.ts)
  const prior = !transA && transB && b.rank === 2 ? priorGradient(a) : undefined;
  if (prior) {
    const w = weightOperand(b), K = a.shape[a.rank - 1]!;
    backend().gemm(1, a.size / K, K, b.shape[0]!, g.f32(), false, 0, w.data, false, 0, prior.f32(), 1, 1, p === 'bf16', w.fmt);
    return prior;
  }
  if (a.rank === 2 && g.rank > 2) {
    // a is a shared 2-D matrix: fold the batch into the GEMM's rows by treating g and b as 2-D
    if (b.rank === 2) throw new Error('[matmul] internal: both operands 2-D with batched output');
    return foldedGrad(g, b, a.shape, transA, transB, 'A', p);
  }
  const d = transA ? matmul(b, g, { ...opts, transA: transB, transB: true }) : matmul(g, b, { ...opts, transB: !transB });
  return d;
}

function gradB(g: Tensor, a: Tensor, b: Tensor, transA: boolean, transB: boolean, p: Precision): Tensor {
  const opts = { precision: p };
  if (b.rank === 2 && g.rank > 2) return foldedGrad(g, a, b.shape, transA, transB, 'B', p);
  const d = transB ? matmul(g, a, { ...opts, transA: true, transB: transA }) : matmul(a, g, { ...opts, transA: !transA });
  return d;
}

// Gradient of a 2-D operand shared across the batch of the other operand.
// For the weight case (x (…, M, K) @ Wᵀ): the batch of x and g flattens into rows, one GEMM.
function foldedGrad(g: Tensor, other: Tensor, shape: readonly number[], transA: boolean, transB: boolean,
  which: 'A' | 'B', p: Precision): Tensor {
  const bf16 = p === 'bf16';
  const [M, N] = g.shape.slice(-2) as [number, number];
  const batch = g.size / (M * N);
  const out = Tensor.empty(shape, 'f32');
  const o = operand(other), gd = g.f32();
  if (which === 'B') {
    // other = A (batch, …): dop(B) = Σ_b op(A_b)ᵀ G_b. With A stored (batch·M, K) row-major and !transA,
    // this is one GEMM: Aflatᵀ (K × batch·M) @ Gflat (batch·M × N).
    const K = transA ? other.shape[other.rank - 2]! : other.shape[other.rank - 1]!;
    if (!transA) {
      if (transB) backend().gemm(1, N, K, batch * M, gd, true, 0, o, false, 0, out.f32(), 1, 0, bf16); // dB (N×K) = Gᵀ A
      else backend().gemm(1, K, N, batch * M, o, true, 0, gd, false, 0, out.f32(), 1, 0, bf16);        // dB (K×N) = Aᵀ G
      return out;
    }
    // transA with a batched A: accumulate per batch
    out.data.fill(0);
    for (let i = 0; i < batch; i++) {
      const ab = (o as Float32Array).subarray(i * M * K, (i + 1) * M * K), gb = gd.subarray(i * M * N, (i + 1) * M * N);
      if (transB) backend().gemm(1, N, K, M, gb, true, 0, ab, true, 0, out.f32(), 1, 1, bf16);
      else backend().gemm(1, K, N, M, ab, false, 0, gb, false, 0, out.f32(), 1, 1, bf16);
    }
    return out;
  }
  // which === 'A': dop(A) = Σ_b G_b op(B_b)ᵀ with A shared: accumulate per batch
  const K = transB ? other.shape[other.rank - 1]! : other.shape[other.rank - 2]!;
  out.data.fill(0);
  for (let i = 0; i < batch; i++) {
    const bb = (o as Float32Array).subarray(i * K * N, (i + 1) * K * N), gb = gd.subarray(i * M * N, (i + 1) * M * N);
    if (transA) backend().gemm(1, K, M, N, bb, transB, 0, gb, true, 0, out.f32(), 1, 1, bf16);     // dA (K×M) = op(B) Gᵀ
    else backend().gemm(1, M, K, N, gb, false, 0, bb, !transB, 0, out.f32(), 1, 1, bf16);            // dA (M×K) = G op(B)ᵀ
  }
  return out;
}
