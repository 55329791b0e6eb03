// gemm.ts — reference GEMM and matvec: plain loops with float64 accumulation (see zj_gemm / zj_matvec).
// A quantized B is dequantized to f32 first (what the native packers do block by block).
import type { BF16, F16, F32, StorageFormat, U8, Weight } from '../kernels.js';
import { isPanelLayout } from '../../tensor/dtype.js';
import { bf16BitsToF32, roundBf16 } from './bf16.js';
import { checkPanelScales, inRowLayout, matvecQuant, weightAsF32 } from './quant.js';

function reader(x: F32 | BF16, bf16Compute: boolean): (i: number) => number {
  if (x instanceof Uint16Array) return (i) => bf16BitsToF32(x[i]!);
  return bf16Compute ? (i) => roundBf16(x[i]!) : (i) => x[i]!;
}

export function gemm(batch: number, M: number, N: number, K: number,
  a: F32 | BF16, transA: boolean, aStride: number, b: Weight, transB: boolean, bStride: number,
  out: F32, alpha: number, beta: number, bf16Compute: boolean, bFormat?: StorageFormat): void {
  const fmt = bFormat ?? (b instanceof Uint16Array ? 'bf16' : b instanceof Uint8Array ? null : 'f32');
  if (fmt === null) throw new Error('[gemm] a byte (Uint8Array) B needs its bFormat (q8_0 or q4_0)');
  if (fmt !== 'f32' && fmt !== 'bf16' && (batch > 1 && bStride !== 0))
    throw new Error(`[gemm] a ${fmt} B is one 2-D weight: bStride must be 0, got ${bStride}`);
  const ra = reader(a, bf16Compute);
  // stored (N, K) under transB, else (K, N): the panel layout's rows are the stored ones
  const rb = reader(weightAsF32(b, fmt, transB ? N : K, transB ? K : N), bf16Compute);
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

export function matvec(M: number, N: number, K: number, x: F32, w: Weight, wFormat: StorageFormat, out: F32,
  panelScales?: F16 | null): void {
  if (isPanelLayout(wFormat)) {
    if (panelScales) throw new Error(`[matvec] panelScales is for q8_0 / q4_0 weights only, got ${wFormat}`);
    const r = inRowLayout(w as U8, wFormat, N, K);
    return matvecQuant(M, N, K, x, r.w, r.fmt, out);
  }
  if (panelScales) {
    if (wFormat !== 'q8_0' && wFormat !== 'q4_0') throw new Error(`[matvec] panelScales is for q8_0 / q4_0 weights only, got ${wFormat}`);
    checkPanelScales('matvec', N, K, panelScales);  // the same arithmetic follows: the table only saves a regrouping
  }
  if (wFormat === 'q8_0' || wFormat === 'q4_0') return matvecQuant(M, N, K, x, w as U8, wFormat, out);
  const rw = reader(w as F32 | BF16, false);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += x[m * K + k]! * rw(n * K + k);
      out[m * N + n] = acc;
    }
}
