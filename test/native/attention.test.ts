// attention.test.ts — the native fused attention (forward and backward) against the reference backend at shapes
// near the real models': head dims 64 and 128, GQA ratios 1..8, T not a multiple of any tile, prefill over a
// cache, T = 1 decode rows, key padding, B > 1; and bitwise equality of 1 vs 2 pool threads. The forward over keys
// held transposed (attentionForwardKt, the KV cache's layout) against the reference and, bit for bit, against the
// row-layout kernel; over a bf16 cache (kt and v as bf16 bits) against the reference and, bit for bit, against
// the f32 path on the widened values. The file re-runs itself under ZJ_ISA=avx2 and ZJ_ISA=scalar.
// kernels.test.ts holds the small edge cases; nothing here is timed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Kernels } from '../../src/backend/kernels.js';
import { referenceBackend as ref } from '../../src/backend/reference/index.js';
import { loadAddon } from '../../src/backend/native/index.js';
import { Rng, diff } from '../helpers.js';

const addon = loadAddon();
const nat = addon as unknown as Kernels;
const isa = addon.info().isa;
const isChild = process.env.ZJ_ATTN_CHILD === '1';

interface Case {
  label: string;
  B: number; T: number; S: number; H: number; Hkv: number; D: number; causal: boolean;
  mask?: (b: number, s: number) => boolean;
}

const cases: Case[] = [
  { label: 'Qwen2.5-0.5B head slice: GQA 7, D=64, T=77 causal', B: 1, T: 77, S: 77, H: 7, Hkv: 1, D: 64, causal: true },
  { label: 'GQA 8, D=128, B=2, left padding', B: 2, T: 45, S: 45, H: 8, Hkv: 1, D: 128, causal: true,
    mask: (b, s) => s >= (b === 0 ? 0 : 9) },
  { label: 'GQA 1, D=128, non-causal, key padding, T=70', B: 1, T: 70, S: 70, H: 3, Hkv: 3, D: 128, causal: false,
    mask: (_b, s) => s % 5 !== 2 },
  { label: 'prefill over a cache: T=33 S=100, GQA 2, D=64', B: 2, T: 33, S: 100, H: 4, Hkv: 2, D: 64, causal: true,
    mask: (b, s) => b === 0 || s >= 4 },
  { label: 'decode T=1 over a cache, GQA 4, D=128, B=3', B: 3, T: 1, S: 200, H: 8, Hkv: 2, D: 128, causal: true,
    mask: (b, s) => s >= 3 * b },
  { label: 'decode T=1 over a cache, GQA 7, D=64', B: 1, T: 1, S: 129, H: 14, Hkv: 2, D: 64, causal: true },
  { label: 'decode T=2 over a cache, GQA 3, key padding', B: 2, T: 2, S: 90, H: 6, Hkv: 2, D: 64, causal: true,
    mask: (b, s) => s % 7 !== b },
  { label: 'decode T=1, GQA 20: two tiles of heads', B: 1, T: 1, S: 70, H: 20, Hkv: 1, D: 64, causal: true },
  { label: 'decode T=1, GQA 4, one batch with every key masked', B: 2, T: 1, S: 40, H: 4, Hkv: 1, D: 32, causal: true,
    mask: (b) => b === 0 },
  { label: 'decode T=2, non-causal, GQA 2, odd D', B: 1, T: 2, S: 50, H: 4, Hkv: 2, D: 20, causal: false },
  { label: 'T=3 rows over a cache, D=64', B: 2, T: 3, S: 66, H: 2, Hkv: 1, D: 64, causal: true },
  { label: 'several query and key tiles, GQA 2, D=64', B: 1, T: 161, S: 161, H: 2, Hkv: 1, D: 64, causal: true },
];

function randArr(rng: Rng, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = 2 * rng.next() - 1;
  return a;
}

interface Inputs { q: Float32Array; k: Float32Array; v: Float32Array; dOut: Float32Array; mask: Int32Array | null }

