// record.ts — attaches an autograd node to an op's output when gradients are being recorded.
import type { Tensor } from '../tensor/tensor.js';
import { isGradEnabled } from '../autograd/grad-mode.js';

export function needsGrad(...inputs: (Tensor | null | undefined)[]): boolean {
  if (!isGradEnabled()) return false;
  for (const t of inputs) if (t && t.requiresGrad) return true;
  return false;
}

/**
 * Record `out = op(inputs)` with its vjp. `saved` lists the tensors the vjp reads (besides inputs)
 * so that scopes keep them alive while the graph lives.
 */
export function record(op: string, out: Tensor, inputs: Tensor[], saved: Tensor[],
  vjp: (g: Tensor) => (Tensor | null)[]): Tensor {
  if (!needsGrad(...inputs)) return out;
  out.requiresGrad = true;
  out.node = { op, inputs, saved, backward: vjp };
  return out;
}
