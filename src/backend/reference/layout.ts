// layout.ts — reference reductions, strided copies and dtype casts.
import type { BF16, F32 } from '../kernels.js';
import { bf16BitsToF32, f32ToBf16Bits } from './bf16.js';

export function sumAxis(x: F32, out: F32, outer: number, n: number, inner: number): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let acc = 0;
      for (let k = 0; k < n; k++) acc += x[(o * n + k) * inner + i]!;
      out[o * inner + i] = acc;
    }
  }
}

export function sumSquares(x: F32): number {
  let acc = 0;
  for (let i = 0; i < x.length; i++) acc += x[i]! * x[i]!;
  return acc;
}

export function copyStrided(src: F32, srcOffset: number, srcStrides: readonly number[], dst: F32, dstOffset: number,
  dstStrides: readonly number[], shape: readonly number[], accumulate: boolean): void {
  const rank = shape.length;
  const n = shape.reduce((p, d) => p * d, 1);
  if (n === 0) return;
  const idx = new Array<number>(rank).fill(0);
  let si = srcOffset, di = dstOffset;
  for (let e = 0; e < n; e++) {
    dst[di] = accumulate ? dst[di]! + src[si]! : src[si]!;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      si += srcStrides[d]!;
      di += dstStrides[d]!;
      if (idx[d]! < shape[d]!) break;
      si -= srcStrides[d]! * shape[d]!;
      di -= dstStrides[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}

export function castF32ToBf16(x: F32, out: BF16): void {
  for (let i = 0; i < x.length; i++) out[i] = f32ToBf16Bits(x[i]!);
}

export function castBf16ToF32(x: BF16, out: F32): void {
  for (let i = 0; i < x.length; i++) out[i] = bf16BitsToF32(x[i]!);
}
