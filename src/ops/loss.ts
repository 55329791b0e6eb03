// loss.ts — fused cross-entropy with an ignore index, and per-token log-probabilities (PPO / DPO).
// Both keep only the logits and one logsumexp per row; the backward writes dlogits in one pass.
import { Tensor, shapeStr } from '../tensor/tensor.js';
import { backend } from '../backend/index.js';
import { record } from './record.js';

export const IGNORE_INDEX = -100;

function rowsOf(logits: Tensor, ids: Tensor, op: string): { N: number; V: number; idv: Int32Array } {
  if (logits.rank < 2) throw new Error(`[${op}] logits must be (..., V), got ${shapeStr(logits.shape)}`);
  const V = logits.shape[logits.rank - 1]!;
  const N = logits.size / V;
  const idv = ids.i32(op);
  if (idv.length !== N || ids.shape.join() !== logits.shape.slice(0, -1).join())
    throw new Error(`[${op}] targets ${shapeStr(ids.shape)} do not match logits ${shapeStr(logits.shape)}`);
  return { N, V, idv };
}

export interface CrossEntropyOptions {
  ignoreIndex?: number;
  /** 'mean' over non-ignored targets (default), 'sum', or 'none' (per row) */
  reduction?: 'mean' | 'sum' | 'none';
}

/** Cross-entropy of logits (..., V) against integer targets (...). */
export function crossEntropy(logits: Tensor, targets: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const ignore = opts.ignoreIndex ?? IGNORE_INDEX;
  const reduction = opts.reduction ?? 'mean';
  const { N, V, idv } = rowsOf(logits, targets, 'crossEntropy');
  const rowLoss = Tensor.empty(targets.shape, 'f32');
  const lse = Tensor.empty([N], 'f32');
  backend().crossEntropyForward(logits.f32('crossEntropy'), idv, rowLoss.f32(), lse.f32(), N, V, ignore);
  let count = 0;
  for (let i = 0; i < N; i++) if (idv[i] !== ignore) count++;
  let out: Tensor;
  let rowGrad: (g: Tensor) => Float32Array;
  if (reduction === 'none') {
    out = rowLoss;
    rowGrad = (g) => g.f32();
  } else {
    const total = sumOf(rowLoss.f32());
    const k = reduction === 'mean' ? 1 / Math.max(count, 1) : 1;
    out = Tensor.empty([], 'f32');
    out.f32()[0] = total * k;
    rowLoss.dispose();
    rowGrad = (g) => Tensor.empty([N], 'f32').f32().fill(g.f32()[0]! * k);
  }
  return record('crossEntropy', out, [logits], [lse, targets], (g) => {
    const d = Tensor.empty(logits.shape, 'f32');
    backend().crossEntropyBackward(logits.f32(), idv, lse.f32(), rowGrad(g), d.f32(), N, V, ignore);
    return [d];
  });
}

function sumOf(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]!;
  return s;
}

/** log softmax(logits)[id] for every row: (..., V) with ids (...) → (...). */
export function gatherLogProbs(logits: Tensor, ids: Tensor): Tensor {
  const { N, V, idv } = rowsOf(logits, ids, 'gatherLogProbs');
  const out = Tensor.empty(ids.shape, 'f32');
  const lse = Tensor.empty([N], 'f32');
  backend().gatherLogProbsForward(logits.f32('gatherLogProbs'), idv, out.f32(), lse.f32(), N, V);
  return record('gatherLogProbs', out, [logits], [lse, ids], (g) => {
    const d = Tensor.empty(logits.shape, 'f32');
    backend().gatherLogProbsBackward(logits.f32(), idv, lse.f32(), g.f32(), d.f32(), N, V);
    return [d];
  });
}
