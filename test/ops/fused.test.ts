// Each fused op against its composition from primitives, forward and gradient (float64, reference).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor/tensor.js';
import { backward, zeroGrad } from '../../src/autograd/backward.js';
import * as op from '../../src/ops/index.js';
import { Rng, cloneT, diff, i32T, idsT, inFloat64, randT, referenceBackend } from '../helpers.js';

/** Forward and input gradients of f on fresh copies of inputs, with an output weighting w. */
function run(f: (x: Tensor[]) => Tensor, inputs: Tensor[]): { out: number[]; grads: number[][] } {
  const xs = inputs.map((t) => { const c = cloneT(t); c.requiresGrad = true; return c; });
  const out = f(xs);
  const w = Tensor.empty(out.shape, 'f32');
  for (let i = 0; i < w.size; i++) (w.data as Float32Array)[i] = Math.cos(0.37 * i) + 0.2;
  backward(out, w);
  const res = { out: out.toArray(), grads: xs.map((x) => (x.grad ? x.grad.toArray() : [])) };
  zeroGrad(xs);
  return res;
}

function same(name: string, fused: (x: Tensor[]) => Tensor, composed: (x: Tensor[]) => Tensor, make: (r: Rng) => Tensor[]) {
  test(`fused vs composed: ${name}`, () => {
    inFloat64(() => {
      const inputs = make(new Rng(name.length * 31 + 5));
      const a = run(fused, inputs), b = run(composed, inputs);
      const d = diff(a.out, b.out, 1e-6);
      assert.ok(d.maxRel < 1e-9, `${name} forward differs: ${JSON.stringify(d)}`);
      a.grads.forEach((g, i) => {
        const dg = diff(g, b.grads[i]!, 1e-6);
        assert.ok(dg.maxRel < 1e-9, `${name} gradient of input ${i} differs: ${JSON.stringify(dg)}`);
      });
    });
  });
}

same('rmsNorm',
  ([x, w]) => op.rmsNorm(x!, w!, 1e-5),
  ([x, w]) => op.mul(op.mul(x!, op.rsqrt(op.addScalar(op.mean(op.square(x!), -1, true), 1e-5))), w!),
  (r) => [randT(r, [7, 33]), randT(r, [33], 0.5, 1.5)]);

same('swiglu', ([a, b]) => op.swiglu(a!, b!), ([a, b]) => op.mul(op.silu(a!), b!),
  (r) => [randT(r, [3, 257], -4, 4), randT(r, [3, 257])]);

same('crossEntropy (mean, ignore index)',
  ([x]) => op.crossEntropy(x!, targets, {}),
  ([x]) => {
    // -mean over kept rows of log_softmax(x)[target], via a one-hot mask
    const lp = op.logSoftmax(x!);
    const onehot = Tensor.empty(x!.shape, 'f32', true);
    const t = targets.data as Int32Array;
    let kept = 0;
    for (let i = 0; i < t.length; i++) if (t[i] !== -100) { (onehot.data as Float32Array)[i * 33 + t[i]!] = 1; kept++; }
    return op.scale(op.sum(op.mul(lp, onehot)), -1 / kept);
  },
  (r) => [randT(r, [2, 5, 33], -3, 3)]);
const targets = i32T([3, -100, 0, 32, 7, 7, -100, 1, 2, 30], [2, 5]);

same('gatherLogProbs', ([x]) => op.gatherLogProbs(x!, gIds), ([x]) => {
  const lp = op.logSoftmax(x!);
  const onehot = Tensor.empty(x!.shape, 'f32', true);
  const ids = gIds.data as Int32Array;
  for (let i = 0; i < ids.length; i++) (onehot.data as Float32Array)[i * 17 + ids[i]!] = 1;
  return op.sum(op.mul(lp, onehot), -1);
}, (r) => [randT(r, [3, 4, 17], -2, 2)]);
const gIds = idsT(new Rng(3), [3, 4], 17);

