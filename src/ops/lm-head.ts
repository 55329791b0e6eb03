// lm-head.ts — the LM head fused with its loss: cross-entropy, per-token log-probs and entropy of h Wᵀ computed
// a chunk of rows at a time, so the (N, V) logits and their gradient never exist whole (at a 152k vocabulary they
// are most of a step's memory). The backward recomputes each chunk's logits and accumulates dHidden (and dW when
// W trains) chunk by chunk; cross-entropy over a frozen W computes dHidden in the forward instead (no recompute). W is [V, C] in any WeightFormat (a tied head passes the embedding matrix; a bf16 or
// q8_0 / q4_0 one is frozen and read through the GEMM's dequantizing packer).
// The unchunked ops (matmul + loss.ts) remain the specification; test/ops/lm-head.test.ts holds them to it.
import { Tensor, shapeStr } from '../tensor/tensor.js';
import { backend } from '../backend/index.js';
import { getMatmulPrecision } from './matmul.js';
import { IGNORE_INDEX } from './loss.js';
import { needsGrad, record } from './record.js';
import { assertFrozen } from './quant.js';
import { isQuantized, type WeightFormat } from '../tensor/dtype.js';

/** logits elements per chunk (32 MiB of f32) where a chunk needs two buffers (logits and their gradient) */
const CHUNK_ELEMENTS = 1 << 23;
/**
 * The fused frozen-W path needs one buffer (dLogits overwrite the logits in place), so its chunks are larger
 * (256 MiB): the GEMMs against the whole [V, C] head repack W for every chunk, and at 55 rows that packing was
 * about a third of the head's time (bench train --profile); 441 rows at V = 151,936.
 */
const FUSED_CHUNK_ELEMENTS = 1 << 26;
/** an ignore index no token id can equal (log-probs ignore nothing) */
const NO_IGNORE = -2147483648;

export interface LmHeadOptions {
  /** rows of logits per chunk (default: about 32 MiB of logits) */
  chunkRows?: number;
}

type F = Float32Array;

// Rows per chunk: at most the budget, split evenly (512 rows in 55s left a 17-row chunk that packs all of W for
// little work). Each logit is computed the same way whatever the chunk's row count, so results do not change.
function rowsPerChunk(V: number, N: number, opts: LmHeadOptions, elements = CHUNK_ELEMENTS): number {
  const r = opts.chunkRows ?? Math.max(1, Math.floor(elements / V));
  if (!Number.isInteger(r) || r < 1) throw new Error(`[lmHead] chunkRows must be a positive integer, got ${r}`);
  if (opts.chunkRows !== undefined || N <= 0) return Math.min(r, Math.max(N, 1));
  return Math.ceil(N / Math.ceil(N / r));
}

function check(h: Tensor, W: Tensor, ids: Tensor, op: string): { N: number; C: number; V: number } {
  if (W.rank !== 2) throw new Error(`[${op}] head weight must be [V, C], got ${shapeStr(W.shape)}`);
  if (W.dtype === 'i32') throw new Error(`[${op}] head weight ${shapeStr(W.shape)} is i32, not a weight format`);
  if (isQuantized(W.dtype)) assertFrozen(W, op);
  const [V, C] = W.shape as [number, number];
  if (h.rank < 2 || h.shape[h.rank - 1] !== C) throw new Error(`[${op}] hidden ${shapeStr(h.shape)} does not end in C = ${C}`);
  const N = h.size / C;
  if (ids.shape.join() !== h.shape.slice(0, -1).join()) throw new Error(`[${op}] ids ${shapeStr(ids.shape)} do not match hidden ${shapeStr(h.shape)}`);
  ids.i32(op);
  return { N, C, V };
}

// logits of rows [r0, r0 + n) into buf (n × V)
function chunkLogits(h: F, W: Tensor, r0: number, n: number, C: number, V: number, buf: F): void {
  const bf16 = getMatmulPrecision() === 'bf16';
  backend().gemm(1, n, V, C, h.subarray(r0 * C, (r0 + n) * C), false, 0, W.data as F, true, 0, buf, 1, 0, bf16, W.dtype as WeightFormat);
}

function chunkBuffer(n: number, V: number): Tensor {
  return Tensor.empty([n, V], 'f32');
}

