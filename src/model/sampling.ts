// sampling.ts — the logits processing of one row, after HF transformers' order and semantics: repetition penalty
// (positive logits divided, negative multiplied), then temperature, top-k, top-p, one seeded draw; greedy argmax when
// not sampling. Candidates are ordered by logit, descending, ties lower id first (a stable sort) — the order fixes
// which id a given draw picks, so the fast paths below reproduce that order's ids and sums bit for bit.
// It does not batch, stop or stream: generate.ts and serve/batch-decode.ts call it per row.
import type { Rng } from '../util/rng.js';
import { backend } from '../backend/index.js';

export interface SamplingOptions {
  /** false (default when temperature is 0 or unset): greedy argmax */
  doSample?: boolean;
  temperature?: number;
  /** 0 = off */
  topK?: number;
  /** 1 = off */
  topP?: number;
  /** 1 = off; Zhongjing served with 1.2 */
  repetitionPenalty?: number;
}

/** Apply HF's repetition penalty in place: for every id seen, logit > 0 → logit / p, else logit · p. */
export function applyRepetitionPenalty(logits: Float32Array, seen: Iterable<number>, penalty: number): void {
  if (penalty === 1) return;
  for (const id of seen) {
    const x = logits[id]!;
    logits[id] = x > 0 ? x / penalty : x * penalty;
  }
}

/** log-softmax of x at index i (f64 accumulation). */
export function logSoftmaxAt(x: Float32Array, i: number): number {
  let m = -Infinity;
  for (let j = 0; j < x.length; j++) if (x[j]! > m) m = x[j]!;
  let z = 0;
  for (let j = 0; j < x.length; j++) z += Math.exp(x[j]! - m);
  return x[i]! - m - Math.log(z);
}

const argmaxOut = new Int32Array(1);
/** The first index of the largest logit (NaN never chosen): one backend pass, no sort. */
function argmax(x: Float32Array): number {
  if (x.length === 0) throw new Error('[sampling] cannot choose from an empty row of logits');
  backend().argmaxRows(x, argmaxOut, 1, x.length);
  return argmaxOut[0]!;
}

/**
 * Choose the next token from processed logits (repetition penalty already applied): greedy, or temperature →
 * top-k → top-p → one draw from rng. Ties in top-k / top-p keep the lower id first (a stable sort).
 */
export function sampleToken(logits: Float32Array, opts: SamplingOptions, rng: Rng): number {
  return sampleTokenWithLogProb(logits, opts, rng).id;
}

export interface Sampled { id: number; logProb: number }

/** sampleToken, also returning log q(id) under the (truncated, renormalised) distribution drawn from; greedy → 0. */
export function sampleTokenWithLogProb(logits: Float32Array, opts: SamplingOptions, rng: Rng): Sampled {
  const temperature = opts.temperature ?? 1;
  const doSample = opts.doSample ?? (opts.temperature !== undefined && opts.temperature > 0);
  if (!doSample || temperature === 0) return { id: argmax(logits), logProb: 0 };
  const V = logits.length, k = opts.topK ?? 0, topP = opts.topP ?? 1;
  // with top-k only the k best are sorted; without it the whole vocabulary is in play
  if (k > 0 && k < V) return drawSorted(logits, topKIds(logits, k).sort(byLogit(logits)), temperature, topP, rng.next());
  const r = rng.next();
  return drawFullVocab(logits, temperature, topP, r) ?? drawSorted(logits, sortedIds(logits), temperature, topP, r);
}

const byLogit = (x: Float32Array) => (a: number, b: number) => x[b]! - x[a]! || a - b;

/** Every id, by logit descending, ties lower id first. */
export function sortedIds(x: Float32Array): number[] {
  return Array.from({ length: x.length }, (_, i) => i).sort(byLogit(x));
}

/**
 * The draw over candidates `idx` already in sampling order: p_i = exp(l_i / T − m) (m the first's scaled logit),
 * z their sum in that order, the top-p prefix, then the first j where r·z − p_0 − … − p_j < 0.
 * This is the definition; drawFullVocab gives its result without sorting the vocabulary.
 */
export function drawSorted(logits: Float32Array, idx: number[], temperature: number, topP: number, r: number): Sampled {
  const m = logits[idx[0]!]! / temperature;
  const p = idx.map((i) => Math.exp(logits[i]! / temperature - m));
  let z = sumOf(p, p.length);
  if (topP < 1) {
    const keep = topPPrefix(p, p.length, z, topP).keep;
    idx = idx.slice(0, keep);
    p.length = keep;
    z = sumOf(p, keep);
  }
  let u = r * z;
  let j = 0;
  for (; j < p.length - 1; j++) {
    u -= p[j]!;
    if (u < 0) break;
  }
  return { id: idx[j]!, logProb: Math.log(p[j]! / z) };
}

/** p[0] + … + p[n-1], in that order (the order fixes the rounding both draws must share). */
function sumOf(p: ArrayLike<number>, n: number): number {
  let z = 0;
  for (let j = 0; j < n; j++) z += p[j]!;
  return z;
}

/**
 * The smallest prefix of p (sampling order, total z) whose mass reaches topP — HF drops the tokens whose ascending
 * cumulative mass is ≤ 1 − topP — among the first n; `reached` false when those n never got there.
 */
function topPPrefix(p: ArrayLike<number>, n: number, z: number, topP: number): { keep: number; reached: boolean } {
  let acc = 0, keep = 0;
  while (keep < n) {
    acc += p[keep]! / z;
    keep++;
    if (acc >= topP) break;
  }
  return { keep, reached: acc >= topP };
}

