// The batched quantized matvec at every row count 1–17 (and 18–40 through the batch kernels) against the reference,
// on every ISA path and kernel choice: this CPU's dispatch (AVX-512 VNNI: the one-row kernel at 1 row, the panel
// kernel from 2), ZJ_ISA=avx2 and scalar, the panel and the strip batch kernels forced at every M
// (ZJ_QUANT_BATCH_MIN=1 with ZJ_QUANT_TILE_MIN=41, the strip one with ZJ_QUANT_PANEL=0) and the tile kernel at every
// M. Wherever matvec reads a panel-scale table (the panel kernel), it is run again with the weight's table (bit for
// bit the same output) and with a table of doubled scales (exactly twice the output: the table, not the weight's own
// scale bytes, is what it read); the runs that take the panel kernel must have read one, and none with
// ZJ_QUANT_PANEL_SCALES=0. Weights of whole panels (N a multiple of 16) also run in the panel layout (q8_0x16 /
// q4_0x16) wherever the run's matvec reads it (the VNNI panel kernel at every M, one row too): the bytes equal the
// reference's quantToPanels, the output stays within the same bound of the reference, and the reference's own
// matvec of that layout equals its row-layout one. No run without the kernel (avx2, scalar, ZJ_QUANT_PANEL=0,
// ZJ_QUANT_INTERLEAVE=0) may report the layout as supported. Shapes: odd N (partial strips of 4 and panels of 16 weight rows, split over 1 and 2
// threads), N = 50 (three whole panels and a partial one), K = 32·k with k = 1, 2, 3, 5, 6, 7, 9, 28 (an odd last
// block without its pair, and 1–3 blocks past the last whole group of 4), zero rows and blocks, wide value ranges.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../../src/backend/kernels.js';
import { panelFormatOf, panelScalesLength, type QuantDType } from '../../src/tensor/dtype.js';
import { referenceBackend as ref } from '../../src/backend/reference/index.js';
import { quantizeActivations } from '../../src/backend/reference/quant.js';
import { loadNativeBackend, setNativeThreads } from '../../src/backend/native/index.js';
import { Rng } from '../../src/util/rng.js';

const FORMATS: QuantDType[] = ['q8_0', 'q4_0'];

/** A W of exactly its size at an odd byte offset in a larger buffer (the kernels' masked loads must not need more). */
function oddView(a: Uint8Array): Uint8Array {
  const big = new Uint8Array(a.length + 1);
  big.set(a, 1);
  return big.subarray(1);
}

/** The table with every scale doubled (f16: the exponent up one; zero stays zero, no scale here is near f16's max). */
function doubled(t: Uint16Array): Uint16Array {
  return t.map((h) => ((h & 0x7c00) === 0 ? (h & 0x8000) | ((h & 0x3ff) << 1) : h + 0x400));
}

