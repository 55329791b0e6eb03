// grad-mode.ts — whether ops record autograd nodes. Backward passes and inference run without.
let enabled = true;

export function isGradEnabled(): boolean {
  return enabled;
}

/** Run fn without recording autograd nodes. */
export function noGrad<R>(fn: () => R): R {
  const prev = enabled;
  enabled = false;
  try {
    return fn();
  } finally {
    enabled = prev;
  }
}

/** Run fn with autograd recording on (activation checkpointing recomputes a forward inside a backward pass). */
export function withGrad<R>(fn: () => R): R {
  const prev = enabled;
  enabled = true;
  try {
    return fn();
  } finally {
    enabled = prev;
  }
}
