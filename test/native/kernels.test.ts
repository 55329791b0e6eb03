// kernels.test.ts — every native kernel except GEMM against the reference backend (the definition of correct):
// odd shapes, seeded random data, views with a byteOffset as arguments, edge cases (masked attention rows, GQA,
// KV-cache T < S, ignore index, NaN/inf casts), determinism, and argument checks. The file re-runs itself under
// ZJ_ISA=scalar and ZJ_ISA=avx2 so every instruction-set path is exercised. It does not time anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Kernels } from '../../src/backend/kernels.js';
import { BinaryOp, UnaryOp } from '../../src/backend/kernels.js';
import { referenceBackend as ref } from '../../src/backend/reference/index.js';
import { loadAddon } from '../../src/backend/native/index.js';

const addon = loadAddon();
const nat = addon as unknown as Kernels;
const isa = addon.info().isa;
const isChild = process.env.ZJ_KERNELS_CHILD === '1';

// ---- seeded data ------------------------------------------------------------------------------

/** mulberry32: a small, well-mixed 32-bit generator; enough for test data. */
class Prng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

function rand(rng: Prng, n: number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * rng.next();
  return a;
}

function ints(rng: Prng, n: number, V: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.int(V);
  return a;
}

// ---- views: native arguments live inside a larger buffer, at a byte offset, fenced by sentinels ---------

const SENTINEL = 12345.5;
const PAD = 5;
const fences: { buf: Float32Array; n: number }[] = [];

/** A Float32Array view (byteOffset 20) holding a copy of x, with sentinels on both sides. */
function view(x: Float32Array): Float32Array {
  const buf = new Float32Array(x.length + 2 * PAD).fill(SENTINEL);
  const v = buf.subarray(PAD, PAD + x.length);
  v.set(x);
  fences.push({ buf, n: x.length });
  return v;
}

function iview(x: Int32Array): Int32Array {
  const buf = new Int32Array(x.length + 2 * PAD).fill(-7);
  const v = buf.subarray(PAD, PAD + x.length);
  v.set(x);
  return v;
}

/** Throws if any kernel wrote outside the views handed to it since the last call. */
function checkFences(kernel: string): void {
  for (const f of fences) {
    for (let i = 0; i < PAD; i++) {
      if (f.buf[i] !== SENTINEL || f.buf[PAD + f.n + i] !== SENTINEL)
        throw new Error(`[${kernel}] wrote outside its output view`);
    }
  }
  fences.length = 0;
}

// ---- differences ------------------------------------------------------------------------------

interface Diff {
  maxAbs: number;
  maxRel: number;
}
const report: Record<string, Diff> = {};

function diff(a: ArrayLike<number>, b: ArrayLike<number>, floor: number): Diff {
  assert.equal(a.length, b.length);
  let maxAbs = 0, maxRel = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = b[i]!;
    if (Number.isNaN(x) || Number.isNaN(y)) {
      if (Number.isNaN(x) !== Number.isNaN(y)) return { maxAbs: Infinity, maxRel: Infinity };
      continue;
    }
    if (x === y) continue;
    const d = Math.abs(x - y);
    maxAbs = Math.max(maxAbs, d);
    maxRel = Math.max(maxRel, d / Math.max(Math.abs(x), Math.abs(y), floor));
  }
  return { maxAbs, maxRel };
}

