// helpers.ts — shared test utilities: seeded random tensors, backend switching, difference reports, chromium,
// temporary directories that are removed when the test process exits.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { Tensor, type Shape } from '../src/tensor/tensor.js';
import { setFloat64Mode } from '../src/tensor/dtype.js';
import { clearPool } from '../src/tensor/pool.js';
import { setBackend, type Backend } from '../src/backend/index.js';
import { referenceBackend } from '../src/backend/reference/index.js';
import { loadNativeBackend } from '../src/backend/native/index.js';
import { Rng } from '../src/util/rng.js';

export { Rng };

const tempDirs: string[] = [];
let cleanupRegistered = false;

/** A fresh directory under the OS temp dir (name starting with prefix), deleted with its contents at process exit. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  if (!cleanupRegistered) {
    cleanupRegistered = true;
    process.on('exit', () => { for (const d of tempDirs) rmSync(d, { recursive: true, force: true }); });
  }
  return dir;
}

export function randT(rng: Rng, shape: Shape, lo = -1, hi = 1): Tensor {
  const t = Tensor.empty(shape, 'f32');
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = lo + (hi - lo) * rng.next();
  return t;
}

export function idsT(rng: Rng, shape: Shape, V: number): Tensor {
  const t = Tensor.empty(shape, 'i32');
  const d = t.data as Int32Array;
  for (let i = 0; i < d.length; i++) d[i] = rng.int(V);
  return t;
}

export function i32T(values: number[], shape?: Shape): Tensor {
  const t = Tensor.empty(shape ?? [values.length], 'i32');
  (t.data as Int32Array).set(values);
  return t;
}

/** Copy of a tensor's values into a fresh tensor (same dtype) — survives backend or mode switches. */
export function cloneT(t: Tensor): Tensor {
  const c = Tensor.empty(t.shape, t.dtype);
  for (let i = 0; i < t.size; i++) (c.data as Float32Array)[i] = (t.data as Float32Array)[i]!;
  return c;
}

export interface Diff {
  maxAbs: number;
  maxRel: number;
}

export function diff(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-3): Diff {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let maxAbs = 0, maxRel = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = b[i]!;
    if (Number.isNaN(x) !== Number.isNaN(y)) return { maxAbs: Infinity, maxRel: Infinity };
    if (x === y) continue; // also equal infinities
    const d = Math.abs(x - y);
    maxAbs = Math.max(maxAbs, d);
    maxRel = Math.max(maxRel, d / Math.max(Math.abs(x), Math.abs(y), floor));
  }
  return { maxAbs, maxRel };
}

export function withBackend<R>(b: Backend, fn: () => R): R {
  const prev = setBackend(b);
  try {
    return fn();
  } finally {
    setBackend(prev);
  }
}

/** Run fn on the reference backend with float64 storage (for finite-difference checks). */
export function inFloat64<R>(fn: () => R): R {
  return withBackend(referenceBackend, () => {
    setFloat64Mode(true);
    clearPool();
    try {
      return fn();
    } finally {
      setFloat64Mode(false);
      clearPool();
    }
  });
}

/** The native backend, or null with the reason (tests skip with it). */
export function nativeOrSkip(): { backend: Backend | null; reason: string } {
  const n = loadNativeBackend();
  return n.ok ? { backend: n.backend, reason: '' } : { backend: null, reason: `native addon unavailable: ${n.error}` };
}

export { referenceBackend };

/** Debian's chromium for the browser tests (never a downloaded browser), or undefined where none is installed. */
export function findChromium(): string | undefined {
  if (existsSync('/usr/bin/chromium')) return '/usr/bin/chromium';
  try {
    return execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Run a `--json` command's function with console silenced; assert exit 0 and return its one JSON line parsed. */
export async function jsonOfCommand(run: (args: string[]) => Promise<number>, args: string[]): Promise<Record<string, any>> {
  const log = console.log, err = console.error;
  const lines: string[] = [];
  console.log = (s: string) => lines.push(s);
  console.error = () => {};
  try {
    if ((await run(args)) !== 0) throw new Error(`[test] command exited non-zero: ${args.join(' ')}`);
  } finally {
    console.log = log;
    console.error = err;
  }
  return JSON.parse(lines[0]!);
}
