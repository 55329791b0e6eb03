// What a forward with nothing recorded holds at once (rollouts, reference log-probs, reward scores, sampling): each
// layer's intermediates are freed when it ends, so the buffers it allocates fresh do not grow with depth. Found on
// the 0.5B shape, where an enclosing tidy held every layer's MLP products (more than the bf16 base) until it closed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad } from '../../src/autograd/grad-mode.js';
import { tidy } from '../../src/tensor/scope.js';
import { clearPool, poolStats } from '../../src/tensor/pool.js';
import { LlamaForCausalLM, presets } from '../../src/model/llama.js';
import { LoraAdapter } from '../../src/nn/lora.js';
import { tokenLogProbs } from '../../src/train/tasks/logprobs.js';
import { generate } from '../../src/model/generate.js';

const base = { ...presets.tiny, vocabSize: 64, hiddenSize: 32, intermediateSize: 96, numHeads: 4, numKvHeads: 2 };

function model(layers: number): LlamaForCausalLM {
  const m = new LlamaForCausalLM({ ...base, numLayers: layers }, 3);
  new LoraAdapter('ppo', { r: 4, loraAlpha: 8, loraDropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], useRslora: false }, 1)
    .attach(m.namedLinears(), 2);
  return m;
}

const seqs = [Array.from({ length: 24 }, (_, i) => (i * 7) % 64), Array.from({ length: 20 }, (_, i) => (i * 5 + 1) % 64)];

/** Fresh buffers a call allocates inside one tidy (the pool reuses what was released before it). */
function freshBuffers(fn: () => void): number {
  clearPool();
  const before = poolStats().allocated;
  noGrad(() => tidy(fn));
  return poolStats().allocated - before;
}

test('a forward under noGrad frees each layer\'s intermediates: fresh buffers do not grow with depth', () => {
  const logProbs = (layers: number) => { const m = model(layers); return freshBuffers(() => { tokenLogProbs(m, seqs, [10, 8], { entropy: true }); }); };
  const two = logProbs(2), twelve = logProbs(12);
  // holding every layer's products until the tidy closes allocates ~6× as many at 12 layers as at 2
  assert.ok(twelve <= two * 1.5, `fresh buffers: ${two} at 2 layers, ${twelve} at 12`);
  const gen = (layers: number) => { const m = model(layers); return freshBuffers(() => { generate(m, seqs, { maxNewTokens: 3, doSample: false }); }); };
  const g2 = gen(2), g12 = gen(12);
  assert.ok(g12 <= g2 * 1.5, `generate prefill + decode: ${g2} fresh buffers at 2 layers, ${g12} at 12`);
});

test('the freed-per-layer forward computes the same log-probs as one recorded with gradients', () => {
  const m = model(3);
  const a = noGrad(() => tidy(() => Array.from(tokenLogProbs(m, seqs, [10, 8]).logProbs.f32())));
  const b = tidy(() => Array.from(tokenLogProbs(m, seqs, [10, 8]).logProbs.f32()));
  assert.deepEqual(a, b);
});
