// prior-grad.test.ts — a vjp adding into the gradient an input already has (autograd/prior-grad.ts): x read by three
// x Wᵀ products (q / k / v's shape) gets G₁W₁ + G₂W₂ + G₃W₃ with two of the products written onto the gathered
// gradient (beta = 1) and no separate add; equal to the plain sum in float64, within float rounding natively; the
// same tensor as both operands (x xᵀ) and a leaf x still get the right sums; outside backward there is no prior.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward } from '../../src/autograd/backward.js';
import { priorGradient } from '../../src/autograd/prior-grad.js';
import { backend } from '../../src/backend/index.js';
import { tidy } from '../../src/tensor/scope.js';
import * as op from '../../src/ops/index.js';
import { diff, inFloat64, randT, Rng } from '../helpers.js';

/** x (2, 5, 6) through scale(·, 1) (so x's gradient is gathered at an interior node), then three products x Wᵢᵀ */
function run(): { dx: Float64Array; expected: Float64Array; adds: number; gemmsBeta1: number } {
  const r = new Rng(4);
  const x = op.parameter(randT(r, [2, 5, 6]));
  const ws = [7, 3, 4].map((n) => randT(r, [n, 6]));
  const seeds = ws.map((w) => randT(r, [2, 5, w.shape[0]!]));
  const be = backend(), origBin = be.binary, origGemm = be.gemm;
  let adds = 0, gemmsBeta1 = 0, inBackward = false;
  be.binary = ((...a: Parameters<typeof origBin>) => { if (inBackward && a[0] === 0 && a[4].length === 60) adds++; return origBin.apply(be, a); }) as typeof origBin;
  be.gemm = ((...a: Parameters<typeof origGemm>) => { if (inBackward && a[12] === 1) gemmsBeta1++; return origGemm.apply(be, a); }) as typeof origGemm;
  try {
    return tidy(() => {
      const h = op.scale(x, 1);
      const loss = ws.map((w, i) => op.sum(op.mul(op.matmul(h, w, { transB: true }), seeds[i]!))).reduce((a, b) => op.add(a, b));
      inBackward = true;
      backward(loss);
      inBackward = false;
      // dx = Σ seedᵢ Wᵢ, computed directly
      const expected = new Float64Array(60);
      ws.forEach((w, i) => {
        const n = w.shape[0]!, wd = w.data as Float32Array, sd = seeds[i]!.data as Float32Array;
        for (let row = 0; row < 10; row++) for (let k = 0; k < 6; k++) {
          let s = 0;
          for (let j = 0; j < n; j++) s += sd[row * n + j]! * wd[j * 6 + k]!;
          expected[row * 6 + k]! += s;
        }
      });
      return { dx: Float64Array.from(x.grad!.data as Float32Array), expected, adds, gemmsBeta1 };
    });
  } finally {
    be.binary = origBin;
    be.gemm = origGemm;
  }
}

test('prior gradient: three x Wᵀ consumers sum into one buffer, two by beta = 1 GEMMs, no separate add', () => {
  const f64 = inFloat64(run);
  assert.ok(diff(f64.dx, f64.expected).maxRel < 1e-12, `float64 ${diff(f64.dx, f64.expected).maxRel}`);
  const nat = run();
  assert.ok(diff(nat.dx, nat.expected).maxRel < 1e-5, `native ${diff(nat.dx, nat.expected).maxRel}`);
  assert.equal(nat.gemmsBeta1, 2, 'the second and third products add onto the first one\'s gradient');
  assert.equal(nat.adds, 0, 'no separate add of an x-sized gradient');
});

test('prior gradient: x xᵀ (one tensor as both operands) and a leaf read twice get the full sums', () => {
  const r = new Rng(9);
  const x = op.parameter(randT(r, [4, 3]));
  const w = randT(r, [5, 3]);
  tidy(() => {
    // loss = Σ (x xᵀ) + Σ x Wᵀ: x is both operands of one product (gradA and gradB for the same input) and a third reader
    backward(op.add(op.sum(op.matmul(x, x, { transB: true })), op.sum(op.matmul(x, w, { transB: true }))));
  });
  const xd = x.data as Float32Array, wd = w.data as Float32Array, g = x.grad!.data as Float32Array;
  for (let i = 0; i < 4; i++) for (let k = 0; k < 3; k++) {
    // d/dx_ik Σ_ab x_a·x_b = 2 Σ_b x_bk ; d/dx_ik Σ_j x_i·w_j = Σ_j w_jk
    let s = 0;
    for (let b = 0; b < 4; b++) s += 2 * xd[b * 3 + k]!;
    for (let j = 0; j < 5; j++) s += wd[j * 3 + k]!;
    assert.ok(Math.abs(g[i * 3 + k]! - s) < 1e-5, `[${i},${k}] ${g[i * 3 + k]} vs ${s}`);
  }
  assert.equal(priorGradient(x), undefined, 'no lookup outside backward');
});
