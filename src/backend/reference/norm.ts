// norm.ts — reference RMSNorm (Zhang & Sennrich 2019) and HF-convention RoPE (Su et al. 2021, rotate_half).
import type { F32, I32 } from '../kernels.js';

export function rmsNormForward(x: F32, w: F32, out: F32, rstd: F32, rows: number, C: number, eps: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * C;
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x[o + c]! * x[o + c]!;
    const rs = 1 / Math.sqrt(ss / C + eps);
    rstd[r] = rs;
    for (let c = 0; c < C; c++) out[o + c] = x[o + c]! * rs * w[c]!;
  }
}

// y_c = x_c r w_c with r = (mean(x^2)+eps)^-1/2:
// dx_c = r (w_c g_c) - x_c r^3 / C * sum_k (w_k g_k x_k);  dw_c = sum_rows g_c x_c r
export function rmsNormBackward(x: F32, w: F32, rstd: F32, dOut: F32, dx: F32, dw: F32, rows: number, C: number): void {
  const acc = new Float64Array(C);
  for (let r = 0; r < rows; r++) {
    const o = r * C, rs = rstd[r]!;
    let dot = 0;
    for (let c = 0; c < C; c++) dot += w[c]! * dOut[o + c]! * x[o + c]!;
    const k = (dot * rs * rs * rs) / C;
    for (let c = 0; c < C; c++) {
      dx[o + c] = rs * w[c]! * dOut[o + c]! - x[o + c]! * k;
      acc[c]! += dOut[o + c]! * x[o + c]! * rs;
    }
  }
  for (let c = 0; c < C; c++) dw[c] = acc[c]!;
}

export function rope(x: F32, out: F32, positions: I32, N: number, H: number, D: number, theta: number, inverse: boolean,
  invFreq: Float64Array | null = null): void {
  const half = D >> 1;
  const sign = inverse ? -1 : 1;
  for (let n = 0; n < N; n++) {
    const pos = positions[n]!;
    for (let i = 0; i < half; i++) {
      const a = pos * (invFreq ? invFreq[i]! : Math.pow(theta, (-2 * i) / D));
      const c = Math.cos(a), s = sign * Math.sin(a);
      for (let h = 0; h < H; h++) {
        const o = (n * H + h) * D;
        const x1 = x[o + i]!, x2 = x[o + i + half]!;
        out[o + i] = x1 * c - x2 * s;
        out[o + i + half] = x2 * c + x1 * s;
      }
    }
  }
}
