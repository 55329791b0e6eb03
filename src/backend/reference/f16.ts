// f16.ts — IEEE binary16 <-> f32 bit conversions for the scales of quantized blocks (round to nearest even,
// overflow to ±inf, subnormals kept, NaN stays NaN). Bulk array helpers for checkpoint files live in src/model.
const f = new Float32Array(1);
const u = new Uint32Array(f.buffer);

/** The f16 bit pattern nearest to x (x is first rounded to f32, as a C float argument would be). */
export function f32ToF16(x: number): number {
  f[0] = x;
  const bits = u[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 112; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // subnormal result: the value in units of 2^-24, rounded to nearest even
    if (e < -10) return sign;
    const m = mant | 0x800000, shift = 14 - e;
    let q = m >>> shift;
    const rest = m - q * 2 ** shift, half = 2 ** (shift - 1);
    if (rest > half || (rest === half && (q & 1))) q++;
    return sign | q; // q may carry into the smallest normal, which is the right bit pattern
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++; // a carry into the exponent (even to inf) is correct
  return sign | h;
}

export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f, mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}
