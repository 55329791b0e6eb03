// elementwise.ts — reference elementwise kernels: broadcasting binary ops, unary ops and their
// derivatives, affine, clamp, where, SwiGLU.
import type { F32 } from '../kernels.js';
import { BinaryOp, UnaryOp } from '../kernels.js';

const binaryFns: ((x: number, y: number) => number)[] = [];
binaryFns[BinaryOp.add] = (x, y) => x + y;
binaryFns[BinaryOp.sub] = (x, y) => x - y;
binaryFns[BinaryOp.mul] = (x, y) => x * y;
binaryFns[BinaryOp.div] = (x, y) => x / y;
binaryFns[BinaryOp.max] = (x, y) => (x >= y || Number.isNaN(x) ? x : y);
binaryFns[BinaryOp.min] = (x, y) => (x <= y || Number.isNaN(x) ? x : y);
binaryFns[BinaryOp.gt] = (x, y) => (x > y ? 1 : 0);
binaryFns[BinaryOp.lt] = (x, y) => (x < y ? 1 : 0);
binaryFns[BinaryOp.ge] = (x, y) => (x >= y ? 1 : 0);
binaryFns[BinaryOp.le] = (x, y) => (x <= y ? 1 : 0);
binaryFns[BinaryOp.eq] = (x, y) => (x === y ? 1 : 0);

export function binary(op: number, a: F32, b: F32, out: F32, shape: readonly number[],
  aStrides: readonly number[], bStrides: readonly number[]): void {
  const fn = binaryFns[op];
  if (!fn) throw new Error(`[binary] unknown op ${op}`);
  const rank = shape.length;
  const n = shape.reduce((p, d) => p * d, 1);
  const idx = new Array<number>(rank).fill(0);
  let ai = 0, bi = 0;
  for (let o = 0; o < n; o++) {
    out[o] = fn(a[ai]!, b[bi]!);
    // odometer increment over shape, tracking the strided offsets
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      ai += aStrides[d]!;
      bi += bStrides[d]!;
      if (idx[d]! < shape[d]!) break;
      ai -= aStrides[d]! * shape[d]!;
      bi -= bStrides[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}
function logSigmoid(x: number): number {
  return x < 0 ? x - Math.log1p(Math.exp(x)) : -Math.log1p(Math.exp(-x));
}

const unaryFns: ((x: number) => number)[] = [];
unaryFns[UnaryOp.neg] = (x) => -x;
unaryFns[UnaryOp.exp] = Math.exp;
unaryFns[UnaryOp.log] = Math.log;
unaryFns[UnaryOp.sqrt] = Math.sqrt;
unaryFns[UnaryOp.rsqrt] = (x) => 1 / Math.sqrt(x);
unaryFns[UnaryOp.silu] = (x) => x * sigmoid(x);
unaryFns[UnaryOp.sigmoid] = sigmoid;
unaryFns[UnaryOp.logsigmoid] = logSigmoid;
unaryFns[UnaryOp.tanh] = Math.tanh;
unaryFns[UnaryOp.abs] = Math.abs;
unaryFns[UnaryOp.recip] = (x) => 1 / x;
unaryFns[UnaryOp.square] = (x) => x * x;
unaryFns[UnaryOp.relu] = (x) => (x > 0 ? x : 0);

// derivative f'(x) from x and y = f(x)
const derivFns: ((x: number, y: number) => number)[] = [];
derivFns[UnaryOp.neg] = () => -1;
derivFns[UnaryOp.exp] = (_x, y) => y;
derivFns[UnaryOp.log] = (x) => 1 / x;
derivFns[UnaryOp.sqrt] = (_x, y) => 0.5 / y;
derivFns[UnaryOp.rsqrt] = (_x, y) => -0.5 * y * y * y;
derivFns[UnaryOp.silu] = (x) => { const s = sigmoid(x); return s * (1 + x * (1 - s)); };
derivFns[UnaryOp.sigmoid] = (_x, y) => y * (1 - y);
derivFns[UnaryOp.logsigmoid] = (x) => sigmoid(-x);
derivFns[UnaryOp.tanh] = (_x, y) => 1 - y * y;
derivFns[UnaryOp.abs] = (x) => (x > 0 ? 1 : x < 0 ? -1 : 0);
derivFns[UnaryOp.recip] = (_x, y) => -y * y;
derivFns[UnaryOp.square] = (x) => 2 * x;
derivFns[UnaryOp.relu] = (x) => (x > 0 ? 1 : 0);

export function unary(op: number, x: F32, out: F32): void {
  const fn = unaryFns[op];
  if (!fn) throw new Error(`[unary] unknown op ${op}`);
  for (let i = 0; i < x.length; i++) out[i] = fn(x[i]!);
}

export function unaryBackward(op: number, x: F32, y: F32, dy: F32, dx: F32): void {
  const fn = derivFns[op];
  if (!fn) throw new Error(`[unaryBackward] unknown op ${op}`);
  for (let i = 0; i < x.length; i++) dx[i] = dy[i]! * fn(x[i]!, y[i]!);
}

export function affine(x: F32, out: F32, alpha: number, beta: number): void {
  for (let i = 0; i < x.length; i++) out[i] = alpha * x[i]! + beta;
}

export function clamp(x: F32, out: F32, lo: number, hi: number): void {
  for (let i = 0; i < x.length; i++) out[i] = Math.min(Math.max(x[i]!, lo), hi);
}

export function where(cond: F32, a: F32, b: F32, out: F32): void {
  for (let i = 0; i < cond.length; i++) out[i] = cond[i] !== 0 ? a[i]! : b[i]!;
}

export function swigluForward(a: F32, b: F32, out: F32): void {
  for (let i = 0; i < a.length; i++) out[i] = a[i]! * sigmoid(a[i]!) * b[i]!;
}

export function swigluBackward(a: F32, b: F32, dOut: F32, da: F32, db: F32): void {
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, s = sigmoid(x), g = dOut[i]!;
    db[i] = g * x * s;
    da[i] = g * b[i]! * s * (1 + x * (1 - s));
  }
}
