// AdamW: fused steps against a hand computation, parameter groups, clipping and schedules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor/tensor.js';
import { parameter, tensor } from '../../src/ops/creation.js';
import { AdamW, clipScale, defaultGroups, globalGradNorm } from '../../src/optim/adamw.js';
import { learningRate } from '../../src/optim/schedule.js';
import { backend } from '../../src/backend/index.js';
import { nativeOrSkip, referenceBackend, withBackend } from '../helpers.js';

function setGrad(p: Tensor, values: number[]): void {
  p.grad = tensor(values, p.shape).keep();
}

// Two steps of AdamW on p = [1, -2], worked by hand with lr 0.1, betas (0.9, 0.999), eps 1e-8, wd 0.01.
function handTwoSteps(): number[] {
  let p = [1, -2];
  const m = [0, 0], v = [0, 0];
  const grads = [[0.5, -1], [0.25, 2]];
  grads.forEach((g, s) => {
    const step = s + 1;
    p = p.map((pi, i) => {
      m[i] = 0.9 * m[i]! + 0.1 * g[i]!;
      v[i] = 0.999 * v[i]! + 0.001 * g[i]! * g[i]!;
      const mh = m[i]! / (1 - 0.9 ** step), vh = v[i]! / (1 - 0.999 ** step);
      return pi - 0.1 * (0.01 * pi + mh / (Math.sqrt(vh) + 1e-8));
    });
  });
  return p;
}

function fusedTwoSteps(): number[] {
  const p = parameter(tensor([1, -2], [2, 1]));
  const opt = new AdamW([{ params: [p], weightDecay: 0.01 }], { beta1: 0.9, beta2: 0.999, eps: 1e-8 });
  setGrad(p, [0.5, -1]);
  opt.update(0.1);
  setGrad(p, [0.25, 2]);
  opt.update(0.1);
  return p.toArray();
}

test('AdamW equals a hand computation (reference backend)', () => {
  const got = withBackend(referenceBackend, fusedTwoSteps);
  const want = handTwoSteps();
  got.forEach((g, i) => assert.ok(Math.abs(g - want[i]!) < 1e-6, `p[${i}] = ${g}, hand ${want[i]}`));
});

test('AdamW equals a hand computation (native backend)', (t) => {
  const n = nativeOrSkip();
  if (!n.backend) return t.skip(n.reason);
  const got = withBackend(n.backend, fusedTwoSteps);
  const want = handTwoSteps();
  got.forEach((g, i) => assert.ok(Math.abs(g - want[i]!) < 1e-6, `p[${i}] = ${g}, hand ${want[i]}`));
});

test('AdamW: the first step moves each weight by about lr against its gradient sign', () => {
  const p = parameter(tensor([0, 0, 0], [3, 1]));
  const opt = new AdamW([{ params: [p], weightDecay: 0 }]);
  setGrad(p, [3, -0.001, 0]);
  opt.update(0.01);
  const v = p.toArray();
  assert.ok(Math.abs(v[0]! + 0.01) < 1e-6 && Math.abs(v[1]! - 0.01) < 1e-5 && v[2] === 0, `got ${v}`);
});

test('parameter groups: no decay on 1-D parameters; gradScale folds clipping in', () => {
  const w = parameter(tensor([1, 1, 1, 1], [2, 2]));
  const b = parameter(tensor([1, 1], [2]));
  const groups = defaultGroups([w, b], 0.5);
  assert.equal(groups.length, 2);
  assert.deepEqual(groups.map((g) => g.weightDecay), [0.5, 0]);
  const opt = new AdamW(groups);
  setGrad(w, [0, 0, 0, 0]);
  setGrad(b, [0, 0]);
  opt.update(0.1);
  assert.ok(Math.abs(w.toArray()[0]! - 0.95) < 1e-6, 'decayed matrix');
  assert.equal(b.toArray()[0], 1, 'undecayed bias');

  setGrad(w, [3, 4, 0, 0]);
  setGrad(b, [0, 0]);
  const norm = globalGradNorm([w, b]);
  assert.ok(Math.abs(norm - 5) < 1e-9);
  assert.ok(Math.abs(clipScale(norm, 1) - 0.2) < 1e-6);
  assert.equal(clipScale(0.5, 1), 1);
  assert.equal(clipScale(NaN, 1), 1);
  void backend;
});

test('state round trip resumes exactly', () => {
  const mk = () => parameter(tensor([0.3, -0.7, 1.1, 0.2], [2, 2]));
  const a = mk(), b = mk();
  const oa = new AdamW([{ params: [a], weightDecay: 0.1 }]);
  const ob = new AdamW([{ params: [b], weightDecay: 0.1 }]);
  for (const [p, o] of [[a, oa], [b, ob]] as const) { setGrad(p, [1, 2, 3, 4]); o.update(0.01); }
  ob.loadState(oa.state());
  for (const [p, o] of [[a, oa], [b, ob]] as const) { setGrad(p, [-1, 0.5, 2, 0]); o.update(0.01); }
  assert.deepEqual(a.toArray(), b.toArray());
});

test('schedules: warm-up then cosine / linear / constant', () => {
  const base = { lrPeak: 1, lrMin: 0.1, warmupSteps: 10, totalSteps: 110 };
  assert.ok(Math.abs(learningRate(0, { ...base, kind: 'cosine' }) - 0.1) < 1e-12);
  assert.ok(Math.abs(learningRate(9, { ...base, kind: 'cosine' }) - 1) < 1e-12);
  assert.ok(Math.abs(learningRate(60, { ...base, kind: 'cosine' }) - 0.55) < 1e-12);
  assert.ok(Math.abs(learningRate(110, { ...base, kind: 'cosine' }) - 0.1) < 1e-12);
  assert.ok(Math.abs(learningRate(60, { ...base, kind: 'linear' }) - 0.55) < 1e-12);
  assert.ok(Math.abs(learningRate(35, { ...base, kind: 'linear' }) - 0.775) < 1e-12);
  assert.equal(learningRate(100, { ...base, kind: 'constant' }), 1);
});