/** Compares native against reference; records the worst difference per kernel name. */
function close(kernel: string, got: ArrayLike<number>, want: ArrayLike<number>, relTol: number, floor = 1e-3): void {
  const d = diff(got, want, floor);
  const r = (report[kernel] ??= { maxAbs: 0, maxRel: 0 });
  r.maxAbs = Math.max(r.maxAbs, d.maxAbs);
  r.maxRel = Math.max(r.maxRel, d.maxRel);
  assert.ok(d.maxRel <= relTol, `[${kernel}] max rel diff ${d.maxRel} (abs ${d.maxAbs}) exceeds ${relTol} on ${isa}`);
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

function noNaN(kernel: string, a: Float32Array): void {
  for (let i = 0; i < a.length; i++) if (Number.isNaN(a[i])) throw new Error(`[${kernel}] NaN at ${i}`);
}

const SPECIALS = [0, -0, 1e-30, -1e-30, 88, 89, -87, -100, -104, -200, 100, Infinity, -Infinity, NaN];

// ---- elementwise ------------------------------------------------------------------------------

test('binary: same shape, row / column / scalar broadcast, general strides, NaN rules', () => {
  const rng = new Prng(1);
  const cases: { shape: number[]; as: number[]; bs: number[]; na: number; nb: number }[] = [
    { shape: [257], as: [1], bs: [1], na: 257, nb: 257 },
    { shape: [7, 33], as: [33, 1], bs: [0, 1], na: 231, nb: 33 },
    { shape: [7, 33], as: [33, 1], bs: [1, 0], na: 231, nb: 7 },
    { shape: [3, 7], as: [0, 0], bs: [7, 1], na: 1, nb: 21 },
    { shape: [3, 5, 7], as: [1, 21, 3], bs: [35, 0, 5], na: 105, nb: 105 },
    { shape: [], as: [], bs: [], na: 1, nb: 1 },
    { shape: [1, 33, 1], as: [0, 1, 0], bs: [0, 1, 0], na: 33, nb: 33 },
  ];
  for (const c of cases) {
    const a = rand(rng, c.na, -2, 2), b = rand(rng, c.nb, -2, 2);
    // ties and NaN on both sides, for max/min/eq semantics
    if (c.na > 4 && c.nb > 4) {
      a[0] = NaN; b[1] = NaN; a[2] = b[2]!; a[3] = 0; b[3] = -0;
    }
    const n = c.shape.reduce((p, d) => p * d, 1);
    for (const [name, op] of Object.entries(BinaryOp)) {
      const want = new Float32Array(n), got = view(new Float32Array(n));
      ref.binary(op, a, b, want, c.shape, c.as, c.bs);
      nat.binary(op, view(a), view(b), got, c.shape, c.as, c.bs);
      checkFences('binary');
      close(`binary.${name}`, got, want, 0);
    }
  }
});

test('unary and unaryBackward: every op, odd lengths, special values', () => {
  const rng = new Prng(2);
  const positive = new Set<number>([UnaryOp.log, UnaryOp.sqrt, UnaryOp.rsqrt]);
  const tol: Record<string, number> = { exp: 2e-6, sigmoid: 2e-6, silu: 2e-6, logsigmoid: 2e-6, tanh: 2e-6, log: 2e-7 };
  const bwdTol: Record<string, number> = { tanh: 1e-5, silu: 2e-6, logsigmoid: 2e-6 };
  // 1 - y^2 (tanh), y (1 - y) (sigmoid) cancel near saturation: judge those gradients against a floor of 1e-2
  const bwdFloor: Record<string, number> = { tanh: 1e-2, sigmoid: 1e-2, silu: 1e-2 };
  for (const n of [1, 3, 7, 33, 257]) {
    for (const [name, op] of Object.entries(UnaryOp)) {
      const x = positive.has(op) ? rand(rng, n, 0.05, 4) : rand(rng, n, -12, 12);
      if (n === 257 && !positive.has(op)) SPECIALS.forEach((s, i) => (x[i * 3] = s));
      const want = new Float32Array(n), got = view(new Float32Array(n));
      ref.unary(op, x, want);
      nat.unary(op, view(x), got);
      checkFences('unary');
      close(`unary.${name}`, got, want, tol[name] ?? 1e-7);

      const y = new Float32Array(want), dy = rand(rng, n, -1, 1);
      const wantDx = new Float32Array(n), gotDx = view(new Float32Array(n));
      ref.unaryBackward(op, x, y, dy, wantDx);
      nat.unaryBackward(op, view(x), view(y), view(dy), gotDx);
      checkFences('unaryBackward');
      close(`unaryBackward.${name}`, gotDx, wantDx, bwdTol[name] ?? 1e-6, bwdFloor[name] ?? 1e-3);
    }
  }
});

test('affine, clamp, where, swiglu', () => {
  const rng = new Prng(3);
  for (const n of [1, 7, 33, 257, 40000]) {
    const x = rand(rng, n, -5, 5), y = rand(rng, n, -5, 5), g = rand(rng, n);
    if (n > 20) SPECIALS.forEach((s, i) => (x[i] = s));
    const cond = new Float32Array(n).map((_, i) => (i % 3 === 0 ? 0 : i % 3 === 1 ? 1 : NaN));
    let want = new Float32Array(n), got = view(new Float32Array(n));
    // alpha and beta cross the C interface as float: use values a float holds exactly
    ref.affine(x, want, 0.375, -1.25);
    nat.affine(view(x), got, 0.375, -1.25);
    close('affine', got, want, 0);
    want = new Float32Array(n); got = view(new Float32Array(n));
    ref.clamp(x, want, -1.5, 2);
    nat.clamp(view(x), got, -1.5, 2);
    close('clamp', got, want, 0);
    want = new Float32Array(n); got = view(new Float32Array(n));
    ref.where(cond, x, y, want);
    nat.where(view(cond), view(x), view(y), got);
    close('where', got, want, 0);
    want = new Float32Array(n); got = view(new Float32Array(n));
    ref.swigluForward(x, y, want);
    nat.swigluForward(view(x), view(y), got);
    close('swigluForward', got, want, 2e-6);
    const wa = new Float32Array(n), wb = new Float32Array(n), ga = view(new Float32Array(n)), gb = view(new Float32Array(n));
    ref.swigluBackward(x, y, g, wa, wb);
    nat.swigluBackward(view(x), view(y), view(g), ga, gb);
    // 1 + x (1 - s) cancels near x = -1.28: judged against a floor of 1
    close('swigluBackward', ga, wa, 2e-6, 1);
    close('swigluBackward', gb, wb, 2e-6, 1);
    checkFences('affine/clamp/where/swiglu');
  }
});

// ---- reductions, layout, casts ------------------------------------------------------------------

test('sumAxis and sumSquares', () => {
  const rng = new Prng(4);
  const shapes = [[3, 7, 1], [2, 5, 33], [1, 257, 300], [4, 1, 3], [2, 0, 3], [1, 70001, 1], [1, 300, 384]] as const;
  for (const [outer, n, inner] of shapes) {
    const x = rand(rng, outer * n * inner);
    const want = new Float32Array(outer * inner), got = view(new Float32Array(outer * inner));
    ref.sumAxis(x, want, outer, n, inner);
    nat.sumAxis(view(x), got, outer, n, inner);
    checkFences('sumAxis');
    close('sumAxis', got, want, n > 50000 ? 1e-7 : 0); // one long row is summed in per-thread pieces
  }
  for (const n of [0, 1, 33, 100003]) {
    const x = rand(rng, n, -3, 3);
    close('sumSquares', [nat.sumSquares(view(x))], [ref.sumSquares(x)], 1e-12);
  }
});

test('copyStrided: transpose, offsets, accumulate, overlapping (broadcast) destinations', () => {
  const rng = new Prng(5);
  const cases = [
    { shape: [7, 33], ss: [33, 1], so: 0, ds: [1, 7], dof: 3, ns: 231, nd: 240 },
    { shape: [3, 4, 5], ss: [1, 3, 12], so: 2, ds: [20, 5, 1], dof: 0, ns: 62, nd: 60 },
    { shape: [5, 6], ss: [6, 1], so: 0, ds: [0, 1], dof: 1, ns: 30, nd: 7 },   // sums rows into one
    { shape: [4, 3], ss: [-3, 1], so: 9, ds: [3, 1], dof: 0, ns: 12, nd: 12 }, // negative stride
    { shape: [600, 70], ss: [70, 1], so: 0, ds: [70, 1], dof: 0, ns: 42000, nd: 42000 },
  ];
  for (const c of cases) {
    for (const acc of [false, true]) {
      const src = rand(rng, c.ns), dst0 = rand(rng, c.nd);
      const want = new Float32Array(dst0), got = view(dst0);
      ref.copyStrided(src, c.so, c.ss, want, c.dof, c.ds, c.shape, acc);
      nat.copyStrided(view(src), c.so, c.ss, got, c.dof, c.ds, c.shape, acc);
      checkFences('copyStrided');
      close('copyStrided', got, want, 0);
    }
  }
});

test('casts f32 <-> bf16: ties to even, NaN stays NaN, infinities, denormals', () => {
  const rng = new Prng(6);
  const bits = new Uint32Array([
    0x3f808000, 0x3f818000, 0x3f80c000, 0x3f807fff, 0x7f7fffff, 0xff7fffff, 0x7f800000, 0xff800000,
    0x7fc00000, 0xffc00001, 0x7f800001, 0x7fbfffff, 0x00000001, 0x80008000, 0x00018000, 0x00000000, 0x80000000,
  ]);
  const x = rand(rng, 1000, -1e4, 1e4);
  new Float32Array(bits.buffer).forEach((v, i) => (x[i * 7] = v));
  const want = new Uint16Array(x.length), got = new Uint16Array(x.length + 4).subarray(2, 2 + x.length);
  ref.castF32ToBf16(x, want);
  nat.castF32ToBf16(view(x), got);
  assert.deepEqual(Array.from(got), Array.from(want));
  report.castF32ToBf16 = { maxAbs: 0, maxRel: 0 };
  const all = new Uint16Array(65536).map((_, i) => i);
  const wf = new Float32Array(65536), gf = view(new Float32Array(65536));
  ref.castBf16ToF32(all, wf);
  nat.castBf16ToF32(all.subarray(0), gf);
  checkFences('castBf16ToF32');
  // bitwise, except that V8 may quiet a NaN's payload when the reference stores it: there only NaN-ness counts
  const gb = new Uint32Array(gf.buffer, gf.byteOffset, 65536), wb = new Uint32Array(wf.buffer);
  for (let i = 0; i < 65536; i++) {
    if (Number.isNaN(wf[i])) assert.ok(Number.isNaN(gf[i]), `[castBf16ToF32] ${i} should be NaN`);
    else assert.equal(gb[i], wb[i], `[castBf16ToF32] bits of ${i}`);
  }
  report.castBf16ToF32 = { maxAbs: 0, maxRel: 0 };
});

// ---- softmax family -------------------------------------------------------------------------------

test('softmax and log-softmax, forward and backward, with -inf entries and an all -inf row', () => {
  const rng = new Prng(7);
  for (const cols of [1, 3, 33, 257, 1500]) {
    const rows = 7, n = rows * cols;
    const x = rand(rng, n, -8, 8);
    for (let j = 0; j < cols; j += 3) x[cols + j] = -Infinity; // row 1 partly masked
    for (let j = 0; j < cols; j++) x[2 * cols + j] = -Infinity; // row 2 fully masked
    for (const log of [false, true]) {
      const name = log ? 'logSoftmax' : 'softmax';
      const fw = log ? 'logSoftmaxForward' : 'softmaxForward', bw = log ? 'logSoftmaxBackward' : 'softmaxBackward';
      const want = new Float32Array(n), got = view(new Float32Array(n));
      ref[fw](x, want, rows, cols);
      nat[fw](view(x), got, rows, cols);
      close(`${name}Forward`, got, want, 2e-6, log ? 1 : 1e-3); // x - lse cancels: absolute for log
      // backward on finite rows only (the all -inf row has no meaningful gradient)
      const y = new Float32Array(want);
      for (let j = 0; j < cols; j++) y[2 * cols + j] = log ? -3 : 0.1;
      for (let j = 0; j < cols; j += 3) if (log) y[cols + j] = -50;
      const dy = rand(rng, n);
      const wdx = new Float32Array(n), gdx = view(new Float32Array(n));
      ref[bw](y, dy, wdx, rows, cols);
      nat[bw](view(y), view(dy), gdx, rows, cols);
      close(`${name}Backward`, gdx, wdx, 1e-5, log ? 1 : 1e-2);
      checkFences(name);
    }
  }
});

// ---- RMSNorm, RoPE ----------------------------------------------------------------------------------

test('rmsNorm forward and backward (dw summed over rows)', () => {
  const rng = new Prng(8);
  for (const [rows, C] of [[1, 1], [7, 33], [3, 257], [129, 384]] as const) {
    const x = rand(rng, rows * C, -2, 2), w = rand(rng, C, 0.5, 1.5), g = rand(rng, rows * C);
    const wo = new Float32Array(rows * C), wr = new Float32Array(rows);
    const go = view(new Float32Array(rows * C)), gr = view(new Float32Array(rows));
    ref.rmsNormForward(x, w, wo, wr, rows, C, 1e-5);
    nat.rmsNormForward(view(x), view(w), go, gr, rows, C, 1e-5);
    close('rmsNormForward', go, wo, 2e-6);
    close('rmsNormForward.rstd', gr, wr, 2e-6);
    const wdx = new Float32Array(rows * C), wdw = new Float32Array(C);
    const gdx = view(new Float32Array(rows * C)), gdw = view(new Float32Array(C).fill(9)); // dw is overwritten
    ref.rmsNormBackward(x, w, wr, g, wdx, wdw, rows, C);
    nat.rmsNormBackward(view(x), view(w), view(wr), view(g), gdx, gdw, rows, C);
    close('rmsNormBackward.dx', gdx, wdx, 1e-5, 1e-2);
    close('rmsNormBackward.dw', gdw, wdw, 1e-5, 1); // a float sum over rows vs the reference's double
    checkFences('rmsNorm');
  }
});

test('rope forward and inverse: repeated positions (table) and scattered positions', () => {
  const rng = new Prng(9);
  for (const [N, H, D, spread] of [[7, 3, 8, 5], [40, 2, 64, 10], [9, 1, 2, 100000], [33, 3, 16, 4096]] as const) {
    const x = rand(rng, N * H * D), pos = ints(rng, N, spread);
    for (const inverse of [false, true]) {
      const want = new Float32Array(N * H * D), got = view(new Float32Array(N * H * D));
      ref.rope(x, want, pos, N, H, D, 10000, inverse);
      nat.rope(view(x), got, iview(pos), N, H, D, 10000, inverse);
      checkFences('rope');
      close('rope', got, want, 5e-6, 1e-2);
    }
  }
  // the backward (inverse) undoes the forward
  const x = rand(rng, 5 * 2 * 8), pos = ints(rng, 5, 50), y = new Float32Array(80), z = new Float32Array(80);
  nat.rope(x, y, pos, 5, 2, 8, 10000, false);
  nat.rope(y, z, pos, 5, 2, 8, 10000, true);
  close('rope.roundtrip', z, x, 1e-5, 1e-2);
  // in place (out === x) gives what out-of-place gives, on both the table path and the per-row path
  for (const spread of [3, 1000]) {
    const p2 = ints(rng, 5, spread), a1 = rand(rng, 80), a2 = new Float32Array(80);
    nat.rope(a1, a2, p2, 5, 2, 8, 10000, false);
    nat.rope(a1, a1, p2, 5, 2, 8, 10000, false);
    assert.ok(sameBits(a1, a2), '[rope] in place differs from out of place');
  }
});

// ---- attention --------------------------------------------------------------------------------------

interface AttnCase {
  label: string;
  B: number; T: number; S: number; H: number; Hkv: number; D: number; causal: boolean;
  mask?: (b: number, s: number) => boolean;
}

const attnCases: AttnCase[] = [
  { label: 'GQA H=4 Hkv=2, causal', B: 2, T: 33, S: 33, H: 4, Hkv: 2, D: 16, causal: true },
  { label: 'KV cache T<S, causal', B: 2, T: 7, S: 37, H: 2, Hkv: 1, D: 8, causal: true },
  { label: 'non-causal, odd D, key padding', B: 2, T: 20, S: 20, H: 2, Hkv: 2, D: 5, causal: false,
    mask: (b, s) => !(b === 1 && s % 4 === 0) },
  { label: 'left padding -> fully masked rows, causal', B: 2, T: 19, S: 19, H: 3, Hkv: 1, D: 12, causal: true,
    mask: (b, s) => s >= (b === 0 ? 6 : 2) },
  { label: 'several tiles, causal', B: 1, T: 130, S: 130, H: 1, Hkv: 1, D: 64, causal: true },
  { label: 'several key tiles, T<S, padding', B: 1, T: 67, S: 150, H: 2, Hkv: 1, D: 33, causal: true,
    mask: (_b, s) => s >= 70 || s < 3 },
  { label: 'decode: T=1 against a cache, GQA', B: 2, T: 1, S: 37, H: 4, Hkv: 2, D: 16, causal: true },
  { label: 'decode: T=3, padding, odd D', B: 2, T: 3, S: 21, H: 2, Hkv: 1, D: 7, causal: true, mask: (b, s) => s >= 2 * b + 1 },
  { label: 'decode: T=2, non-causal, a batch fully masked', B: 2, T: 2, S: 9, H: 1, Hkv: 1, D: 64, causal: false,
    mask: (b) => b === 0 },
  { label: 'a batch with every key masked', B: 2, T: 3, S: 5, H: 1, Hkv: 1, D: 4, causal: false, mask: (b) => b === 1 },
];

function runAttention(c: AttnCase, seed: number): void {
  const rng = new Prng(seed);
  const { B, T, S, H, Hkv, D, causal } = c;
  const scale = 1 / Math.sqrt(D);
  const nq = B * T * H * D, nk = B * S * Hkv * D, nl = B * H * T;
  const q = rand(rng, nq), k = rand(rng, nk), v = rand(rng, nk), dOut = rand(rng, nq);
  let mask: Int32Array | null = null;
  if (c.mask) {
    mask = new Int32Array(B * S);
    for (let b = 0; b < B; b++) for (let s = 0; s < S; s++) mask[b * S + s] = c.mask(b, s) ? 1 : 0;
  }
  const wo = new Float32Array(nq), wl = new Float32Array(nl);
  ref.attentionForward(q, k, v, wo, wl, B, T, S, H, Hkv, D, scale, causal, mask);
  const go = view(new Float32Array(nq)), gl = view(new Float32Array(nl));
  nat.attentionForward(view(q), view(k), view(v), go, gl, B, T, S, H, Hkv, D, scale, causal, mask && iview(mask));
  checkFences('attentionForward');
  noNaN('attentionForward', go);
  close('attentionForward.out', go, wo, 1e-5, 1e-2);
  close('attentionForward.lse', gl, wl, 2e-6);

  const wdq = new Float32Array(nq), wdk = new Float32Array(nk), wdv = new Float32Array(nk);
  ref.attentionBackward(q, k, v, wo, wl, dOut, wdq, wdk, wdv, B, T, S, H, Hkv, D, scale, causal, mask);
  // outputs start non-zero: the kernel must overwrite them
  const gdq = view(new Float32Array(nq).fill(3)), gdk = view(new Float32Array(nk).fill(3));
  const gdv = view(new Float32Array(nk).fill(3));
  nat.attentionBackward(view(q), view(k), view(v), view(go), view(gl), view(dOut), gdq, gdk, gdv, B, T, S, H, Hkv, D,
    scale, causal, mask && iview(mask));
  checkFences('attentionBackward');
  for (const [name, a] of [['dq', gdq], ['dk', gdk], ['dv', gdv]] as const) noNaN(`attentionBackward.${name}`, a);
  close('attentionBackward.dq', gdq, wdq, 2e-5, 1e-2);
  close('attentionBackward.dk', gdk, wdk, 2e-5, 1e-2);
  close('attentionBackward.dv', gdv, wdv, 2e-5, 1e-2);
}

for (const [i, c] of attnCases.entries()) {
  test(`attention forward and backward: ${c.label}`, () => runAttention(c, 100 + i));
}

test('attention: a fully masked query row gives out 0, lse -inf and zero gradients', () => {
  const B = 1, T = 4, S = 4, H = 1, D = 3;
  const rng = new Prng(11);
  const q = rand(rng, T * D), k = rand(rng, S * D), v = rand(rng, S * D), mask = new Int32Array([0, 0, 1, 1]);
  const out = new Float32Array(T * D), lse = new Float32Array(T);
  nat.attentionForward(q, k, v, out, lse, B, T, S, H, 1, D, 0.5, true, mask);
  assert.deepEqual(Array.from(lse.subarray(0, 2)), [-Infinity, -Infinity]);
  assert.deepEqual(Array.from(out.subarray(0, 2 * D)), [0, 0, 0, 0, 0, 0]);
  const dq = new Float32Array(T * D), dk = new Float32Array(S * D), dv = new Float32Array(S * D);
  nat.attentionBackward(q, k, v, out, lse, rand(rng, T * D), dq, dk, dv, B, T, S, H, 1, D, 0.5, true, mask);
  assert.deepEqual(Array.from(dq.subarray(0, 2 * D)), [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(dk.subarray(0, 2 * D)), [0, 0, 0, 0, 0, 0]); // masked keys get nothing
  noNaN('attentionBackward', dk);
});

// ---- losses, gathers, embedding ------------------------------------------------------------------------

test('argmaxRows: the first index of the maximum, NaN never chosen, ties and ±0 to the first, as the reference', () => {
  const rng = new Prng(31);
  const rows: [Float32Array, number | null][] = [];
  for (const V of [1, 3, 7, 8, 9, 33, 1000, 151936]) rows.push([rand(rng, V, -8, 8), null]);
  const V = 37;
  const tie = rand(rng, V, -1, 0); tie[5] = 3; tie[20] = 3; tie[36] = 3; rows.push([tie, 5]);       // three-way tie
  const zeros = new Float32Array(V).fill(-1); zeros[9] = -0; zeros[12] = 0; rows.push([zeros, 9]);  // -0 first
  const nan0 = rand(rng, V); nan0[0] = NaN; nan0[4] = 5; rows.push([nan0, 0]);                       // NaN first → 0
  const nans = rand(rng, V); nans[3] = NaN; nans[30] = NaN; nans[17] = 9; rows.push([nans, 17]);     // NaN elsewhere
  rows.push([new Float32Array(V).fill(-Infinity), 0]);                                              // all -inf → 0
  const inf = rand(rng, V); inf[33] = Infinity; rows.push([inf, 33]);
  const last = rand(rng, 1003, -1, 1); last[1002] = 2; rows.push([last, 1002]);                     // in the scalar tail
  for (const [r, expect] of rows) {
    const want = new Int32Array(1), got = iview(new Int32Array(1));
    ref.argmaxRows(r, want, 1, r.length);
    nat.argmaxRows(view(r), got, 1, r.length);
    assert.equal(got[0], want[0], `V=${r.length}: native ${got[0]} vs reference ${want[0]}`);
    if (expect !== null) assert.equal(want[0], expect, `V=${r.length}: reference chose ${want[0]}`);
  }
  // several rows in one call
  const N = 6, W = 500, x = rand(rng, N * W, -3, 3);
  const want = new Int32Array(N), got = iview(new Int32Array(N));
  ref.argmaxRows(x, want, N, W);
  nat.argmaxRows(view(x), got, N, W);
  assert.deepEqual(Array.from(got), Array.from(want));
  checkFences('argmaxRows');
  assert.throws(() => nat.argmaxRows(new Float32Array(0), new Int32Array(1), 1, 0), /V must be at least 1/);
});

test('crossEntropy with ignore index, and gatherLogProbs, forward and backward', () => {
  const rng = new Prng(12);
  for (const [N, V] of [[1, 1], [7, 3], [33, 257], [5, 3000]] as const) {
    const logits = rand(rng, N * V, -6, 6);
    if (V === 3000) for (let n = 0; n < N; n++) for (let j = 0; j < V; j++) logits[n * V + j]! += j / 300; // max rises across chunks
    const t = ints(rng, N, V);
    if (N > 3) { t[1] = -100; t[3] = -100; }
    const wl = new Float32Array(N), wlse = new Float32Array(N), gl = view(new Float32Array(N)), glse = view(new Float32Array(N));
    ref.crossEntropyForward(logits, t, wl, wlse, N, V, -100);
    nat.crossEntropyForward(view(logits), iview(t), gl, glse, N, V, -100);
    close('crossEntropyForward', gl, wl, 2e-6, 1);
    close('crossEntropyForward.lse', glse, wlse, 2e-6);
    const dLoss = rand(rng, N);
    const wd = new Float32Array(N * V), gd = view(new Float32Array(N * V).fill(5));
    ref.crossEntropyBackward(logits, t, wlse, dLoss, wd, N, V, -100);
    nat.crossEntropyBackward(view(logits), iview(t), view(wlse), view(dLoss), gd, N, V, -100);
    close('crossEntropyBackward', gd, wd, 2e-6);
    // in place over the logits (the fused LM head's one-buffer chunks): the same bits as into a separate buffer
    const inPlace = view(Float32Array.from(logits));
    nat.crossEntropyBackward(inPlace, iview(t), view(wlse), view(dLoss), inPlace, N, V, -100);
    assert.ok(sameBits(inPlace, gd), 'crossEntropyBackward in place differs from out of place');

    const ids = ints(rng, N, V);
    const wo = new Float32Array(N), go = view(new Float32Array(N));
    ref.gatherLogProbsForward(logits, ids, wo, wlse, N, V);
    nat.gatherLogProbsForward(view(logits), iview(ids), go, glse, N, V);
    close('gatherLogProbsForward', go, wo, 2e-6, 1); // x - lse cancels: absolute
    close('gatherLogProbsForward.lse', glse, wlse, 2e-6);
    const wg = new Float32Array(N * V), gg = view(new Float32Array(N * V));
    ref.gatherLogProbsBackward(logits, ids, wlse, dLoss, wg, N, V);
    nat.gatherLogProbsBackward(view(logits), iview(ids), view(wlse), view(dLoss), gg, N, V);
    close('gatherLogProbsBackward', gg, wg, 2e-6);
    checkFences('crossEntropy/gatherLogProbs');
  }
});

test('embedding forward and scatter-add backward (repeated ids, dWeight not cleared)', () => {
  const rng = new Prng(13);
  for (const [N, C, V] of [[1, 1, 1], [33, 7, 5], [300, 100, 50], [2000, 384, 40]] as const) {
    const w = rand(rng, V * C), ids = ints(rng, N, V);
    const wo = new Float32Array(N * C), go = view(new Float32Array(N * C));
    ref.embeddingForward(w, 'f32', ids, wo, N, C, V);
    nat.embeddingForward(view(w), 'f32', iview(ids), go, N, C, V);
    close('embeddingForward', go, wo, 0);
    const g = rand(rng, N * C), dw0 = rand(rng, V * C);
    const wdw = new Float32Array(dw0), gdw = view(dw0);
    ref.embeddingBackward(ids, g, wdw, N, C, V);
    nat.embeddingBackward(iview(ids), view(g), gdw, N, C, V);
    close('embeddingBackward', gdw, wdw, 0);
    checkFences('embedding');
  }
});

// ---- AdamW --------------------------------------------------------------------------------------------

test('adamw: bias correction, weight decay, grad scale', () => {
  const rng = new Prng(14);
  for (const n of [1, 7, 257, 40001]) {
    const p = rand(rng, n), g = rand(rng, n, -0.1, 0.1), m = rand(rng, n, -0.01, 0.01), v = rand(rng, n, 0, 1e-4);
    for (const step of [1, 7]) {
      const wp = new Float32Array(p), wm = new Float32Array(m), wv = new Float32Array(v);
      const gp = view(p), gm = view(m), gv = view(v);
      ref.adamw(wp, g, wm, wv, 3e-4, 0.9, 0.95, 1e-8, 0.1, step, 0.5);
      nat.adamw(gp, view(g), gm, gv, 3e-4, 0.9, 0.95, 1e-8, 0.1, step, 0.5);
      checkFences('adamw');
      close('adamw.p', gp, wp, 1e-6);
      close('adamw.m', gm, wm, 2e-6);
      close('adamw.v', gv, wv, 1e-6);
    }
  }
});

// ---- determinism and argument checks --------------------------------------------------------------------

test('determinism: two calls give identical bits', () => {
  const rng = new Prng(15);
  const B = 2, T = 96, S = 96, H = 4, Hkv = 2, D = 32, nq = B * T * H * D, nk = B * S * Hkv * D;
  const q = rand(rng, nq), k = rand(rng, nk), v = rand(rng, nk), dOut = rand(rng, nq);
  const runs = [0, 1].map(() => {
    const o = new Float32Array(nq), l = new Float32Array(B * H * T);
    const dq = new Float32Array(nq), dk = new Float32Array(nk), dv = new Float32Array(nk);
    nat.attentionForward(q, k, v, o, l, B, T, S, H, Hkv, D, 0.2, true, null);
    nat.attentionBackward(q, k, v, o, l, dOut, dq, dk, dv, B, T, S, H, Hkv, D, 0.2, true, null);
    const rows = 300, C = 200, x = rand(new Prng(16), rows * C), w = rand(new Prng(17), C), rs = new Float32Array(rows);
    const y = new Float32Array(rows * C), dx = new Float32Array(rows * C), dw = new Float32Array(C);
    nat.rmsNormForward(x, w, y, rs, rows, C, 1e-6);
    nat.rmsNormBackward(x, w, rs, x, dx, dw, rows, C);
    const logits = rand(new Prng(18), 64 * 3000), t = ints(new Prng(19), 64, 3000);
    const loss = new Float32Array(64), lse = new Float32Array(64);
    nat.crossEntropyForward(logits, t, loss, lse, 64, 3000, -1);
    return [o, l, dq, dk, dv, dx, dw, loss];
  });
  runs[0]!.forEach((a, i) => assert.ok(sameBits(a, runs[1]![i]!), `output ${i} differs between two identical calls`));
});

test('sizes that split over the pool, and 1 vs 2 threads', () => {
  const rng = new Prng(20);
  const rows = 64, cols = 1000, n = rows * cols, V = cols;
  const x = rand(rng, n, -4, 4), y = rand(rng, n), ids = ints(rng, rows, V);
  const results: Float32Array[][] = [];
  const initial = addon.info().threads;
  for (const threads of [1, 2]) {
    addon.setThreads(threads);
    try {
      const sm = new Float32Array(n), ls = new Float32Array(n), sw = new Float32Array(n), bin = new Float32Array(n);
      const loss = new Float32Array(rows), lse = new Float32Array(rows), dl = new Float32Array(n), sa = new Float32Array(cols);
      nat.softmaxForward(x, sm, rows, cols);
      nat.logSoftmaxForward(x, ls, rows, cols);
      nat.swigluForward(x, y, sw);
      nat.binary(BinaryOp.mul, x, y, bin, [rows, cols], [cols, 1], [0, 1]);
      nat.crossEntropyForward(x, ids, loss, lse, rows, V, -100);
      nat.crossEntropyBackward(x, ids, lse, new Float32Array(rows).fill(1), dl, rows, V, -100);
      nat.sumAxis(x, sa, 1, rows, cols);
      results.push([sm, ls, sw, bin, loss, dl, sa]);
    } finally {
      addon.setThreads(initial);
    }
  }
  const want = [n, n, n, n, rows, n, cols].map((len) => new Float32Array(len));
  const lse = new Float32Array(rows);
  ref.softmaxForward(x, want[0]!, rows, cols);
  ref.logSoftmaxForward(x, want[1]!, rows, cols);
  ref.swigluForward(x, y, want[2]!);
  ref.binary(BinaryOp.mul, x, y, want[3]!, [rows, cols], [cols, 1], [0, 1]);
  ref.crossEntropyForward(x, ids, want[4]!, lse, rows, V, -100);
  ref.crossEntropyBackward(x, ids, lse, new Float32Array(rows).fill(1), want[5]!, rows, V, -100);
  ref.sumAxis(x, want[6]!, 1, rows, cols);
  const names = ['softmaxForward', 'logSoftmaxForward', 'swigluForward', 'binary.mul', 'crossEntropyForward',
    'crossEntropyBackward', 'sumAxis'];
  for (const r of results) r.forEach((a, i) => close(names[i]!, a, want[i]!, 2e-6, i === 1 || i === 4 ? 1 : 1e-3));
  // row-wise kernels do not depend on the split at all
  for (const i of names.keys())
    assert.ok(sameBits(results[0]![i]!, results[1]![i]!), `${names[i]} differs between 1 and 2 threads`);
});

test('bad arguments throw errors naming the kernel', () => {
  const f = new Float32Array(8);
  assert.throws(() => nat.rmsNormForward(f, f, new Float32Array(3), f, 2, 4, 1e-5), /^Error: \[rmsNormForward\] argument 2 has 3 elements, needs 8/);
  assert.throws(() => nat.unary(UnaryOp.exp, new Float64Array(4) as unknown as Float32Array, f), /\[unary\] argument 1 must be a Float32Array/);
  // the glue's signature names the argument at that position
  assert.throws(() => nat.matvec(1, 2, 32, f, new Float32Array(64), 'f32', f), /^Error: \[matvec\] argument 3 has 8 elements, needs 32 \(x\)$/);
  assert.throws(() => nat.unary(99, f, f), /\[unary\] unknown op 99/);
  assert.throws(() => nat.unary(UnaryOp.exp, f, new Float32Array(2)), /\[unary\]/);
  assert.throws(() => nat.binary(BinaryOp.add, f, new Float32Array(2), f, [8], [1], [1]), /\[binary\] b strides/);
  assert.throws(() => nat.copyStrided(f, 1, [1], f, 0, [1], [8], false), /\[copyStrided\] src strides/);
  assert.throws(() => nat.crossEntropyForward(f, new Int32Array([0, 9]), f, f, 2, 4, -100), /\[crossEntropyForward\] id 9/);
  assert.throws(() => nat.embeddingForward(f, 'f32', new Int32Array([-1]), f, 1, 2, 4), /\[embeddingForward\] id -1/);
  assert.throws(() => nat.attentionForward(f, f, f, f, f, 1, 2, 2, 3, 2, 1, 1, true, null), /\[attentionForward\] H \(3\) must be a multiple/);
  assert.throws(() => nat.attentionForward(f, f, f, f, f, 1, 2, 2, 1, 1, 4, 1, true, new Int32Array(1)), /\[attentionForward\] argument 13/);
  assert.throws(() => nat.rope(f, f, new Int32Array(1), 1, 1, 3, 1e4, false), /\[rope\] D must be even/);
  assert.throws(() => nat.sumAxis(f, f, 2, 5, 1), /\[sumAxis\]/);
  assert.throws(() => nat.castF32ToBf16(f, new Uint16Array(3)), /\[castF32ToBf16\]/);
  assert.throws(() => nat.adamw(f, f, f, new Float32Array(1), 1, 0.9, 0.9, 1e-8, 0, 1, 1), /\[adamw\]/);
  assert.throws(() => (nat.softmaxForward as (...a: unknown[]) => void)(f, f, 2), /\[softmaxForward\] expected 4 arguments/);
});

test(`largest differences on ${isa}`, (t) => {
  for (const [k, d] of Object.entries(report).sort()) {
    const line = `${k.padEnd(28)} maxAbs ${d.maxAbs.toExponential(2)}  maxRel ${d.maxRel.toExponential(2)}`;
    t.diagnostic(line);
    if (isChild) console.log(`DIFF ${isa} ${line}`);
  }
});

// ---- the other instruction-set paths: this file again, in a child with ZJ_ISA lowered ---------------------

if (!isChild) {
  for (const want of ['avx2', 'scalar']) {
    test(`the same suite under ZJ_ISA=${want}`, (t) => {
      const env: NodeJS.ProcessEnv = { ...process.env, ZJ_ISA: want, ZJ_KERNELS_CHILD: '1' };
      delete env.NODE_TEST_CONTEXT; // else the child speaks the runner's binary protocol to us
      const r = spawnSync(process.execPath, ['--test-reporter=dot', fileURLToPath(import.meta.url)], {
        env,
        encoding: 'utf8',
        timeout: 120_000,
      });
      for (const line of (r.stdout ?? '').split('\n')) if (line.startsWith('DIFF ')) t.diagnostic(line.slice(5));
      assert.equal(r.status, 0, `ZJ_ISA=${want} run failed:\n${r.stdout}\n${r.stderr}`);
    });
  }
}
