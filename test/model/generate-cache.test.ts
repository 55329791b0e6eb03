// generate-cache.test.ts — a prefill in passes equals one pass; a decode step attends over the KV cache's whole capacity in one kernel call, with the
// positions past each row's keys masked: whatever those unwritten positions hold (here NaN, as after a reset of a
// cache that held another batch) must not reach the output, on the native kernel and on the reference backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LlamaForCausalLM, presets, type LlamaConfig } from '../../src/model/llama.js';
import { prefill } from '../../src/model/generate.js';
import { noGrad } from '../../src/autograd/grad-mode.js';
import { tidy } from '../../src/tensor/scope.js';
import { diff, i32T, referenceBackend, withBackend } from '../helpers.js';

const cfg: LlamaConfig = { ...presets.tiny, vocabSize: 64, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositions: 64 };

function decodeLogits(m: LlamaForCausalLM, poison: boolean): Float32Array[] {
  return noGrad(() => tidy(() => {
    const cache = m.newCache(2, 24);
    if (poison) for (const buf of [...cache.k, ...cache.v]) buf.fill(NaN);
    // left-padded prefill: row 0 has 3 real tokens of 5
    const mask = i32T([0, 0, 1, 1, 1, 1, 1, 1, 1, 1], [2, 5]);
    const pos = i32T([0, 0, 0, 1, 2, 0, 1, 2, 3, 4], [10]);
    const out = [m.forward({ ids: i32T([0, 0, 5, 6, 7, 1, 2, 3, 4, 5], [2, 5]), positions: pos, keyMask: mask, cache }).f32().slice()];
    for (let t = 0; t < 6; t++) {
      const step = m.forward({ ids: i32T([8 + t, 9 + t], [2, 1]), positions: i32T([3 + t, 5 + t], [2]), keyMask: i32T([1, 1], [2, 1]), cache });
      out.push(step.f32().slice());
    }
    return out;
  }));
}

for (const [name, wrap] of [['native', (f: () => void) => f()], ['reference', (f: () => void) => withBackend(referenceBackend, f)]] as const) {
  test(`decode steps over the cache ignore unwritten capacity (${name})`, () => {
    wrap(() => {
      const m = new LlamaForCausalLM(cfg, 2);
      const clean = decodeLogits(m, false), poisoned = decodeLogits(m, true);
      clean.forEach((c, i) => {
        assert.ok(c.every(Number.isFinite) && poisoned[i]!.every(Number.isFinite), `step ${i}: logits not finite`);
        assert.ok(diff(poisoned[i]!, c).maxAbs === 0, `step ${i}: the unwritten capacity changed the logits`);
      });
    });
  });
}

test('a prefill in passes of whole positions gives the single pass\'s logits and cache, padded rows included', () => {
  const m = new LlamaForCausalLM(cfg, 4);
  const prompts = [[3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13], [1, 2, 3], [20, 21, 22, 23, 24, 25, 26]];
  const run = (chunkRows: number) => noGrad(() => tidy(() => {
    const cache = m.newCache(3, 20);
    const first = prefill(m, cache, prompts, 0, chunkRows).f32().slice();
    const step = m.forward({ ids: i32T([30, 31, 32], [3, 1]), positions: i32T([11, 3, 7], [3]), keyMask: i32T([1, 1, 1], [3, 1]), cache }).f32().slice();
    return { first, step, length: cache.length, mask: cache.mask.slice() };
  }));
  const one = run(Infinity);
  for (const rows of [12, 7, 1]) { // 3, 5 and 11 passes (the last: one position a pass, the decode-step path)
    const r = run(rows);
    assert.equal(r.length, 12); // 11 prompt positions + the step
    assert.deepEqual(r.mask, one.mask);
    assert.ok(diff(r.first, one.first).maxAbs < 1e-4, `chunkRows ${rows}: prefill logits ${diff(r.first, one.first).maxAbs}`);
    assert.ok(diff(r.step, one.step).maxAbs < 1e-4, `chunkRows ${rows}: next step logits ${diff(r.step, one.step).maxAbs}`);
  }
});

test('keepRows moves the kept rows\' cached positions and mask down in order, refuses bad indices; reset restores the batch', () => {
  const m = new LlamaForCausalLM(cfg, 5);
  const cache = m.newCache(4, 6);
  const row = cfg.numKvHeads * (cfg.hiddenSize / cfg.numHeads);
  // three positions committed; value = 1000·row + 10·position + layer (+0.5 for V)
  cache.append(4, 3, i32T([1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1], [4, 3]));
  cache.commit(3);
  // keys transposed: (B, Hkv·D, keyStride), position t of line j of row b at (b·row + j)·keyStride + t
  const ks = cache.keyStride;
  assert.equal(ks, 16, 'the key stride is the capacity rounded up to 16');
  cache.k.forEach((k, l) => { for (let b = 0; b < 4; b++) for (let j = 0; j < row; j++) for (let t = 0; t < 3; t++) k[(b * row + j) * ks + t] = 1000 * b + 10 * t + l + j / 100; });
  cache.v.forEach((v, l) => { for (let b = 0; b < 4; b++) for (let t = 0; t < 3; t++) v.fill(1000 * b + 10 * t + l + 0.5, (b * 6 + t) * row, (b * 6 + t + 1) * row); });
  cache.keepRows([1, 3]);
  assert.equal(cache.rows, 2);
  for (const [i, b] of [[0, 1], [1, 3]] as const)
    for (let t = 0; t < 3; t++) {
      cache.k.forEach((k, l) => { for (const j of [0, row - 1]) assert.equal(k[(i * row + j) * ks + t], Math.fround(1000 * b + 10 * t + l + j / 100), `K row ${i} ← ${b}, line ${j}, position ${t}, layer ${l}`); });
      cache.v.forEach((v, l) => assert.equal(v[(i * 6 + t) * row], 1000 * b + 10 * t + l + 0.5));
    }
  assert.deepEqual([...cache.mask.subarray(0, 12)], [0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0]);
  assert.throws(() => cache.append(4, 1, null), /batch of 4 rows, cache holds 2/);
  assert.throws(() => cache.keepRows([1, 0]), /increasing row indices below 2/);
  assert.throws(() => cache.keepRows([2]), /increasing row indices below 2/);
  cache.reset(); // a new batch of the allocated shape
  assert.equal(cache.rows, 4);
  assert.doesNotThrow(() => cache.append(4, 1, null));
});