function inputs(c: Case, seed: number): Inputs {
  const rng = new Rng(seed);
  const { B, T, S, H, Hkv, D } = c;
  const q = randArr(rng, B * T * H * D), k = randArr(rng, B * S * Hkv * D), v = randArr(rng, B * S * Hkv * D);
  const dOut = randArr(rng, B * T * H * D);
  let mask: Int32Array | null = null;
  if (c.mask) {
    mask = new Int32Array(B * S);
    for (let b = 0; b < B; b++) for (let s = 0; s < S; s++) mask[b * S + s] = c.mask(b, s) ? 1 : 0;
  }
  return { q, k, v, dOut, mask };
}

interface Outputs { out: Float32Array; lse: Float32Array; dq: Float32Array; dk: Float32Array; dv: Float32Array }

function run(kern: Kernels, c: Case, x: Inputs, fwd?: { out: Float32Array; lse: Float32Array }): Outputs {
  const { B, T, S, H, Hkv, D, causal } = c;
  const scale = 1 / Math.sqrt(D);
  const out = new Float32Array(B * T * H * D), lse = new Float32Array(B * H * T);
  kern.attentionForward(x.q, x.k, x.v, out, lse, B, T, S, H, Hkv, D, scale, causal, x.mask);
  // the backward consumes a given forward's out and lse, so each backend's gradient is checked on the same input
  const o = fwd?.out ?? out, l = fwd?.lse ?? lse;
  // outputs start non-zero: the kernel must overwrite them
  const dq = new Float32Array(x.q.length).fill(3), dk = new Float32Array(x.k.length).fill(3);
  const dv = new Float32Array(x.v.length).fill(3);
  kern.attentionBackward(x.q, x.k, x.v, o, l, x.dOut, dq, dk, dv, B, T, S, H, Hkv, D, scale, causal, x.mask);
  return { out, lse, dq, dk, dv };
}

/**
 * Element-wise relative difference, with elements below `floor` times the array's largest magnitude compared
 * against that floor: these sums run over hundreds of terms (a kv head's dv sums group x T rows), so f32 rounding
 * in a different order leaves ~1e-6 absolute on gradients of ~1e-2 and the small elements say nothing.
 */
function close(what: string, got: Float32Array, want: Float32Array, relTol: number, floor: number): void {
  let big = 0;
  for (let i = 0; i < got.length; i++) {
    if (Number.isNaN(got[i]!) || Number.isNaN(want[i]!)) assert.fail(`[${what}] NaN at ${i} on ${isa}`);
    if (Number.isFinite(want[i]!)) big = Math.max(big, Math.abs(want[i]!));
  }
  const d = diff(got, want, Math.max(floor * big, 1e-30));
  assert.ok(d.maxRel <= relTol, `[${what}] max rel diff ${d.maxRel} (abs ${d.maxAbs}) exceeds ${relTol} on ${isa}`);
}

for (const [i, c] of cases.entries()) {
  test(`attention vs reference: ${c.label}`, () => {
    const x = inputs(c, 300 + i);
    const want = run(ref, c, x);
    const got = run(nat, c, x, want);
    close('forward.out', got.out, want.out, 1e-5, 0.05);
    close('forward.lse', got.lse, want.lse, 4e-6, 0.05);  // ~2 ulp of an lse near log S
    close('backward.dq', got.dq, want.dq, 2e-5, 0.05);
    close('backward.dk', got.dk, want.dk, 2e-5, 0.05);
    close('backward.dv', got.dv, want.dv, 2e-5, 0.05);
    // a gradient the checks could pass by staying zero would prove nothing: these inputs have real gradients
    assert.ok(want.dk.some((g) => Math.abs(g) > 1e-3), 'test inputs give a non-trivial dk');
  });
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.every((v, i) => v === y[i]);
}

