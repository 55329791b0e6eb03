// quant-panels.test.ts — the panel layouts q8_0x16 / q4_0x16 (zj_kernels.h, ZJ_W_*_P16) outside the matvec of
// quant-batch.test.ts: the repack in place and out of place on both backends and its inverse, every other reader of
// the layout (dequantizeRows, the embedding gather, the GEMM's packers) against the row layout, matvec past 1,024
// rows (the driver's slices of x), and the refusals: a partial panel, and the layout where matvec has no kernel for
// it (a child with ZJ_QUANT_INTERLEAVE=0).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { panelFormatOf, type QuantDType } from '../../src/tensor/dtype.js';
import { referenceBackend as ref } from '../../src/backend/reference/index.js';
import { loadNativeBackend } from '../../src/backend/native/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { Rng } from '../../src/util/rng.js';

const native = loadNativeBackend();
const FORMATS: QuantDType[] = ['q8_0', 'q4_0'];

function weight(fmt: QuantDType, N: number, K: number, seed: number): Uint8Array {
  const r = new Rng(seed);
  const w = new Uint8Array((N * K / 32) * (fmt === 'q8_0' ? 34 : 18));
  ref.quantizeRows(Float32Array.from({ length: N * K }, () => r.next() * 2 - 1), N, K, fmt, w);
  return w;
}

