// rope-scaling.test.ts — scaled RoPE: the inverse-frequency rewrites (llama3 bands, linear, dynamic NTK) against
// their definitions, the rope kernel's invFreq table on the native backend against the reference (forward and
// the inverse rotation), and the float64 finite-difference check of the rope op's vjp with a table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultInvFreq, positionLimit, ropeInvFreq } from '../../src/model/rope-scaling.js';
import { gradcheck } from '../../src/autograd/gradcheck.js';
import * as op from '../../src/ops/index.js';
import { Rng, i32T, inFloat64, nativeOrSkip, randT, referenceBackend } from '../helpers.js';

const base = { ropeTheta: 100, maxPositions: 128 };

test('llama3: short wavelengths kept, long ones slowed by factor, the band between interpolated', () => {
  const D = 8, plain = defaultInvFreq(100, D);
  const f = ropeInvFreq({ ...base, ropeScaling: { type: 'llama3', factor: 4, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 32 } }, D, 1)!;
  // wavelengths 2π·100^(i/4) = 6.3, 19.9, 62.8, 199 against the band edges 32/4 = 8 and 32/1 = 32
  assert.equal(f[0], plain[0]);
  assert.ok(Math.abs(f[2]! - plain[2]! / 4) < 1e-15 && Math.abs(f[3]! - plain[3]! / 4) < 1e-15);
  const wl = (2 * Math.PI) / plain[1]!, smooth = (32 / wl - 1) / 3;
  assert.ok(smooth > 0 && smooth < 1);
  assert.ok(Math.abs(f[1]! - ((1 - smooth) * plain[1]! / 4 + smooth * plain[1]!)) < 1e-15);
  assert.ok(f[1]! < plain[1]! && f[1]! > plain[1]! / 4);
});

test('linear divides every frequency (= positions / factor); dynamic is plain within the trained length', () => {
  const D = 16, plain = defaultInvFreq(100, D);
  const lin = ropeInvFreq({ ...base, ropeScaling: { type: 'linear', factor: 2 } }, D, 1)!;
  lin.forEach((v, i) => assert.equal(v, plain[i]! / 2));
  const dyn = { ropeTheta: 100, maxPositions: 16, ropeScaling: { type: 'dynamic', factor: 2 } as const };
  assert.equal(ropeInvFreq(dyn, D, 16), null);
  const grown = ropeInvFreq(dyn, D, 24)!;
  const b = 100 * Math.pow((2 * 24) / 16 - 1, D / (D - 2));
  grown.forEach((v, i) => assert.ok(Math.abs(v - Math.pow(b, (-2 * i) / D)) < 1e-15 * Math.max(1, v)));
  assert.ok(grown[D / 2 - 1]! < plain[D / 2 - 1]!, 'a larger base rotates slower');
  assert.equal(positionLimit(dyn), 32);
  assert.equal(positionLimit({ ...base, ropeScaling: { type: 'linear', factor: 2 } }), 128);
  assert.equal(ropeInvFreq(base, D, 1), null);
});

const nat = nativeOrSkip();
test('rope kernel with an invFreq table: native equals the reference, and the inverse undoes the forward',
  { skip: nat.backend ? false : nat.reason }, () => {
    const be = nat.backend!;
    const rng = new Rng(5);
    for (const [N, H, D, spread] of [[7, 3, 8, 5], [40, 2, 64, 3000], [33, 1, 128, 40]] as const) {
      const x = new Float32Array(N * H * D).map(() => rng.next() * 2 - 1);
      const pos = new Int32Array(N).map(() => Math.floor(rng.next() * spread));
      const inv = ropeInvFreq({ ropeTheta: 500000, maxPositions: 131072, ropeScaling: { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 } }, D, 1)!;
      for (const inverse of [false, true]) {
        const want = new Float32Array(x.length), got = new Float32Array(x.length);
        referenceBackend.rope(x, want, pos, N, H, D, 500000, inverse, inv);
        be.rope(x, got, pos, N, H, D, 500000, inverse, inv);
        let worst = 0;
        for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
        assert.ok(worst < 5e-6, `N=${N} D=${D} inverse=${inverse}: max |diff| ${worst}`);
        // the table is honoured: plain RoPE from theta gives something else
        const plain = new Float32Array(x.length);
        be.rope(x, plain, pos, N, H, D, 500000, inverse, null);
        assert.ok(plain.some((v, i) => Math.abs(v - got[i]!) > 1e-3), 'invFreq was ignored');
      }
      const y = new Float32Array(x.length), z = new Float32Array(x.length);
      be.rope(x, y, pos, N, H, D, 500000, false, inv);
      be.rope(y, z, pos, N, H, D, 500000, true, inv);
      for (let i = 0; i < x.length; i++) assert.ok(Math.abs(z[i]! - x[i]!) < 1e-5, 'inverse rotation does not undo the forward');
    }
    assert.throws(() => op.rope(randT(rng, [1, 2, 1, 8]), i32T([0, 1]), 1e4, new Float64Array(3)), /\[rope\] invFreq has 3 entries, needs D\/2 = 4/);
  });

test('gradcheck rope with an invFreq table (float64)', () => {
  inFloat64(() => {
    const r = new Rng(77);
    const inv = ropeInvFreq({ ropeTheta: 100, maxPositions: 64, ropeScaling: { type: 'llama3', factor: 4, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 32 } }, 8, 1)!;
    const res = gradcheck(([x]) => op.rope(x!, i32T([0, 1, 2, 35, 36, 37]), 100, inv), [randT(r, [2, 3, 2, 8])], 1e-5);
    assert.ok(res.maxRel < 1e-5, `max relative difference ${res.maxRel}`);
  });
});
