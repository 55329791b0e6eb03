// Weight formats at the op level: the reference q8_0 / q4_0 quantizers byte for byte on hand-computed blocks and
// against the GGUF writer's independent q8_0 code (the f16 scale conversion is tested in test/util/f16.test.ts), error
// bounds of quantize → dequantize, and matmul / embedding with bf16 / q8_0 / q4_0 weights against the same ops on
// the dequantized f32 weight (forward, the dX gradient of a frozen weight, a float64 gradcheck through bf16),
// on whichever backend the process uses (native when built), then on the reference backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor/tensor.js';
import { panelScalesLength, type QuantDType } from '../../src/tensor/dtype.js';
import { panelScalesFor } from '../../src/ops/panel-scales.js';
import { backward } from '../../src/autograd/backward.js';
import { gradcheck } from '../../src/autograd/gradcheck.js';
import { isGradEnabled, noGrad } from '../../src/autograd/grad-mode.js';
import * as op from '../../src/ops/index.js';
import { backend } from '../../src/backend/index.js';
import { dequantizeRows, quantizeActivations, quantizeRows } from '../../src/backend/reference/quant.js';
import { quantizeQ8_0 } from '../../src/model/gguf.js';
import { Rng, inFloat64, randT, referenceBackend, withBackend } from '../helpers.js';

const FORMATS: QuantDType[] = ['q8_0', 'q4_0'];

function block(values: number[]): Float32Array {
  const x = new Float32Array(32);
  x.set(values);
  return x;
}

test('q8_0 reference: hand-computed block (d = amax/127 as f16, roundf halves away from zero)', () => {
  const out = new Uint8Array(34);
  quantizeRows(block([127, -63.5, 1, 0.5, -0.5, 2.5]), 1, 32, 'q8_0', out);
  // d = 1 → f16 0x3c00 little-endian; q = 127, −64, 1, 1, −1, 3, then zeros
  assert.deepEqual([...out.subarray(0, 8)], [0x00, 0x3c, 127, 0xc0, 1, 1, 0xff, 3]);
  assert.ok(out.subarray(8).every((b) => b === 0));
  quantizeRows(new Float32Array(32), 1, 32, 'q8_0', out);
  assert.ok(out.every((b) => b === 0), 'an all-zero block has d = 0 and q = 0');
});

test('q4_0 reference: hand-computed blocks (d = max/−8 with the signed max, q = min(15, trunc(x/d + 8.5)))', () => {
  const out = new Uint8Array(18);
  // max = −8 → d = 1 (0x3c00): −8 → 0, 4 → 12, 3.9 → 12, 7.99 → 16 clamped to 15, zeros → 8
  const x = block([-8, 4, 3.9, 7.99]);
  x[16] = 1; x[17] = -1;
  quantizeRows(x, 1, 32, 'q4_0', out);
  assert.deepEqual([...out.subarray(0, 6)], [0x00, 0x3c, 0 | (9 << 4), 12 | (7 << 4), 12 | (8 << 4), 15 | (8 << 4)]);
  // max = +8 → d = −1 (0xbc00): 8 → 0, −4 → 12
  quantizeRows(block([8, -4]), 1, 32, 'q4_0', out);
  assert.deepEqual([...out.subarray(0, 4)], [0x00, 0xbc, 0 | (8 << 4), 12 | (8 << 4)]);
  const back = new Float32Array(32);
  dequantizeRows(out, 'q4_0', 1, 32, back);
  assert.deepEqual([...back.subarray(0, 3)], [8, -4, -0]); // d · (8 − 8) with d = −1 is −0, as in C
});

test('q8_0 reference agrees byte for byte with the GGUF writer\'s own quantizer', () => {
  const r = new Rng(3);
  const x = Float32Array.from({ length: 32 * 200 }, (_, i) => (r.next() * 2 - 1) * (i % 64 < 32 ? 1e-3 : 40));
  const mine = new Uint8Array(200 * 34);
  quantizeRows(x, 1, x.length, 'q8_0', mine);
  assert.deepEqual(mine, quantizeQ8_0(x));
});

test('quantize → dequantize stays within the format\'s error bound, per block', () => {
  const r = new Rng(11);
  const K = 32 * 24, N = 5;
  const x = Float32Array.from({ length: N * K }, () => (r.next() * 2 - 1) * (r.next() < 0.1 ? 10 : 1));
  for (const fmt of FORMATS) {
    const q = new Uint8Array((N * K / 32) * (fmt === 'q8_0' ? 34 : 18)), back = new Float32Array(N * K);
    quantizeRows(x, N, K, fmt, q);
    dequantizeRows(q, fmt, N, K, back);
    let worst = 0;
    for (let b = 0; b < N * K / 32; b++) {
      let amax = 0;
      for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]!));
      // q8_0: half a step of d = amax/127, plus the f16 rounding of d (≤ 2^-11 relative) times |q| ≤ 127;
      // q4_0: d = amax/8, half a step except the +8 end, clamped from 8 to 7 steps (a full step), plus f16
      const bound = fmt === 'q8_0' ? (amax / 127) * (0.5 + 127 * 2 ** -11) : (amax / 8) * (1 + 8 * 2 ** -11);
      for (let j = 0; j < 32; j++) {
        const e = Math.abs(back[b * 32 + j]! - x[b * 32 + j]!);
        assert.ok(e <= bound * (1 + 1e-6), `${fmt} block ${b} value ${j}: error ${e} > ${bound}`);
        worst = Math.max(worst, e / (amax || 1));
      }
    }
    assert.ok(worst > 0, 'quantization changed nothing: the test data is degenerate');
  }
});

