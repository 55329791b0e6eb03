// scope.ts — tidy(): dispose every tensor made inside a function except what it returns, what is kept
// (parameters, gradients, optimiser state) and what a surviving autograd graph still needs.
// Without scopes tensors are left to the garbage collector (correct, just not pooled).
import type { Tensor } from './tensor.js';

const stack: Set<Tensor>[] = [];

/** Called by the Tensor constructor. */
export function track(t: Tensor): void {
  const top = stack[stack.length - 1];
  if (top) top.add(t);
}

/** Stop tracking t in the current scopes (it outlives them). */
export function untrack(t: Tensor): void {
  for (const s of stack) s.delete(t);
}

function collect(result: unknown, into: Set<Tensor>): void {
  if (!result || typeof result !== 'object') return;
  if ('shape' in (result as object) && 'dtype' in (result as object)) {
    into.add(result as Tensor);
    return;
  }
  for (const v of Array.isArray(result) ? result : Object.values(result as object)) collect(v, into);
}

/** Everything reachable from `roots` through autograd nodes (inputs and saved tensors) and grads. */
function reachable(roots: Set<Tensor>): Set<Tensor> {
  const seen = new Set<Tensor>();
  const work = [...roots];
  while (work.length) {
    const t = work.pop()!;
    if (seen.has(t)) continue;
    seen.add(t);
    if (t.grad) work.push(t.grad);
    if (t.node) work.push(...t.node.inputs, ...t.node.saved);
  }
  return seen;
}

/** Tensors anywhere in the result (arrays and plain objects are searched) survive; fn must be synchronous. */
export function tidy<R>(fn: () => R): R {
  const scope = new Set<Tensor>();
  stack.push(scope);
  let result: R;
  try {
    result = fn();
  } finally {
    stack.pop();
  }
  if (result instanceof Promise) throw new Error('[tidy] the function must be synchronous');
  const roots = new Set<Tensor>();
  collect(result, roots);
  const live = reachable(roots);
  const parent = stack[stack.length - 1];
  for (const t of scope) {
    if (live.has(t) || t.kept) {
      if (parent && !t.kept) parent.add(t); // survivors belong to the enclosing scope
      continue;
    }
    t.dispose();
  }
  return result;
}
