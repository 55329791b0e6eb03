// gguf-rope.ts — scaled RoPE (config.json rope_scaling) in GGUF, both ways: what llama.cpp reads for each type, and
// the RopeScaling our loader rebuilds from it. Facts from the llama.cpp sources node-llama-cpp 3.21.1 bundles (gguf-py
// 0.19.0): {arch}.rope.scaling.type ∈ none | linear | yarn | longrope (absent = linear), .factor (freq_scale = 1/factor,
// all architectures); Llama 3.x's llama3 type has no key: conversion/llama.py generate_extra_tensors writes a
// `rope_freqs.weight` F32 tensor of D/2 per-dimension factors that ggml's rope divides the angle by (ops.cpp
// theta/ff), which only the "llama" graph loads (src/models/llama.cpp). dynamic (NTK) has no llama.cpp form.
import { f32, str, u32, type GgufValue } from './gguf.js';
import { defaultInvFreq, ropeInvFreq, type RopeScaling } from './rope-scaling.js';

export const ROPE_FREQS = 'rope_freqs.weight';
/** our own keys for dynamic scaling (llama.cpp ignores them and runs plain RoPE, exact within context_length) */
export const ZJ_ROPE_TYPE = 'zhongjing.rope.scaling.type';
export const ZJ_ROPE_FACTOR = 'zhongjing.rope.scaling.factor';

interface RopeShape { ropeTheta: number; maxPositions: number; ropeScaling?: RopeScaling | null }

/**
 * llama.cpp's factors for llama3 scaling (conversion/llama.py): 1 for short wavelengths, `factor` for long ones,
 * 1 / ((1 - smooth) / factor + smooth) between, so that inv_freq / ff is transformers' rescaled frequency.
 */
export function llama3FreqFactors(c: RopeShape, D: number): Float32Array {
  const plain = defaultInvFreq(c.ropeTheta, D);
  const scaled = ropeInvFreq(c, D, 1)!;
  return Float32Array.from(plain, (f, i) => f / scaled[i]!);
}

export interface RopeGguf { kv: [string, GgufValue][]; freqs: Float32Array | null; notes: string[] }

/** The keys (and rope_freqs tensor) that carry c.ropeScaling for llama.cpp architecture `arch`; refuses what cannot. */
export function ropeScalingToGguf(c: RopeShape, D: number, arch: string): RopeGguf {
  const s = c.ropeScaling;
  if (!s) return { kv: [], freqs: null, notes: [] };
  if (s.type === 'linear') return { kv: [[`${arch}.rope.scaling.type`, str('linear')], [`${arch}.rope.scaling.factor`, f32(s.factor)]], freqs: null, notes: [] };
  if (s.type === 'dynamic') {
    return { kv: [[ZJ_ROPE_TYPE, str('dynamic')], [ZJ_ROPE_FACTOR, f32(s.factor)]], freqs: null, notes: [
      `rope_scaling dynamic (factor ${s.factor}): llama.cpp has no dynamic NTK scaling and runs plain RoPE, which is what the model computes up to context_length ${c.maxPositions}; beyond it only zhongjing (${ZJ_ROPE_TYPE}) grows the base`,
    ] };
  }
  if (arch !== 'llama') throw new Error(`[gguf export] rope_scaling.rope_type llama3: llama.cpp carries its factors as ${ROPE_FREQS}, which only its "llama" architecture loads (this is "${arch}")`);
  // original_context_length is read by llama.cpp (n_ctx_orig_yarn) but used by YaRN alone; it lets our loader
  // give back the config's own numbers rather than an equivalent rescaling of them
  return { kv: [[`${arch}.rope.scaling.original_context_length`, u32(s.originalMaxPositions)]], freqs: llama3FreqFactors(c, D), notes: [] };
}

type Bad = (key: string, why: string) => never;
type Kv = Map<string, unknown>;