/**
 * Per-row negative log-likelihood −log softmax(h Wᵀ)[id] (0 where id = ignoreIndex), shaped like ids; with
 * `entropy`, also each row's entropy H = lse − Σ p·z (no gradient: a metric and a bonus PPO adds without
 * differentiating through it here).
 */
function rowNll(h: Tensor, W: Tensor, ids: Tensor, ignore: number, opts: LmHeadOptions, withEntropy: boolean, op: string, fuse: boolean):
  { nll: Tensor; entropy: Tensor | null } {
  const { N, C, V } = check(h, W, ids, op);
  const fused = fuse && needsGrad(h) && !W.requiresGrad;
  const rows = rowsPerChunk(V, N, opts, fused ? FUSED_CHUNK_ELEMENTS : CHUNK_ELEMENTS);
  const idv = ids.data as Int32Array, hd = h.f32(op);
  const nll = Tensor.empty(ids.shape, 'f32');
  const lse = Tensor.empty([N], 'f32');
  const entropy = withEntropy ? Tensor.empty(ids.shape, 'f32') : null;
  // A frozen W (LoRA, a bf16 / quantized base) needs only dH, and dH of row r is g[r] · (softmax − onehot)_r · W:
  // linear in the row's incoming gradient. So the forward, which has each chunk's logits at hand, also computes the
  // unit-gradient dH (g = 1); the backward scales its rows, and the logits are never recomputed (one V × C GEMM per
  // row less). A trainable W needs its dW and keeps the recomputing backward below; so do the log-probs (RL and DPO
  // objectives), whose outcome tests were tuned on that backward's rounding (to be moved over with their re-tuning).
  const unitDh = fused ? Tensor.empty(h.shape, 'f32') : null;
  const logits = chunkBuffer(rows, V);
  const ones = fused ? new Float32Array(rows).fill(1) : null;
  const bf16 = getMatmulPrecision() === 'bf16';
  try {
    for (let r0 = 0; r0 < N; r0 += rows) {
      const n = Math.min(rows, N - r0);
      const lg = logits.f32().subarray(0, n * V);
      chunkLogits(hd, W, r0, n, C, V, lg);
      backend().crossEntropyForward(lg, idv.subarray(r0, r0 + n), nll.f32().subarray(r0, r0 + n), lse.f32().subarray(r0, r0 + n), n, V, ignore);
      if (entropy) rowEntropy(lg, n, V, entropy.f32().subarray(r0, r0 + n));
      if (unitDh) {
        // dLogits over the logits, in place: the kernel reads each element before writing it (one buffer per chunk)
        backend().crossEntropyBackward(lg, idv.subarray(r0, r0 + n), lse.f32().subarray(r0, r0 + n), ones!.subarray(0, n), lg, n, V, ignore);
        backend().gemm(1, n, C, V, lg, false, 0, W.data as F, false, 0, unitDh.f32().subarray(r0 * C, (r0 + n) * C), 1, 0, bf16, W.dtype as WeightFormat);
      }
    }
  } finally {
    logits.dispose();
  }
  if (unitDh) {
    record(op, nll, [h, W], [unitDh], (g) => {
      const dh = Tensor.empty(h.shape, 'f32');
      const u = unitDh.f32(), gd = g.f32(), o = dh.f32();
      for (let r = 0; r < N; r++) {
        const k = gd[r]!, base = r * C;
        for (let c = 0; c < C; c++) o[base + c] = k * u[base + c]!;
      }
      return [dh, null];
    });
    return { nll, entropy };
  }
  record(op, nll, [h, W], [lse, ids], (g) => {
    const dh = Tensor.empty(h.shape, 'f32');
    const dW = W.requiresGrad ? Tensor.empty(W.shape, 'f32') : null;
    const bf16 = getMatmulPrecision() === 'bf16';
    const lg = chunkBuffer(rows, V), dl = chunkBuffer(rows, V);
    try {
      for (let r0 = 0; r0 < N; r0 += rows) {
        const n = Math.min(rows, N - r0);
        const lgc = lg.f32().subarray(0, n * V), dlc = dl.f32().subarray(0, n * V);
        chunkLogits(hd, W, r0, n, C, V, lgc);
        backend().crossEntropyBackward(lgc, idv.subarray(r0, r0 + n), lse.f32().subarray(r0, r0 + n),
          g.f32().subarray(r0, r0 + n), dlc, n, V, ignore);
        // dH (n × C) = dLogits (n × V) · W (V × C)
        backend().gemm(1, n, C, V, dlc, false, 0, W.data as F, false, 0, dh.f32().subarray(r0 * C, (r0 + n) * C), 1, 0, bf16, W.dtype as WeightFormat);
        // dW (V × C) += dLogitsᵀ (V × n) · h (n × C)
        if (dW) backend().gemm(1, V, C, n, dlc, true, 0, hd.subarray(r0 * C, (r0 + n) * C), false, 0, dW.f32(), 1, r0 ? 1 : 0, bf16);
      }
    } finally {
      lg.dispose();
      dl.dispose();
    }
    return [h.requiresGrad ? dh : (dh.dispose(), null), dW];
  });
  return { nll, entropy };
}

