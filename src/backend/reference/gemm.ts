// gemm.ts — reference GEMM: plain triple loop with float64 accumulation (see zj_gemm for semantics).
import type { BF16, F32 } from '../kernels.js';
import { bf16BitsToF32, roundBf16 } from './bf16.js';

function reader(x: F32 | BF16, bf16Compute: boolean): (i: number) => number {
  if (x instanceof Uint16Array) return (i) => bf16BitsToF32(x[i]!);
  return bf16Compute ? (i) => roundBf16(x[i]!) : (i) => x[i]!;
}

export function gemm(batch: number, M: number, N: number, K: number,
  a: F32 | BF16, transA: boolean, aStride: number, b: F32 | BF16, transB: boolean, bStride: number,
  out: F32, alpha: number, beta: number, bf16Compute: boolean): void {
  const ra = reader(a, bf16Compute);
  const rb = reader(b, bf16Compute);
  for (let bt = 0; bt < batch; bt++) {
    const ao = bt * aStride, bo = bt * bStride, oo = bt * M * N;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let acc = 0;
        for (let k = 0; k < K; k++) {
          const x = ra(ao + (transA ? k * M + i : i * K + k));
          const y = rb(bo + (transB ? j * K + k : k * N + j));
          acc += x * y;
        }
        const o = oo + i * N + j;
        out[o] = alpha * acc + (beta === 0 ? 0 : beta * out[o]!);
      }
    }
  }
}

export function matvec(M: number, N: number, K: number, x: F32, w: F32 | BF16, out: F32): void {
  const rw = reader(w, false);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += x[m * K + k]! * rw(n * K + k);
      out[m * N + n] = acc;
    }
}
