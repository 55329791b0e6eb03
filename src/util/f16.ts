// f16.ts — IEEE 754 binary16 <-> f32 bit conversions (round to nearest even, overflow to ±inf, subnormals kept, NaN
// stays NaN: f32 → f16 gives the quiet NaN 0x7e00 with the sign). Pure and engine-free: the model layer's file code (half.ts) and the
// reference backend's quantized-block scales (backend/reference/f16.ts) share this one definition.
const f = new Float32Array(1);
const u = new Uint32Array(f.buffer);

/** The f16 bit pattern nearest to x (x is first rounded to f32, as a C float argument would be). */
export function f32ToF16Bits(x: number): number {
  f[0] = x;
  const bits = u[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf, or the quiet NaN
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

export function f16BitsToF32(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) {
    if (mant === 0) { u[0] = sign; return f[0]!; } // ±0
    const v = mant * 2 ** -24; // subnormal
    return sign ? -v : v;
  }
  u[0] = exp === 0x1f ? sign | 0x7f800000 | (mant << 13) : sign | ((exp - 15 + 127) << 23) | (mant << 13);
  return f[0]!;
}
