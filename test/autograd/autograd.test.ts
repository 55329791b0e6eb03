// Autograd mechanics: accumulation across backward calls, detach, noGrad, shared subexpressions, scopes
// returning buffers to the pool (bounded memory over training steps), and errors that name op and shapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor/tensor.js';
import { tidy } from '../../src/tensor/scope.js';
import { poolStats } from '../../src/tensor/pool.js';
import { backward, zeroGrad } from '../../src/autograd/backward.js';
import { noGrad } from '../../src/autograd/grad-mode.js';
import * as op from '../../src/ops/index.js';
import { LlamaForCausalLM, presets } from '../../src/model/llama.js';
import { AdamW, defaultGroups } from '../../src/optim/adamw.js';
import { lmTrainStep } from '../../src/train/lm-step.js';
import { Rng, idsT, randT } from '../helpers.js';

test('gradients accumulate over several backward calls', () => {
  const r = new Rng(1);
  const x = op.parameter(randT(r, [3, 4]));
  const w = randT(r, [3, 4]);
  backward(op.sum(op.mul(x, w)));
  backward(op.sum(op.mul(x, w)));
  const g = x.grad!.toArray();
  w.toArray().forEach((wi, i) => assert.ok(Math.abs(g[i]! - 2 * wi) < 1e-6));
  zeroGrad([x]);
  assert.equal(x.grad, null);
});

test('a tensor used twice gets the sum of both paths', () => {
  const x = op.parameter(op.tensor([1, 2, 3]));
  backward(op.sum(op.add(op.mul(x, x), x))); // d/dx (x² + x) = 2x + 1
  assert.deepEqual(x.grad!.toArray(), [3, 5, 7]);
});

test('detach and noGrad cut the graph', () => {
  const x = op.parameter(op.tensor([1, 2]));
  const y = op.mul(x, op.detach(x)); // gradient only through the first factor
  backward(op.sum(y));
  assert.deepEqual(x.grad!.toArray(), [1, 2]);
  const z = noGrad(() => op.mul(x, x));
  assert.equal(z.requiresGrad, false);
  assert.throws(() => backward(op.sum(z)), /does not require grad/);
});

test('errors name the op and the shapes', () => {
  const a = Tensor.empty([8, 384]), b = Tensor.empty([256, 1024]);
  assert.throws(() => op.matmul(a, b), { message: '[matmul] inner dims differ: [8,384] × [256,1024]' });
  assert.throws(() => op.add(Tensor.empty([3, 4]), Tensor.empty([5])), /\[add\] shapes do not broadcast: \[3,4\] and \[5\]/);
  assert.throws(() => op.rmsNorm(Tensor.empty([2, 4]), Tensor.empty([3]), 1e-5), /\[rmsNorm\] weight must be 1-D of size 4, got \[3\]/);
  assert.throws(() => op.embedding(Tensor.empty([4, 2]), Tensor.empty([3])), /\[embedding\] expected an i32 tensor/);
  assert.throws(() => op.attention(Tensor.empty([1, 2, 3, 4]), Tensor.empty([1, 2, 2, 4]), Tensor.empty([1, 2, 2, 4])), /\[attention\] query heads 3 not a multiple of key\/value heads 2/);
  assert.throws(() => op.crossEntropy(Tensor.empty([2, 5]), Tensor.empty([3], 'i32')), /\[crossEntropy\] targets \[3\] do not match logits \[2,5\]/);
});

test('ids outside the vocabulary are refused, not read out of bounds', () => {
  const w = randT(new Rng(2), [4, 3]);
  const ids = Tensor.empty([2], 'i32');
  (ids.data as Int32Array).set([1, 4]);
  assert.throws(() => op.embedding(w, ids), /\[embedding.*\] .*4/);
});

test('training steps reuse pooled buffers: allocations stop growing after the first steps', () => {
  const cfg = { ...presets.tiny, vocabSize: 64, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2 };
  const model = new LlamaForCausalLM(cfg, 3);
  const opt = new AdamW(defaultGroups(model.parameters(), 0.01));
  const r = new Rng(4);
  const ids = idsT(r, [2, 16], 64).keep(), targets = idsT(r, [2, 16], 64).keep();
  const losses: number[] = [];
  const allocatedAfter: number[] = [];
  for (let s = 0; s < 6; s++) {
    losses.push(lmTrainStep(model, opt, { ids, targets }, 1e-2).loss);
    allocatedAfter.push(poolStats().allocated);
  }
  assert.equal(allocatedAfter[5], allocatedAfter[2], `fresh allocations per step after warm-up: ${allocatedAfter.join(', ')}`);
  assert.ok(losses[5]! < losses[0]!, `loss should fall on a fixed batch: ${losses.join(', ')}`);
});

test('tidy keeps what is returned and what its graph needs, disposes the rest', () => {
  const x = op.parameter(randT(new Rng(5), [4]));
  let tmp: Tensor | null = null;
  const y = tidy(() => {
    tmp = op.exp(x);
    const unused = op.mul(tmp, tmp);
    void unused;
    return op.sum(op.log(op.addScalar(tmp, 1)));
  });
  assert.equal(tmp!.disposed, false, 'saved by the graph of the result');
  backward(y);
  assert.ok(x.grad);
  const z = tidy(() => noGrad(() => op.exp(x)));
  assert.equal(z.disposed, false);
});