const splitCases: Case[] = [
  { label: 'prefill', B: 2, T: 70, S: 70, H: 6, Hkv: 3, D: 64, causal: true, mask: (b, s) => b === 0 || s > 5 },
  // 3 heads of one kv group over 2 threads: a chunk boundary splits the group's tile of heads
  { label: 'decode', B: 1, T: 1, S: 1024, H: 3, Hkv: 1, D: 64, causal: true },
];

for (const [i, c] of splitCases.entries()) test(`attention ${c.label}: 1 and 2 pool threads give identical bits`, () => {
  const x = inputs(c, 400 + i);
  const initial = addon.info().threads;
  const runs: Outputs[] = [];
  try {
    for (const threads of [1, 2]) {
      addon.setThreads(threads);
      runs.push(run(nat, c, x));
    }
  } finally {
    addon.setThreads(initial);
  }
  for (const k of ['out', 'lse', 'dq', 'dk', 'dv'] as const)
    assert.ok(sameBits(runs[0]![k], runs[1]![k]), `${k} differs between 1 and 2 threads on ${isa}`);
  const want = run(ref, c, x);
  close('forward.out', runs[1]!.out, want.out, 1e-5, 0.05);
  close('forward.lse', runs[1]!.lse, want.lse, 4e-6, 0.05);
});

// An unwritten KV-cache slot may hold anything (NaN after a reset): masked keys must not reach any output.
const poisonCases: Case[] = [
  { label: 'decode, GQA (heads as tile rows)', B: 2, T: 1, S: 90, H: 4, Hkv: 1, D: 64, causal: true, mask: (b, s) => s < 40 + b },
  { label: 'decode, no GQA (per-row path)', B: 2, T: 1, S: 90, H: 2, Hkv: 2, D: 64, causal: true, mask: (b, s) => s < 40 + b },
  { label: 'prefill tiles, odd D', B: 2, T: 20, S: 90, H: 4, Hkv: 2, D: 24, causal: false, mask: (b, s) => s < 60 + b && s % 9 !== 0 },
];

for (const [i, c] of poisonCases.entries()) test(`attention ${c.label}: masked keys holding NaN change nothing`, () => {
  const x = inputs(c, 500 + i);
  const clean = run(nat, c, x);
  const kp = x.k.slice(), vp = x.v.slice(), row = c.Hkv * c.D;
  for (let b = 0; b < c.B; b++)
    for (let s = 0; s < c.S; s++)
      if (!x.mask![b * c.S + s]) {
        kp.fill(NaN, (b * c.S + s) * row, (b * c.S + s + 1) * row);
        vp.fill(NaN, (b * c.S + s) * row, (b * c.S + s + 1) * row);
      }
  const poisoned = run(nat, c, { ...x, k: kp, v: vp });
  for (const k of ['out', 'lse', 'dq'] as const)
    assert.ok(sameBits(clean[k], poisoned[k]), `${k}: NaN in masked keys reached the output on ${isa}`);
  // the gradient of a masked key is 0 either way; of a visible one, unchanged
  for (const k of ['dk', 'dv'] as const) {
    for (let b = 0; b < c.B; b++)
      for (let s = 0; s < c.S; s++) {
        const o = (b * c.S + s) * row;
        const want = x.mask![b * c.S + s] ? clean[k].subarray(o, o + row) : new Float32Array(row);
        assert.ok(sameBits(poisoned[k].subarray(o, o + row), want), `${k} of key ${s} (batch ${b}) on ${isa}`);
      }
  }
});

// ---- keys held transposed (the decoding KV cache's layout): attentionForwardKt -------------------------------

/** k (B, S, Hkv, D) as kt (B, Hkv, D, ldk); the columns from S on hold NaN, which no output may see. */
function transposedKeys(c: Case, k: Float32Array, ldk: number): Float32Array {
  const { B, S, Hkv, D } = c;
  const kt = new Float32Array(B * Hkv * D * ldk).fill(NaN);
  for (let b = 0; b < B; b++) for (let kh = 0; kh < Hkv; kh++) for (let d = 0; d < D; d++)
    for (let s = 0; s < S; s++) kt[((b * Hkv + kh) * D + d) * ldk + s] = k[((b * S + s) * Hkv + kh) * D + d]!;
  return kt;
}

