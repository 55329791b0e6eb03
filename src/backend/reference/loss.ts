// loss.ts — reference cross-entropy with ignore index, per-token log-prob gather, the greedy argmax of each row,
// embedding gather/scatter.
import type { BF16, F32, I32, StorageFormat, U8, Weight, WeightFormat } from '../kernels.js';
import { isQuantized } from '../../tensor/dtype.js';
import { bf16BitsToF32 } from './bf16.js';
import { dequantizeAt, inRowLayout } from './quant.js';

function lseOfRow(x: F32, o: number, V: number): number {
  let m = -Infinity;
  for (let j = 0; j < V; j++) m = Math.max(m, x[o + j]!);
  if (m === -Infinity) return -Infinity; // a row of -inf: no mass anywhere (the native kernels agree)
  let s = 0;
  for (let j = 0; j < V; j++) s += Math.exp(x[o + j]! - m);
  return m + Math.log(s);
}

function checkId(id: number, V: number, where: string): void {
  if (!(id >= 0 && id < V)) throw new Error(`[${where}] id ${id} outside the vocabulary [0, ${V})`);
}

export function crossEntropyForward(logits: F32, targets: I32, loss: F32, lse: F32, N: number, V: number, ignoreIndex: number): void {
  for (let n = 0; n < N; n++) {
    const t = targets[n]!;
    if (t === ignoreIndex) { loss[n] = 0; lse[n] = 0; continue; }
    checkId(t, V, 'crossEntropy');
    const l = lseOfRow(logits, n * V, V);
    lse[n] = l;
    loss[n] = l - logits[n * V + t]!;
  }
}

export function crossEntropyBackward(logits: F32, targets: I32, lse: F32, dLoss: F32, dLogits: F32, N: number, V: number, ignoreIndex: number): void {
  for (let n = 0; n < N; n++) {
    const o = n * V, t = targets[n]!;
    if (t === ignoreIndex) { dLogits.fill(0, o, o + V); continue; }
    const g = dLoss[n]!, l = lse[n]!;
    for (let j = 0; j < V; j++) dLogits[o + j] = g * Math.exp(logits[o + j]! - l);
    dLogits[o + t] = dLogits[o + t]! - g;
  }
}

export function gatherLogProbsForward(logits: F32, ids: I32, out: F32, lse: F32, N: number, V: number): void {
  for (let n = 0; n < N; n++) {
    checkId(ids[n]!, V, 'gatherLogProbs');
    const l = lseOfRow(logits, n * V, V);
    lse[n] = l;
    out[n] = logits[n * V + ids[n]!]! - l;
  }
}

export function gatherLogProbsBackward(logits: F32, ids: I32, lse: F32, dOut: F32, dLogits: F32, N: number, V: number): void {
  for (let n = 0; n < N; n++) {
    checkId(ids[n]!, V, 'gatherLogProbsBackward');
    const o = n * V, g = dOut[n]!, l = lse[n]!;
    for (let j = 0; j < V; j++) dLogits[o + j] = -g * Math.exp(logits[o + j]! - l);
    dLogits[o + ids[n]!] = dLogits[o + ids[n]!]! + g;
  }
}

export function embeddingForward(weight: Weight, wFormatIn: StorageFormat, ids: I32, out: F32, N: number, C: number,
  V: number): void {
  let wFormat: WeightFormat;
  if (isQuantized(wFormatIn)) {
    const r = inRowLayout(weight as U8, wFormatIn, V, C);
    weight = r.w;
    wFormat = r.fmt;
  } else wFormat = wFormatIn;
  const at: (i: number) => number = wFormat === 'f32' ? (i) => (weight as F32)[i]!
    : wFormat === 'bf16' ? (i) => bf16BitsToF32((weight as BF16)[i]!)
    : (i) => dequantizeAt(weight as U8, wFormat, i);
  for (let n = 0; n < N; n++) {
    const id = ids[n]!;
    checkId(id, V, 'embedding');
    for (let c = 0; c < C; c++) out[n * C + c] = at(id * C + c);
  }
}

export function embeddingBackward(ids: I32, dOut: F32, dWeight: F32, N: number, C: number, V: number): void {
  for (let n = 0; n < N; n++) {
    const id = ids[n]!;
    checkId(id, V, 'embeddingBackward');
    for (let c = 0; c < C; c++) dWeight[id * C + c] = dWeight[id * C + c]! + dOut[n * C + c]!;
  }
}

export function argmaxRows(logits: F32, out: I32, N: number, V: number): void {
  if (N > 0 && V < 1) throw new Error('[argmaxRows] V must be at least 1');
  for (let n = 0; n < N; n++) {
    const o = n * V;
    let best = 0;
    for (let j = 1; j < V; j++) if (logits[o + j]! > logits[o + best]!) best = j;
    out[n] = best;
  }
}
