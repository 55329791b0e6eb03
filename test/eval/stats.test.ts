// stats.test.ts — the report statistics against hand-computed values: the exact sign test (binomial tails worked
// out by hand), percentile-bootstrap intervals (determinism, degenerate data, agreement with the normal
// approximation on a large sample) and the interpolated quantile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapMean, bootstrapProportion, formatInterval, quantile, signTest } from '../../src/eval/stats.js';

test('sign test: exact two-sided binomial p-values', () => {
  // P(X ≤ 2 | n = 10) = (1 + 10 + 45) / 1024 = 56/1024 → p = 112/1024
  assert.equal(signTest(8, 2).p.toFixed(6), (112 / 1024).toFixed(6));
  assert.equal(signTest(2, 8).p.toFixed(6), (112 / 1024).toFixed(6));
  // 10 wins, 0 losses: 2 · 1/1024
  assert.ok(Math.abs(signTest(10, 0, 7).p - 2 / 1024) < 1e-12);
  assert.equal(signTest(10, 0, 7).ties, 7);
  assert.equal(signTest(5, 5).p, 1);
  assert.equal(signTest(0, 0, 3).p, 1);
  // a large sample: 60 vs 40 of 100 → p ≈ 0.0569 (binomial tail, checked against the normal approx 0.057)
  assert.ok(Math.abs(signTest(60, 40).p - 0.05688793) < 1e-6);
  assert.throws(() => signTest(-1, 2), /wins must be a whole number/);
});

test('quantile: linear interpolation between order statistics', () => {
  assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
  assert.equal(quantile([1, 2, 3, 4], 0), 1);
  assert.equal(quantile([1, 2, 3, 4], 1), 4);
  assert.equal(quantile([10], 0.3), 10);
});

test('bootstrap: deterministic per seed, degenerate data, normal-approximation agreement', () => {
  const v = [1, 2, 3, 4, 5, 2, 3, 3, 4, 1];
  const a = bootstrapMean(v)!, b = bootstrapMean(v)!;
  assert.deepEqual(a, b, 'the same seed gives the same interval');
  assert.equal(a.estimate, 2.8);
  assert.ok(a.lo < 2.8 && a.hi > 2.8 && a.lo >= 1 && a.hi <= 5);
  assert.notDeepEqual(bootstrapMean(v, { seed: 7 }), a);
  const c = bootstrapMean([3, 3, 3])!;
  assert.deepEqual([c.estimate, c.lo, c.hi], [3, 3, 3]);
  assert.equal(bootstrapMean([]), null);
  assert.equal(bootstrapProportion(0, 0), null);
  // 240 of 400: SE = sqrt(0.6 · 0.4 / 400) = 0.0245, so the 95 % interval is about 0.552 .. 0.648
  const p = bootstrapProportion(240, 400, { resamples: 4000 })!;
  assert.equal(p.estimate, 0.6);
  assert.ok(Math.abs(p.lo - 0.552) < 0.01 && Math.abs(p.hi - 0.648) < 0.01, `${p.lo} .. ${p.hi}`);
  // a larger sample gives a narrower interval
  const q = bootstrapProportion(2400, 4000, { resamples: 1000 })!;
  assert.ok(q.hi - q.lo < (p.hi - p.lo) / 2);
  assert.equal(formatInterval(p, 1, 100), `60.0 [${(p.lo * 100).toFixed(1)}, ${(p.hi * 100).toFixed(1)}]`);
  assert.throws(() => bootstrapMean([1, NaN]), /non-finite/);
});
