// elementwise.ts — arithmetic with numpy broadcasting, unary maths, clamp/where/minimum/maximum,
// each with its vjp beside it (written in other ops).
import { Tensor, shapeStr } from '../tensor/tensor.js';
import { backend } from '../backend/index.js';
import { BinaryOp, UnaryOp, type BinaryOpName, type UnaryOpName } from '../backend/kernels.js';
import { record } from './record.js';
import { broadcastShape, broadcastStrides, sumTo } from './shape.js';

function binaryRaw(op: BinaryOpName, a: Tensor, b: Tensor): Tensor {
  const shape = broadcastShape(a.shape, b.shape, op);
  const out = Tensor.empty(shape, 'f32');
  backend().binary(BinaryOp[op], a.f32(op), b.f32(op), out.f32(), shape,
    broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape));
  return out;
}

export function add(a: Tensor, b: Tensor): Tensor {
  return recordAdd(a, b, binaryRaw('add', a, b));
}

/**
 * Record `out = a + b` without computing it: out holds that value already, or is never read (a checkpoint's
 * recomputation of a sum only the segment's output depends on). The vjp reads neither a, b nor out.
 */
export function recordAdd(a: Tensor, b: Tensor, out: Tensor): Tensor {
  const shape = broadcastShape(a.shape, b.shape, 'add');
  if (shape.join() !== out.shape.join()) throw new Error(`[add] result ${shapeStr(out.shape)} is not the broadcast shape ${shapeStr(shape)}`);
  return record('add', out, [a, b], [], (g) => [
    a.requiresGrad ? sumTo(g, a.shape) : null,
    b.requiresGrad ? sumTo(g, b.shape) : null,
  ]);
}

export function sub(a: Tensor, b: Tensor): Tensor {
  return record('sub', binaryRaw('sub', a, b), [a, b], [], (g) => [
    a.requiresGrad ? sumTo(g, a.shape) : null,
    b.requiresGrad ? sumTo(neg(g), b.shape) : null,
  ]);
}

export function mul(a: Tensor, b: Tensor): Tensor {
  return record('mul', binaryRaw('mul', a, b), [a, b], [], (g) => [
    a.requiresGrad ? sumTo(binaryRaw('mul', g, b), a.shape) : null,
    b.requiresGrad ? sumTo(binaryRaw('mul', g, a), b.shape) : null,
  ]);
}

export function div(a: Tensor, b: Tensor): Tensor {
  const out = binaryRaw('div', a, b);
  return record('div', out, [a, b], [out], (g) => [
    a.requiresGrad ? sumTo(binaryRaw('div', g, b), a.shape) : null,
    // d(a/b)/db = -(a/b)/b
    b.requiresGrad ? sumTo(neg(binaryRaw('div', binaryRaw('mul', g, out), b)), b.shape) : null,
  ]);
}

/** Elementwise max; the gradient goes to a where a >= b, else to b. */
export function maximum(a: Tensor, b: Tensor): Tensor {
  return record('maximum', binaryRaw('max', a, b), [a, b], [], (g) => {
    const takeA = binaryRaw('ge', a, b);
    return [
      a.requiresGrad ? sumTo(binaryRaw('mul', g, takeA), a.shape) : null,
      b.requiresGrad ? sumTo(binaryRaw('mul', g, affineRaw(takeA, -1, 1)), b.shape) : null,
    ];
  });
}

/** Elementwise min; the gradient goes to a where a <= b, else to b. */
export function minimum(a: Tensor, b: Tensor): Tensor {
  return record('minimum', binaryRaw('min', a, b), [a, b], [], (g) => {
    const takeA = binaryRaw('le', a, b);
    return [
      a.requiresGrad ? sumTo(binaryRaw('mul', g, takeA), a.shape) : null,
      b.requiresGrad ? sumTo(binaryRaw('mul', g, affineRaw(takeA, -1, 1)), b.shape) : null,
    ];
  });
}

/** Comparisons give 0/1 masks and carry no gradient. */
export function compare(op: 'gt' | 'lt' | 'ge' | 'le' | 'eq', a: Tensor, b: Tensor): Tensor {
  return binaryRaw(op, a, b);
}

function affineRaw(x: Tensor, alpha: number, beta: number): Tensor {
  const out = Tensor.empty(x.shape, 'f32');
  backend().affine(x.f32('affine'), out.f32(), alpha, beta);
  return out;
}

