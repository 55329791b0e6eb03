// Memory work of the training path: the frozen bf16 base (LoRA gradients against the f32 base), lmLoss through the
// chunked head against crossEntropy over full logits (tied and untied heads), the pool's eviction, the memory line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward, zeroGrad } from '../../src/autograd/backward.js';
import { tidy } from '../../src/tensor/scope.js';
import { crossEntropy } from '../../src/ops/loss.js';
import { LlamaForCausalLM, presets } from '../../src/model/llama.js';
import { LoraAdapter, trainOnly } from '../../src/nn/lora.js';
import { lmLoss } from '../../src/train/lm-step.js';
import { tokenLogProbs } from '../../src/train/tasks/logprobs.js';
import { gatherLogProbs, slice } from '../../src/ops/index.js';
import { lowPrecisionBase, memoryBreakdown, memoryLine } from '../../src/train/memory.js';
import { acquire, clearPool, poolStats, release, setPoolLimit } from '../../src/tensor/pool.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { Rng, diff, idsT } from '../helpers.js';

const cfg = { ...presets.tiny, vocabSize: 64, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2 };

function loraModel(tied: boolean) {
  const model = new LlamaForCausalLM({ ...cfg, tieWordEmbeddings: tied }, 7);
  const ad = new LoraAdapter('sft', { r: 4, loraAlpha: 8, loraDropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], useRslora: false }, 1)
    .attach(model.namedLinears(), 3);
  const params = trainOnly(ad, model.parameters());
  for (const p of params) if (p.name?.endsWith('lora_B')) (p.data as Float32Array).forEach((_, i, d) => (d[i] = Math.cos(i) * 0.05));
  return { model, params };
}

function gradsOf(params: Tensor[], lossFn: () => Tensor): { loss: number; grads: Float32Array[] } {
  zeroGrad(params);
  const loss = tidy(() => { const l = lossFn(); const v = l.item(); backward(l); return v; });
  const grads = params.map((p) => Float32Array.from(p.grad!.data as Float32Array));
  zeroGrad(params);
  return { loss, grads };
}

const r = new Rng(4);
const ids = idsT(r, [2, 10], 64), targets = idsT(r, [2, 10], 64);

test('LoRA on a bf16 base: adapter gradients match the f32 base within 3 % of their scale, base stays bf16 and gradient-free', () => {
  const f = loraModel(true), b = loraModel(true);
  lowPrecisionBase(b.model);
  const lin = b.model.namedLinears();
  assert.ok(lin.every(([, l]) => l.weight.dtype === 'bf16' && !l.weight.requiresGrad));
  const ref = gradsOf(f.params, () => lmLoss(f.model, { ids, targets }));
  const got = gradsOf(b.params, () => lmLoss(b.model, { ids, targets }));
  assert.ok(Math.abs(ref.loss - got.loss) < 1e-2 * Math.abs(ref.loss), `loss ${got.loss} vs ${ref.loss}`);
  ref.grads.forEach((g, i) => {
    const scale = Math.max(...Array.from(g, Math.abs));
    const d = diff(got.grads[i]!, g);
    assert.ok(scale > 0 && d.maxAbs < 0.03 * scale, `${b.params[i]!.name}: max abs diff ${d.maxAbs} vs scale ${scale}`);
  });
  assert.ok(b.model.parameters().every((p) => p.grad === null));
});

for (const tied of [true, false]) {
  test(`lmLoss (chunked head) matches crossEntropy over full logits, ${tied ? 'tied' : 'untied'} head, full fine-tuning`, () => {
    const model = new LlamaForCausalLM({ ...cfg, tieWordEmbeddings: tied }, 8);
    const params = model.parameters();
    const ref = gradsOf(params, () => crossEntropy(model.forward({ ids }), targets));
    const got = gradsOf(params, () => lmLoss(model, { ids, targets }));
    assert.ok(Math.abs(ref.loss - got.loss) < 1e-5 * Math.abs(ref.loss));
    ref.grads.forEach((g, i) => assert.ok(diff(got.grads[i]!, g).maxRel < 1e-3, `param ${i}`));
  });
}

test('tokenLogProbs (chunked) matches gatherLogProbs over full logits', () => {
  const { model } = loraModel(true);
  const seqs = [[1, 2, 3, 4, 5], [6, 7, 8]];
  tidy(() => {
    const t = tokenLogProbs(model, seqs, [2, 1], { entropy: true });
    const full = gatherLogProbs(model.logits(slice(t.hidden, 1, 0, t.batch.T - 1)), slice(t.batch.ids, 1, 1, t.batch.T));
    assert.ok(diff(t.logProbs.toArray(), full.toArray()).maxRel < 1e-5);
    assert.ok(t.entropy!.toArray().every((e) => e > 0 && e <= Math.log(64) + 1e-4));
  });
});

test('pool: past its cap it drops the least recently released lengths, and reports its high-water', () => {
  clearPool();
  const prev = setPoolLimit(3 * 4000);
  try {
    const a = acquire('f32', 1000, false), b = acquire('f32', 1000, false), c = acquire('f32', 500, false);
    release('f32', a); release('f32', b); // 8000 B of length 1000
    release('f32', c);                    // 10,000 B
    const d = acquire('f32', 1500, false);
    release('f32', d);                    // 16,000 > 12,000: length 1000 (least recent) goes first
    const s = poolStats();
    assert.ok(s.pooledBytes <= 12000, `pooled ${s.pooledBytes}`);
    assert.ok(s.evicted >= 1);
    assert.ok(s.highWaterBytes >= s.pooledBytes);
    assert.equal(acquire('f32', 1500, false), d, 'the most recent buffer is kept');
  } finally {
    setPoolLimit(prev);
    clearPool();
  }
});

test('memoryLine names every part', () => {
  const { model, params } = loraModel(true);
  const line = memoryLine('sft', memoryBreakdown(model.parameters(), params));
  for (const k of ['weights', 'grads', 'optimiser', 'activations', 'pool high-water', 'peak RSS']) assert.ok(line.includes(k), line);
});