function checkAll(nat: Backend, maxRows: number): string {
  const r = new Rng(2024);
  let worst = 0, cases = 0, tableCases = 0, panelCases = 0;
  const threads0 = nat.info().threads;
  for (const fmt of FORMATS)
    for (const [N, k] of [[1, 1], [3, 2], [5, 3], [7, 5], [13, 6], [37, 7], [9, 9], [6, 28], [50, 2], [16, 3], [48, 7], [32, 28]] as const) {
      const K = 32 * k;
      const wf = Float32Array.from({ length: N * K }, (_, i) => (r.next() * 2 - 1) * [1, 0.01, 40][(i >> 5) % 3]!);
      if (N * K >= 96) wf.fill(0, 32, 64); // one all-zero weight block (d = 0)
      const w = new Uint8Array((N * K / 32) * (fmt === 'q8_0' ? 34 : 18));
      ref.quantizeRows(wf, N, K, fmt, w);
      const table = new Uint16Array(panelScalesLength(N, K)), want = new Uint16Array(table.length);
      nat.quantPanelScales(oddView(w), fmt, N, K, table.fill(0xffff));
      ref.quantPanelScales(w, fmt, N, K, want);
      assert.deepEqual(table, want, `quantPanelScales ${fmt} N=${N} K=${K}`);
      const wq = new Float32Array(N * K);
      ref.dequantizeRows(w, fmt, N, K, wq);
      // the panel layout (whole panels only), where this run's matvec reads it with its own kernel
      const panelFmt = panelFormatOf(fmt);
      let wp: Uint8Array | null = null;
      if (N % 16 === 0 && nat.quantPanelsSupported(fmt)) {
        wp = new Uint8Array(w.length);
        nat.quantToPanels(w, fmt, N, K, wp);
        const wantP = new Uint8Array(w.length);
        ref.quantToPanels(w, fmt, N, K, wantP);
        assert.deepEqual(wp, wantP, `quantToPanels ${fmt} N=${N} K=${K}`);
      }
      for (let M = 1; M <= maxRows; M++) {
        const x = Float32Array.from({ length: M * K }, (_, i) => (r.next() * 2 - 1) * [3, 1e-3, 200][(i >> 5) % 3]!);
        if (M > 2) x.fill(0, K, 2 * K); // row 1 all zero
        const a = new Float32Array(M * N);
        ref.matvec(M, N, K, x, w, fmt, a);
        if (wp) {  // the reference reads the panel layout through the row layout: the same numbers
          const ap = new Float32Array(M * N);
          ref.matvec(M, N, K, x, wp, panelFmt, ap);
          assert.deepEqual(ap, a, `reference matvec ${panelFmt} M=${M} N=${N} K=${K}`);
        }
        // the bound: Σ_k |x̂_k|·|ŵ_k| (x̂, ŵ: the quantized values times their scales) — any order of f32 sums of
        // the block products stays within (terms)·2^-24 of it; a wrong block, chunk or scale is off by far more
        const { q, d } = quantizeActivations(x, M, K);
        const abs = new Float64Array(M * N);
        for (let m = 0; m < M; m++)
          for (let n = 0; n < N; n++) {
            let s = 0;
            for (let j = 0; j < K; j++) s += Math.abs(q[m * K + j]! * d[(m * K + j) >> 5]! * wq[n * K + j]!);
            abs[m * N + n] = s;
          }
        for (const threads of [1, 2]) {
          setNativeThreads(threads);
          const b = new Float32Array(M * N).fill(NaN);
          const withTable = new Float32Array(M * N).fill(NaN), twice = new Float32Array(M * N).fill(NaN);
          const reads = nat.matvecReadsPanelScales(M, N, K, fmt);
          const bp = new Float32Array(M * N).fill(NaN);
          try {
            nat.matvec(M, N, K, x, oddView(w), fmt, b);
            if (wp) nat.matvec(M, N, K, x, oddView(wp), panelFmt, bp);
            if (reads) {
              nat.matvec(M, N, K, x, oddView(w), fmt, withTable, table);
              nat.matvec(M, N, K, x, oddView(w), fmt, twice, doubled(table));
            }
          } finally {
            setNativeThreads(threads0);
          }
          if (reads) {
            for (let i = 0; i < b.length; i++) {
              if (!Object.is(withTable[i], b[i]))
                throw new Error(`matvec ${fmt} M=${M} N=${N} K=${K} threads=${threads} with its panel-scale table: out[${i}] ${withTable[i]} vs ${b[i]}`);
              if (!Object.is(twice[i], 2 * b[i]!))
                throw new Error(`matvec ${fmt} M=${M} N=${N} K=${K} threads=${threads} with doubled panel scales: out[${i}] ${twice[i]} vs 2 × ${b[i]}`);
            }
            tableCases++;
          }
          for (const [got, f] of wp ? [[b, fmt], [bp, panelFmt]] as const : [[b, fmt]] as const)
            for (let i = 0; i < a.length; i++) {
              const e = abs[i] ? Math.abs(a[i]! - got[i]!) / abs[i]! : Math.abs(got[i]!);
              if (!(e < 1e-6))
                throw new Error(`matvec ${f} M=${M} N=${N} K=${K} threads=${threads}: out[${i}] ${got[i]} vs ${a[i]}`);
              worst = Math.max(worst, e);
            }
          cases++;
          if (wp) panelCases++;
        }
      }
    }
  return `${nat.info().isa}: ${cases} cases, |diff| / Σ|x̂·ŵ| ≤ ${worst.toExponential(2)}; ${tableCases} read the panel-scale table; ${panelCases} in the panel layout`;
}

