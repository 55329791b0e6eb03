// native/index.ts — adapter over the C++ addon (build/Release/zhongjing.node). The addon exports the
// Kernels signatures one-for-one; a kernel the addon lacks falls back to the reference backend and is
// listed in info().fallbacks, so a partial native backend is explicit, never silent.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Backend, BackendInfo, Kernels } from '../kernels.js';
import { referenceBackend } from '../reference/index.js';

interface Addon extends Partial<Kernels> {
  info(): { isa: string; threads: number; bf16Dot: boolean };
  setThreads(n: number): void;
}

const kernelNames = Object.keys(referenceBackend).filter((k) => k !== 'info') as (keyof Kernels)[];

let addon: Addon | null = null;

function addonPath(): string {
  // dist/src/backend/native → repository root
  const root = new URL('../../../../', import.meta.url);
  for (const p of ['build/Release/zhongjing.node', 'build/Debug/zhongjing.node']) {
    const u = new URL(p, root);
    if (existsSync(fileURLToPath(u))) return fileURLToPath(u);
  }
  throw new Error('build/Release/zhongjing.node not found (run `npm install` or `npx node-gyp rebuild`)');
}

export function loadAddon(): Addon {
  if (addon) return addon;
  const require = createRequire(import.meta.url);
  addon = require(addonPath()) as Addon;
  return addon;
}

export function loadNativeBackend(): { ok: true; backend: Backend } | { ok: false; error: string } {
  let a: Addon;
  try {
    a = loadAddon();
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
  const fallbacks: string[] = [];
  const impl: Record<string, unknown> = {};
  for (const name of kernelNames) {
    const fn = a[name];
    if (typeof fn === 'function') impl[name] = fn;
    else {
      impl[name] = referenceBackend[name];
      fallbacks.push(name);
    }
  }
  const backend = {
    ...(impl as unknown as Kernels),
    info(): BackendInfo {
      const i = a.info();
      return { name: 'native', isa: i.isa, threads: i.threads, fallbacks };
    },
  } satisfies Backend;
  return { ok: true, backend };
}

/** Resize the native thread pool (no-op error if the addon is absent). */
export function setNativeThreads(n: number): void {
  loadAddon().setThreads(n);
}
