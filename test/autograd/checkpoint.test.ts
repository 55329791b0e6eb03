// Activation checkpointing (src/autograd/checkpoint.ts, LlamaForCausalLM.gradientCheckpointing): gradients are
// bitwise those of the plain path — full fine-tuning, and LoRA with dropout (the recomputation replays the mask) —
// while the graph kept for backward holds fewer bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward, zeroGrad } from '../../src/autograd/backward.js';
import { tidy } from '../../src/tensor/scope.js';
import { crossEntropy } from '../../src/ops/loss.js';
import { LlamaForCausalLM, presets } from '../../src/model/llama.js';
import { LoraAdapter, trainOnly } from '../../src/nn/lora.js';
import { noteActivations } from '../../src/train/memory.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { Rng, i32T, idsT } from '../helpers.js';

const cfg = { ...presets.tiny, vocabSize: 41, hiddenSize: 32, intermediateSize: 48, numLayers: 3, numHeads: 4, numKvHeads: 2 };

function batch() {
  const r = new Rng(3);
  return { ids: idsT(r, [2, 9], 41), targets: idsT(r, [2, 9], 41), keyMask: i32T([...Array(9).fill(1), 0, 0, ...Array(7).fill(1)], [2, 9]) };
}

/** Two accumulated backward passes; returns each trainable tensor's gradient and the graph bytes of the first. */
function run(model: LlamaForCausalLM, params: Tensor[], ck: boolean): { grads: Float32Array[]; bytes: number } {
  model.gradientCheckpointing = ck;
  const b = batch();
  zeroGrad(params);
  let bytes = 0;
  for (let i = 0; i < 2; i++) {
    tidy(() => {
      const loss = crossEntropy(model.forward({ ids: b.ids, keyMask: b.keyMask }), b.targets);
      if (i === 0) bytes = noteActivations(loss);
      backward(loss);
    });
  }
  const grads = params.map((p) => Float32Array.from(p.grad!.data as Float32Array));
  zeroGrad(params);
  return { grads, bytes };
}

function assertBitwise(a: Float32Array[], b: Float32Array[]): void {
  assert.equal(a.length, b.length);
  a.forEach((g, i) => {
    const h = b[i]!;
    for (let j = 0; j < g.length; j++)
      if (!Object.is(g[j], h[j])) assert.fail(`tensor ${i} [${j}]: ${g[j]} vs ${h[j]}`);
  });
}

test('checkpointing: full fine-tuning gradients are bitwise the plain ones, with a smaller saved graph', () => {
  const model = new LlamaForCausalLM(cfg, 5);
  const params = model.parameters();
  const plain = run(model, params, false);
  const ck = run(model, params, true);
  assertBitwise(ck.grads, plain.grads);
  assert.ok(plain.grads.some((g) => g.some((x) => x !== 0)), 'gradients are not all zero');
  assert.ok(ck.bytes < plain.bytes * 0.6, `checkpointed graph ${ck.bytes} B vs plain ${plain.bytes} B`);
});

test('checkpointing: LoRA with dropout replays the same masks (bitwise gradients, same RNG afterwards)', () => {
  const make = () => {
    const model = new LlamaForCausalLM(cfg, 6);
    const ad = new LoraAdapter('sft', { r: 4, loraAlpha: 8, loraDropout: 0.3, targetModules: ['q_proj', 'v_proj', 'down_proj'], useRslora: false }, 9)
      .attach(model.namedLinears(), 2);
    const params = trainOnly(ad, model.parameters());
    // B starts at zero: give it values so A's gradient is not trivially zero
    for (const p of params) if (p.name?.endsWith('lora_B')) (p.data as Float32Array).forEach((_, i, d) => (d[i] = Math.sin(i) * 0.05));
    return { model, params, ad };
  };
  const a = make(), b = make();
  const plain = run(a.model, a.params, false);
  const ck = run(b.model, b.params, true);
  assertBitwise(ck.grads, plain.grads);
  assert.deepEqual(Array.from(b.ad.dropRng.saveState()), Array.from(a.ad.dropRng.saveState()), 'dropout generator advanced differently');
  assert.ok(a.model.parameters().every((p) => p.grad === null), 'the frozen base received gradients');
});
