// generate-sampling.test.ts — sampling without top-k no longer sorts the vocabulary, and must give the ids and
// log-probs of the stable comparator sort bit for bit for the same seed: checked against that definition (written
// out again here) over flat, peaked and tied logits (±0 included), several temperatures and top-p values, and at
// Qwen2.5's vocabulary size; the fast path is checked to be the one taken, not the fallback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { drawFullVocab, sampleTokenWithLogProb } from '../../src/model/sampling.js';
import { Rng } from '../helpers.js';

/** The definition: sort every id by logit (descending, ties lower id first), softmax at T, top-p prefix, one draw. */
function reference(logits: Float32Array, T: number, topP: number, r: number): { id: number; logProb: number } {
  let idx = Array.from({ length: logits.length }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b);
  const m = logits[idx[0]!]! / T;
  let p = idx.map((i) => Math.exp(logits[i]! / T - m));
  let z = p.reduce((a, b) => a + b, 0);
  if (topP < 1) {
    let acc = 0, keep = 0;
    while (keep < p.length) { acc += p[keep]! / z; keep++; if (acc >= topP) break; }
    idx = idx.slice(0, keep);
    p = p.slice(0, keep);
    z = p.reduce((a, b) => a + b, 0);
  }
  let u = r * z, j = 0;
  for (; j < p.length - 1; j++) { u -= p[j]!; if (u < 0) break; }
  return { id: idx[j]!, logProb: Math.log(p[j]! / z) };
}

function logits(V: number, scale: number, seed: number, tieStep = 0): Float32Array {
  const r = new Rng(seed), x = new Float32Array(V);
  for (let i = 0; i < V; i++) {
    let v = r.normal() * scale;
    if (tieStep) { v = Math.round(v / tieStep) * tieStep; if (v === 0 && r.next() < 0.5) v = -0; }
    x[i] = v;
  }
  return x;
}

const same = (a: { id: number; logProb: number }, b: { id: number; logProb: number }) => a.id === b.id && Object.is(a.logProb, b.logProb);

test('sampling over the whole vocabulary: the ids and log-probs of the full stable sort, bit for bit, same seed', () => {
  let draws = 0, fast = 0, withTail = 0;
  for (const [scale, tieStep] of [[0.05, 0], [1, 0], [6, 0], [30, 0], [4, 0.5], [3, 1]] as const) {
    const x = logits(1500, scale, 7 + scale, tieStep);
    const top = x.reduce((a, b) => Math.max(a, b), -Infinity);
    for (const T of [0.3, 0.7, 1, 1.6]) for (const topP of [1, 0.95, 0.5, 1 - 2 ** -53]) {
      const opts = { doSample: true, temperature: T, topP };
      const a = new Rng(99), b = new Rng(99);
      for (let i = 0; i < 8; i++) {
        const r = b.next();
        const want = reference(x, T, topP, r);
        const got = sampleTokenWithLogProb(x, opts, a);
        assert.ok(same(got, want), `scale ${scale} ties ${tieStep} T ${T} top-p ${topP} draw ${i}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
        const f = drawFullVocab(x, T, topP, r);
        if (f) { fast++; assert.ok(same(f, want)); }
        draws++;
      }
      // the rng advanced once per draw on both paths
      assert.equal(a.next(), b.next());
      // cases where some tokens fall below 2^-53 (the tail the fast path leaves out of its sort)
      if (x.some((v) => Math.exp(v / T - top / T) < 2 ** -53)) withTail++;
    }
  }
  assert.ok(withTail >= 8, `${withTail} cases have a negligible tail`);
  // the fast path answers nearly always (it gives up only where the tail below 2^-53 could matter)
  assert.ok(fast >= 0.9 * draws, `fast path taken for ${fast} of ${draws} draws`);
});

test('sampling edge cases: the largest draw, a top-p that needs the tail, a single finite logit', () => {
  const x = logits(2000, 20, 3);
  for (const r of [0, 1 - 2 ** -32, 0.5]) for (const topP of [1, 1 - 2 ** -53, 0.3])
    assert.ok(same(drawFullVocab(x, 1, topP, r) ?? reference(x, 1, topP, r), reference(x, 1, topP, r)));
  const one = new Float32Array(100).fill(-Infinity);
  one[42] = 3;
  assert.deepEqual(sampleTokenWithLogProb(one, { doSample: true }, new Rng(1)), { id: 42, logProb: 0 });
});

test('sampling at Qwen2.5 vocabulary size (151,936) agrees with the full sort', () => {
  const x = logits(151936, 2.5, 11);
  const a = new Rng(5), b = new Rng(5);
  for (const topP of [1, 0.9]) {
    const r = b.next();
    assert.ok(same(sampleTokenWithLogProb(x, { temperature: 0.7, topP }, a), reference(x, 0.7, topP, r)));
  }
});