function forwardKt(kern: Kernels, c: Case, x: Inputs, kt: Float32Array, ldk: number): { out: Float32Array; lse: Float32Array } {
  const { B, T, S, H, Hkv, D, causal } = c;
  const out = new Float32Array(B * T * H * D).fill(7), lse = new Float32Array(B * H * T).fill(7);
  kern.attentionForwardKt(x.q, kt, ldk, x.v, out, lse, B, T, S, H, Hkv, D, 1 / Math.sqrt(D), causal, x.mask);
  return { out, lse };
}

for (const [i, c] of cases.entries()) test(`attention over transposed keys vs reference: ${c.label}`, () => {
  const x = inputs(c, 300 + i);
  const ldk = Math.ceil(c.S / 16) * 16 + 16; // a stride past the keys, as a cache's capacity is
  const kt = transposedKeys(c, x.k, ldk);
  const want = forwardKt(ref, c, x, kt, ldk);
  const got = forwardKt(nat, c, x, kt, ldk);
  close('forwardKt.out', got.out, want.out, 1e-5, 0.05);
  close('forwardKt.lse', got.lse, want.lse, 4e-6, 0.05);
  // where the row-layout kernel stages the keys into the same transposed tiles (every path but the per-row decode
  // without GQA), reading them in place must give its exact bits
  if (!(c.T <= 2 && c.H === c.Hkv)) {
    const rows = run(nat, c, x);
    assert.ok(sameBits(got.out, rows.out) && sameBits(got.lse, rows.lse), `transposed keys changed the bits on ${isa}`);
  }
  if (x.mask) { // masked keys holding NaN change nothing
    const kp = kt.slice();
    for (let b = 0; b < c.B; b++) for (let s = 0; s < c.S; s++) if (!x.mask[b * c.S + s])
      for (let j = 0; j < c.Hkv * c.D; j++) kp[(b * c.Hkv * c.D + j) * ldk + s] = NaN;
    const p = forwardKt(nat, c, x, kp, ldk);
    assert.ok(sameBits(p.out, got.out) && sameBits(p.lse, got.lse), `NaN in masked transposed keys reached the output on ${isa}`);
  }
});

// ---- a bf16 KV cache: kt and v as bf16 bits, widened to f32 inside the kernel --------------------------------

/** f32 → bf16 bits by the reference's rounding (the KV cache's own cast), and those bits widened back. */
function toBf16(x: Float32Array): { bits: Uint16Array; widened: Float32Array } {
  const bits = new Uint16Array(x.length);
  ref.castF32ToBf16(x, bits);
  const widened = new Float32Array(x.length);
  ref.castBf16ToF32(bits, widened);
  return { bits, widened };
}

function forwardKtBf16(kern: Kernels, c: Case, x: Inputs, kt: Uint16Array, ldk: number, v: Uint16Array): { out: Float32Array; lse: Float32Array } {
  const { B, T, S, H, Hkv, D, causal } = c;
  const out = new Float32Array(B * T * H * D).fill(7), lse = new Float32Array(B * H * T).fill(7);
  kern.attentionForwardKt(x.q, kt, ldk, v, out, lse, B, T, S, H, Hkv, D, 1 / Math.sqrt(D), causal, x.mask);
  return { out, lse };
}

