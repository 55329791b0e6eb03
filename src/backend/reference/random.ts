// random.ts — reference counter-based normal fill (for random initialisation): value number e of stream `key`
// depends on (key, e) only, so any chunking and any thread split give the same numbers. Box–Muller over pairs of
// uniforms from murmur3's 32-bit finaliser; the native kernel (native/src/random.cc) follows the same steps.

// murmur3's fmix32: a bijective avalanche mix that turns counters into uniform-looking bits
export function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * out[j] = normal(0, std) value number `start + j` of stream `key`. Pair k = e/2 draws a = mix(lo(k) ^ key +
 * hi(k)·0x27d4eb2f), b = mix(a ^ lo(k) ^ 0x68e31da4); u1 = (a+1)/2^32, u2 = b/2^32; element 2k is
 * r·cos(2π u2), 2k+1 is r·sin(2π u2), r = sqrt(-2 ln u1)·std (all in double, rounded to float at the end).
 */
export function fillNormal(out: Float32Array, key: number, start: number, std: number): void {
  const TWO_PI = 2 * Math.PI, INV = 1 / 4294967296;
  const n = out.length;
  let j = 0;
  while (j < n) {
    const e = start + j, k = Math.floor(e / 2);
    const kl = k >>> 0, kh = Math.floor(k / 4294967296) >>> 0;
    const a = mix32(((kl ^ key) + Math.imul(kh, 0x27d4eb2f)) >>> 0);
    const b = mix32((a ^ kl ^ 0x68e31da4) >>> 0);
    const r = Math.sqrt(-2 * Math.log((a + 1) * INV)) * std, t = (TWO_PI * b) * INV;
    if ((e & 1) === 0) {
      out[j++] = r * Math.cos(t);
      if (j < n) out[j++] = r * Math.sin(t);
    } else {
      out[j++] = r * Math.sin(t);
    }
  }
}
