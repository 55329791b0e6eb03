// gemm.test.ts — native zj_gemm against the reference GEMM: every transA/transB × f32/bf16 storage ×
// bf16-compute combination over odd sizes, alpha/beta (beta = 0 over NaN), batches with broadcast and
// strided operands, typed-array views, bitwise reproducibility. The file re-runs itself in child processes
// with ZJ_ISA=avx2 and ZJ_ISA=scalar (and ZJ_ISA=avx512 where AMX ran first) so every kernel path is checked.
// Large shapes are checked against a dense float64 loop (the reference's semantics, faster), itself checked
// against the reference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { gemm as referenceGemm } from '../../src/backend/reference/gemm.js';
import { bf16BitsToF32, f32ToBf16Bits, roundBf16 } from '../../src/backend/reference/bf16.js';
import { loadAddon } from '../../src/backend/native/index.js';

type Operand = Float32Array | Uint16Array;
type GemmFn = (batch: number, M: number, N: number, K: number, a: Operand, transA: boolean, aStride: number,
  b: Operand, transB: boolean, bStride: number, out: Float32Array, alpha: number, beta: number, bf16Compute: boolean) => void;

let addon: ReturnType<typeof loadAddon> | null = null;
let skipReason = '';
try {
  addon = loadAddon();
  if (typeof addon.gemm !== 'function') skipReason = 'the addon has no gemm';
} catch (e) {
  skipReason = `native addon unavailable: ${(e as Error).message}`;
}
const nativeGemm = (addon?.gemm ?? null) as GemmFn | null;
const skip = nativeGemm ? false : skipReason;

/** mulberry32: a tiny seeded PRNG, uniform in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randOperand(next: () => number, n: number, bf16: boolean): Operand {
  if (bf16) {
    const h = new Uint16Array(n);
    for (let i = 0; i < n; i++) h[i] = f32ToBf16Bits(next() * 2 - 1);
    return h;
  }
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++) f[i] = next() * 2 - 1;
  return f;
}

/** |x| elementwise, same storage: feeding it through the same GEMM gives the scale Σ|a·b| per entry. */
function absOperand(x: Operand): Operand {
  if (x instanceof Uint16Array) return x.map((h) => h & 0x7fff);
  return x.map(Math.abs);
}

interface Case {
  batch?: number; M: number; N: number; K: number;
  transA: boolean; transB: boolean; aBf16: boolean; bBf16: boolean; bf16Compute: boolean;
  alpha?: number; beta?: number;
  aStride?: number; bStride?: number;  // default: packed batches; 0 broadcasts
  view?: boolean;                      // operands and out are subarrays with a non-zero byteOffset
}

/** A float64 GEMM with the reference's semantics: op() and bf16 rounding first, then i-k-j loops. */
function denseGemm(batch: number, M: number, N: number, K: number, a: Operand, transA: boolean, aStride: number,
  b: Operand, transB: boolean, bStride: number, out: Float32Array, alpha: number, beta: number, bf16Compute: boolean) {
  const val = (x: Operand, i: number) => x instanceof Uint16Array ? bf16BitsToF32(x[i]!) : bf16Compute ? roundBf16(x[i]!) : x[i]!;
  const A = new Float64Array(M * K), B = new Float64Array(K * N), row = new Float64Array(N);
  for (let bt = 0; bt < batch; bt++) {
    for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) A[i * K + k] = val(a, bt * aStride + (transA ? k * M + i : i * K + k));
    for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) B[k * N + j] = val(b, bt * bStride + (transB ? j * K + k : k * N + j));
    for (let i = 0; i < M; i++) {
      row.fill(0);
      for (let k = 0; k < K; k++) {
        const x = A[i * K + k]!;
        for (let j = 0; j < N; j++) row[j] += x * B[k * N + j]!;
      }
      const o = bt * M * N + i * N;
      for (let j = 0; j < N; j++) out[o + j] = alpha * row[j]! + (beta === 0 ? 0 : beta * out[o + j]!);
    }
  }
}

interface Result { maxAbs: number; maxRel: number }

function inView<T extends Operand>(x: T, view: boolean): T {
  if (!view) return x;
  const pad = 3;
  const big = new (x.constructor as { new(n: number): T })(x.length + 2 * pad);
  big.fill(x instanceof Uint16Array ? 0x7fc0 : NaN as never);  // NaN around the view: reading past it shows
  big.set(x as never, pad);
  return big.subarray(pad, pad + x.length) as T;
}

