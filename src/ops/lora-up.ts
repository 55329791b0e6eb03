// lora-up.ts — the up half of a LoRA branch added onto the base output in one GEMM: y + scale · down · Bᵀ, with the
// GEMM's alpha = scale, beta = 1 (instead of a product, a scale and an add, three passes over (rows, out) each way),
// written over a copy of y or, when the caller owns y outright, into y's own buffer. recordLoraUp records the same
// node on a value kept from a checkpointed forward. The down half (x Aᵀ) and dropout stay in nn/lora.ts; no adapter logic.
import { Tensor, shapeStr } from '../tensor/tensor.js';
import { backend } from '../backend/index.js';
import { getMatmulPrecision, type Precision } from './matmul.js';
import { record } from './record.js';

export interface LoraUpOptions {
  precision?: Precision;
  /**
   * Write into y's buffer instead of a copy (the result is a view of y). Only for a y the caller just made and that
   * nothing else reads: its value is gone afterwards. The node's vjp never reads y, so y's own node stays valid.
   */
  inPlace?: boolean;
}

function checkShapes(y: Tensor, down: Tensor, B: Tensor): [rows: number, out: number, r: number] {
  if (B.rank !== 2 || B.dtype !== 'f32') throw new Error(`[addLoraUp] B must be a 2-D f32 (out, r) matrix, got ${B.dtype} ${shapeStr(B.shape)}`);
  const [out, r] = B.shape as [number, number];
  if (y.dtype !== 'f32' || down.dtype !== 'f32') throw new Error(`[addLoraUp] y and down must be f32, got ${y.dtype} and ${down.dtype}`);
  if (y.shape[y.rank - 1] !== out || down.shape[down.rank - 1] !== r || y.size / out !== down.size / r
    || y.shape.slice(0, -1).join() !== down.shape.slice(0, -1).join())
    throw new Error(`[addLoraUp] y ${shapeStr(y.shape)}, down ${shapeStr(down.shape)} and B ${shapeStr(B.shape)} do not fit (..., out), (..., r), (out, r)`);
  return [y.size / out, out, r];
}

/**
 * y (..., out) + scale · down (..., r) · Bᵀ, B (out, r) f32. Equals add(y, scale(matmul(down, B, { transB: true })))
 * up to the rounding of scale · product + y (bitwise when scale is a power of two, as LoRA's default alpha = 2r is).
 * In place or not, the bits are the same (one GEMM with beta = 1 onto y's values).
 */
export function addLoraUp(y: Tensor, down: Tensor, B: Tensor, scale: number, opts: LoraUpOptions | Precision = {}): Tensor {
  const o: LoraUpOptions = typeof opts === 'string' ? { precision: opts } : opts;
  const precision = o.precision ?? getMatmulPrecision();
  const [rows, out, r] = checkShapes(y, down, B);
  let res: Tensor;
  if (o.inPlace) res = Tensor.viewOf(y, y.shape);
  else {
    res = Tensor.empty(y.shape, 'f32');
    res.f32().set(y.f32('addLoraUp'));
  }
  backend().gemm(1, rows, out, r, down.f32('addLoraUp'), false, 0, B.f32('addLoraUp'), true, 0, res.f32(), scale, 1, precision === 'bf16');
  return recordLoraUp(y, down, B, scale, res, precision);
}

/**
 * Record `res = addLoraUp(y, down, B, scale)` without computing it: res holds that value already (kept from a
 * checkpointed forward), or is never read (a product only the segment's output depends on). y's value is not read.
 */
export function recordLoraUp(y: Tensor, down: Tensor, B: Tensor, scale: number, res: Tensor, precision: Precision = getMatmulPrecision()): Tensor {
  const [rows, out, r] = checkShapes(y, down, B);
  if (res.shape.join() !== y.shape.join()) throw new Error(`[addLoraUp] result ${shapeStr(res.shape)} differs from y ${shapeStr(y.shape)}`);
  const bf16 = precision === 'bf16';
  return record('addLoraUp', res, [y, down, B], [], (g) => {
    const gd = g.f32();
    let dDown: Tensor | null = null, dB: Tensor | null = null;
    if (down.requiresGrad) {
      dDown = Tensor.empty(down.shape, 'f32'); // scale · g (rows, out) · B (out, r)
      backend().gemm(1, rows, r, out, gd, false, 0, B.f32(), false, 0, dDown.f32(), scale, 0, bf16);
    }
    if (B.requiresGrad) {
      dB = Tensor.empty(B.shape, 'f32'); // scale · gᵀ (out, rows) · down (rows, r)
      backend().gemm(1, out, r, rows, gd, true, 0, down.f32(), false, 0, dB.f32(), scale, 0, bf16);
    }
    return [y.requiresGrad ? g : null, dDown, dB];
  });
}
