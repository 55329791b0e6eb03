// The q8_0 / q4_0 native kernels against the reference on every ISA path (this CPU's, then ZJ_ISA=avx2 and scalar
// in child processes): quantizeRows byte for byte (f32 and bf16 input, zero / tiny / tie blocks), dequantizeRows
// and the embedding gather exactly, the integer matvec (M = 1 … 300: the one-row (q4_0), multi-row, batched and tiled VNNI kernels; odd
// N; K = 32·k, k odd and even; several tiles of W; 1 and 2 threads; once more with the tiled kernel at every M), and
// the GEMM with a quantized B (transposed or not, odd M / N, f32 and bf16 compute, beta ≠ 0). Also: no fallbacks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../../src/backend/kernels.js';
import type { QuantDType } from '../../src/tensor/dtype.js';
import { referenceBackend as ref } from '../../src/backend/reference/index.js';
import { loadNativeBackend, setNativeThreads } from '../../src/backend/native/index.js';
import { f32ToBf16Bits } from '../../src/backend/reference/bf16.js';
import { Rng } from '../../src/util/rng.js';

const FORMATS: QuantDType[] = ['q8_0', 'q4_0'];
const bytesOf = (fmt: QuantDType, n: number) => (n / 32) * (fmt === 'q8_0' ? 34 : 18);

function rand(r: Rng, n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (r.next() * 2 - 1) * scale);
}

/** A view with a byteOffset, so the glue's offset handling is exercised. */
function view<T extends Float32Array | Uint8Array | Uint16Array>(a: T): T {
  const C = a.constructor as new (n: number) => T;
  const big = new C(a.length + 3);
  big.set(a as never, 3);
  return big.subarray(3) as T;
}

function quantized(r: Rng, fmt: QuantDType, N: number, K: number): { w: Uint8Array; wf: Float32Array } {
  const w = new Uint8Array(bytesOf(fmt, N * K)), wf = new Float32Array(N * K);
  ref.quantizeRows(rand(r, N * K), N, K, fmt, w);
  ref.dequantizeRows(w, fmt, N, K, wf);
  return { w, wf };
}

