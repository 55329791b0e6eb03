// bf16.ts — bf16 <-> f32 bit conversions (round to nearest even; NaN stays a quiet NaN). Pure and engine-free, so
// the model layer (half.ts) and the reference backend share it; src/backend/reference/bf16.ts re-exports it.
const f = new Float32Array(1);
const u = new Uint32Array(f.buffer);

export function f32ToBf16Bits(x: number): number {
  f[0] = x;
  const bits = u[0]!;
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x40) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16BitsToF32(h: number): number {
  u[0] = (h & 0xffff) << 16;
  return f[0]!;
}

/** x rounded to the nearest bf16 value, as a number. */
export function roundBf16(x: number): number {
  return bf16BitsToF32(f32ToBf16Bits(x));
}
