// softmax.ts — reference softmax / log-softmax over the last axis, float64 accumulation.
import type { F32 } from '../kernels.js';

function rowLse(x: F32, o: number, cols: number): number {
  let m = -Infinity;
  for (let j = 0; j < cols; j++) m = Math.max(m, x[o + j]!);
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (let j = 0; j < cols; j++) s += Math.exp(x[o + j]! - m);
  return m + Math.log(s);
}

export function softmaxForward(x: F32, out: F32, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols, lse = rowLse(x, o, cols);
    for (let j = 0; j < cols; j++) out[o + j] = lse === -Infinity ? 0 : Math.exp(x[o + j]! - lse);
  }
}

export function softmaxBackward(y: F32, dy: F32, dx: F32, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let dot = 0;
    for (let j = 0; j < cols; j++) dot += y[o + j]! * dy[o + j]!;
    for (let j = 0; j < cols; j++) dx[o + j] = y[o + j]! * (dy[o + j]! - dot);
  }
}

export function logSoftmaxForward(x: F32, out: F32, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols, lse = rowLse(x, o, cols);
    for (let j = 0; j < cols; j++) out[o + j] = x[o + j]! - lse;
  }
}

export function logSoftmaxBackward(y: F32, dy: F32, dx: F32, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let s = 0;
    for (let j = 0; j < cols; j++) s += dy[o + j]!;
    for (let j = 0; j < cols; j++) dx[o + j] = dy[o + j]! - Math.exp(y[o + j]!) * s;
  }
}
