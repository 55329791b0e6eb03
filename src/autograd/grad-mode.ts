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