/** alpha * x + beta */
export function affine(x: Tensor, alpha: number, beta = 0): Tensor {
  return record('affine', affineRaw(x, alpha, beta), [x], [], (g) => [affineRaw(g, alpha, 0)]);
}

export const scale = (x: Tensor, alpha: number): Tensor => affine(x, alpha, 0);
export const addScalar = (x: Tensor, beta: number): Tensor => affine(x, 1, beta);
export const neg = (x: Tensor): Tensor => affine(x, -1, 0);

function unaryOp(name: UnaryOpName, x: Tensor): Tensor {
  const out = Tensor.empty(x.shape, 'f32');
  const code = UnaryOp[name];
  backend().unary(code, x.f32(name), out.f32());
  return record(name, out, [x], [out], (g) => {
    const dx = Tensor.empty(x.shape, 'f32');
    backend().unaryBackward(code, x.f32(), out.f32(), g.f32(), dx.f32());
    return [dx];
  });
}

export const exp = (x: Tensor) => unaryOp('exp', x);
export const log = (x: Tensor) => unaryOp('log', x);
export const sqrt = (x: Tensor) => unaryOp('sqrt', x);
export const rsqrt = (x: Tensor) => unaryOp('rsqrt', x);
export const silu = (x: Tensor) => unaryOp('silu', x);
export const sigmoid = (x: Tensor) => unaryOp('sigmoid', x);
export const logSigmoid = (x: Tensor) => unaryOp('logsigmoid', x);
export const tanh = (x: Tensor) => unaryOp('tanh', x);
export const abs = (x: Tensor) => unaryOp('abs', x);
export const square = (x: Tensor) => unaryOp('square', x);
export const relu = (x: Tensor) => unaryOp('relu', x);
export const reciprocal = (x: Tensor) => unaryOp('recip', x);

/** min(max(x, lo), hi); the gradient passes where lo <= x <= hi. */
export function clamp(x: Tensor, lo: number, hi: number): Tensor {
  if (!(lo <= hi)) throw new Error(`[clamp] lo ${lo} > hi ${hi}`);
  const out = Tensor.empty(x.shape, 'f32');
  backend().clamp(x.f32('clamp'), out.f32(), lo, hi);
  return record('clamp', out, [x], [], (g) => {
    const inside = Tensor.empty(x.shape, 'f32');
    const xd = x.f32(), m = inside.f32();
    for (let i = 0; i < xd.length; i++) m[i] = xd[i]! >= lo && xd[i]! <= hi ? 1 : 0;
    return [binaryRaw('mul', g, inside)];
  });
}

/** cond ? a : b elementwise (cond is a 0/1 mask of the same shape; no gradient for it). */
export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  if (cond.shape.join() !== a.shape.join() || a.shape.join() !== b.shape.join())
    throw new Error(`[where] shapes differ: cond ${shapeStr(cond.shape)}, a ${shapeStr(a.shape)}, b ${shapeStr(b.shape)}`);
  const out = Tensor.empty(a.shape, 'f32');
  backend().where(cond.f32('where'), a.f32('where'), b.f32('where'), out.f32());
  return record('where', out, [a, b], [], (g) => {
    const zero = Tensor.empty(a.shape, 'f32', true);
    const ga = Tensor.empty(a.shape, 'f32'), gb = Tensor.empty(a.shape, 'f32');
    backend().where(cond.f32(), g.f32(), zero.f32(), ga.f32());
    backend().where(cond.f32(), zero.f32(), g.f32(), gb.f32());
    zero.dispose();
    return [ga, gb];
  });
}

/** Fused SwiGLU gate: silu(a) * b. */
export function swiglu(a: Tensor, b: Tensor): Tensor {
  if (a.shape.join() !== b.shape.join())
    throw new Error(`[swiglu] shapes differ: ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  const out = Tensor.empty(a.shape, 'f32');
  backend().swigluForward(a.f32('swiglu'), b.f32('swiglu'), out.f32());
  return record('swiglu', out, [a, b], [], (g) => {
    const da = Tensor.empty(a.shape, 'f32'), db = Tensor.empty(b.shape, 'f32');
    backend().swigluBackward(a.f32(), b.f32(), g.f32(), da.f32(), db.f32());
    return [da, db];
  });
}