if (process.env.ZJ_QUANT_PANELS_CHILD) {
  // no kernel for the layout in this process: matvec must refuse it rather than quietly take a slow road
  if (!native.ok) throw new Error(native.error);
  const nat = native.backend, N = 16, K = 64, w = weight('q4_0', N, K, 1), p = new Uint8Array(w.length);
  nat.quantToPanels(w, 'q4_0', N, K, p);
  let msg = 'accepted';
  try {
    nat.matvec(1, N, K, new Float32Array(K), p, 'q4_0x16', new Float32Array(N));
  } catch (e) {
    msg = (e as Error).message;
  }
  console.log(JSON.stringify({ supported: nat.quantPanelsSupported('q4_0'), msg }));
} else {
  test('quantToPanels / quantFromPanels: native bytes equal the reference, in place equals out of place, and back is the identity', (t) => {
    const backends = native.ok ? [ref, native.backend] : [ref];
    if (!native.ok) t.diagnostic(`native addon unavailable: ${native.error}; the reference only`);
    for (const fmt of FORMATS)
      for (const [N, K] of [[16, 32], [48, 96], [32, 896]] as const) {
        const w = weight(fmt, N, K, N + K);
        const want = new Uint8Array(w.length);
        ref.quantToPanels(w, fmt, N, K, want);
        assert.notDeepEqual(want, w, 'the layout moves bytes');
        for (const b of backends) {
          const out = new Uint8Array(w.length);
          b.quantToPanels(w, fmt, N, K, out);
          assert.deepEqual(out, want, `${b.info().name} ${fmt} ${N}×${K}`);
          const inPlace = w.slice();
          b.quantToPanels(inPlace, fmt, N, K, inPlace);
          assert.deepEqual(inPlace, want, `${b.info().name} ${fmt} ${N}×${K} in place`);
          b.quantFromPanels(inPlace, fmt, N, K, inPlace);
          assert.deepEqual(inPlace, w, `${b.info().name} ${fmt} ${N}×${K} back in place`);
        }
      }
  });

  test('the panel layout read by dequantizeRows, the embedding gather and the GEMM: the values of the row layout', (t) => {
    if (!native.ok) return t.skip(`native addon unavailable: ${native.error}`);
    const nat = native.backend;
    for (const fmt of FORMATS) {
      const N = 48, K = 96, pf = panelFormatOf(fmt), w = weight(fmt, N, K, 7), p = new Uint8Array(w.length);
      ref.quantToPanels(w, fmt, N, K, p);
      const want = new Float32Array(N * K);
      ref.dequantizeRows(w, fmt, N, K, want);
      for (const b of [ref, nat]) {
        const got = new Float32Array(N * K);
        b.dequantizeRows(p, pf, N, K, got);
        assert.deepEqual(got, want, `${b.info().name} dequantizeRows ${pf}`);
        const ids = Int32Array.from([0, 47, 16, 15, 31, 3]), e = new Float32Array(ids.length * K);
        b.embeddingForward(p, pf, ids, e, ids.length, K, N);
        ids.forEach((id, i) => assert.deepEqual(e.subarray(i * K, (i + 1) * K), want.subarray(id * K, (id + 1) * K), `${b.info().name} embedding ${pf} row ${id}`));
      }
      // x (40, K) · Wᵀ through the GEMM (40 rows, so its packers, not matvec): bit for bit the row layout's product
      const r = new Rng(9), M = 40, x = Float32Array.from({ length: M * K }, () => r.next() * 2 - 1);
      const rows = new Float32Array(M * N), panels = new Float32Array(M * N);
      nat.gemm(1, M, N, K, x, false, 0, w, true, 0, rows, 1, 0, false, fmt);
      nat.gemm(1, M, N, K, x, false, 0, p, true, 0, panels, 1, 0, false, pf);
      assert.deepEqual(panels, rows, `native gemm ${pf}`);
      const refRows = new Float32Array(M * N), refPanels = new Float32Array(M * N);
      ref.gemm(1, M, N, K, x, false, 0, w, true, 0, refRows, 1, 0, false, fmt);
      ref.gemm(1, M, N, K, x, false, 0, p, true, 0, refPanels, 1, 0, false, pf);
      assert.deepEqual(refPanels, refRows, `reference gemm ${pf}`);
    }
  });

  test('matvec of the panel layout past 1,024 rows of x (served 1,024 at a time) matches the reference', (t) => {
    if (!native.ok) return t.skip(`native addon unavailable: ${native.error}`);
    const nat = native.backend;
    if (!nat.quantPanelsSupported('q4_0')) return t.skip(`no panel-layout kernel on ${nat.info().isa}`);
    const M = 1030, N = 32, K = 64, w = weight('q4_0', N, K, 3), p = new Uint8Array(w.length);
    nat.quantToPanels(w, 'q4_0', N, K, p);
    const r = new Rng(4), x = Float32Array.from({ length: M * K }, () => r.next() * 2 - 1);
    const want = new Float32Array(M * N), got = new Float32Array(M * N).fill(NaN);
    ref.matvec(M, N, K, x, w, 'q4_0', want);
    nat.matvec(M, N, K, x, p, 'q4_0x16', got);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / (1 + Math.abs(want[i]!)));
    assert.ok(worst < 1e-5, `worst relative difference ${worst}`);
    // rows 1,024 … 1,029 come from the second slice: a slice written to the wrong place would leave NaN or zeros
    assert.ok(Number.isFinite(got[1029 * N]!) && got[1029 * N] !== 0);
  });

  test('the panel layout refuses partial panels (N not a multiple of 16) on both backends and in a Tensor', () => {
    const N = 24, K = 32, w = weight('q4_0', N, K, 5), out = new Uint8Array(w.length);
    assert.throws(() => ref.quantToPanels(w, 'q4_0', N, K, out), /whole panels of 16 rows, got N=24/);
    if (native.ok) assert.throws(() => native.backend.quantToPanels(w, 'q4_0', N, K, out), /multiple of 16/);
    assert.throws(() => new Tensor(out, [N, K], 'q4_0x16'), /whole panels of 16 rows/);
  });

  test('matvec refuses the panel layout where it has no kernel for it (ZJ_QUANT_INTERLEAVE=0)', (t) => {
    if (!native.ok) return t.skip(`native addon unavailable: ${native.error}`);
    const res = spawnSync(process.execPath, [fileURLToPath(import.meta.url)],
      { env: { ...process.env, ZJ_QUANT_INTERLEAVE: '0', ZJ_QUANT_PANELS_CHILD: '1' }, encoding: 'utf8' });
    assert.equal(res.status, 0, res.stderr);
    const r = JSON.parse(res.stdout.trim().split('\n').pop()!) as { supported: boolean; msg: string };
    assert.equal(r.supported, false);
    assert.match(r.msg, /panel layouts \(q8_0x16 \/ q4_0x16\) need the AVX-512 VNNI panel kernel/);
  });
}
