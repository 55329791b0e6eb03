// Finite differences in float64 (reference backend) for the vjp of every op, over shapes that include
// odd sizes (1, 3, 7, 33, 257). Per-op step sizes; the checked scalar weights every output element.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, type Shape } from '../../src/tensor/tensor.js';
import { gradcheck } from '../../src/autograd/gradcheck.js';
import * as op from '../../src/ops/index.js';
import { Rng, idsT, i32T, inFloat64, randT } from '../helpers.js';

function check(name: string, make: (rng: Rng) => { inputs: Tensor[]; f: (x: Tensor[]) => Tensor; step?: number }, tol = 1e-5) {
  test(`gradcheck ${name}`, () => {
    inFloat64(() => {
      const { inputs, f, step } = make(new Rng(name.length * 7919 + 17));
      const r = gradcheck(f, inputs, step ?? 1e-5);
      assert.ok(r.maxRel < tol, `${name}: max relative difference ${r.maxRel.toExponential(2)} (abs ${r.maxAbs.toExponential(2)}) at ${r.worst}`);
    });
  });
}

// values away from 0 for ops with a kink or a pole there
function awayFromZero(rng: Rng, shape: Shape): Tensor {
  const t = randT(rng, shape, 0.2, 1.5);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) if (rng.next() < 0.5) d[i] = -d[i]!;
  return t;
}

const shapes: [string, Shape, Shape][] = [
  ['same 257', [257], [257]],
  ['row broadcast 7x33', [7, 33], [33]],
  ['column broadcast 3x1 · 1x7', [3, 1], [1, 7]],
  ['scalar-ish 1', [1], [3, 7]],
];
for (const [label, sa, sb] of shapes) {
  check(`add ${label}`, (r) => ({ inputs: [randT(r, sa), randT(r, sb)], f: ([a, b]) => op.add(a!, b!) }));
  check(`sub ${label}`, (r) => ({ inputs: [randT(r, sa), randT(r, sb)], f: ([a, b]) => op.sub(a!, b!) }));
  check(`mul ${label}`, (r) => ({ inputs: [randT(r, sa), randT(r, sb)], f: ([a, b]) => op.mul(a!, b!) }));
  check(`div ${label}`, (r) => ({ inputs: [randT(r, sa), awayFromZero(r, sb)], f: ([a, b]) => op.div(a!, b!) }));
}
check('maximum', (r) => ({ inputs: [randT(r, [7, 33]), randT(r, [7, 33])], f: ([a, b]) => op.maximum(a!, b!) }));
check('minimum', (r) => ({ inputs: [randT(r, [33]), randT(r, [3, 33])], f: ([a, b]) => op.minimum(a!, b!) }));
check('affine', (r) => ({ inputs: [randT(r, [3, 7])], f: ([a]) => op.affine(a!, -2.5, 0.75) }));

const unaries: [string, (x: Tensor) => Tensor, (r: Rng, s: Shape) => Tensor][] = [
  ['exp', op.exp, (r, s) => randT(r, s)],
  ['log', op.log, (r, s) => randT(r, s, 0.3, 3)],
  ['sqrt', op.sqrt, (r, s) => randT(r, s, 0.3, 3)],
  ['rsqrt', op.rsqrt, (r, s) => randT(r, s, 0.3, 3)],
  ['silu', op.silu, (r, s) => randT(r, s, -4, 4)],
  ['sigmoid', op.sigmoid, (r, s) => randT(r, s, -4, 4)],
  ['logSigmoid', op.logSigmoid, (r, s) => randT(r, s, -30, 30)],
  ['tanh', op.tanh, (r, s) => randT(r, s, -2, 2)],
  ['abs', op.abs, awayFromZero],
  ['square', op.square, (r, s) => randT(r, s)],
  ['relu', op.relu, awayFromZero],
  ['reciprocal', op.reciprocal, awayFromZero],
  ['neg', op.neg, (r, s) => randT(r, s)],
];
for (const [name, fn, gen] of unaries) check(name, (r) => ({ inputs: [gen(r, [257])], f: ([x]) => fn(x!) }));

check('clamp', (r) => {
  const x = randT(r, [7, 33], -2, 2);
  const d = x.data as Float32Array;
  for (let i = 0; i < d.length; i++) if (Math.abs(Math.abs(d[i]!) - 1) < 0.01) d[i] = 0.5; // off the corners
  return { inputs: [x], f: ([a]) => op.clamp(a!, -1, 1) };
});
check('where', (r) => {
  const cond = Tensor.empty([7, 3], 'f32');
  for (let i = 0; i < 21; i++) (cond.data as Float32Array)[i] = i % 3 === 0 ? 1 : 0;
  return { inputs: [randT(r, [7, 3]), randT(r, [7, 3])], f: ([a, b]) => op.where(cond, a!, b!) };
});
check('swiglu', (r) => ({ inputs: [randT(r, [3, 33], -3, 3), randT(r, [3, 33])], f: ([a, b]) => op.swiglu(a!, b!) }));

check('sum all', (r) => ({ inputs: [randT(r, [7, 33])], f: ([x]) => op.sum(x!) }));
check('sum axis 0', (r) => ({ inputs: [randT(r, [7, 3, 5])], f: ([x]) => op.sum(x!, 0) }));
check('sum axis 1 keepDim', (r) => ({ inputs: [randT(r, [7, 3, 5])], f: ([x]) => op.sum(x!, 1, true) }));
check('mean axis -1', (r) => ({ inputs: [randT(r, [3, 257])], f: ([x]) => op.mean(x!, -1) }));
check('maskedMean', (r) => {
  const m = Tensor.empty([3, 7], 'f32');
  for (let i = 0; i < 21; i++) (m.data as Float32Array)[i] = i % 4 === 1 ? 0 : 1;
  return { inputs: [randT(r, [3, 7])], f: ([x]) => op.maskedMean(x!, m) };
});

