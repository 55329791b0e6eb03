#!/usr/bin/env node
// time-attention.mjs — dev-only: CPU and wall ms of one native attention forward and backward call at a given
// shape (default the Qwen2.5-0.5B training shape: B 1, T = S 512, 14 query / 2 KV heads, D 64, causal), the minimum
// over --reps calls, which a shared machine's preemption inflates least. ADDON=path/to/zhongjing.node times
// another build of the addon (before vs after in one session). Not a benchmark of record: `zhongjing bench` is.
// A third argument `half` passes a key mask hiding each row's second half of keys (a half-written KV cache).
//   ZJ_THREADS=1 node scripts/dev/time-attention.mjs [B,T,S,H,Hkv,D] [reps] [half]
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const addonPath = process.env.ADDON ?? fileURLToPath(new URL('../../build/Release/zhongjing.node', import.meta.url));
const nat = require(addonPath);
const shape = (process.argv[2] ?? '1,512,512,14,2,64').split(',').map(Number);
if (shape.length !== 6 || shape.some((n) => !Number.isInteger(n) || n < 1))
  throw new Error(`[time-attention] shape must be B,T,S,H,Hkv,D (positive integers), got ${process.argv[2]}`);
const [B, T, S, H, Hkv, D] = shape;
const reps = Number(process.argv[3] ?? 20);
if (S < T || H % Hkv) throw new Error('[time-attention] need S >= T and H a multiple of Hkv');

let seed = 1;
const rand = (n) => {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5;
  return a;
};
const q = rand(B * T * H * D), k = rand(B * S * Hkv * D), v = rand(B * S * Hkv * D), dOut = rand(B * T * H * D);
const out = new Float32Array(q.length), lse = new Float32Array(B * H * T);
const dq = new Float32Array(q.length), dk = new Float32Array(k.length), dv = new Float32Array(k.length);
const scale = 1 / Math.sqrt(D);
let mask = null;
if (process.argv[4] === 'half') {
  mask = new Int32Array(B * S);
  for (let b = 0; b < B; b++) for (let s = 0; s < S; s++) mask[b * S + s] = s < Math.max(1, S >> 1) ? 1 : 0;
}

function time(f) {
  f();
  let cpu = Infinity, wall = Infinity;
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage(), w0 = performance.now();
    f();
    const c = process.cpuUsage(c0);
    cpu = Math.min(cpu, (c.user + c.system) / 1000);
    wall = Math.min(wall, performance.now() - w0);
  }
  return { cpu, wall };
}

const fwd = time(() => nat.attentionForward(q, k, v, out, lse, B, T, S, H, Hkv, D, scale, true, mask));
const bwd = time(() => nat.attentionBackward(q, k, v, out, lse, dOut, dq, dk, dv, B, T, S, H, Hkv, D, scale, true, mask));
// multiply-adds x 2 of one (T x S x D) product per head, causal: the rows' visible keys only (a mask not counted)
let visible = 0;
for (let t = 0; t < T; t++) visible += S - T + t + 1;
const gemm = 2 * visible * D * B * H;
const gf = (n, ms) => (n / ms / 1e6).toFixed(1);
console.log(`attention B${B} T${T} S${S} H${H}/${Hkv} D${D}${mask ? ' (second half of keys masked)' : ''}, ${nat.info().isa}, ${nat.info().threads} threads`);
console.log(`  forward   cpu ${fwd.cpu.toFixed(2)} ms  wall ${fwd.wall.toFixed(2)} ms  ${gf(2 * gemm, fwd.cpu)} GFLOP/s of cpu (QK^T, PV)`);
console.log(`  backward  cpu ${bwd.cpu.toFixed(2)} ms  wall ${bwd.wall.toFixed(2)} ms  ${gf(5 * gemm, bwd.cpu)} GFLOP/s of cpu (QK^T again, dO V^T, P^T dO, dS^T Q, dS K)`);
