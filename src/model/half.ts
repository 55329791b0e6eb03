// half.ts — f32 ↔ f16 / bf16 array conversions for checkpoint files. Bulk array helpers only: the per-value bit
// conversions (round to nearest even, NaN kept as NaN, overflow to ±inf) are src/util/f16.ts and src/util/bf16.ts.

// both conversions are the engine's own (one definition of each rounding), re-exported for file code
import { f32ToF16Bits, f16BitsToF32 } from '../util/f16.js';
import { f32ToBf16Bits, bf16BitsToF32 } from '../util/bf16.js';
export { f32ToF16Bits, f16BitsToF32, f32ToBf16Bits, bf16BitsToF32 };

export function toF16Array(x: Float32Array): Uint16Array {
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = f32ToF16Bits(x[i]!);
  return out;
}

export function toBf16Array(x: Float32Array): Uint16Array {
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = f32ToBf16Bits(x[i]!);
  return out;
}

export function fromF16Array(h: Uint16Array, out: Float32Array = new Float32Array(h.length)): Float32Array {
  for (let i = 0; i < h.length; i++) out[i] = f16BitsToF32(h[i]!);
  return out;
}

export function fromBf16Array(h: Uint16Array, out: Float32Array = new Float32Array(h.length)): Float32Array {
  const o = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < h.length; i++) o[i] = h[i]! << 16;
  return out;
}