function checkAll(nat: Backend): string {
  const r = new Rng(77);
  const notes: string[] = [];
  // quantize: random rows of varied scale, plus blocks that are all zero, subnormal-tiny, and exact halves (ties)
  for (const fmt of FORMATS) {
    for (const bf16 of [false, true]) {
      const N = 7, K = 160;
      const x = Float32Array.from({ length: N * K }, (_, i) => (r.next() * 2 - 1) * [1, 1e-3, 300][i % 3]!);
      x.fill(0, 0, 32);
      for (let j = 32; j < 64; j++) x[j] = (j % 2 ? 1 : -1) * 1e-40;
      for (let j = 64; j < 96; j++) x[j] = (j - 80) * 0.5 + (j === 95 ? 10 : 0);
      // exact ties: d = 1 for q8_0 (amax 127) and for q4_0 (max −8), so x·(1/d) lands on halves
      x.fill(0, 96, 160);
      x.set([127, -63.5, 0.5, -0.5, 2.5, -2.5, 1.5], 96);
      x.set([-8, -7.5, 7.5, 0.5, -0.5, 3.5, 8], 128);
      const src = bf16 ? Uint16Array.from(x, (v) => f32ToBf16Bits(v)) : x;
      const a = new Uint8Array(bytesOf(fmt, N * K)), b = view(new Uint8Array(a.length));
      ref.quantizeRows(src, N, K, fmt, a);
      nat.quantizeRows(bf16 ? view(src as Uint16Array) : view(src as Float32Array), N, K, fmt, b);
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) throw new Error(`quantizeRows ${fmt} bf16=${bf16}: byte ${i} ${b[i]} vs ${a[i]}`);
      const fa = new Float32Array(N * K), fb = view(new Float32Array(N * K));
      ref.dequantizeRows(a, fmt, N, K, fa);
      nat.dequantizeRows(view(a), fmt, N, K, fb);
      assert.deepEqual(fb, fa, `dequantizeRows ${fmt}`);
    }
  }
  // embedding of every format: exact
  for (const fmt of ['f32', 'bf16', ...FORMATS] as const) {
    const V = 40, C = 96, N = 9;
    const wf = rand(r, V * C);
    const w = fmt === 'f32' ? wf : fmt === 'bf16' ? Uint16Array.from(wf, (v) => f32ToBf16Bits(v)) : quantized(r, fmt, V, C).w;
    const ids = Int32Array.from({ length: N }, (_, i) => (i * 17) % V);
    const a = new Float32Array(N * C), b = new Float32Array(N * C);
    ref.embeddingForward(w, fmt, ids, a, N, C, V);
    nat.embeddingForward(w, fmt, ids, b, N, C, V);
    assert.deepEqual(b, a, `embedding ${fmt}`);
  }
  // matvec: native sums the same exact int32 block sums in another f32 order. M up to 4 / 5–16 / above 16: the
  // one-row, batched and tiled VNNI kernels (AVX2 and scalar: one kernel, tiled by the driver past 16 rows). Shapes:
  // odd N (partial micro-tiles of 4 weight rows), K = 32·k with k odd and even, and N·K spanning several tiles of W
  // (384 KiB repacked / 512 KiB raw per tile) and several panels of x. Each case at 1 and 2 threads.
  let worst = 0;
  const cases: [number, number, number][] = [];
  for (const M of [1, 3, 5, 8, 12, 16, 17, 33, 128, 300])
    for (const [N, K] of [[1, 32], [37, 96], [255, 128], [64, 800]] as const) cases.push([M, N, K]);
  cases.push([17, 421, 2400], [33, 150, 2400], [40, 3001, 32]);
  // one row (the q4_0 one-row VNNI kernel: 16 blocks' scales at a time, 4 blocks per step, the last nb % 4 apart):
  // nb = 37 (two chunks of 16, a chunk of 4, one tail block), 75, and the Qwen2.5-0.5B widths 896 and 4864
  cases.push([1, 19, 1184], [1, 33, 2400], [1, 61, 896], [1, 23, 4864]);
  for (const fmt of FORMATS)
    for (const [M, N, K] of cases) {
      const { w } = quantized(r, fmt, N, K);
      const x = rand(r, M * K, 3);
      const a = new Float32Array(M * N);
      ref.matvec(M, N, K, x, w, fmt, a);
      for (const threads of [1, 2]) {
        setNativeThreads(threads);
        const b = new Float32Array(M * N).fill(NaN);
        try {
          nat.matvec(M, N, K, view(x), view(w), fmt, b);
        } finally {
          setNativeThreads(initialThreads);
        }
        const scale = 3 * K; // |x| ≤ 3, |w| ≤ 1
        for (let i = 0; i < a.length; i++) {
          const d = Math.abs(a[i]! - b[i]!) / scale;
          if (!(d < 1e-6)) throw new Error(`matvec ${fmt} M=${M} N=${N} K=${K} threads=${threads}: out[${i}] ${b[i]} vs ${a[i]}`);
          worst = Math.max(worst, d);
        }
      }
    }
  notes.push(`matvec |diff|/(K·|x|max) ${worst.toExponential(2)}`);
  // GEMM with a quantized B: C = alpha·A·op(B) + beta·C
  worst = 0;
  for (const fmt of FORMATS)
    for (const transB of [true, false])
      for (const bf16c of [false, true])
        for (const [M, N, K] of [[1, 33, 64], [5, 65, 96], [33, 17, 320], [70, 100, 64], [9, 64, 800]] as const) {
          // op(B) is K×N: stored N×K when transB, else K×N (then its rows, of length N, must be whole blocks)
          const rows = transB ? N : K, cols = transB ? K : N;
          if (cols % 32) continue;
          const { w } = quantized(r, fmt, rows, cols);
          const A = rand(r, M * K), c0 = rand(r, M * N);
          const a = new Float32Array(c0), b = new Float32Array(c0);
          ref.gemm(1, M, N, K, A, false, 0, w, transB, 0, a, 1.5, 0.5, bf16c, fmt);
          nat.gemm(1, M, N, K, view(A), false, 0, view(w), transB, 0, b, 1.5, 0.5, bf16c, fmt);
          for (let i = 0; i < a.length; i++) {
            const d = Math.abs(a[i]! - b[i]!) / (1.5 * K + 1);
            if (!(d < 2e-6)) throw new Error(`gemm ${fmt} transB=${transB} bf16=${bf16c} ${M}×${N}×${K}: ${b[i]} vs ${a[i]}`);
            worst = Math.max(worst, d);
          }
        }
  notes.push(`gemm |diff|/K ${worst.toExponential(2)}`);
  return notes.join('; ');
}

const native = loadNativeBackend();
const initialThreads = native.ok ? native.backend.info().threads : 1;
if (process.env.ZJ_QUANT_CHILD) {
  if (!native.ok) throw new Error(native.error);
  console.log(checkAll(native.backend));
} else {
  test('quant kernels: native (this CPU\'s ISA) vs reference; no fallbacks', (t) => {
    if (!native.ok) return t.skip(`native addon unavailable: ${native.error}`);
    const fb = native.backend.info().fallbacks;
    for (const k of ['matvec', 'gemm', 'quantizeRows', 'dequantizeRows', 'embeddingForward'])
      assert.ok(!fb.includes(k), `${k} falls back to the reference`);
    t.diagnostic(`${native.backend.info().isa}: ${checkAll(native.backend)}`);
  });
  // ZJ_QUANT_TILE_MIN=1: this CPU's kernels with the tiled VNNI kernel taking every row count (1–16 too)
  const children: [string, Record<string, string>][] = [
    ['avx2', { ZJ_ISA: 'avx2' }], ['scalar', { ZJ_ISA: 'scalar' }], ['tiled kernel at every M', { ZJ_QUANT_TILE_MIN: '1' }]];
  for (const [name, env] of children) {
    test(`quant kernels: native [${name}] vs reference`, { skip: process.arch !== 'x64' && name === 'avx2' ? 'x86-64 only' : false }, (t) => {
      if (!native.ok) return t.skip(`native addon unavailable: ${native.error}`);
      const res = spawnSync(process.execPath, [fileURLToPath(import.meta.url)], { env: { ...process.env, ...env, ZJ_QUANT_CHILD: '1' }, encoding: 'utf8' });
      assert.equal(res.status, 0, res.stderr);
      t.diagnostic(res.stdout.trim());
    });
  }
}
