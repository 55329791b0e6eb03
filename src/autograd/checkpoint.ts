// checkpoint.ts — activation checkpointing (Chen et al. 2016, "Training deep nets with sublinear memory cost"):
// a segment's forward runs, its output is kept and its internal graph is dropped; the backward pass recomputes
// the segment from its saved input and differentiates through the recomputation. The recomputation repeats the
// forward exactly (same ops, same inputs, and the given generators replayed from the same state), so gradients
// are bitwise those of the plain path. An op inside may keep an expensive value for the recomputation instead
// (keptAcrossRecompute: the same bits come back, its node is recorded again on the recomputed inputs). Holds no
// model knowledge: llama.ts decides what a segment is, the ops what they keep.
import { Tensor } from '../tensor/tensor.js';
import { tidy } from '../tensor/scope.js';
import type { Rng } from '../util/rng.js';
import { isGradEnabled, withGrad } from './grad-mode.js';
import { backward } from './backward.js';
import { phase } from '../backend/profile.js';

/**
 * y = fn(x), keeping only x (and y) for the backward pass. `rngs` are the generators fn draws from (LoRA dropout):
 * their state before the forward is replayed during the recomputation, then put back where it was. Outside
 * recording (noGrad) this is fn(x).
 */
export function checkpoint(fn: (x: Tensor) => Tensor, x: Tensor, rngs: readonly Rng[] = [], keep = false): Tensor {
  if (!isGradEnabled()) return fn(x);
  const before = rngs.map((r) => r.saveState());
  const kept: Kept = { mode: keep ? 'save' : 'off', values: [], next: 0 };
  // Run with recording on, so the forward is the training forward (dropout included), then cut the output
  // loose: the segment's activations are then unreachable and the enclosing tidy gives them back. Kept values
  // survive as the checkpoint node's saved tensors, cut from the forward's graph.
  const y = tidy(() => {
    const out = withKept(kept, () => fn(x));
    for (const t of kept.values) t.node = null;
    out.node = { op: 'checkpoint forward', inputs: [], saved: kept.values, backward: () => [] };
    return out;
  });
  if (!y.requiresGrad) { y.node = null; return y; } // nothing inside trains
  y.node = {
    op: 'checkpoint',
    inputs: [x],
    saved: kept.values,
    backward: (g: Tensor) => {
      kept.mode = kept.values.length ? 'replay' : 'off';
      kept.next = 0;
      try {
        return [recompute((h) => withKept(kept, () => fn(h)), x, g, rngs, before)];
      } finally {
        kept.mode = 'off';
        for (const t of kept.values) t.node = null; // drop the recomputation's graph
      }
    },
  };
  return y;
}

let recomputing = 0;

/**
 * Whether a checkpointed segment is being recomputed for its backward. A product whose value only feeds the segment's
 * output (which the backward never reads: only its graph) may then be recorded without being computed.
 */
export function isRecomputing(): boolean {
  return recomputing > 0;
}

interface Kept { mode: 'off' | 'save' | 'replay'; values: Tensor[]; next: number }
let current: Kept | null = null;

function withKept<R>(k: Kept, fn: () => R): R {
  const prev = current;
  current = k;
  try {
    return fn();
  } finally {
    current = prev;
  }
}

/**
 * For an op inside a checkpointed segment that keeps its value: during the segment's forward, `compute()` runs and
 * its result is remembered; during the recomputation the remembered tensor comes back (same order, same bits) with
 * `replayed: true`, and the caller records its autograd node on it again. Elsewhere this is compute().
 */
export function keptAcrossRecompute(compute: () => Tensor): { value: Tensor; replayed: boolean } {
  const k = current;
  if (!k || k.mode === 'off') return { value: compute(), replayed: false };
  if (k.mode === 'save') {
    const v = compute();
    k.values.push(v);
    return { value: v, replayed: false };
  }
  const v = k.values[k.next++];
  if (!v) throw new Error('[checkpoint] the recomputation asked for more kept values than the forward kept');
  return { value: v, replayed: true };
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
      recomputing++;
      let y: Tensor;
      try {
        y = phase('recompute', () => fn(leaf), 'recompute: '); // profiled apart from the backward it sits in
      } finally {
        recomputing--;
      }
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
