// adamw.ts — reference AdamW (Loshchilov & Hutter 2019): decoupled weight decay, bias correction.
import type { F32 } from '../kernels.js';

export function adamw(p: F32, g: F32, m: F32, v: F32, lr: number, beta1: number, beta2: number, eps: number,
  weightDecay: number, step: number, gradScale: number): void {
  const bc1 = 1 - Math.pow(beta1, step), bc2 = 1 - Math.pow(beta2, step);
  for (let i = 0; i < p.length; i++) {
    const gi = g[i]! * gradScale;
    m[i] = beta1 * m[i]! + (1 - beta1) * gi;
    v[i] = beta2 * v[i]! + (1 - beta2) * gi * gi;
    const update = m[i]! / bc1 / (Math.sqrt(v[i]! / bc2) + eps);
    p[i] = p[i]! - lr * (weightDecay * p[i]! + update);
  }
}