/** |x·Wᵀ − x̂·Wᵀ| for x̂ = the activation quantization of x: the exact bound Σ_k |W[n,k]| · dx_block(k) / 2. */
function activationBound(x: Float32Array, w: Float32Array, M: number, N: number, K: number): Float64Array {
  const { d } = quantizeActivations(x, M, K);
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += Math.abs(w[n * K + k]!) * d[(m * K + k) >> 5]! / 2;
      out[m * N + n] = s;
    }
  return out;
}

function eachBackend(name: string, fn: () => void): void {
  test(`${name} [${backend().info().name}]`, fn);
  test(`${name} [reference]`, () => withBackend(referenceBackend, fn));
}

eachBackend('matmul with a quantized / bf16 W equals matmul with its dequantized f32 copy', () => {
  const r = new Rng(21);
  const N = 37, K = 96;
  const wf = randT(r, [N, K]);
  for (const fmt of ['bf16', ...FORMATS] as const) {
    const wq = op.toWeightFormat(wf, fmt), wd = op.dequantize(wq);
    for (const rows of [1, 3, 16, 40]) {
      const x = randT(r, [rows, K]);
      const want = op.matmul(x, wd, { transB: true }).f32();
      // not recorded (noGrad: generation), a quantized W takes the integer kernels at any row count: x is quantized
      // to int8 blocks (bounded exactly); while recording, more than 16 rows keep the GEMM: only f32 rounding
      for (const recording of [false, true]) {
        const got = recording ? op.matmul(x, wq, { transB: true }).f32() : noGrad(() => op.matmul(x, wq, { transB: true }).f32());
        const bound = fmt !== 'bf16' && (rows <= 16 || !recording) ? activationBound(x.f32(), wd.f32(), rows, N, K) : null;
        let quantErr = 0;
        for (let i = 0; i < got.length; i++) {
          const tol = (bound ? bound[i]! * 1.001 : 0) + 1e-5 * K;
          assert.ok(Math.abs(got[i]! - want[i]!) <= tol, `${fmt} rows=${rows} recording=${recording} out[${i}] ${got[i]} vs ${want[i]} (tol ${tol})`);
          quantErr = Math.max(quantErr, Math.abs(got[i]! - want[i]!));
        }
        // and the path taken is the one meant: int8 x leaves an error far above f32 rounding, the GEMM does not
        if (fmt !== 'bf16') assert.equal(quantErr > 1e-4, !!bound, `${fmt} rows=${rows} recording=${recording}: error ${quantErr}`);
      }
    }
  }
});

eachBackend('the panel-scale table: one per weight tensor, kept, and not inherited by a weight that reuses its buffer', () => {
  const r = new Rng(22);
  const N = 40, K = 64, rows = 8;
  for (const fmt of FORMATS) {
    const x = randT(r, [rows, K]);
    const a = op.toWeightFormat(randT(r, [N, K]), fmt);
    noGrad(() => op.matmul(x, a, { transB: true })).dispose();
    const table = panelScalesFor(a, rows);
    assert.equal(table === null, !backend().matvecReadsPanelScales(rows, N, K, fmt), `${fmt}: a table exactly where matvec reads one`);
    assert.equal(panelScalesFor(a, rows), table, `${fmt}: made once, then kept`);
    if (table) {
      const want = new Uint16Array(table.length);
      referenceBackend.quantPanelScales(a.data as Uint8Array, fmt, N, K, want);
      assert.deepEqual(table, want);
    }
    // a disposed weight's buffer goes back to the pool and comes out again as the next weight of its size: a table
    // keyed by the buffer would hand b a's scales
    const buffer = a.data;
    a.dispose();
    const b = op.toWeightFormat(randT(r, [N, K]), fmt);
    assert.equal(b.data, buffer, 'the pool hands the buffer back (else this test checks nothing)');
    const got = noGrad(() => op.matmul(x, b, { transB: true })).f32();
    const want = withBackend(referenceBackend, () => noGrad(() => op.matmul(x, b, { transB: true })).f32());
    for (let i = 0; i < got.length; i++)
      assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-5 * (1 + Math.abs(want[i]!)), `${fmt} out[${i}] ${got[i]} vs ${want[i]}`);
  }
});