/** Runs one case natively and against `ref`; returns the largest differences (relative to Σ|terms|). */
function runCase(c: Case, seed: number, ref: GemmFn = referenceGemm as GemmFn): Result {
  const batch = c.batch ?? 1, { M, N, K } = c;
  const alpha = c.alpha ?? 1, beta = c.beta ?? 0;
  const aStride = c.aStride ?? M * K, bStride = c.bStride ?? K * N;
  const next = rng(seed);
  const a = inView(randOperand(next, (batch - 1) * aStride + M * K, c.aBf16), !!c.view);
  const b = inView(randOperand(next, (batch - 1) * bStride + K * N, c.bBf16), !!c.view);
  const init = new Float32Array(batch * M * N);
  for (let i = 0; i < init.length; i++) init[i] = beta === 0 ? NaN : next() * 2 - 1;
  const got = inView(init.slice(), !!c.view), want = init.slice(), scale = init.map(Math.abs);
  nativeGemm!(batch, M, N, K, a, c.transA, aStride, b, c.transB, bStride, got, alpha, beta, c.bf16Compute);
  ref(batch, M, N, K, a, c.transA, aStride, b, c.transB, bStride, want, alpha, beta, c.bf16Compute);
  ref(batch, M, N, K, absOperand(a), c.transA, aStride, absOperand(b), c.transB, bStride, scale,
    Math.abs(alpha), Math.abs(beta), c.bf16Compute);
  let maxAbs = 0, maxRel = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    if (Number.isNaN(d)) return { maxAbs: Infinity, maxRel: Infinity };
    maxAbs = Math.max(maxAbs, d);
    maxRel = Math.max(maxRel, d / Math.max(scale[i]!, 1e-30));
  }
  return { maxAbs, maxRel };
}

function label(c: Case): string {
  const t = `${c.transA ? 'T' : 'N'}${c.transB ? 'T' : 'N'}`;
  const s = `${c.aBf16 ? 'bf16' : 'f32'}·${c.bBf16 ? 'bf16' : 'f32'}${c.bf16Compute ? '→bf16' : ''}`;
  return `${c.batch ?? 1}×${c.M}×${c.N}×${c.K} ${t} ${s}`;
}

// Both paths accumulate in f32 (bf16 products are exact in f32), so the error is that of a K-term f32
// sum: bounded by about K·2^-24 of Σ|terms|, typically far less. 1e-5 leaves room up to K ~ 1000.
const tol = 1e-5;

function checkAll(t: { diagnostic(msg: string): void }, cases: Case[], ref?: GemmFn) {
  let worst: Result = { maxAbs: 0, maxRel: 0 }, worstLabel = '';
  const failures: string[] = [];
  cases.forEach((c, i) => {
    const r = runCase(c, 1000 + i, ref);
    if (r.maxRel > worst.maxRel) worst = r, worstLabel = label(c);
    if (!(r.maxRel <= tol)) failures.push(`${label(c)}: max |diff| ${r.maxAbs}, relative ${r.maxRel}`);
  });
  t.diagnostic(`${cases.length} cases; largest |diff| ${worst.maxAbs.toExponential(2)}, ` +
    `relative to Σ|terms| ${worst.maxRel.toExponential(2)} (${worstLabel || 'all exact'})`);
  assert.deepEqual(failures, [], `tolerance ${tol}`);
}

function allFlags(): Omit<Case, 'M' | 'N' | 'K'>[] {
  const out: Omit<Case, 'M' | 'N' | 'K'>[] = [];
  for (let f = 0; f < 32; f++)
    out.push({ transA: !!(f & 1), transB: !!(f & 2), aBf16: !!(f & 4), bBf16: !!(f & 8), bf16Compute: !!(f & 16) });
  return out;
}

const isaEnv = process.env.ZJ_ISA ?? '';

test(`gemm: every layout × storage × compute over odd sizes [${isaEnv || 'best ISA'}]`, { skip }, (t) => {
  const dims = [[1, 1, 1], [3, 7, 33], [7, 3, 1], [33, 33, 7], [1, 257, 3], [257, 1, 33], [7, 257, 33], [33, 7, 257]];
  const cases: Case[] = [];
  for (const [M, N, K] of dims) for (const f of allFlags()) cases.push({ M: M!, N: N!, K: K!, ...f });
  checkAll(t, cases);
});

test('gemm: alpha, beta (beta = 0 ignores NaN in out), K = 0', { skip }, (t) => {
  const cases: Case[] = [];
  for (const f of allFlags()) {
    cases.push({ M: 9, N: 35, K: 17, alpha: 0.5, beta: -1.25, ...f });
    cases.push({ M: 16, N: 33, K: 40, alpha: -2, beta: 0, ...f });
    cases.push({ M: 5, N: 6, K: 0, alpha: 1, beta: 0.5, ...f });
    cases.push({ M: 5, N: 6, K: 0, alpha: 1, beta: 0, ...f });
  }
  checkAll(t, cases);
});

test('gemm: batches with broadcast (stride 0) and strided operands', { skip }, (t) => {
  const cases: Case[] = [];
  for (const f of allFlags()) {
    cases.push({ batch: 3, M: 9, N: 35, K: 17, ...f });
    cases.push({ batch: 3, M: 9, N: 35, K: 17, aStride: 0, beta: 0.5, ...f });
    cases.push({ batch: 4, M: 33, N: 7, K: 20, bStride: 0, ...f });
    cases.push({ batch: 2, M: 4, N: 5, K: 6, aStride: 30, bStride: 37, ...f });  // gaps between batches
  }
  // Large enough per matrix to split over threads, and enough matrices to go one per thread.
  cases.push({ batch: 3, M: 130, N: 140, K: 90, transA: false, transB: true, aBf16: false, bBf16: false, bf16Compute: false });
  cases.push({ batch: 8, M: 70, N: 64, K: 64, bStride: 0, transA: true, transB: false, aBf16: true, bBf16: false, bf16Compute: true });
  checkAll(t, cases);
});

