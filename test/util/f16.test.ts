// f16.test.ts — the one f16 conversion (src/util/f16.ts) against oracles that share none of its bit tricks: bit
// patterns numpy 2.4.6 gives (`np.float32(x).astype(np.float16).view(np.uint16)`, written here as facts), every one
// of the 65536 patterns decoded by the IEEE 754 binary16 definition, and encoding by searching the sorted table of
// finite f16 values for the nearest one (ties to the even pattern). Both importers see the same functions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { f16BitsToF32, f32ToF16Bits } from '../../src/util/f16.js';
import * as half from '../../src/model/half.js';
import * as ref from '../../src/backend/reference/f16.js';

// [input, its f16 bit pattern] from numpy 2.4.6; inputs are exact f32 values (or round to one first, as in C)
const NUMPY: [number, number][] = [
  [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [65519, 0x7bff], [65520, 0x7c00], [2 ** -24, 0x0001], [2 ** -25, 0x0000],
  [3 * 2 ** -25, 0x0002], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [0.1, 0x2e66], [1 / 3, 0x3555], [-0, 0x8000],
  [2 ** -14, 0x0400], [2 ** -14 - 2 ** -25, 0x0400], [1e-8, 0x0000], [-1e5, 0xfc00], [3.140625, 0x4248], [0.000123, 0x0808],
  [-7.0e-6, 0x8075], [Infinity, 0x7c00], [-Infinity, 0xfc00],
];

/** binary16 by its definition: (−1)^s · 2^(e−15) · (1 + m/1024), subnormals 2^−14 · m/1024, e = 31 for inf / NaN. */
function defined(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, m = h & 1023;
  if (e === 31) return m ? NaN : s * Infinity;
  return e === 0 ? s * 2 ** -14 * (m / 1024) : s * 2 ** (e - 15) * (1 + m / 1024);
}

// the finite non-negative f16 values, ascending with their patterns (0x0000 … 0x7bff)
const TABLE = Array.from({ length: 0x7c00 }, (_, h) => defined(h));

/** The nearest f16 pattern to x by binary search over TABLE; a tie goes to the even pattern; past max + ulp/2 → inf. */
function nearest(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0, a = Math.abs(x);
  if (a >= 65504 + 16) return sign | 0x7c00; // halfway to the next (absent) step rounds to even, which is inf
  let lo = 0, hi = TABLE.length - 1;
  while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (TABLE[mid]! <= a) lo = mid; else hi = mid; }
  const dl = a - TABLE[lo]!, dh = TABLE[hi]! - a;
  return sign | (dl < dh ? lo : dh < dl ? hi : lo % 2 === 0 ? lo : hi);
}

test('f16: bit patterns numpy gives', () => {
  for (const [x, h] of NUMPY) assert.equal(f32ToF16Bits(x), h, `${x} → 0x${h.toString(16)}`);
  assert.equal(f32ToF16Bits(NaN) & 0x7c00, 0x7c00);
  assert.ok((f32ToF16Bits(NaN) & 0x3ff) !== 0, 'NaN stays NaN');
});

test('f16: every pattern decodes to the IEEE 754 binary16 value; finite values round-trip', () => {
  for (let h = 0; h < 0x10000; h++) {
    const v = f16BitsToF32(h), d = defined(h);
    assert.ok(Object.is(v, d) || (Number.isNaN(v) && Number.isNaN(d)), `0x${h.toString(16)}: ${v} vs ${d}`);
    if (!Number.isNaN(d)) assert.equal(f32ToF16Bits(v), h);
  }
});

test('f16: encoding equals the nearest value by search, at every midpoint and on random f32', () => {
  // midpoints between neighbours (the tie cases) and a hair either side of them
  const f32 = (x: number) => Math.fround(x);
  for (let h = 0; h + 1 < TABLE.length; h += 7) {
    const mid = (TABLE[h]! + TABLE[h + 1]!) / 2;
    for (const x of [mid, -mid, f32(mid * (1 + 2 ** -20)), f32(mid * (1 - 2 ** -20))]) {
      if (f32(x) !== x) continue; // a midpoint below 2^-126 · 2^-23 precision is not an f32 input
      assert.equal(f32ToF16Bits(x), nearest(x), `x = ${x}`);
    }
  }
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < 20000; i++) {
    const x = f32((rand() - 0.5) * 2 ** (Math.floor(rand() * 44) - 28));
    assert.equal(f32ToF16Bits(x), nearest(x), `x = ${x}`);
  }
});

test('f16: the model layer and the reference backend use this one implementation', () => {
  assert.equal(half.f32ToF16Bits, f32ToF16Bits);
  assert.equal(half.f16BitsToF32, f16BitsToF32);
  assert.equal(ref.f32ToF16, f32ToF16Bits);
  assert.equal(ref.f16ToF32, f16BitsToF32);
});
