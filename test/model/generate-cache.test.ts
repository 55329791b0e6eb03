// generate-cache.test.ts — a decode step attends over the KV cache's whole capacity in one kernel call, with the
// positions past each row's keys masked: whatever those unwritten positions hold (here NaN, as after a reset of a
// cache that held another batch) must not reach the output, on the native kernel and on the reference backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LlamaForCausalLM, presets, type LlamaConfig } from '../../src/model/llama.js';
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