test('gemm: operands and out as views with a non-zero byteOffset', { skip }, (t) => {
  const cases: Case[] = [];
  for (const f of allFlags()) cases.push({ batch: 2, M: 13, N: 21, K: 19, beta: 0.75, view: true, ...f });
  checkAll(t, cases);
});

test('gemm: sizes above the cache blocks, against a float64 loop', { skip }, (t) => {
  // The dense loop agrees with the reference on a middle-sized case first.
  checkAll(t, [{ M: 40, N: 50, K: 60, transA: true, transB: true, aBf16: false, bBf16: true, bf16Compute: true, beta: 2 }],
    denseGemm);
  const cases: Case[] = [];
  for (const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]] as const) {
    cases.push({ M: 300, N: 520, K: 270, transA, transB, aBf16: false, bBf16: false, bf16Compute: false, beta: 0.5 });
    cases.push({ M: 300, N: 520, K: 270, transA, transB, aBf16: false, bBf16: false, bf16Compute: true });
    cases.push({ M: 300, N: 520, K: 270, transA, transB, aBf16: true, bBf16: true, bf16Compute: true });
  }
  // K past two K blocks (odd, so the last k-pair is half padding); M past one M block; tall-thin and wide-flat.
  cases.push({ M: 37, N: 45, K: 1601, transA: false, transB: true, aBf16: false, bBf16: false, bf16Compute: true });
  cases.push({ M: 37, N: 45, K: 1601, transA: true, transB: false, aBf16: false, bBf16: false, bf16Compute: false, beta: 1 });
  cases.push({ M: 2000, N: 33, K: 70, transA: false, transB: false, aBf16: false, bBf16: false, bf16Compute: false });
  cases.push({ M: 20, N: 1100, K: 70, transA: false, transB: true, aBf16: true, bBf16: false, bf16Compute: true });
  // A few rows (the decode-time path that streams op(B) in place), split over threads by columns.
  for (const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]] as const) {
    cases.push({ M: 1, N: 2100, K: 300, transA, transB, aBf16: false, bBf16: false, bf16Compute: false, beta: 0.5 });
    cases.push({ M: 3, N: 700, K: 530, transA, transB, aBf16: false, bBf16: true, bf16Compute: true });
    cases.push({ M: 2, N: 650, K: 301, transA, transB, aBf16: true, bBf16: false, bf16Compute: false });
  }
  checkAll(t, cases, denseGemm);
});

test('gemm: bitwise identical across calls with the same thread count', { skip }, () => {
  for (const bf16Compute of [false, true]) {
    const next = rng(7);
    const M = 300, N = 520, K = 700;
    const a = randOperand(next, M * K, false), b = randOperand(next, K * N, false);
    const outs = [0, 1, 2].map(() => {
      const o = new Float32Array(M * N);
      nativeGemm!(1, M, N, K, a, false, 0, b, true, 0, o, 1, 0, bf16Compute);
      return Buffer.from(o.buffer);
    });
    assert.ok(outs[0]!.equals(outs[1]!) && outs[0]!.equals(outs[2]!), `bf16Compute=${bf16Compute}`);
  }
});

// The other kernel paths, in child processes (ZJ_ISA is read once, at the addon's first call).
if (!process.env.ZJ_GEMM_TEST_CHILD) {
  // On an AMX machine the parent ran the AMX kernel; ZJ_ISA=avx512 keeps the vdpbf16ps one honest too.
  const lowered = /amx/.test(addon?.info().isa ?? '') ? ['avx512', 'avx2', 'scalar'] : ['avx2', 'scalar'];
  for (const isa of lowered) {
    test(`gemm: the whole file again with ZJ_ISA=${isa}`, { skip: skip || (process.arch !== 'x64' && isa === 'avx2' ? 'x86-64 only' : false) }, (t) => {
      // NODE_TEST_CONTEXT would make the child talk the runner's private protocol instead of TAP.
      const env: NodeJS.ProcessEnv = { ...process.env, ZJ_ISA: isa, ZJ_GEMM_TEST_CHILD: '1' };
      delete env.NODE_TEST_CONTEXT;
      const r = spawnSync(process.execPath, ['--test', '--test-reporter=tap', fileURLToPath(import.meta.url)], {
        env, encoding: 'utf8', timeout: 120_000,
      });
      const lines = (r.stdout + r.stderr).split('\n').filter((l) => /^\s*(# |not ok)/.test(l)).map((l) => l.trim());
      for (const l of lines) if (!/^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms)/.test(l)) t.diagnostic(l);
      assert.equal(r.status, 0, `child with ZJ_ISA=${isa} failed:\n${r.stdout}\n${r.stderr}`);
    });
  }
} else {
  test('gemm: the child runs the ISA it was asked for', { skip }, () => {
    assert.match(addon!.info().isa, new RegExp(`^${isaEnv}`));
    if (isaEnv !== 'amx') assert.doesNotMatch(addon!.info().isa, /amx/);
  });
}