/** p below this never changes a sum that already holds 1 (less than half an ulp of any f64 ≥ 1). */
const NEGLIGIBLE = 2 ** -53;
let scratch = new Float32Array(0);
let radixTmp = new Uint32Array(0);
const radixCount = new Uint32Array(2048);

/**
 * Sort f32 values ascending in place (-0 before +0): an LSD radix sort over the bit patterns made order-preserving as
 * unsigned integers (sign bit flipped for positives, all bits for negatives), three passes of 11 bits; O(n), where
 * Float32Array.prototype.sort took ~30 ms for 151,936 values.
 */
export function sortF32(x: Float32Array): Float32Array {
  const n = x.length;
  const a = new Uint32Array(x.buffer, x.byteOffset, n);
  if (radixTmp.length < n) radixTmp = new Uint32Array(n);
  let src: Uint32Array = a, dst: Uint32Array = radixTmp.subarray(0, n);
  for (let i = 0; i < n; i++) { const b = a[i]!; a[i] = b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0; }
  for (let shift = 0; shift < 32; shift += 11) {
    radixCount.fill(0);
    for (let i = 0; i < n; i++) radixCount[(src[i]! >>> shift) & 2047]!++;
    let sum = 0;
    for (let d = 0; d < 2048; d++) { const c = radixCount[d]!; radixCount[d] = sum; sum += c; }
    for (let i = 0; i < n; i++) { const v = src[i]!; dst[radixCount[(v >>> shift) & 2047]!++] = v; }
    const t = src; src = dst; dst = t;
  }
  // three passes: the sorted keys are in the scratch buffer; back to a, undoing the key transform
  for (let i = 0; i < n; i++) { const k = src[i]!; a[i] = k & 0x80000000 ? (k & 0x7fffffff) >>> 0 : ~k >>> 0; }
  return x;
}

/**
 * drawSorted over the whole vocabulary, the same id and log-prob bit for bit, without the comparator sort of V ids
 * (~150 ms a row at V = 151,936 on a loaded core): null where it cannot be sure (the caller then runs drawSorted).
 * Why it agrees: p is monotone in the logit, so the tokens with p ≥ 2^-53 are the first n of the sorted order and
 * their p come out of a typed-array sort of their logit values alone (equal values are interchangeable in a sum).
 * The first p is exp(0) = 1, so the running sum is ≥ 1 from then on and every later p < 2^-53 rounds away: z is the
 * candidates' sum. Only the id at rank j needs ids: the logit value at rank j, and among the ids holding that value
 * (in id order) the one at j minus the count of larger logits. It gives up where the top-p prefix or the walk would
 * reach past the candidates (the tail's p/z can still move a cumulative mass below 1).
 */
export function drawFullVocab(logits: Float32Array, temperature: number, topP: number, r: number): Sampled | null {
  const V = logits.length;
  let max = -Infinity;
  for (let i = 0; i < V; i++) if (logits[i]! > max) max = logits[i]!;
  const m = max / temperature;
  if (!Number.isFinite(m)) return null;
  if (scratch.length < V) scratch = new Float32Array(V);
  let n = 0;
  // ln 2^-53 = -36.74: exp is evaluated only near that edge, where its rounding decides
  for (let i = 0; i < V; i++) {
    const t = logits[i]! / temperature - m;
    if (t > -36.6 || (t > -36.9 && Math.exp(t) >= NEGLIGIBLE)) scratch[n++] = logits[i]!;
  }
  const asc = sortF32(scratch.subarray(0, n)); // NaN-free logits assumed, as the comparator sort assumes
  const p = new Float64Array(n);
  let z = 0;
  for (let j = 0; j < n; j++) { p[j] = Math.exp(asc[n - 1 - j]! / temperature - m); z += p[j]!; }
  let len = V;
  if (topP < 1) {
    const { keep, reached } = topPPrefix(p, n, z, topP);
    if (!reached && n < V) return null;
    len = keep;
    z = sumOf(p, keep);
  }
  let u = r * z;
  let j = 0;
  for (; j < len - 1; j++) {
    if (j >= n) return null;
    u -= p[j]!;
    if (u < 0) break;
  }
  if (j >= n) return null;
  const value = asc[n - 1 - j]!;
  let rank = 0;
  for (let i = 0; i < V; i++) if (logits[i]! > value) rank++;
  for (let i = 0; i < V; i++) if (logits[i] === value && rank++ === j) return { id: i, logProb: Math.log(p[j]! / z) };
  return null; // unreachable for NaN-free logits
}

/**
 * The ids of the k largest logits — the first k of a stable descending sort, in any order — without sorting V:
 * the k-th largest value by quickselect over a copy, then every id above it and the lowest ids equal to it.
 */
export function topKIds(x: Float32Array, k: number): number[] {
  const v = Float32Array.from(x);
  // quickselect for the value at descending rank k-1 (NaN-free logits assumed, as the sort assumes)
  let lo = 0, hi = v.length - 1;
  const want = k - 1;
  while (lo < hi) {
    const pivot = v[(lo + hi) >> 1]!;
    let i = lo, j = hi;
    while (i <= j) {
      while (v[i]! > pivot) i++;
      while (v[j]! < pivot) j--;
      if (i <= j) { const t = v[i]!; v[i] = v[j]!; v[j] = t; i++; j--; }
    }
    if (want <= j) hi = j; else if (want >= i) lo = i; else break;
  }
  const thr = v[want]!;
  const out: number[] = [];
  for (let i = 0; i < x.length; i++) if (x[i]! > thr) out.push(i);
  for (let i = 0; i < x.length && out.length < k; i++) if (x[i] === thr) out.push(i);
  return out;
}
