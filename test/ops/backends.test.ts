// Every op on the native backend against the reference: forward values and input gradients, with the
// largest absolute and relative differences reported and held to per-op tolerances (looser for bf16).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor/tensor.js';
import { backward } from '../../src/autograd/backward.js';
import * as op from '../../src/ops/index.js';
import type { Backend } from '../../src/backend/index.js';
import { Rng, cloneT, diff, i32T, idsT, nativeOrSkip, randT, referenceBackend, withBackend } from '../helpers.js';

interface Case {
  name: string;
  make: (r: Rng) => Tensor[];
  f: (x: Tensor[]) => Tensor;
  tol: number;
}

function evalOn(b: Backend, c: Case, inputs: Tensor[]): { out: number[]; grads: number[][] } {
  return withBackend(b, () => {
    const xs = inputs.map((t) => { const x = cloneT(t); x.requiresGrad = t.dtype === 'f32'; return x; });
    const out = c.f(xs);
    const w = Tensor.empty(out.shape, 'f32');
    for (let i = 0; i < w.size; i++) (w.data as Float32Array)[i] = Math.sin(0.61 * i) + 0.1;
    backward(out, w);
    return { out: out.toArray(), grads: xs.map((x) => (x.grad ? x.grad.toArray() : [])) };
  });
}

const P = { precision: 'bf16' as const };
const cases: Case[] = [
  { name: 'add broadcast', make: (r) => [randT(r, [7, 33]), randT(r, [33])], f: ([a, b]) => op.add(a!, b!), tol: 1e-6 },
  { name: 'mul broadcast 3x1·1x257', make: (r) => [randT(r, [3, 1]), randT(r, [1, 257])], f: ([a, b]) => op.mul(a!, b!), tol: 1e-6 },
  { name: 'div', make: (r) => [randT(r, [257]), randT(r, [257], 0.5, 2)], f: ([a, b]) => op.div(a!, b!), tol: 1e-6 },
  { name: 'maximum/minimum', make: (r) => [randT(r, [33]), randT(r, [33])], f: ([a, b]) => op.add(op.maximum(a!, b!), op.minimum(a!, b!)), tol: 1e-6 },
  { name: 'exp/log/sqrt chain', make: (r) => [randT(r, [257], 0.2, 2)], f: ([a]) => op.sqrt(op.log(op.addScalar(op.exp(a!), 1))), tol: 1e-5 },
  { name: 'silu', make: (r) => [randT(r, [1025], -8, 8)], f: ([a]) => op.silu(a!), tol: 1e-5 },
  { name: 'sigmoid/tanh', make: (r) => [randT(r, [257], -6, 6)], f: ([a]) => op.mul(op.sigmoid(a!), op.tanh(a!)), tol: 1e-5 },
  { name: 'logSigmoid', make: (r) => [randT(r, [257], -40, 40)], f: ([a]) => op.logSigmoid(a!), tol: 1e-5 },
  { name: 'rsqrt/reciprocal/square/abs/relu', make: (r) => [randT(r, [257], 0.3, 3)], f: ([a]) => op.add(op.add(op.rsqrt(a!), op.reciprocal(a!)), op.add(op.square(a!), op.relu(op.abs(a!)))), tol: 1e-5 },
  { name: 'clamp', make: (r) => [randT(r, [257], -2, 2)], f: ([a]) => op.clamp(a!, -1, 0.5), tol: 1e-6 },
  { name: 'swiglu', make: (r) => [randT(r, [7, 257], -5, 5), randT(r, [7, 257])], f: ([a, b]) => op.swiglu(a!, b!), tol: 1e-5 },
  { name: 'sum axes', make: (r) => [randT(r, [7, 33, 3])], f: ([a]) => op.add(op.sum(a!, 1), op.sum(op.sum(a!, 0), 0, true)), tol: 1e-5 },
  { name: 'permute/slice/concat', make: (r) => [randT(r, [3, 7, 5])], f: ([a]) => op.concat([op.slice(op.permute(a!, [2, 0, 1]), 2, 1, 6), op.permute(op.slice(a!, 1, 2, 7), [2, 0, 1])], 1), tol: 1e-6 },
  { name: 'softmax', make: (r) => [randT(r, [33, 257], -6, 6)], f: ([a]) => op.softmax(a!), tol: 1e-5 },
  { name: 'logSoftmax', make: (r) => [randT(r, [7, 1000], -6, 6)], f: ([a]) => op.logSoftmax(a!), tol: 1e-5 },
  { name: 'rmsNorm', make: (r) => [randT(r, [33, 257]), randT(r, [257], 0.5, 1.5)], f: ([x, w]) => op.rmsNorm(x!, w!, 1e-5), tol: 1e-5 },
  { name: 'rope', make: (r) => [randT(r, [2, 7, 3, 64])], f: ([x]) => op.rope(x!, i32T(Array.from({ length: 14 }, (_, i) => (i * 37) % 301)), 10000), tol: 1e-5 },
  { name: 'embedding', make: (r) => [randT(r, [257, 33])], f: ([w]) => op.embedding(w!, idsT(new Rng(9), [3, 7], 257)), tol: 1e-6 },
  { name: 'matmul NN 33x257x7', make: (r) => [randT(r, [33, 257]), randT(r, [257, 7])], f: ([a, b]) => op.matmul(a!, b!), tol: 1e-5 },
  { name: 'matmul x·Wᵀ batched', make: (r) => [randT(r, [2, 33, 65]), randT(r, [127, 65])], f: ([a, b]) => op.matmul(a!, b!, { transB: true }), tol: 1e-5 },
  { name: 'matmul Aᵀ B batched both', make: (r) => [randT(r, [3, 17, 9]), randT(r, [3, 17, 31])], f: ([a, b]) => op.matmul(a!, b!, { transA: true }), tol: 1e-5 },
  { name: 'matmul decode rows x·Wᵀ (matvec path) M=1', make: (r) => [randT(r, [1, 1, 385]), randT(r, [1001, 385])], f: ([a, b]) => op.matmul(a!, b!, { transB: true }), tol: 1e-5 },
  { name: 'matmul decode rows x·Wᵀ (matvec path) M=4', make: (r) => [randT(r, [4, 33]), randT(r, [65, 33])], f: ([a, b]) => op.matmul(a!, b!, { transB: true }), tol: 1e-5 },
  { name: 'matmul bf16 compute', make: (r) => [randT(r, [2, 33, 65]), randT(r, [127, 65])], f: ([a, b]) => op.matmul(a!, b!, { transB: true, ...P }), tol: 1e-4 },
  { name: 'attention causal B2 T33 H4 D64', make: (r) => [randT(r, [2, 33, 4, 64]), randT(r, [2, 33, 4, 64]), randT(r, [2, 33, 4, 64])], f: ([q, k, v]) => op.attention(q!, k!, v!), tol: 1e-4 },
  { name: 'attention GQA + padding + cache', make: (r) => [randT(r, [2, 7, 4, 16]), randT(r, [2, 40, 2, 16]), randT(r, [2, 40, 2, 16])],
    f: ([q, k, v]) => op.attention(q!, k!, v!, { keyMask: i32T(Array.from({ length: 80 }, (_, i) => (i % 40 < 3 ? 0 : 1)), [2, 40]) }), tol: 1e-4 },
  { name: 'attention fully-masked rows (left padding)', make: (r) => [randT(r, [2, 5, 2, 8]), randT(r, [2, 5, 2, 8]), randT(r, [2, 5, 2, 8])],
    f: ([q, k, v]) => op.attention(q!, k!, v!, { keyMask: i32T([0, 0, 1, 1, 1, 1, 1, 1, 1, 1], [2, 5]) }), tol: 1e-4 },
  { name: 'crossEntropy V=8000 ignore', make: (r) => [randT(r, [2, 33, 8000], -4, 4)], f: ([x]) => {
    const t = idsT(new Rng(4), [2, 33], 8000);
    (t.data as Int32Array)[5] = -100;
    return op.crossEntropy(x!, t);
  }, tol: 1e-5 },
  { name: 'gatherLogProbs', make: (r) => [randT(r, [7, 1001], -4, 4)], f: ([x]) => op.gatherLogProbs(x!, idsT(new Rng(5), [7], 1001)), tol: 1e-5 },
];