/** Attention composed from matmul, an additive mask and softmax, with k/v heads repeated for GQA. */
function composedAttention(q: Tensor, k: Tensor, v: Tensor, causal: boolean, keyMask: Int32Array | null): Tensor {
  const [B, T, H, D] = q.shape as [number, number, number, number];
  const [, S, Hkv] = k.shape as [number, number, number, number];
  const G = H / Hkv;
  const expand = (x: Tensor) =>
    op.reshape(op.broadcastTo(op.reshape(op.permute(x, [0, 2, 1, 3]), [B, Hkv, 1, S, D]), [B, Hkv, G, S, D]), [B, H, S, D]);
  const qh = op.permute(q, [0, 2, 1, 3]); // (B, H, T, D)
  const scores = op.scale(op.matmul(qh, expand(k), { transB: true }), 1 / Math.sqrt(D)); // (B, H, T, S)
  const bias = Tensor.empty([B, 1, T, S], 'f32', true);
  const bd = bias.data as Float32Array;
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let s = 0; s < S; s++) {
    const hidden = (causal && s > S - T + t) || (keyMask !== null && keyMask[b * S + s] === 0);
    if (hidden) bd[(b * T + t) * S + s] = -1e30;
  }
  const p = op.softmax(op.add(scores, bias));
  return op.permute(op.matmul(p, expand(v)), [0, 2, 1, 3]);
}

for (const [label, B, T, S, H, Hkv, D, causal, padded] of [
  ['causal', 2, 5, 5, 2, 2, 4, true, false],
  ['GQA', 1, 6, 6, 4, 2, 3, true, false],
  ['T<S cache', 2, 2, 6, 2, 1, 4, true, false],
  ['padding, non-causal', 2, 3, 5, 2, 2, 3, false, true],
] as const) {
  // padding masks the last key of batch 1 only, so no query is left without keys in the composition
  const mask = padded ? i32T(Array.from({ length: B * S }, (_, i) => (i === B * S - 1 ? 0 : 1)), [B, S]) : null;
  same(`attention ${label}`,
    ([q, k, v]) => op.attention(q!, k!, v!, { causal, keyMask: mask }),
    ([q, k, v]) => composedAttention(q!, k!, v!, causal, mask ? (mask.data as Int32Array) : null),
    (r) => [randT(r, [B, T, H, D]), randT(r, [B, S, Hkv, D]), randT(r, [B, S, Hkv, D])]);
}

test('fused vs composed: AdamW step (kernel vs the update written in ops)', () => {
  inFloat64(() => {
    const r = new Rng(77);
    const p0 = randT(r, [7, 33]), g = randT(r, [7, 33]), m0 = randT(r, [7, 33], -0.1, 0.1), v0 = randT(r, [7, 33], 0, 0.01);
    const [lr, b1, b2, eps, wd, step, gs] = [3e-3, 0.9, 0.95, 1e-8, 0.1, 5, 0.5];
    // fused
    const p = cloneT(p0), m = cloneT(m0), v = cloneT(v0);
    referenceBackend.adamw(p.f32(), g.f32(), m.f32(), v.f32(), lr, b1, b2, eps, wd, step, gs);
    // composed: m' = b1 m + (1-b1) g'; v' = b2 v + (1-b2) g'²; p' = p - lr (wd p + (m'/bc1) / (sqrt(v'/bc2) + eps))
    const gg = op.scale(g, gs);
    const mc = op.add(op.scale(m0, b1), op.scale(gg, 1 - b1));
    const vc = op.add(op.scale(v0, b2), op.scale(op.square(gg), 1 - b2));
    const upd = op.div(op.scale(mc, 1 / (1 - b1 ** step)), op.addScalar(op.sqrt(op.scale(vc, 1 / (1 - b2 ** step))), eps));
    const pc = op.sub(p0, op.scale(op.add(op.scale(p0, wd), upd), lr));
    for (const [a, b, name] of [[p, pc, 'p'], [m, mc, 'm'], [v, vc, 'v']] as const) {
      const d = diff(a.toArray(), b.toArray(), 1e-6);
      assert.ok(d.maxRel < 1e-9, `AdamW ${name} differs: ${JSON.stringify(d)}`);
    }
  });
});
