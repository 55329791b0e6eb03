// checkpoint.ts — activation checkpointing (Chen et al. 2016, "Training deep nets with sublinear memory cost"):
// a segment's forward runs, its output is kept and its internal graph is dropped; the backward pass recomputes
// the segment from its saved input and differentiates through the recomputation. The recomputation repeats the
// forward exactly (same ops, same inputs, and the given generators replayed from the same state), so gradients
// are bitwise those of the plain path. Holds no model knowledge: llama.ts decides what a segment is.
import { Tensor } from '../tensor/tensor.js';
import { tidy } from '../tensor/scope.js';
import type { Rng } from '../util/rng.js';
import { isGradEnabled, withGrad } from './grad-mode.js';
import { backward } from './backward.js';

/**
 * y = fn(x), keeping only x (and y) for the backward pass. `rngs` are the generators fn draws from (LoRA dropout):
 * their state before the forward is replayed during the recomputation, then put back where it was. Outside
 * recording (noGrad) this is fn(x).
 */
export function checkpoint(fn: (x: Tensor) => Tensor, x: Tensor, rngs: readonly Rng[] = []): Tensor {
  if (!isGradEnabled()) return fn(x);
  const before = rngs.map((r) => r.saveState());
  // Run with recording on, so the forward is the training forward (dropout included), then cut the output
  // loose: the segment's activations are then unreachable and the enclosing tidy gives them back.
  const y = tidy(() => {
    const out = fn(x);
    out.node = null;
    return out;
  });
  if (!y.requiresGrad) return y; // nothing inside trains
  y.node = {
    op: 'checkpoint',
    inputs: [x],
    saved: [],
    backward: (g: Tensor) => [recompute(fn, x, g, rngs, before)],
  };
  return y;
}

// Recompute fn on a leaf standing in for x, backpropagate g through it (parameters' .grad accumulate there),
// and hand back x's gradient.
function recompute(fn: (x: Tensor) => Tensor, x: Tensor, g: Tensor, rngs: readonly Rng[], before: Uint32Array[]): Tensor | null {
  const now = rngs.map((r) => r.saveState());
  rngs.forEach((r, i) => r.restoreState(before[i]!));
  try {
    return withGrad(() => tidy(() => {
      const leaf = Tensor.viewOf(x, x.shape);
      leaf.requiresGrad = x.requiresGrad;
      const y = fn(leaf);
      if (!y.requiresGrad) throw new Error('[checkpoint] the recomputed segment no longer requires grad: did trainable state change between forward and backward?');
      backward(y, g);
      const dx = leaf.grad;
      leaf.grad = null;
      if (dx) dx.kept = false;
      return dx;
    }));
  } finally {
    rngs.forEach((r, i) => r.restoreState(now[i]!));
  }
}
