// backward.ts — reverse-mode differentiation over the graph of GradNodes (the tape is the graph itself,
// ordered by a depth-first topological sort from the root). Leaf gradients accumulate across calls,
// so several backward() calls before an optimiser step sum their gradients (gradient accumulation).
import { Tensor, shapeStr } from '../tensor/tensor.js';
import { untrack } from '../tensor/scope.js';
import { noGrad } from './grad-mode.js';
import { withPriorLookup } from './prior-grad.js';
import { backend } from '../backend/index.js';

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const state = new Map<Tensor, 1 | 2>(); // 1 = on stack, 2 = done
  const stack: [Tensor, number][] = [[root, 0]];
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    if (i === 0) {
      if (state.get(t) === 2) { stack.pop(); continue; }
      state.set(t, 1);
    }
    const inputs = t.node ? t.node.inputs : [];
    if (i < inputs.length) {
      top[1]++;
      const c = inputs[i]!;
      if (c.requiresGrad && state.get(c) !== 2 && state.get(c) !== 1) stack.push([c, 0]);
      continue;
    }
    state.set(t, 2);
    order.push(t);
    stack.pop();
  }
  return order.reverse(); // root first
}

function accumulate(into: Tensor, g: Tensor): void {
  const a = into.f32('backward'), b = g.f32('backward');
  backend().binary(0, a, b, a, [a.length], [1], [1]);
}

function copyOf(t: Tensor): Tensor {
  const out = Tensor.empty(t.shape, 'f32');
  backend().affine(t.f32('backward'), out.f32(), 1, 0);
  return out;
}

export interface BackwardOptions {
  /** keep the graph's nodes so backward can run through it again */
  retainGraph?: boolean;
}

/**
 * Gradients of `root` w.r.t. every tensor with requiresGrad that it depends on. `grad` defaults to 1 for a
 * scalar root (a number scales that seed). Leaf gradients (tensors without a node) accumulate into .grad; intermediate gradients
 * are freed as soon as they have been propagated.
 */
export function backward(root: Tensor, grad?: Tensor | number, opts: BackwardOptions = {}): void {
  if (!root.requiresGrad) throw new Error('[backward] the root does not require grad (was it computed under noGrad?)');
  if (grad === undefined || typeof grad === 'number') {
    // a scalar root's seed: 1, or the given factor (gradient accumulation seeds 1/micro-batches)
    if (root.size !== 1) throw new Error(`[backward] root of shape ${shapeStr(root.shape)} is not a scalar: pass its gradient`);
    const k = grad ?? 1;
    grad = Tensor.empty(root.shape, 'f32');
    grad.data.fill(k);
  } else if (grad.shape.join() !== root.shape.join()) {
    throw new Error(`[backward] gradient shape ${shapeStr(grad.shape)} differs from root ${shapeStr(root.shape)}`);
  }
  const order = topoOrder(root);
  const grads = new Map<Tensor, Tensor>([[root, grad]]);
  noGrad(() => {
    for (const t of order) {
      const g = grads.get(t);
      if (!g) continue;
      if (!t.node) {
        // a leaf: accumulate into .grad, which outlives any scope
        if (t.grad) {
          accumulate(t.grad, g);
          if (g !== grad) g.dispose();
        } else {
          t.grad = g.keep();
          untrack(g);
        }
        continue;
      }
      grads.delete(t);
      const node = t.node;
      // A vjp may hand back g itself or the same tensor twice (add(x, x)): give each input its own. g itself goes on
      // uncopied to its first taker (it is this node's to give away, and accumulating into it is then harmless),
      // except the caller's seed `grad`, which must come back unchanged.
      const used = new Set<Tensor>();
      let passed = false;
      // a vjp may add into the gradient an input already has (prior-grad.ts): such a result is neither copied nor added
      const prior = (x: Tensor) => (node.inputs.includes(x) ? grads.get(x) : undefined);
      const inputGrads = withPriorLookup(prior, () => node.backward(g)).map((gi, i) => {
        if (!gi) return gi;
        if (gi === grads.get(node.inputs[i]!)) return gi;
        const passThrough = gi === g && g !== grad && !passed;
        if (passThrough) passed = true;
        const own = !passThrough && (gi === g || used.has(gi)) ? copyOf(gi) : gi;
        used.add(own);
        return own;
      });
      if (g !== grad && !passed) g.dispose();
      node.inputs.forEach((input, i) => {
        const gi = inputGrads[i];
        const prev = grads.get(input);
        if (gi && prev === gi) return; // the vjp added into the gradient gathered so far
        if (!gi || !input.requiresGrad) {
          if (gi && (gi !== g || passed)) gi.dispose(); // a passed-on g is ours to free too
          return;
        }
        if (gi.shape.join() !== input.shape.join())
          throw new Error(`[backward] ${node.op} produced a gradient of shape ${shapeStr(gi.shape)} for an input of shape ${shapeStr(input.shape)}`);
        if (prev) {
          accumulate(prev, gi);
          gi.dispose();
        } else grads.set(input, gi);
      });
      if (!opts.retainGraph) t.node = null;
    }
  });
}

/** Clear .grad of the given tensors (before the next accumulation window). */
export function zeroGrad(params: Iterable<Tensor>): void {
  for (const p of params) {
    if (p.grad) {
      p.grad.kept = false;
      p.grad.dispose();
      p.grad = null;
    }
  }
}
