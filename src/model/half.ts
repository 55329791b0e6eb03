// half.ts — f32 ↔ f16 / bf16 bit conversions for checkpoint files (round to nearest even, NaN kept as NaN,
// overflow to ±inf). Bulk array helpers only; the engine's own bf16 casts live in the backend.

const f = new Float32Array(1);
const u = new Uint32Array(f.buffer);

export function f32ToF16Bits(x: number): number {
  f[0] = x;
  const bits = u[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → inf
  if (e <= 0) {
    // subnormal half (or zero): shift the implicit-1 mantissa right, rounding to nearest even
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && (m & 1))) m++;
    return sign | m;
  }
  const rest = mant & 0x1fff;
  let m = mant >>> 13;
  if (rest > 0x1000 || (rest === 0x1000 && (m & 1))) {
    m++;
    if (m === 0x400) { m = 0; e++; if (e >= 0x1f) return sign | 0x7c00; }
  }
  return sign | (e << 10) | m;
}

export function f16BitsToF32(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) {
    if (mant === 0) { u[0] = sign; return f[0]!; }
    const v = mant * 2 ** -24; // subnormal
    return sign ? -v : v;
  }
  if (exp === 0x1f) { u[0] = sign | 0x7f800000 | (mant << 13); return f[0]!; }
  u[0] = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  return f[0]!;
}

// bf16 bit conversions are the engine's (one definition of its rounding): re-exported for file code
import { f32ToBf16Bits, bf16BitsToF32 } from '../util/bf16.js';
export { f32ToBf16Bits, bf16BitsToF32 };

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
