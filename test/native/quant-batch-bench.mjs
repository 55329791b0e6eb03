// quant-batch-bench.mjs — CPU time per call of the native quantized matvec at the Qwen2.5-0.5B decode shapes, for
// A/B runs of the batch kernels (not a test, not a final figure: run with ZJ_THREADS=1 on a quiet machine for those).
//   ZJ_THREADS=1 node test/native/quant-batch-bench.mjs [M,M,...] [q8_0,q4_0] [shape indices 0–3, e.g. 1,3]
// Prints, per format, shape and row count, the median CPU ms of 5 timed rounds (each round enough calls for ~0.2 s).
import { loadNativeBackend } from '../../dist/src/backend/native/index.js';

const native = loadNativeBackend();
if (!native.ok) throw new Error(`[quant-batch-bench] ${native.error}`);
const nat = native.backend;
const rowsList = (process.argv[2] ?? '1,8,16').split(',').map(Number);
const formats = (process.argv[3] ?? 'q8_0,q4_0').split(',');
// (N, K): q/o-proj 896→896, gate/up 896→4864, down 4864→896, LM head 896→151936
const allShapes = [[896, 896], [4864, 896], [896, 4864], [151936, 896]];
const shapes = process.argv[4] ? process.argv[4].split(',').map((i) => allShapes[Number(i)]) : allShapes;

function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

for (const fmt of formats)
  for (const [N, K] of shapes) {
    const x = new Float32Array(N * K);
    for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.7361) * 0.05;
    const w = new Uint8Array((N * K / 32) * (fmt === 'q8_0' ? 34 : 18));
    nat.quantizeRows(x, N, K, fmt, w);
    const line = [];
    for (const M of rowsList) {
      const a = new Float32Array(M * K).map((_, i) => Math.cos(i * 0.31) * 2);
      const out = new Float32Array(M * N);
      nat.matvec(M, N, K, a, w, fmt, out);
      let t = cpuMs();
      let calls = 0;
      while (cpuMs() - t < 100) nat.matvec(M, N, K, a, w, fmt, out), calls++;
      const per = Math.max(1, Math.round(calls * 2));
      const times = [];
      for (let r = 0; r < 5; r++) {
        t = cpuMs();
        for (let c = 0; c < per; c++) nat.matvec(M, N, K, a, w, fmt, out);
        times.push((cpuMs() - t) / per);
      }
      times.sort((p, q) => p - q);
      line.push(`M=${M} ${times[2].toFixed(3)}`);
    }
    console.log(`${fmt} ${K}→${N}: ${line.join('  ')} (CPU ms per call)`);
  }