const native = loadNativeBackend();
if (process.env.ZJ_QUANT_BATCH_CHILD) {
  if (!native.ok) throw new Error(native.error);
  console.log(checkAll(native.backend, Number(process.env.ZJ_QUANT_BATCH_CHILD)));
} else {
  // the last field: whether the run takes the panel kernel (so reads panel-scale tables) on an AVX-512 VNNI machine
  const runs: [string, Record<string, string>, number, boolean][] = [
    ['this CPU\'s dispatch', {}, 17, true],
    ['avx2', { ZJ_ISA: 'avx2' }, 17, false],
    ['scalar', { ZJ_ISA: 'scalar' }, 17, false],
    ['panel batch kernel at every M up to 40', { ZJ_QUANT_BATCH_MIN: '1', ZJ_QUANT_TILE_MIN: '41' }, 40, true],
    ['strip batch kernel at every M up to 40',
      { ZJ_QUANT_BATCH_MIN: '1', ZJ_QUANT_TILE_MIN: '41', ZJ_QUANT_PANEL: '0' }, 40, false],
    ['tile kernel at every M', { ZJ_QUANT_TILE_MIN: '1' }, 17, false],
    ['panel kernel with ZJ_QUANT_PANEL_SCALES=0 (no tables asked for)', { ZJ_QUANT_PANEL_SCALES: '0' }, 17, false],
    ['row layout only (ZJ_QUANT_INTERLEAVE=0)', { ZJ_QUANT_INTERLEAVE: '0' }, 17, true],
  ];
  // the runs whose matvec reads the panel layout (q8_0x16 / q4_0x16) on an AVX-512 VNNI machine
  const panelLayout = new Set(['this CPU\'s dispatch', 'panel batch kernel at every M up to 40', 'tile kernel at every M',
    'panel kernel with ZJ_QUANT_PANEL_SCALES=0 (no tables asked for)']);
  const vnni = native.ok && /avx512.*vnni/.test(native.backend.info().isa);
  for (const [name, env, maxRows, panel] of runs) {
    test(`batched quant matvec, M = 1 … ${maxRows}: native [${name}] vs reference`, { skip: process.arch !== 'x64' && name === 'avx2' ? 'x86-64 only' : false }, (t) => {
      if (!native.ok) return t.skip(`native addon unavailable: ${native.error}`);
      const res = spawnSync(process.execPath, [fileURLToPath(import.meta.url)],
        { env: { ...process.env, ...env, ZJ_QUANT_BATCH_CHILD: String(maxRows) }, encoding: 'utf8' });
      assert.equal(res.status, 0, res.stderr);
      t.diagnostic(res.stdout.trim());
      const read = Number(/(\d+) read the panel-scale table/.exec(res.stdout)?.[1]);
      if (panel && vnni) assert.ok(read > 0, `the panel kernel read no panel-scale table: ${res.stdout}`);
      else assert.equal(read, 0, `only the panel kernel reads panel-scale tables: ${res.stdout}`);
      const inPanels = Number(/(\d+) in the panel layout/.exec(res.stdout)?.[1]);
      if (panelLayout.has(name) && vnni) assert.ok(inPanels > 0, `no matvec read the panel layout: ${res.stdout}`);
      else assert.equal(inPanels, 0, `only the VNNI panel kernel takes the panel layout: ${res.stdout}`);
    });
  }
}
