// layers.ts — Linear (HF weight layout [out, in]), RMSNorm and Embedding modules over the fused ops.
import { Tensor } from '../tensor/tensor.js';
import { add, embedding, matmul, rmsNorm } from '../ops/index.js';
import { parameter, randn, ones } from '../ops/creation.js';
import type { Rng } from '../util/rng.js';
import { Module } from './module.js';

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, rng: Rng, opts: { bias?: boolean; std?: number } = {}) {
    super();
    this.weight = this.add('weight', parameter(randn([outFeatures, inFeatures], rng, opts.std ?? 0.02)));
    this.bias = opts.bias ? this.add('bias', parameter(Tensor.empty([outFeatures], 'f32', true))) : null;
  }
  /** x (..., in) → (..., out) = x Wᵀ (+ b) */
  forward(x: Tensor): Tensor {
    const y = matmul(x, this.weight, { transB: true });
    return this.bias ? add(y, this.bias) : y;
  }
}

export class RMSNorm extends Module {
  readonly weight: Tensor;
  constructor(readonly size: number, readonly eps: number) {
    super();
    this.weight = this.add('weight', parameter(ones([size])));
  }
  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}

export class Embedding extends Module {
  readonly weight: Tensor;
  constructor(readonly vocabSize: number, readonly dim: number, rng: Rng, std = 0.02) {
    super();
    this.weight = this.add('weight', parameter(randn([vocabSize, dim], rng, std)));
  }
  forward(ids: Tensor): Tensor {
    return embedding(this.weight, ids);
  }
}
