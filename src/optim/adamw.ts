// adamw.ts — fused AdamW (Loshchilov & Hutter 2019) over parameter groups, with global-norm clipping
// folded into the update as a gradient scale. State (m, v, step) is plain f32 arrays, serialisable
// for exact resume.
import type { Tensor } from '../tensor/tensor.js';
import { backend } from '../backend/index.js';

export interface ParamGroup {
  params: Tensor[];
  /** decoupled weight decay; norms and biases conventionally get 0 */
  weightDecay: number;
  /** multiplies the scheduled learning rate for this group (default 1) */
  lrScale?: number;
}

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
}

export interface AdamWState {
  step: number;
  m: Float32Array[];
  v: Float32Array[];
}

/** Split parameters into a decayed group (matrices) and an undecayed one (1-D: norms, biases). */
export function defaultGroups(params: Tensor[], weightDecay: number): ParamGroup[] {
  return [
    { params: params.filter((p) => p.rank >= 2), weightDecay },
    { params: params.filter((p) => p.rank < 2), weightDecay: 0 },
  ].filter((g) => g.params.length > 0);
}

export class AdamW {
  readonly groups: ParamGroup[];
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  private stepCount = 0;
  private m: Float32Array[];
  private v: Float32Array[];

  constructor(groups: ParamGroup[], opts: AdamWOptions = {}) {
    this.groups = groups;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    const all = this.params();
    const seen = new Set<Tensor>();
    for (const p of all) {
      if (seen.has(p)) throw new Error(`[AdamW] parameter ${p.name ?? p.id} appears in two groups`);
      seen.add(p);
      if (p.dtype !== 'f32') throw new Error(`[AdamW] master weights must be f32, ${p.name ?? p.id} is ${p.dtype}`);
    }
    this.m = all.map((p) => new Float32Array(p.size));
    this.v = all.map((p) => new Float32Array(p.size));
  }

  params(): Tensor[] {
    return this.groups.flatMap((g) => g.params);
  }

  get step(): number {
    return this.stepCount;
  }

  /**
   * One update at learning rate lr. gradScale multiplies every gradient first (use clipScale() for
   * global-norm clipping). Parameters without a gradient are skipped.
   */
  update(lr: number, gradScale = 1): void {
    this.stepCount++;
    let i = 0;
    for (const g of this.groups) {
      const groupLr = lr * (g.lrScale ?? 1);
      for (const p of g.params) {
        const m = this.m[i]!, v = this.v[i]!;
        i++;
        if (!p.grad) continue;
        backend().adamw(p.f32('AdamW'), p.grad.f32('AdamW'), m, v, groupLr, this.beta1, this.beta2, this.eps,
          g.weightDecay, this.stepCount, gradScale);
      }
    }
  }

  state(): AdamWState {
    return { step: this.stepCount, m: this.m.map((a) => a.slice()), v: this.v.map((a) => a.slice()) };
  }

  loadState(s: AdamWState): void {
    if (s.m.length !== this.m.length || s.m.some((a, i) => a.length !== this.m[i]!.length))
      throw new Error('[AdamW] optimiser state does not match the parameters');
    this.stepCount = s.step;
    s.m.forEach((a, i) => this.m[i]!.set(a));
    s.v.forEach((a, i) => this.v[i]!.set(a));
  }
}

/** The L2 norm over all gradients (f64 accumulation). */
export function globalGradNorm(params: Iterable<Tensor>): number {
  let ss = 0;
  for (const p of params) if (p.grad) ss += backend().sumSquares(p.grad.f32('globalGradNorm'));
  return Math.sqrt(ss);
}

/** The factor that brings the global gradient norm down to maxNorm (1 if already below). */
export function clipScale(norm: number, maxNorm: number): number {
  if (!(maxNorm > 0) || !Number.isFinite(norm)) return 1;
  return norm > maxNorm ? maxNorm / (norm + 1e-6) : 1;
}
