// index.ts — picks the process's backend: ZJ_BACKEND=reference|native, else native when the addon loads.
// The choice is visible through backendInfo() (`zhongjing info`).
import type { Backend, BackendInfo } from './kernels.js';
import { referenceBackend } from './reference/index.js';
import { loadNativeBackend } from './native/index.js';

let current: Backend | null = null;

function choose(): Backend {
  const want = process.env.ZJ_BACKEND;
  if (want && want !== 'reference' && want !== 'native')
    throw new Error(`[backend] ZJ_BACKEND must be 'reference' or 'native', got '${want}'`);
  if (want === 'reference') return referenceBackend;
  const native = loadNativeBackend();
  if (native.ok) return native.backend;
  if (want === 'native') throw new Error(`[backend] ZJ_BACKEND=native but the addon did not load: ${native.error}`);
  process.emitWarning(`[backend] native addon unavailable (${native.error}); using the slow reference backend`);
  return referenceBackend;
}

export function backend(): Backend {
  return (current ??= choose());
}

/** Switch the process's backend (tests compare backends this way). Returns the previous one. */
export function setBackend(b: Backend): Backend {
  const prev = backend();
  current = b;
  return prev;
}

export function backendInfo(): BackendInfo {
  return backend().info();
}

export type { Backend, BackendInfo, Kernels } from './kernels.js';
