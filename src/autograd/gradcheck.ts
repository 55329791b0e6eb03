// gradcheck.ts — compares the vjps of a function with central finite differences. Run it with the
// reference backend in float64 mode (setFloat64Mode) so differences measure the vjp, not rounding.
import { Tensor } from '../tensor/tensor.js';
import { backward, zeroGrad } from './backward.js';
import { noGrad } from './grad-mode.js';

export interface GradcheckResult {
  /** largest |analytic - numeric| over all inputs */
  maxAbs: number;
  /** largest |analytic - numeric| / max(|analytic|, |numeric|, floor) */
  maxRel: number;
  /** where the largest relative difference is, e.g. "input 1 [5]" */
  worst: string;
}

/**
 * f maps the inputs to a tensor of any shape; the scalar checked is sum(f(x) * w) for fixed random
 * weights w, so every output element contributes. Inputs must be f32 (float64 storage in f64 mode).
 */
export function gradcheck(f: (inputs: Tensor[]) => Tensor, inputs: Tensor[], step = 1e-6, floor = 1e-3): GradcheckResult {
  for (const x of inputs) x.requiresGrad = true;
  zeroGrad(inputs);
  const out = f(inputs);
  const w = Tensor.empty(out.shape, 'f32');
  const wd = w.data as Float32Array;
  for (let i = 0; i < wd.length; i++) wd[i] = Math.sin(1.7 * i + 0.3) + 1.5; // fixed, nonzero, varied
  const scalar = (o: Tensor) => {
    const od = o.data as Float32Array;
    let s = 0;
    for (let i = 0; i < od.length; i++) s += od[i]! * wd[i]!;
    return s;
  };
  backward(out, w);
  let maxAbs = 0, maxRel = 0, worst = '';
  inputs.forEach((x, xi) => {
    const xd = x.data as Float32Array;
    const analytic = x.grad ? (x.grad.data as Float32Array) : new Float32Array(x.size);
    for (let i = 0; i < xd.length; i++) {
      const orig = xd[i]!;
      const h = step * Math.max(1, Math.abs(orig));
      const fp = noGrad(() => { xd[i] = orig + h; return scalar(f(inputs)); });
      const fm = noGrad(() => { xd[i] = orig - h; return scalar(f(inputs)); });
      xd[i] = orig;
      const numeric = (fp - fm) / (2 * h);
      const a = analytic[i]!;
      const abs = Math.abs(a - numeric);
      const rel = abs / Math.max(Math.abs(a), Math.abs(numeric), floor);
      if (abs > maxAbs) maxAbs = abs;
      if (rel > maxRel) { maxRel = rel; worst = `input ${xi} [${i}]: analytic ${a}, numeric ${numeric}`; }
    }
  });
  return { maxAbs, maxRel, worst };
}
