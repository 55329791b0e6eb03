// shape.ts — reshape, permute/transpose, slice, concat, broadcastTo and sumTo (the vjp of a broadcast).
// Tensors are contiguous, so permute and slice copy through the strided-copy kernel.
import { Tensor, numel, shapeStr, type Shape } from '../tensor/tensor.js';
import { backend } from '../backend/index.js';
import { record } from './record.js';
import { zeros } from './creation.js';

export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

function normAxis(axis: number, rank: number, op: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`[${op}] axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Same storage, new shape (one dimension may be -1). Shares the buffer; the gradient is reshaped back. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const s = [...shape];
  const neg = s.indexOf(-1);
  if (neg >= 0) {
    const rest = s.reduce((p, d, i) => (i === neg ? p : p * d), 1);
    s[neg] = rest === 0 ? 0 : x.size / rest;
  }
  if (numel(s) !== x.size) throw new Error(`[reshape] cannot view ${shapeStr(x.shape)} as ${shapeStr(shape)}`);
  const out = Tensor.viewOf(x, s);
  return record('reshape', out, [x], [], (g) => [reshape(g, x.shape)]);
}

export function permute(x: Tensor, perm: readonly number[]): Tensor {
  if (perm.length !== x.rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i))
    throw new Error(`[permute] ${JSON.stringify(perm)} is not a permutation of ${x.rank} axes`);
  const xs = stridesOf(x.shape);
  const outShape = perm.map((p) => x.shape[p]!);
  const out = Tensor.empty(outShape, 'f32');
  backend().copyStrided(x.f32('permute'), 0, perm.map((p) => xs[p]!), out.f32(), 0, stridesOf(outShape), outShape, false);
  const inverse = new Array<number>(perm.length);
  perm.forEach((p, i) => (inverse[p] = i));
  return record('permute', out, [x], [], (g) => [permute(g, inverse)]);
}

/** Swap two axes (default: the last two). */
export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const perm = x.shape.map((_, i) => i);
  const i = normAxis(a, x.rank, 'transpose'), j = normAxis(b, x.rank, 'transpose');
  perm[i] = j;
  perm[j] = i;
  return permute(x, perm);
}

/** x[..., start:end, ...] along one axis. */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const a = normAxis(axis, x.rank, 'slice');
  const len = x.shape[a]!;
  if (!(start >= 0 && end <= len && start <= end))
    throw new Error(`[slice] range [${start}, ${end}) outside axis ${a} of ${shapeStr(x.shape)}`);
  const xs = stridesOf(x.shape);
  const outShape = [...x.shape];
  outShape[a] = end - start;
  const out = Tensor.empty(outShape, x.dtype === 'i32' ? 'i32' : 'f32');
  if (x.dtype === 'i32') {
    // ids are sliced in TS: rare and small
    const src = x.data as Int32Array, dst = out.data as Int32Array;
    const outer = numel(x.shape.slice(0, a)), inner = numel(x.shape.slice(a + 1));
    for (let o = 0; o < outer; o++)
      dst.set(src.subarray((o * len + start) * inner, (o * len + end) * inner), o * (end - start) * inner);
    return out;
  }
  backend().copyStrided(x.f32('slice'), start * xs[a]!, xs, out.f32(), 0, stridesOf(outShape), outShape, false);
  return record('slice', out, [x], [], (g) => {
    const gx = zeros(x.shape);
    backend().copyStrided(g.f32(), 0, stridesOf(g.shape), gx.f32(), start * xs[a]!, xs, g.shape, false);
    return [gx];
  });
}

export function concat(xs: Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new Error('[concat] no tensors');
  const first = xs[0]!;
  const a = normAxis(axis, first.rank, 'concat');
  for (const t of xs)
    if (t.rank !== first.rank || t.shape.some((d, i) => i !== a && d !== first.shape[i]))
      throw new Error(`[concat] shapes differ off axis ${a}: ${xs.map((t) => shapeStr(t.shape)).join(' ')}`);
  const outShape = [...first.shape];
  outShape[a] = xs.reduce((p, t) => p + t.shape[a]!, 0);
  const out = Tensor.empty(outShape, 'f32');
  const os = stridesOf(outShape);
  const offsets: number[] = [];
  let off = 0;
  for (const t of xs) {
    offsets.push(off);
    backend().copyStrided(t.f32('concat'), 0, stridesOf(t.shape), out.f32(), off * os[a]!, os, t.shape, false);
    off += t.shape[a]!;
  }
  return record('concat', out, xs, [], (g) => xs.map((t, i) => slice(g, a, offsets[i]!, offsets[i]! + t.shape[a]!)));
}

export function broadcastShape(a: Shape, b: Shape, op: string): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1, db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1)
      throw new Error(`[${op}] shapes do not broadcast: ${shapeStr(a)} and ${shapeStr(b)}`);
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Element strides reading a tensor of `shape` as if broadcast to `target` (0 on broadcast axes). */
export function broadcastStrides(shape: Shape, target: Shape): number[] {
  const s = stridesOf(shape);
  const off = target.length - shape.length;
  return target.map((d, i) => (i < off || shape[i - off] === 1 ? 0 : s[i - off]!));
}

export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  if (x.shape.join() === shape.join()) return x;
  broadcastShape(x.shape, shape, 'broadcastTo');
  const out = Tensor.empty(shape, 'f32');
  backend().copyStrided(x.f32('broadcastTo'), 0, broadcastStrides(x.shape, shape), out.f32(), 0, stridesOf(shape), shape, false);
  return record('broadcastTo', out, [x], [], (g) => [sumTo(g, x.shape)]);
}

/**
 * Sum g down to `shape` (undoing a broadcast). Adjacent reduced axes are merged so the common case,
 * a bias broadcast over (B, T), is one pass of the sum kernel.
 */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (g.shape.join() === shape.join()) return g;
  const off = g.rank - shape.length;
  if (off < 0) throw new Error(`[sumTo] cannot sum ${shapeStr(g.shape)} to ${shapeStr(shape)}`);
  // reduced[i]: axis i of g is summed away
  const reduced = g.shape.map((d, i) => i < off || (shape[i - off] === 1 && d !== 1));
  for (let i = off; i < g.rank; i++)
    if (!reduced[i] && g.shape[i] !== shape[i - off])
      throw new Error(`[sumTo] cannot sum ${shapeStr(g.shape)} to ${shapeStr(shape)}`);
  let cur = g;
  let curShape = [...g.shape];
  // walk runs of reduced axes from the right so earlier axis indices stay valid
  for (let end = g.rank; end > 0;) {
    if (!reduced[end - 1]) { end--; continue; }
    let start = end - 1;
    while (start > 0 && reduced[start - 1]) start--;
    const outer = numel(curShape.slice(0, start)), n = numel(curShape.slice(start, end)), inner = numel(curShape.slice(end));
    const next = Tensor.empty([...curShape.slice(0, start), ...curShape.slice(end)], 'f32');
    backend().sumAxis(cur.f32('sumTo'), next.f32(), outer, n, inner);
    if (cur !== g) cur.dispose();
    cur = next;
    curShape = [...cur.shape];
    end = start;
  }
  return reshape(cur, shape);
}

/** The same values, cut from the graph: no gradient flows back through the result (shares the buffer). */
export function detach(x: Tensor): Tensor {
  return Tensor.viewOf(x, x.shape);
}
