// lora-up.ts — the up half of a LoRA branch added onto the base output in one GEMM: y + scale · down · Bᵀ, written
// over a copy of y with the GEMM's alpha = scale, beta = 1 (instead of a product, a scale and an add, three passes over
// (rows, out) each way). The down half (x Aᵀ) and dropout stay ordinary ops in nn/lora.ts; this holds no adapter logic.
import { Tensor, shapeStr } from '../tensor/tensor.js';
import { backend } from '../backend/index.js';
import { getMatmulPrecision, type Precision } from './matmul.js';
import { record } from './record.js';

/**
 * y (..., out) + scale · down (..., r) · Bᵀ, B (out, r) f32. Equals add(y, scale(matmul(down, B, { transB: true })))
 * up to the rounding of scale · product + y (bitwise when scale is a power of two, as LoRA's default alpha = 2r is).
 */
export function addLoraUp(y: Tensor, down: Tensor, B: Tensor, scale: number, precision: Precision = getMatmulPrecision()): Tensor {
  if (B.rank !== 2 || B.dtype !== 'f32') throw new Error(`[addLoraUp] B must be a 2-D f32 (out, r) matrix, got ${B.dtype} ${shapeStr(B.shape)}`);
  const [out, r] = B.shape as [number, number];
  if (y.dtype !== 'f32' || down.dtype !== 'f32') throw new Error(`[addLoraUp] y and down must be f32, got ${y.dtype} and ${down.dtype}`);
  if (y.shape[y.rank - 1] !== out || down.shape[down.rank - 1] !== r || y.size / out !== down.size / r
    || y.shape.slice(0, -1).join() !== down.shape.slice(0, -1).join())
    throw new Error(`[addLoraUp] y ${shapeStr(y.shape)}, down ${shapeStr(down.shape)} and B ${shapeStr(B.shape)} do not fit (..., out), (..., r), (out, r)`);
  const rows = y.size / out, bf16 = precision === 'bf16';
  const res = Tensor.empty(y.shape, 'f32');
  res.f32().set(y.f32('addLoraUp'));
  backend().gemm(1, rows, out, r, down.f32('addLoraUp'), false, 0, B.f32('addLoraUp'), true, 0, res.f32(), scale, 1, bf16);
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
