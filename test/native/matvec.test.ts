// The decode-path matrix-vector kernel against the reference on every ISA path (AVX-512, AVX2, scalar via ZJ_ISA
// in child processes): odd K (vector tails), up to 8 rows, f32 and bf16 weights, views with a byteOffset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { referenceBackend } from '../../src/backend/reference/index.js';
import { loadNativeBackend } from '../../src/backend/native/index.js';
import { Rng } from '../../src/util/rng.js';

function rand(r: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => r.next() * 2 - 1);
}

/** Largest |native - reference| relative to Σ|terms| over the cases; throws on a mismatch. */
function checkAll(): string {
  const n = loadNativeBackend();
  if (!n.ok) throw new Error(n.error);
  const r = new Rng(5);
  let worst = 0;
  for (const [M, N, K] of [[1, 1, 1], [1, 7, 15], [3, 33, 17], [4, 257, 385], [8, 64, 33], [5, 1000, 384]] as const) {
    for (const bf16 of [false, true]) {
      const x = rand(r, M * K + 3).subarray(3); // a view with a byteOffset
      const wf = rand(r, N * K);
      const w = bf16 ? Uint16Array.from(wf, (v) => { const b = new Uint32Array(new Float32Array([v]).buffer)[0]!; return b >>> 16; }) : wf;
      const a = new Float32Array(M * N), b = new Float32Array(M * N);
      n.backend.matvec(M, N, K, x, w, bf16 ? 'bf16' : 'f32', a);
      referenceBackend.matvec(M, N, K, x, w, bf16 ? 'bf16' : 'f32', b);
      for (let i = 0; i < a.length; i++) {
        const d = Math.abs(a[i]! - b[i]!) / K; // |terms| ≤ 1 each
        if (!(d < 1e-6)) throw new Error(`M=${M} N=${N} K=${K} bf16=${bf16}: out[${i}] ${a[i]} vs ${b[i]}`);
        worst = Math.max(worst, d);
      }
    }
  }
  return `largest |diff| / K ${worst.toExponential(2)}`;
}

if (process.env.ZJ_MATVEC_CHILD) {
  console.log(checkAll());
} else {
  test('matvec: native (this CPU\'s ISA) vs reference', (t) => {
    const n = loadNativeBackend();
    if (!n.ok) return t.skip(`native addon unavailable: ${n.error}`);
    t.diagnostic(checkAll());
  });
  for (const isa of ['avx2', 'scalar']) {
    test(`matvec: native [${isa}] vs reference`, (t) => {
      const n = loadNativeBackend();
      if (!n.ok) return t.skip(`native addon unavailable: ${n.error}`);
      const res = spawnSync(process.execPath, [fileURLToPath(import.meta.url)], { env: { ...process.env, ZJ_ISA: isa, ZJ_MATVEC_CHILD: '1' }, encoding: 'utf8' });
      assert.equal(res.status, 0, res.stderr);
      t.diagnostic(res.stdout.trim());
    });
  }
}
