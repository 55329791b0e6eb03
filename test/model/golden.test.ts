// golden.test.ts — the decoder against an independent implementation: logits, loss, every parameter gradient
// and three AdamW steps of a tiny LLaMA (untied, GQA 4:2) and a tiny Qwen2 (q/k/v biases, tied, MQA) equal the
// float64 torch values of scripts/dev/golden-llama.py within f32 tolerances, on every available backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SafetensorsFile } from '../../src/model/safetensors.js';
import { fromHfConfig } from '../../src/model/config.js';
import { LlamaForCausalLM } from '../../src/model/llama.js';
import { crossEntropy } from '../../src/ops/loss.js';
import { backward, zeroGrad } from '../../src/autograd/backward.js';
import { AdamW, defaultGroups } from '../../src/optim/adamw.js';
import { lmTrainStep } from '../../src/train/lm-step.js';
import { tidy } from '../../src/tensor/scope.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { diff, nativeOrSkip, referenceBackend, withBackend } from '../helpers.js';
import type { Backend } from '../../src/backend/index.js';

const FIXTURES = 'test/fixtures/model';

function load(name: string) {
  const f = new SafetensorsFile(`${FIXTURES}/golden-${name}.safetensors`);
  const cfg = fromHfConfig(JSON.parse(f.metadata.config!)).config;
  const model = new LlamaForCausalLM(cfg, 7);
  for (const [n, p] of model.namedParameters()) f.readF32(n, p.f32());
  const ids = Tensor.empty([2, 9], 'i32').keep(), targets = Tensor.empty([2, 9], 'i32').keep();
  (ids.data as Int32Array).set(f.readF32('input.ids'));
  (targets.data as Int32Array).set(f.readF32('input.targets'));
  return { f, model, ids, targets, loss: Number(f.metadata.loss), adamw: JSON.parse(f.metadata.adamw!) as { lr: number; weight_decay: number; losses: number[] } };
}

const backends: [string, Backend | null, string][] = [['reference', referenceBackend, '']];
const nat = nativeOrSkip();
backends.push(['native', nat.backend, nat.reason]);

for (const name of ['llama', 'qwen2']) {
  for (const [bname, be, reason] of backends) {
    test(`golden ${name} (${bname}): logits, loss, gradients, AdamW steps match torch`, { skip: be ? false : reason }, () => {
      withBackend(be!, () => {
        const g = load(name);
        tidy(() => {
          const logits = g.model.forward({ ids: g.ids }); // (B, T, V)
          const dl = diff(logits.f32(), g.f.readF32('expected.logits'));
          assert.ok(dl.maxAbs < 2e-4, `logits max |diff| ${dl.maxAbs}`);
          const loss = crossEntropy(logits, g.targets);
          assert.ok(Math.abs(loss.item() - g.loss) < 1e-5 * Math.max(1, g.loss), `loss ${loss.item()} vs ${g.loss}`);
          backward(loss);
        });
        let worst = 0, worstName = '';
        for (const [n, p] of g.model.namedParameters()) {
          assert.ok(p.grad, `${n} has no gradient`);
          const want = g.f.readF32('grad.' + n);
          const d = diff(p.grad.f32(), want, 1e-3);
          // relative to the gradient's own scale: per-element relative error is meaningless near zero
          let scale = 0;
          for (const x of want) scale = Math.max(scale, Math.abs(x));
          const rel = d.maxAbs / Math.max(scale, 1e-6);
          if (rel > worst) { worst = rel; worstName = n; }
        }
        assert.ok(worst < 1e-4, `worst gradient error ${worst.toExponential(2)} (relative to its max) in ${worstName}`);
        zeroGrad(g.model.parameters());
        const opt = new AdamW(defaultGroups(g.model.parameters(), g.adamw.weight_decay));
        const losses: number[] = [];
        for (let s = 0; s < 3; s++) losses.push(lmTrainStep(g.model, opt, { ids: g.ids, targets: g.targets }, g.adamw.lr, 0).loss);
        losses.push(tidy(() => crossEntropy(g.model.forward({ ids: g.ids }), g.targets).item()));
        losses.forEach((l, i) => assert.ok(Math.abs(l - g.adamw.losses[i]!) < 2e-4 * Math.max(1, l),
          `AdamW loss ${i}: ${l} vs torch ${g.adamw.losses[i]}`));
        g.f.close();
      });
    });
  }
}
