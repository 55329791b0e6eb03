// layers.ts — Linear (HF weight layout [out, in]), RMSNorm and Embedding modules over the fused ops.
import { Tensor } from '../tensor/tensor.js';
import { add, embedding, matmul, rmsNorm } from '../ops/index.js';
import { parameter, randn, ones } from '../ops/creation.js';
import { recordMatmul } from '../ops/matmul.js';
import { isRecomputing, keptAcrossRecompute } from '../autograd/checkpoint.js';
import type { Rng } from '../util/rng.js';
import { Module } from './module.js';

// Deferred weights: while a loader builds a model it is about to fill tensor by tensor, every weight is a
// placeholder over one shared zero buffer that is never written (its pages are never touched), so no f32
// copy of the checkpoint is allocated; the loader swaps each for the real tensor (Module.replaceParameter).
let deferred = false;
let shared = new Float32Array(0);

/** Build modules with placeholder weights (see above); every placeholder must be replaced before use. */
export function withDeferredWeights<T>(build: () => T): T {
  const prev = deferred;
  deferred = true;
  try {
    return build();
  } finally {
    deferred = prev;
    if (!prev) shared = new Float32Array(0);
  }
}

/** A weight tensor: the random initialisation, or a placeholder while weights are deferred. */
function initWeight(shape: number[], make: () => Tensor): Tensor {
  if (!deferred) return make();
  const n = shape.reduce((p, d) => p * d, 1);
  if (shared.length < n) shared = new Float32Array(n);
  const t = new Tensor(shared.subarray(0, n), shape);
  t.name = 'deferred placeholder';
  return t;
}

/** Whether t is a placeholder of withDeferredWeights (a loader that left one behind has a bug). */
export function isPlaceholder(t: Tensor): boolean {
  return t.name === 'deferred placeholder';
}

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, rng: Rng, opts: { bias?: boolean; std?: number } = {}) {
    super();
    this.weight = this.add('weight', parameter(initWeight([outFeatures, inFeatures], () => randn([outFeatures, inFeatures], rng, opts.std ?? 0.02))));
    this.bias = opts.bias ? this.add('bias', parameter(initWeight([outFeatures], () => Tensor.empty([outFeatures], 'f32', true)))) : null;
  }
  /**
   * Inside a checkpointed segment that keeps values, x Wᵀ is kept from the forward for the recomputation instead
   * of being computed twice (llama.ts sets this on q / k / v / o and the MLP's gate / up; nn/lora.ts keeps LoRA sums too).
   */
  keepInCheckpoint = false;
  /**
   * This product's value feeds only its checkpointed segment's output (llama.ts: the MLP's down projection, whose result
   * is added onto the residual stream and leaves the layer): the recomputation records x Wᵀ on zeros instead of
   * computing it, since the backward reads x and W, never this output. Gradients are unchanged.
   */
  unreadInRecompute = false;
  /** x (..., in) → (..., out) = x Wᵀ (+ b) */
  forward(x: Tensor): Tensor {
    let y: Tensor;
    if (this.unreadInRecompute && isRecomputing()) {
      y = recordMatmul(x, this.weight, Tensor.empty([...x.shape.slice(0, -1), this.outFeatures], 'f32', true), { transB: true });
    } else if (this.keepInCheckpoint) {
      const k = keptAcrossRecompute(() => matmul(x, this.weight, { transB: true }));
      y = k.replayed ? recordMatmul(x, this.weight, k.value, { transB: true }) : k.value;
    } else y = matmul(x, this.weight, { transB: true });
    return this.bias ? add(y, this.bias) : y;
  }
}

export class RMSNorm extends Module {
  readonly weight: Tensor;
  constructor(readonly size: number, readonly eps: number) {
    super();
    this.weight = this.add('weight', parameter(initWeight([size], () => ones([size]))));
  }
  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}

export class Embedding extends Module {
  readonly weight: Tensor;
  constructor(readonly vocabSize: number, readonly dim: number, rng: Rng, std = 0.02) {
    super();
    this.weight = this.add('weight', parameter(initWeight([vocabSize, dim], () => randn([vocabSize, dim], rng, std))));
  }
  forward(ids: Tensor): Tensor {
    return embedding(this.weight, ids);
  }
}