check('addLoraUp (y + scale · down Bᵀ, batched rows)', (r) => ({
  inputs: [randT(r, [2, 3, 7]), randT(r, [2, 3, 4]), randT(r, [7, 4])],
  f: ([y, d, b]) => op.addLoraUp(y!, d!, b!, 0.75),
}));

for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]] as const) {
  check(`matmul 2-D ta=${ta} tb=${tb}`, (r) => ({
    inputs: [randT(r, ta ? [7, 3] : [3, 7]), randT(r, tb ? [5, 7] : [7, 5])],
    f: ([a, b]) => op.matmul(a!, b!, { transA: ta, transB: tb }),
  }));
  check(`matmul batched x shared weight ta=${ta} tb=${tb}`, (r) => ({
    inputs: [randT(r, ta ? [2, 3, 7, 3] : [2, 3, 3, 7]), randT(r, tb ? [5, 7] : [7, 5])],
    f: ([a, b]) => op.matmul(a!, b!, { transA: ta, transB: tb }),
  }));
  check(`matmul shared x batched ta=${ta} tb=${tb}`, (r) => ({
    inputs: [randT(r, ta ? [7, 3] : [3, 7]), randT(r, tb ? [2, 5, 7] : [2, 7, 5])],
    f: ([a, b]) => op.matmul(a!, b!, { transA: ta, transB: tb }),
  }));
  check(`matmul both batched ta=${ta} tb=${tb}`, (r) => ({
    inputs: [randT(r, ta ? [2, 7, 1] : [2, 1, 7]), randT(r, tb ? [2, 3, 7] : [2, 7, 3])],
    f: ([a, b]) => op.matmul(a!, b!, { transA: ta, transB: tb }),
  }));
}

check('reshape', (r) => ({ inputs: [randT(r, [3, 7, 2])], f: ([x]) => op.mul(op.reshape(x!, [7, -1]), op.reshape(x!, [7, 6])) }));
check('permute', (r) => ({ inputs: [randT(r, [3, 7, 2])], f: ([x]) => op.permute(x!, [2, 0, 1]) }));
check('transpose', (r) => ({ inputs: [randT(r, [3, 7])], f: ([x]) => op.transpose(x!) }));
check('slice', (r) => ({ inputs: [randT(r, [3, 33, 2])], f: ([x]) => op.slice(x!, 1, 4, 31) }));
check('concat', (r) => ({ inputs: [randT(r, [3, 1]), randT(r, [3, 7])], f: ([a, b]) => op.concat([a!, b!, a!], 1) }));
check('broadcastTo', (r) => ({ inputs: [randT(r, [3, 1])], f: ([x]) => op.broadcastTo(x!, [2, 3, 7]) }));

check('softmax', (r) => ({ inputs: [randT(r, [3, 257], -3, 3)], f: ([x]) => op.softmax(x!) }));
check('logSoftmax', (r) => ({ inputs: [randT(r, [7, 33], -3, 3)], f: ([x]) => op.logSoftmax(x!) }));
check('rmsNorm', (r) => ({ inputs: [randT(r, [7, 33]), randT(r, [33], 0.5, 1.5)], f: ([x, w]) => op.rmsNorm(x!, w!, 1e-5) }));
check('rope', (r) => ({
  inputs: [randT(r, [2, 3, 2, 8])],
  f: ([x]) => op.rope(x!, i32T([0, 1, 2, 5, 6, 7]), 10000),
}));
check('embedding', (r) => {
  const ids = i32T([0, 2, 2, 6, 1, 0, 3], [7]);
  return { inputs: [randT(r, [7, 5])], f: ([w]) => op.embedding(w!, ids) };
});

for (const [label, B, T, S, H, Hkv, D, causal, masked] of [
  ['causal', 2, 5, 5, 2, 2, 4, true, false],
  ['GQA H=4 Hkv=2', 1, 3, 3, 4, 2, 3, true, false],
  ['KV cache T<S', 1, 2, 7, 2, 1, 4, true, false],
  ['key padding (left)', 2, 4, 4, 2, 2, 3, true, true],
  ['non-causal padded', 2, 3, 3, 1, 1, 5, false, true],
] as const) {
  check(`attention ${label}`, (r) => {
    const mask = masked ? i32T(Array.from({ length: B * S }, (_, i) => (i === 0 || i === 1 ? 0 : 1)), [B, S]) : null;
    return {
      inputs: [randT(r, [B, T, H, D]), randT(r, [B, S, Hkv, D]), randT(r, [B, S, Hkv, D])],
      f: ([q, k, v]) => op.attention(q!, k!, v!, { causal, keyMask: mask }),
    };
  });
}

for (const reduction of ['mean', 'sum', 'none'] as const) {
  check(`crossEntropy ${reduction} with ignore`, (r) => {
    const t = idsT(r, [2, 7], 33);
    (t.data as Int32Array)[3] = -100;
    (t.data as Int32Array)[8] = -100;
    return { inputs: [randT(r, [2, 7, 33], -3, 3)], f: ([x]) => op.crossEntropy(x!, t, { reduction }) };
  });
}
check('gatherLogProbs', (r) => {
  const ids = idsT(r, [3, 2], 257);
  return { inputs: [randT(r, [3, 2, 257], -3, 3)], f: ([x]) => op.gatherLogProbs(x!, ids) };
});
