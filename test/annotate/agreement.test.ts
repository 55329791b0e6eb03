// agreement.test.ts — Kendall's τ-b and Krippendorff's α (ordinal) against small cases worked out by hand
// (the arithmetic is in the comments), plus the per-item report's ordering and its handling of rewrites.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agreementReport, kendallTauB, krippendorffAlphaOrdinal, midRanks } from '../../src/annotate/agreement.js';

const close = (a: number | null, b: number, eps = 1e-12) => assert.ok(a !== null && Math.abs(a - b) < eps, `${a} ≠ ${b}`);

test('τ-b without ties: one swapped pair of four', () => {
  // 6 pairs, (c2,c3) discordant, 5 concordant: (5 − 1) / √(6·6) = 4/6
  close(kendallTauB([['a'], ['b'], ['c'], ['d']], [['a'], ['b'], ['d'], ['c']]), 4 / 6);
  close(kendallTauB([['a'], ['b'], ['c']], [['c'], ['b'], ['a']]), -1);
  close(kendallTauB([['a'], ['b'], ['c']], [['a'], ['b'], ['c']]), 1);
});

test('τ-b with ties: the tie-corrected denominator', () => {
  // x ties a,b; y ranks all apart. n0 = 6, n1 = 1 (tied in x), n2 = 0; the 5 untied pairs agree:
  // τ-b = 5 / √((6 − 1)(6 − 0)) = 5 / √30
  close(kendallTauB([['a', 'b'], ['c'], ['d']], [['a'], ['b'], ['c'], ['d']]), 5 / Math.sqrt(30));
  // both tie the same pair: C = 5, n1 = n2 = 1 → 5 / 5 = 1
  close(kendallTauB([['a', 'b'], ['c'], ['d']], [['b', 'a'], ['c'], ['d']]), 1);
  // x: {a,b} > c; y: c > a > b. Pairs: (a,b) tied in x; (a,c) and (b,c) discordant → −2 / √(2·3)
  close(kendallTauB([['a', 'b'], ['c']], [['c'], ['a'], ['b']]), -2 / Math.sqrt(6));
  // everything tied in one ranking: undefined, not 0
  assert.equal(kendallTauB([['a', 'b', 'c']], [['a'], ['b'], ['c']]), null);
});

test('τ-b only over shared ids (a rewrite only one annotator wrote is ignored)', () => {
  close(kendallTauB([['rw'], ['a'], ['b']], [['b'], ['a']]), -1);
});

test('mid-ranks of tied groups', () => {
  assert.deepEqual([...midRanks([['a', 'b'], ['c'], ['d', 'e', 'f']])], [['a', 1.5], ['b', 1.5], ['c', 3], ['d', 5], ['e', 5], ['f', 5]]);
});

test('α ordinal: two values (ordinal = nominal here)', () => {
  // units (1,1) (2,2) (1,2): o11 = 2, o22 = 2, o12 = o21 = 1; n1 = n2 = 3, n = 6.
  // δ²(1,2) = (3 + 3 − 3)² = 9. Σ o δ² = 2·9 = 18; Σ n_c n_k δ² = 2·3·3·9 = 162. α = 1 − 5·18/162 = 4/9
  close(krippendorffAlphaOrdinal([[1, 1], [2, 2], [1, 2]]), 4 / 9);
});

test('α ordinal: three values, where the ordinal metric matters', () => {
  // units (1,2) (1,3) (2,2) (3,3): o12 = o21 = 1, o13 = o31 = 1, o22 = 2, o33 = 2 → n1 = 2, n2 = 3, n3 = 3, n = 8.
  // δ²12 = (2 + 3 − 2.5)² = 6.25; δ²23 = (3 + 3 − 3)² = 9; δ²13 = (2 + 3 + 3 − 2.5)² = 30.25.
  // Σ o δ² = 2·6.25 + 2·30.25 = 73; Σ n n δ² = 2(2·3·6.25 + 2·3·30.25 + 3·3·9) = 600. α = 1 − 7·73/600 = 89/600
  close(krippendorffAlphaOrdinal([[1, 2], [1, 3], [2, 2], [3, 3]]), 89 / 600);
  // units with one value are not pairable and change nothing
  close(krippendorffAlphaOrdinal([[1, 2], [1, 3], [2, 2], [3, 3], [1], [3]]), 89 / 600);
  close(krippendorffAlphaOrdinal([[1, 1, 1], [2, 2], [3, 3]]), 1);
  assert.equal(krippendorffAlphaOrdinal([[1, 1], [1, 1]]), null);
  assert.equal(krippendorffAlphaOrdinal([[1]]), null);
});

test('report: items sorted by disagreement, rewrites left out, α over mid-ranks', () => {
  const base = new Set(['a', 'b', 'c']);
  const rows = [
    { itemId: 'agree', annotator: 'u1', ranking: [['a'], ['b'], ['c']], baseIds: base },
    // u2's rewrite on top must not shift a/b/c
    { itemId: 'agree', annotator: 'u2', ranking: [['rw-a'], ['a'], ['b'], ['c']], baseIds: base },
    { itemId: 'fight', annotator: 'u1', ranking: [['a'], ['b'], ['c']], baseIds: base },
    { itemId: 'fight', annotator: 'u2', ranking: [['c'], ['b'], ['a']], baseIds: base },
    { itemId: 'alone', annotator: 'u1', ranking: [['a'], ['b'], ['c']], baseIds: base },
  ];
  const r = agreementReport(rows);
  assert.equal(r.itemsCompared, 2);
  assert.deepEqual(r.items.map((i) => [i.itemId, i.meanTau]), [['fight', -1], ['agree', 1]]);
  close(r.meanTau, 0);
  // units (base-only mid-ranks): agree → (1,1) (2,2) (3,3); fight → (1,3) (2,2) (3,1).
  // o11 = 2, o22 = 4, o33 = 2, o13 = o31 = 2 → n1 = n2 = n3 = 4, n = 12. δ²12 = δ²23 = (4 + 4 − 4)² = 16, δ²13 = (12 − 4)² = 64.
  // Σ o δ² = 4·64 = 256; Σ n n δ² = 2·16·(16 + 64 + 16) = 3072; α = 1 − 11·256/3072 = 1/12
  close(r.alphaOrdinal, 1 / 12);
});