/** The shortest decimal that rounds to the same f32 (the factor is stored as f32: 8 comes back as 8). */
function shortestF32(v: number): number {
  for (let p = 1; p <= 9; p++) { const d = Number(v.toPrecision(p)); if (Math.fround(d) === v) return d; }
  return v;
}

/**
 * The RopeScaling a GGUF header describes: `freqs` is rope_freqs.weight's values when the file has one (llama3), read
 * by the caller. Refuses yarn / longrope and combinations we cannot run, naming the key.
 */
export function ropeScalingFromGguf(kv: Kv, arch: string, freqs: Float32Array | null, D: number, theta: number, ctxLen: number, bad: Bad): RopeScaling | null {
  const typeKey = `${arch}.rope.scaling.type`, factorKey = `${arch}.rope.scaling.factor`;
  const type = kv.get(typeKey);
  // llama.cpp's default type is linear: a factor alone (or the older rope.scale_linear key) scales positions
  const rawFactor = kv.get(factorKey) ?? kv.get(`${arch}.rope.scale_linear`);
  if (type !== undefined && type !== 'none' && type !== 'linear') bad(typeKey, `${JSON.stringify(type)} is not supported (none, linear; llama3 as ${ROPE_FREQS})`);
  let linear: RopeScaling | null = null;
  if (type === 'linear' || (type === undefined && rawFactor !== undefined && rawFactor !== 0)) {
    if (typeof rawFactor !== 'number' || !(rawFactor >= 1)) bad(factorKey, `linear scaling needs a factor >= 1, got ${JSON.stringify(rawFactor)}`);
    if (rawFactor !== 1) linear = { type: 'linear', factor: shortestF32(rawFactor as number) };
  }
  const zj = kv.get(ZJ_ROPE_TYPE);
  let dynamic: RopeScaling | null = null;
  if (zj !== undefined) {
    if (zj !== 'dynamic') bad(ZJ_ROPE_TYPE, `${JSON.stringify(zj)} is not supported (dynamic)`);
    const f = kv.get(ZJ_ROPE_FACTOR);
    if (typeof f !== 'number' || !(f >= 1)) bad(ZJ_ROPE_FACTOR, `dynamic scaling needs a factor >= 1, got ${JSON.stringify(f)}`);
    dynamic = { type: 'dynamic', factor: shortestF32(f as number) };
  }
  let llama3: RopeScaling | null = null;
  if (freqs) {
    if (arch !== 'llama') bad(ROPE_FREQS, `per-dimension RoPE factors belong to llama.cpp's "llama" architecture, not "${arch}"`);
    if (freqs.length !== D / 2) bad(ROPE_FREQS, `has ${freqs.length} values, the head dim ${D} needs ${D / 2}`);
    const orig = kv.get(`${arch}.rope.scaling.original_context_length`) ?? ctxLen;
    if (typeof orig !== 'number' || !(orig > 0)) bad(`${arch}.rope.scaling.original_context_length`, `expected a positive number, got ${JSON.stringify(orig)}`);
    llama3 = llama3FromFactors(freqs, D, theta, orig as number, (why) => bad(ROPE_FREQS, why));
  }
  const set = [linear, dynamic, llama3].filter((x): x is RopeScaling => x !== null);
  if (set.length > 1) bad(set[0] === linear ? factorKey : ZJ_ROPE_TYPE, `${set.map((x) => x.type).join(' and ')} scaling together are not supported`);
  return set[0] ?? null;
}

const TOL = 1e-5; // relative, to sort dims into kept / band / slowed
const FIT_TOL = 1e-6; // relative: the factors are f32 (6e-8), the fit from them a little worse

/**
 * transformers' llama3 parameters that reproduce llama.cpp's factors `r`: factor = the largest; each dimension in the
 * band gives smooth s = (1/r - 1/factor) / (1 - 1/factor) = (orig/wavelen - low) / (high - low), a line in
 * orig/wavelen whose slope and intercept give low and high. The band is fixed only up to a common scale of (orig, low,
 * high), so orig is taken from the file. The result is checked by recomputing every factor.
 */