test('a panel-scale table of the wrong size or for an unquantized weight is refused, naming the sizes', () => {
  const N = 20, K = 64, w = new Uint8Array((N * K / 32) * 18), x = new Float32Array(2 * K), out = new Float32Array(2 * N);
  for (const b of [backend(), referenceBackend]) {
    assert.throws(() => b.matvec(2, N, K, x, w, 'q4_0', out, new Uint16Array(panelScalesLength(N, K) - 1)),
      /panelScales.*\b64\b|\b64\b.*panelScales/, b.info().name);
    assert.throws(() => b.matvec(2, N, K, x, w, 'q4_0', out, new Uint16Array(panelScalesLength(N, K) + 16)),
      /panelScales.*\b64\b|\b64\b.*panelScales/, b.info().name);
    assert.throws(() => b.quantPanelScales(w, 'q4_0', N, K, new Uint16Array(10)), /64/, b.info().name);
    assert.throws(() => b.matvec(2, N, K, x, new Float32Array(N * K), 'f32', out, new Uint16Array(64)),
      /q8_0 \/ q4_0 weights only/, b.info().name);
  }
});

eachBackend('dX through a frozen quantized / bf16 W equals G·W of the dequantized weight (2-D and batched x)', () => {
  const r = new Rng(22);
  const N = 33, K = 64;
  const wf = randT(r, [N, K]);
  for (const fmt of ['bf16', ...FORMATS] as const) {
    const wq = op.toWeightFormat(wf, fmt), wd = op.dequantize(wq);
    for (const shape of [[2, K], [3, 5, K]]) {
      const x = randT(r, shape);
      x.requiresGrad = true;
      const y = op.matmul(x, wq, { transB: true });
      // a recorded product keeps x exact (the GEMM path), even for 2 rows
      const yd = op.matmul(x, wd, { transB: true });
      const g = randT(r, y.shape);
      for (let i = 0; i < y.size; i++) assert.ok(Math.abs(y.f32()[i]! - yd.f32()[i]!) <= 1e-5 * K, `${fmt} forward ${i}`);
      backward(y, g);
      const want = op.matmul(g, wd).f32(), got = x.grad!.f32();
      for (let i = 0; i < got.length; i++)
        assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-5 * N, `${fmt} ${shape}: dx[${i}] ${got[i]} vs ${want[i]}`);
    }
  }
});

eachBackend('embedding reads bf16 / q8_0 / q4_0 rows as their dequantized f32 values', () => {
  const r = new Rng(23);
  const wf = randT(r, [50, 64]);
  const ids = new Tensor(Int32Array.from([0, 49, 7, 7, 12]), [5]);
  for (const fmt of ['bf16', ...FORMATS] as const) {
    const wq = op.toWeightFormat(wf, fmt);
    assert.deepEqual(op.embedding(wq, ids).toArray(), op.embedding(op.dequantize(wq), ids).toArray(), fmt);
  }
});

test('gradcheck (float64, reference) of dX through a frozen bf16 / q8_0 / q4_0 W, few rows and many', () => {
  inFloat64(() => {
    const r = new Rng(31);
    for (const fmt of ['bf16', ...FORMATS] as const) {
      const w = op.toWeightFormat(randT(r, [7, fmt === 'bf16' ? 33 : 64]), fmt);
      // Quantized: more than 16 rows, which keep the GEMM (x exact) while recording. Gradcheck's finite differences
      // run without recording, where any row count takes the integer kernels, whose int8 x makes the forward
      // piecewise constant in x: they read the dequantized weight instead, what the recorded GEMM computes with.
      const wd = op.dequantize(w);
      for (const rows of fmt === 'bf16' ? [2, 9] : [17]) {
        const res = gradcheck(([x]) => op.matmul(x!, isGradEnabled() ? w : wd, { transB: true }), [randT(r, [rows, w.shape[1]!])], 1e-5);
        assert.ok(res.maxRel < 1e-6, `${fmt} rows=${rows}: max relative difference ${res.maxRel} at ${res.worst}`);
      }
    }
  });
});

test('quantized weights refuse gradients; shape errors name the shapes', () => {
  const r = new Rng(41);
  const wq = op.toWeightFormat(randT(r, [4, 32]), 'q8_0');
  wq.requiresGrad = true;
  assert.throws(() => op.matmul(randT(r, [2, 32]), wq, { transB: true }), /\[matmul\] a q8_0 weight \[4,32\] is frozen/);
  assert.throws(() => op.embedding(wq, new Tensor(Int32Array.from([1]), [1])), /\[embedding\] a q8_0 weight/);
  assert.throws(() => op.toWeightFormat(randT(r, [4, 48]), 'q4_0'), /\[toWeightFormat\] q4_0 needs K .* \[4,48\]/);
  assert.throws(() => op.toWeightFormat(randT(r, [2, 4, 32]), 'q8_0'), /2-D weights \[N, K\], got \[2,4,32\]/);
  assert.throws(() => op.matmul(wq, randT(r, [32, 2])), /\[matmul\] a q8_0 tensor \[4,32\] can only be the second operand/);
  assert.throws(() => op.toWeightFormat(wq, 'q4_0'), /dequantize from the original weights/);
  assert.equal(op.toF32(wq).dtype, 'f32');
});
