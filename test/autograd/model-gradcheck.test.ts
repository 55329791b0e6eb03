// Finite differences through a whole tiny LLaMA (float64, reference backend): the loss gradient w.r.t.
// sampled entries of every parameter tensor, so the ops compose correctly, not only one by one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward } from '../../src/autograd/backward.js';
import { noGrad } from '../../src/autograd/grad-mode.js';
import { crossEntropy } from '../../src/ops/loss.js';
import { LlamaForCausalLM, presets } from '../../src/model/llama.js';
import { Rng, i32T, idsT, inFloat64 } from '../helpers.js';

test('gradcheck: whole tiny LLaMA (GQA, padding mask, ignore index)', () => {
  inFloat64(() => {
    const cfg = { ...presets.tiny, vocabSize: 23, hiddenSize: 16, intermediateSize: 24, numLayers: 2, numHeads: 4, numKvHeads: 2 };
    const model = new LlamaForCausalLM(cfg, 11);
    const r = new Rng(12);
    const ids = idsT(r, [2, 7], 23);
    const targets = idsT(r, [2, 7], 23);
    (targets.data as Int32Array)[3] = -100;
    const keyMask = i32T([0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], [2, 7]);
    const lossOf = () => crossEntropy(model.forward({ ids, keyMask }), targets);
    backward(lossOf());
    let worst = 0, where = '';
    for (const [name, p] of model.namedParameters()) {
      const d = p.data as Float32Array;
      for (let k = 0; k < 4; k++) {
        const i = r.int(d.length);
        const orig = d[i]!, h = 1e-5;
        d[i] = orig + h;
        const fp = noGrad(() => lossOf().item());
        d[i] = orig - h;
        const fm = noGrad(() => lossOf().item());
        d[i] = orig;
        const numeric = (fp - fm) / (2 * h), analytic = (p.grad!.data as Float32Array)[i]!;
        const rel = Math.abs(numeric - analytic) / Math.max(Math.abs(numeric), Math.abs(analytic), 1e-4);
        if (rel > worst) { worst = rel; where = `${name}[${i}]: analytic ${analytic}, numeric ${numeric}`; }
      }
    }
    assert.ok(worst < 1e-5, `largest relative difference ${worst.toExponential(2)} at ${where}`);
  });
});