export function llama3FromFactors(r: Float32Array, D: number, theta: number, orig: number, fail: (why: string) => never): RopeScaling | null {
  const plain = defaultInvFreq(theta, D);
  let factor = 1;
  for (const v of r) {
    if (!(v > 0) || !Number.isFinite(v)) fail(`factor ${v} is not a positive number`);
    factor = Math.max(factor, v);
  }
  if (factor - 1 <= TOL) return null; // all ones: plain RoPE
  const x = Array.from(plain, (f) => (orig * f) / (2 * Math.PI)); // orig / wavelen, falling with i
  const near = (a: number, b: number) => Math.abs(a - b) <= TOL * Math.max(a, b);
  const hi: number[] = [], lo: number[] = [], mid: [number, number][] = [];
  r.forEach((v, i) => {
    if (near(v, 1)) hi.push(x[i]!);
    else if (near(v, factor)) lo.push(x[i]!);
    else mid.push([x[i]!, (1 / v - 1 / factor) / (1 - 1 / factor)]);
  });
  const xl = lo.length ? Math.max(...lo) : 0, xh = hi.length ? Math.min(...hi) : Number.POSITIVE_INFINITY;
  let low: number, high: number;
  if (mid.length >= 2) {
    // least squares of s on x
    const n = mid.length, mx = mid.reduce((a, [u]) => a + u, 0) / n, ms = mid.reduce((a, [, s]) => a + s, 0) / n;
    const slope = mid.reduce((a, [u, s]) => a + (u - mx) * (s - ms), 0) / mid.reduce((a, [u]) => a + (u - mx) ** 2, 0);
    if (!(slope > 0)) fail('the factors between 1 and the largest do not follow llama3\'s interpolation band');
    low = mx - ms / slope;
    high = low + 1 / slope;
  } else if (mid.length === 1) {
    // one dimension in the band: any narrow band through it that keeps the others outside
    const [u, s] = mid[0]!;
    const wLow = (u - xl) / s, wHigh = Number.isFinite(xh) ? (xh - u) / (1 - s) : Infinity;
    const w = Number.isFinite(Math.min(wLow, wHigh)) ? 0.5 * Math.min(wLow, wHigh) : u;
    low = u - s * w; high = u + (1 - s) * w;
  } else {
    // no dimension in the band: a band in the gap between the slowed and the kept dimensions
    const top = Number.isFinite(xh) ? xh : 2 * xl + 1;
    low = xl + (top - xl) / 3; high = xl + (2 * (top - xl)) / 3;
  }
  const check = (p: RopeScaling): boolean => {
    const again = llama3FreqFactors({ ropeTheta: theta, maxPositions: orig, ropeScaling: p }, D);
    return again.every((v, i) => Math.abs(v - r[i]!) <= FIT_TOL * Math.max(v, r[i]!));
  };
  const fit = (lowFreqFactor: number, highFreqFactor: number): Extract<RopeScaling, { type: 'llama3' }> =>
    ({ type: 'llama3', factor: shortestF32(Math.fround(factor)), lowFreqFactor, highFreqFactor, originalMaxPositions: orig });
  if (!check(fit(low, high))) fail(`the factors are not llama3's (best fit: factor ${factor}, low_freq_factor ${low}, high_freq_factor ${high}, original ${orig})`);
  // the shortest decimals that still reproduce the factors (Llama 3.1's 1 and 4, not 0.9999997 and 4.0000005)
  for (let p = 1; p <= 9; p++) {
    const cand = fit(Number(low.toPrecision(p)), Number(high.toPrecision(p)));
    if (cand.lowFreqFactor < cand.highFreqFactor && check(cand)) return cand;
  }
  return fit(low, high);
}