for (const [i, c] of cases.entries()) test(`attention over a bf16 cache vs reference and vs f32 on the same values: ${c.label}`, () => {
  const x = inputs(c, 500 + i);
  const ldk = Math.ceil(c.S / 16) * 16 + 16;
  const kt = toBf16(transposedKeys(c, x.k, ldk)), v = toBf16(x.v);
  const want = forwardKtBf16(ref, c, x, kt.bits, ldk, v.bits);
  const got = forwardKtBf16(nat, c, x, kt.bits, ldk, v.bits);
  close('forwardKt bf16.out', got.out, want.out, 1e-5, 0.05);
  close('forwardKt bf16.lse', got.lse, want.lse, 4e-6, 0.05);
  // widening is exact, so the f32 kernel over the widened values must give the same bits
  const f32 = forwardKt(nat, c, { ...x, v: v.widened }, kt.widened, ldk);
  assert.ok(sameBits(got.out, f32.out) && sameBits(got.lse, f32.lse), `the bf16 cache changed the bits of the f32 path on ${isa}`);
  if (x.mask) { // masked keys and values holding bf16 NaN (0x7fc0) change nothing
    const kp = kt.bits.slice(), vp = v.bits.slice();
    for (let b = 0; b < c.B; b++) for (let s = 0; s < c.S; s++) if (!x.mask[b * c.S + s]) {
      for (let j = 0; j < c.Hkv * c.D; j++) kp[(b * c.Hkv * c.D + j) * ldk + s] = 0x7fc0;
      vp.fill(0x7fc0, (b * c.S + s) * c.Hkv * c.D, (b * c.S + s + 1) * c.Hkv * c.D);
    }
    const p = forwardKtBf16(nat, c, x, kp, ldk, vp);
    assert.ok(sameBits(p.out, got.out) && sameBits(p.lse, got.lse), `NaN in masked bf16 keys or values reached the output on ${isa}`);
  }
});

test('attention over transposed keys refuses kt and v of different types', () => {
  const c = cases[5]!, x = inputs(c, 11), ldk = 144;
  const kt32 = new Float32Array(c.B * c.Hkv * c.D * ldk), kt16 = new Uint16Array(kt32.length);
  const v16 = new Uint16Array(x.v.length);
  const out = new Float32Array(x.q.length), lse = new Float32Array(c.B * c.H * c.T);
  for (const kern of [nat, ref]) {
    assert.throws(() => kern.attentionForwardKt(x.q, kt32, ldk, v16, out, lse, c.B, c.T, c.S, c.H, c.Hkv, c.D, 0.125, true, null), /kt and v must both be Float32Array or both Uint16Array/);
    assert.throws(() => kern.attentionForwardKt(x.q, kt16, ldk, x.v, out, lse, c.B, c.T, c.S, c.H, c.Hkv, c.D, 0.125, true, null), /kt and v must both be Float32Array or both Uint16Array/);
  }
});

test('attention over transposed keys refuses a stride that is not a multiple of 16 or is shorter than S', () => {
  const c = cases[5]!, x = inputs(c, 9);
  for (const kern of [nat, ref]) {
    for (const ldk of [c.S + 1, 128]) // 130 (S = 129, not a multiple of 16), 128 (< S)
      assert.throws(() => forwardKt(kern, c, x, new Float32Array(c.B * c.Hkv * c.D * ldk), ldk), /ldk \(\d+\) must be a multiple of 16 and at least S \(129\)/);
  }
});

// ---- the other instruction-set paths: this file again, in a child with ZJ_ISA lowered ---------------------

if (!isChild) {
  for (const want of ['avx2', 'scalar']) {
    test(`the same attention suite under ZJ_ISA=${want}`, () => {
      const env: NodeJS.ProcessEnv = { ...process.env, ZJ_ISA: want, ZJ_ATTN_CHILD: '1' };
      delete env.NODE_TEST_CONTEXT; // else the child speaks the runner's binary protocol to us
      const r = spawnSync(process.execPath, ['--test-reporter=dot', fileURLToPath(import.meta.url)], {
        env,
        encoding: 'utf8',
        timeout: 120_000,
      });
      assert.equal(r.status, 0, `ZJ_ISA=${want} run failed:\n${r.stdout}\n${r.stderr}`);
    });
  }
}
