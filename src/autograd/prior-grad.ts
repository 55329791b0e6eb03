// prior-grad.ts — while backward() runs a vjp, the gradient already gathered for one of that node's inputs (from its
// other consumers), so a vjp that ends in a GEMM can add its contribution onto it with beta = 1 instead of writing a
// fresh buffer that backward then adds in a separate pass. Holds the lookup only; backward.ts installs it.
import type { Tensor } from '../tensor/tensor.js';

type Lookup = (t: Tensor) => Tensor | undefined;
let lookup: Lookup | null = null;

/**
 * The gradient backward() holds so far for `t` (f32, t's shape), or undefined (none yet, or no backward running). A
 * vjp may add its gradient for t into it and return that same tensor; backward then adds nothing. Only a vjp called by
 * backward() may write into it.
 */
export function priorGradient(t: Tensor): Tensor | undefined {
  return lookup ? lookup(t) : undefined;
}

/** Run fn (one vjp) with `l` as the lookup, restoring the previous one after (a checkpoint's vjp nests a backward). */
export function withPriorLookup<R>(l: Lookup, fn: () => R): R {
  const prev = lookup;
  lookup = l;
  try {
    return fn();
  } finally {
    lookup = prev;
  }
}
