// The chunked LM head (src/ops/lm-head.ts) against the unchunked ops it replaces (matmul + crossEntropy /
// gatherLogProbs): values and gradients on both backends, a bf16 head, and float64 finite differences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward } from '../../src/autograd/backward.js';
import { gradcheck } from '../../src/autograd/gradcheck.js';
import { noGrad } from '../../src/autograd/grad-mode.js';
import { crossEntropy, gatherLogProbs } from '../../src/ops/loss.js';
import { matmul } from '../../src/ops/matmul.js';
import { logSoftmax, toBf16 } from '../../src/ops/nn.js';
import { lmHeadCrossEntropy, lmHeadLogProbs } from '../../src/ops/lm-head.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { Rng, cloneT, diff, idsT, inFloat64, randT, referenceBackend, withBackend } from '../helpers.js';

const B = 2, T = 7, C = 12, V = 19;

function setup(seed: number) {
  const r = new Rng(seed);
  const h = randT(r, [B, T, C]), W = randT(r, [V, C]), targets = idsT(r, [B, T], V);
  (targets.data as Int32Array)[4] = -100;
  (targets.data as Int32Array)[11] = -100;
  return { h, W, targets };
}

function grads(loss: () => Tensor, inputs: Tensor[]): { value: number[]; grads: Float32Array[] } {
  for (const x of inputs) { x.requiresGrad = true; x.grad = null; }
  const l = loss();
  const value = l.toArray();
  if (l.size === 1) backward(l);
  else {
    // a fixed, varied seed so every row's gradient is checked
    const seed = cloneT(l);
    const sd = seed.data as Float32Array;
    for (let i = 0; i < sd.length; i++) sd[i] = Math.sin(1.3 * i) + 1.2;
    backward(l, seed);
  }
  return { value, grads: inputs.map((x) => Float32Array.from(x.grad!.data as Float32Array)) };
}

for (const [name, run] of [['native', <R>(f: () => R) => f()], ['reference', <R>(f: () => R) => withBackend(referenceBackend, f)]] as const) {
  test(`lmHeadCrossEntropy matches matmul + crossEntropy (${name}, chunks of 3 rows, mean and sum)`, () => {
    run(() => {
      for (const reduction of ['mean', 'sum'] as const) {
        const { h, W, targets } = setup(1);
        const h2 = cloneT(h), W2 = cloneT(W);
        const ref = grads(() => crossEntropy(matmul(h, W, { transB: true }), targets, { reduction }), [h, W]);
        const got = grads(() => lmHeadCrossEntropy(h2, W2, targets, { reduction, chunkRows: 3 }), [h2, W2]);
        assert.ok(diff(got.value, ref.value).maxRel < 1e-5, `${reduction} loss ${got.value} vs ${ref.value}`);
        for (let i = 0; i < 2; i++) {
          const d = diff(got.grads[i]!, ref.grads[i]!);
          assert.ok(d.maxRel < 1e-4, `${reduction} grad of input ${i}: ${JSON.stringify(d)}`);
        }
        // ignored rows get no gradient
        for (let c = 0; c < C; c++) assert.equal(got.grads[0]![4 * C + c], 0);
      }
    });
  });

  test(`lmHeadLogProbs matches gatherLogProbs, entropy matches -Σ p log p (${name})`, () => {
    run(() => {
      const { h, W } = setup(2);
      const ids = idsT(new Rng(3), [B, T], V);
      const h2 = cloneT(h), W2 = cloneT(W);
      const ref = grads(() => gatherLogProbs(matmul(h, W, { transB: true }), ids), [h, W]);
      let ent: number[] = [];
      const got = grads(() => {
        const o = lmHeadLogProbs(h2, W2, ids, { chunkRows: 4, entropy: true });
        ent = o.entropy!.toArray();
        return o.logProbs;
      }, [h2, W2]);
      assert.ok(diff(got.value, ref.value).maxRel < 1e-5);
      for (let i = 0; i < 2; i++) assert.ok(diff(got.grads[i]!, ref.grads[i]!).maxRel < 1e-4, `grad ${i}`);
      const want = noGrad(() => {
        const lsm = logSoftmax(matmul(h, W, { transB: true })).toArray();
        return Array.from({ length: B * T }, (_, n) => {
          let s = 0;
          for (let j = 0; j < V; j++) s -= Math.exp(lsm[n * V + j]!) * lsm[n * V + j]!;
          return s;
        });
      });
      assert.ok(diff(ent, want).maxRel < 1e-4, `entropy ${ent} vs ${want}`);
    });
  });
}

test('lmHeadCrossEntropy with a frozen bf16 head matches matmul over the same bf16 weight (no dW)', () => {
  const { h, W, targets } = setup(4);
  const Wb = toBf16(W);
  const h2 = cloneT(h);
  const ref = grads(() => crossEntropy(matmul(h, Wb, { transB: true }), targets), [h]);
  const got = grads(() => lmHeadCrossEntropy(h2, Wb, targets, { chunkRows: 5 }), [h2]);
  assert.ok(diff(got.value, ref.value).maxRel < 1e-5);
  assert.ok(diff(got.grads[0]!, ref.grads[0]!).maxRel < 1e-4);
  assert.equal(Wb.grad, null);
});

test('gradcheck (float64): lmHeadCrossEntropy and lmHeadLogProbs w.r.t. hidden and head', () => {
  inFloat64(() => {
    const { h, W, targets } = setup(5);
    const ce = gradcheck(([x, w]) => lmHeadCrossEntropy(x!, w!, targets, { chunkRows: 4, reduction: 'none' }), [h, W], 1e-5);
    assert.ok(ce.maxRel < 1e-5, `cross-entropy: ${ce.worst}`);
    const ids = idsT(new Rng(6), [B, T], V);
    const lp = gradcheck(([x, w]) => lmHeadLogProbs(x!, w!, ids, { chunkRows: 5 }).logProbs, [h, W], 1e-5);
    assert.ok(lp.maxRel < 1e-5, `log-probs: ${lp.worst}`);
  });
});
