// golden.test.ts — the decoder against an independent implementation: logits, loss, every parameter gradient
// and three AdamW steps of tiny models of each family — LLaMA (untied, GQA 4:2), Qwen2 (q/k/v biases, tied, MQA),
// Qwen3 (q/k norms, head_dim 12 ≠ 32/4), Llama 3 rope_scaling llama3 (40 positions past the original 32),
// linear and dynamic RoPE scaling, a LLaMA-1/2-style config of HF defaults — equal the float64 torch values of
// scripts/dev/golden-llama.py within f32 tolerances on every available backend; the KV cache matches each.
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
import { noGrad } from '../../src/autograd/grad-mode.js';
import { diff, nativeOrSkip, referenceBackend, withBackend } from '../helpers.js';
import type { Backend } from '../../src/backend/index.js';

const FIXTURES = 'test/fixtures/model';

function load(name: string) {
  const f = new SafetensorsFile(`${FIXTURES}/golden-${name}.safetensors`);
  const cfg = fromHfConfig(JSON.parse(f.metadata.config!)).config;
  const model = new LlamaForCausalLM(cfg, 7);
  for (const [n, p] of model.namedParameters()) f.readF32(n, p.f32());
  const shape = f.entry('input.ids').shape as number[]; // (B, T)
  const ids = Tensor.empty(shape, 'i32').keep(), targets = Tensor.empty(shape, 'i32').keep();
  (ids.data as Int32Array).set(f.readF32('input.ids'));
  (targets.data as Int32Array).set(f.readF32('input.targets'));
  return { f, model, ids, targets, cfg, loss: Number(f.metadata.loss), adamw: JSON.parse(f.metadata.adamw!) as { lr: number; weight_decay: number; losses: number[] } };
}

const backends: [string, Backend | null, string][] = [['reference', referenceBackend, '']];
const nat = nativeOrSkip();
backends.push(['native', nat.backend, nat.reason]);

const FAMILIES = ['llama', 'qwen2', 'qwen3', 'llama3', 'linear', 'dynamic', 'llama2'];

for (const name of FAMILIES) {
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

// prefill, then one-token decode steps: every position's logits equal the full forward's (the golden logits).
// Dynamic NTK recomputes the base from the longest position of each pass, as HF does, so cached keys rotated
// under a shorter length differ from a full pass beyond max_position_embeddings: it is checked within it.
for (const name of FAMILIES) {
  for (const [bname, be, reason] of backends) {
    test(`golden ${name} (${bname}): KV-cache prefill + decode equals the full forward`, { skip: be ? false : reason }, () => {
      withBackend(be!, () => {
        const g = load(name);
        const [B, Tall] = g.ids.shape as [number, number];
        const T = name === 'dynamic' ? Math.min(Tall, g.cfg.maxPositions) : Tall;
        const V = g.cfg.vocabSize, ids = g.ids.data as Int32Array;
        const want = g.f.readF32('expected.logits'); // (B, Tall, V)
        noGrad(() => tidy(() => {
          // for dynamic the reference is our own full pass over the first T tokens (≤ the trained length)
          const sub = Tensor.empty([B, T], 'i32');
          for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) (sub.data as Int32Array)[b * T + t] = ids[b * Tall + t]!;
          const full = T === Tall ? null : g.model.forward({ ids: sub }).f32();
          const ref = (b: number, t: number, v: number) => full ? full[(b * T + t) * V + v]! : want[(b * Tall + t) * V + v]!;
          const cache = g.model.newCache(B, T);
          const P = Math.min(4, T - 1);
          const pre = Tensor.empty([B, P], 'i32');
          for (let b = 0; b < B; b++) for (let t = 0; t < P; t++) (pre.data as Int32Array)[b * P + t] = ids[b * Tall + t]!;
          let worst = 0;
          const check = (got: Float32Array, t0: number, n: number) => {
            for (let b = 0; b < B; b++) for (let t = 0; t < n; t++) for (let v = 0; v < V; v++)
              worst = Math.max(worst, Math.abs(got[(b * n + t) * V + v]! - ref(b, t0 + t, v)));
          };
          check(g.model.forward({ ids: pre, cache }).f32(), 0, P);
          for (let t = P; t < T; t++) {
            const step = Tensor.empty([B, 1], 'i32');
            for (let b = 0; b < B; b++) (step.data as Int32Array)[b] = ids[b * Tall + t]!;
            check(g.model.forward({ ids: step, cache }).f32(), t, 1);
          }
          assert.equal(cache.length, T);
          assert.ok(worst < 2e-4, `cache vs full forward: max |diff| ${worst}`);
        }));
        g.f.close();
      });
    });
  }
}