// H = lse − Σ softmax(z)·z, in double precision per row
function rowEntropy(z: F, n: number, V: number, out: F): void {
  for (let r = 0; r < n; r++) {
    const o = r * V;
    let m = -Infinity;
    for (let j = 0; j < V; j++) if (z[o + j]! > m) m = z[o + j]!;
    let s = 0, sz = 0;
    for (let j = 0; j < V; j++) {
      const e = Math.exp(z[o + j]! - m);
      s += e;
      sz += e * z[o + j]!;
    }
    out[r] = m + Math.log(s) - sz / s;
  }
}

export interface LmHeadLossOptions extends LmHeadOptions {
  ignoreIndex?: number;
  /** 'mean' over non-ignored targets (default), 'sum', or 'none' (per row) */
  reduction?: 'mean' | 'sum' | 'none';
}

/** crossEntropy(h Wᵀ, targets) without materialising the logits: h (..., C), W [V, C], targets (...). */
export function lmHeadCrossEntropy(h: Tensor, W: Tensor, targets: Tensor, opts: LmHeadLossOptions = {}): Tensor {
  const ignore = opts.ignoreIndex ?? IGNORE_INDEX;
  const { nll } = rowNll(h, W, targets, ignore, opts, false, 'lmHeadCrossEntropy', true);
  const reduction = opts.reduction ?? 'mean';
  if (reduction === 'none') return nll;
  const idv = targets.data as Int32Array;
  let count = 0;
  for (let i = 0; i < idv.length; i++) if (idv[i] !== ignore) count++;
  const k = reduction === 'mean' ? 1 / Math.max(count, 1) : 1;
  const out = Tensor.empty([], 'f32');
  const nd = nll.f32();
  let total = 0;
  for (let i = 0; i < nd.length; i++) total += nd[i]!;
  out.f32()[0] = total * k;
  return record('lmHeadReduce', out, [nll], [], (g) => {
    const d = Tensor.empty(nll.shape, 'f32');
    d.f32().fill(g.f32()[0]! * k);
    return [d];
  });
}

/**
 * log softmax(h Wᵀ)[id] for every row, and with `entropy: true` each row's entropy (no gradient), without
 * materialising the logits. h (..., C), W [V, C], ids (...) → (...).
 */
export function lmHeadLogProbs(h: Tensor, W: Tensor, ids: Tensor, opts: LmHeadOptions & { entropy?: boolean } = {}):
  { logProbs: Tensor; entropy: Tensor | null } {
  const { nll, entropy } = rowNll(h, W, ids, NO_IGNORE, opts, !!opts.entropy, 'lmHeadLogProbs', false);
  const logProbs = Tensor.empty(nll.shape, 'f32');
  const a = nll.f32(), b = logProbs.f32();
  for (let i = 0; i < a.length; i++) b[i] = -a[i]!;
  record('lmHeadNeg', logProbs, [nll], [], (g) => {
    const d = Tensor.empty(g.shape, 'f32');
    const gd = g.f32(), dd = d.f32();
    for (let i = 0; i < gd.length; i++) dd[i] = -gd[i]!;
    return [d];
  });
  if (!nll.requiresGrad) nll.dispose();
  return { logProbs, entropy };
}
