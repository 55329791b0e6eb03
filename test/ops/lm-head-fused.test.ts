// The chunked cross-entropy head over a frozen W (LoRA, a bf16 / quantized base) computes the unit-gradient dH in
// its forward and only scales rows in backward: gradients equal the unchunked ops' (every reduction, per-row seeds,
// both backends, f32 / bf16 / q8_0 tables; log-probs, which keep the recomputing backward, too), and the backward
// runs no GEMM over the vocabulary (the logits are not recomputed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward } from '../../src/autograd/backward.js';
import { crossEntropy, gatherLogProbs } from '../../src/ops/loss.js';
import { matmul } from '../../src/ops/matmul.js';
import { lmHeadCrossEntropy, lmHeadLogProbs } from '../../src/ops/lm-head.js';
import { dequantize, toWeightFormat } from '../../src/ops/quant.js';
import { backend } from '../../src/backend/index.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { Rng, cloneT, diff, idsT, randT, referenceBackend, withBackend } from '../helpers.js';

const B = 2, T = 9, C = 32, V = 23;

function dh(loss: () => Tensor, h: Tensor): Float32Array {
  h.requiresGrad = true;
  h.grad = null;
  const l = loss();
  if (l.size === 1) backward(l);
  else {
    const seed = cloneT(l);
    const sd = seed.data as Float32Array;
    for (let i = 0; i < sd.length; i++) sd[i] = Math.sin(1.3 * i) - 0.2; // varied, some negative
    backward(l, seed);
  }
  return Float32Array.from(h.grad!.data as Float32Array);
}

for (const [name, run] of [['native', <R>(f: () => R) => f()], ['reference', <R>(f: () => R) => withBackend(referenceBackend, f)]] as const) {
  test(`frozen head: dH equals the unchunked ops' for mean / sum / none and log-probs (${name}, f32 / bf16 / q8_0)`, () => {
    run(() => {
      const r = new Rng(5);
      const h = randT(r, [B, T, C]), targets = idsT(r, [B, T], V);
      (targets.data as Int32Array)[3] = -100;
      for (const fmt of ['f32', 'bf16', 'q8_0'] as const) {
        const W = toWeightFormat(randT(r, [V, C]), fmt), Wd = dequantize(W);
        W.requiresGrad = false;
        for (const reduction of ['mean', 'sum', 'none'] as const) {
          const want = dh(() => crossEntropy(matmul(h, Wd, { transB: true }), targets, { reduction }), h);
          const got = dh(() => lmHeadCrossEntropy(h, W, targets, { reduction, chunkRows: 4 }), h);
          const d = diff(got, want);
          assert.ok(d.maxRel < 1e-4, `${fmt} ${reduction}: ${d.maxRel}`);
        }
        const ids = idsT(r, [B, T], V);
        const want = dh(() => gatherLogProbs(matmul(h, Wd, { transB: true }), ids), h);
        const got = dh(() => lmHeadLogProbs(h, W, ids, { chunkRows: 5, entropy: true }).logProbs, h);
        assert.ok(diff(got, want).maxRel < 1e-4, `${fmt} log-probs: ${diff(got, want).maxRel}`);
      }
    });
  });
}

test('frozen head: the backward runs no GEMM over the vocabulary; a trainable head still recomputes its logits', () => {
  const r = new Rng(6);
  const h = randT(r, [B, T, C]), targets = idsT(r, [B, T], V);
  const be = backend();
  const orig = be.gemm;
  let vocabGemms = 0;
  be.gemm = ((...a: Parameters<typeof orig>) => { if (a[1] === V || a[2] === V || a[3] === V) vocabGemms++; return orig.apply(be, a); }) as typeof orig;
  try {
    for (const trainable of [false, true]) {
      const W = randT(r, [V, C]);
      W.requiresGrad = trainable;
      h.requiresGrad = true;
      const loss = lmHeadCrossEntropy(h, W, targets, { chunkRows: 6 });
      const before = vocabGemms;
      backward(loss);
      const inBackward = vocabGemms - before;
      // 18 rows in chunks of 6: a trainable head recomputes 3 chunks of logits, then dH and dW per chunk
      if (trainable) assert.equal(inBackward, 9, 'trainable head: logits, dH and dW per chunk');
      else assert.equal(inBackward, 0, 'frozen head: its backward only scales rows');
    }
  } finally {
    be.gemm = orig;
  }
});