const native = nativeOrSkip();
for (const c of cases) {
  test(`native vs reference: ${c.name}`, (t) => {
    if (!native.backend) return t.skip(native.reason);
    const inputs = c.make(new Rng(c.name.length * 101 + 3));
    const ref = evalOn(referenceBackend, c, inputs);
    const nat = evalOn(native.backend, c, inputs);
    // maxRel is per element (floor 1e-3); the tolerance applies to maxAbs scaled by the largest |reference|
    // value, since sums of many products legitimately lose relative accuracy where they cancel to ~0.
    const scaled = (a: number[], b: number[]) => {
      const d = diff(a, b);
      const peak = b.reduce((m, x) => Math.max(m, Math.abs(x)), 1e-30);
      return { ...d, scaled: d.maxAbs / peak };
    };
    const d = scaled(nat.out, ref.out);
    const report = [`forward maxAbs ${d.maxAbs.toExponential(2)} maxRel ${d.maxRel.toExponential(2)}`];
    let worst = d.scaled;
    nat.grads.forEach((g, i) => {
      const dg = scaled(g, ref.grads[i]!);
      report.push(`grad ${i} maxAbs ${dg.maxAbs.toExponential(2)} maxRel ${dg.maxRel.toExponential(2)}`);
      worst = Math.max(worst, dg.scaled);
    });
    t.diagnostic(`${c.name}: ${report.join('; ')}`);
    assert.ok(worst < c.tol, `${c.name}: ${report.join('; ')}; scaled ${worst.toExponential(2)} (tolerance ${c.tol})`);
  });
}

test('native: same seed, same threads → bitwise identical forward and backward', (t) => {
  if (!native.backend) return t.skip(native.reason);
  const once = () => {
    const r = new Rng(77);
    const c = cases.find((x) => x.name.startsWith('attention causal'))!;
    const a = evalOn(native.backend!, c, c.make(r));
    const m = cases.find((x) => x.name.startsWith('matmul x·Wᵀ'))!;
    const b = evalOn(native.backend!, m, m.make(r));
    const e = cases.find((x) => x.name.startsWith('crossEntropy'))!;
    const ce = evalOn(native.backend!, e, e.make(r));
    return [a, b, ce].flatMap((x) => [x.out, ...x.grads]).map((arr) => Float32Array.from(arr));
  };
  const x = once(), y = once();
  x.forEach((arr, i) => assert.ok(Buffer.from(arr.buffer).equals(Buffer.from(y[i]!.buffer)), `output ${i} differs between runs`));
});
