// reduce.ts — sum and mean over an axis or everything, and the mean under a 0/1 mask.
import { Tensor, numel } from '../tensor/tensor.js';
import { backend } from '../backend/index.js';
import { record } from './record.js';
import { broadcastTo, reshape } from './shape.js';
import { mul } from './elementwise.js';

function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`[sum] axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Sum over one axis (keepDim keeps it as size 1), or over everything when axis is undefined. */
export function sum(x: Tensor, axis?: number, keepDim = false): Tensor {
  if (axis === undefined) {
    const out = Tensor.empty([], 'f32');
    backend().sumAxis(x.f32('sum'), out.f32(), 1, x.size, 1);
    return record('sum', out, [x], [], (g) => [broadcastTo(g, x.shape)]);
  }
  const a = normAxis(axis, x.rank);
  const outer = numel(x.shape.slice(0, a)), n = x.shape[a]!, inner = numel(x.shape.slice(a + 1));
  const keptShape = x.shape.map((d, i) => (i === a ? 1 : d));
  const outShape = keepDim ? keptShape : x.shape.filter((_, i) => i !== a);
  const out = Tensor.empty(outShape, 'f32');
  backend().sumAxis(x.f32('sum'), out.f32(), outer, n, inner);
  return record('sum', out, [x], [], (g) => [broadcastTo(reshape(g, keptShape), x.shape)]);
}

export function mean(x: Tensor, axis?: number, keepDim = false): Tensor {
  const n = axis === undefined ? x.size : x.shape[normAxis(axis, x.rank)]!;
  const s = sum(x, axis, keepDim);
  return scaleBy(s, 1 / n);
}

function scaleBy(x: Tensor, alpha: number): Tensor {
  const out = Tensor.empty(x.shape, 'f32');
  backend().affine(x.f32(), out.f32(), alpha, 0);
  return record('scale', out, [x], [], (g) => {
    const d = Tensor.empty(g.shape, 'f32');
    backend().affine(g.f32(), d.f32(), alpha, 0);
    return [d];
  });
}

/** sum(x * mask) / max(sum(mask), 1) — the mean over the positions a 0/1 mask selects. */
export function maskedMean(x: Tensor, mask: Tensor): Tensor {
  const count = Math.max(1, backend().sumSquares(mask.f32('maskedMean'))); // 0/1 mask: sum of squares = count
  return scaleBy(sum(mul(x, mask)), 1 / count);
}
