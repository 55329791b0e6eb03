// pool.ts — reuse of storage buffers so a training step does not allocate without bound.
// Buffers are keyed by dtype and exact length; a disposed tensor's buffer goes back here and is handed
// out again uninitialised (callers that need zeros say so). The pool keeps at most `maxPooledBytes`; when a
// release would exceed it, the least recently released lengths are dropped first (to the garbage collector),
// so shapes that changed (a new batch length, the next training stage) stop holding memory.
import type { DType, Storage } from './dtype.js';
import { bytesPerElement, isFloat64Mode, storageFor, storageLength } from './dtype.js';

/** Default cap: one training step's working set for the demo model, far less than a stage's many shapes. */
export const DEFAULT_POOL_BYTES = 256 * 1024 ** 2;

// Map iteration order is insertion order: re-inserting a key on release makes the first key the least recent.
const free = new Map<string, { dtype: DType; bufs: Storage[] }>();
let pooledBytes = 0;
let maxPooledBytes = DEFAULT_POOL_BYTES;
let highWater = 0;
const stats = { allocated: 0, reused: 0, released: 0, evicted: 0 };

const key = (dtype: DType, n: number) => `${dtype}:${n}${dtype === 'f32' && isFloat64Mode() ? ':f64' : ''}`;

/** A buffer of n elements; contents are arbitrary unless zero is set. */
export function acquire(dtype: DType, n: number, zero: boolean): Storage {
  const entry = free.get(key(dtype, storageLength(dtype, n)));
  const buf = entry?.bufs.pop();
  if (buf) {
    pooledBytes -= buf.length * bytesPerElement(dtype);
    stats.reused++;
    if (zero) buf.fill(0);
    return buf;
  }
  stats.allocated++;
  return storageFor(dtype, n); // fresh typed arrays are zero-filled
}

export function release(dtype: DType, buf: Storage): void {
  // views share memory with another tensor's buffer: never pool them
  if (buf.byteOffset !== 0 || buf.byteLength !== buf.buffer.byteLength) return;
  const bytes = buf.length * bytesPerElement(dtype);
  if (bytes === 0 || bytes > maxPooledBytes) return;
  if (buf instanceof Float64Array) return; // float64-mode buffers are for gradient checks only
  const k = key(dtype, buf.length);
  let entry = free.get(k);
  if (entry) free.delete(k); // move to the most recent end
  else entry = { dtype, bufs: [] };
  free.set(k, entry);
  evict(pooledBytes + bytes - maxPooledBytes, k);
  entry.bufs.push(buf);
  pooledBytes += bytes;
  if (pooledBytes > highWater) highWater = pooledBytes;
  stats.released++;
}

// Drop at least `need` bytes, least recently released lengths first, never the key being released into.
function evict(need: number, keep: string): void {
  for (const [k, e] of free) {
    if (need <= 0) return;
    if (k === keep) continue;
    while (e.bufs.length && need > 0) {
      const b = e.bufs.pop()!;
      const n = b.length * bytesPerElement(e.dtype);
      pooledBytes -= n;
      need -= n;
      stats.evicted++;
    }
    if (!e.bufs.length) free.delete(k);
  }
  // only buffers of `keep` itself are left: drop those too
  const e = free.get(keep);
  while (need > 0 && e && e.bufs.length) {
    const b = e.bufs.pop()!;
    const n = b.length * bytesPerElement(e.dtype);
    pooledBytes -= n;
    need -= n;
    stats.evicted++;
  }
}

export interface PoolStats {
  allocated: number;
  reused: number;
  released: number;
  /** buffers dropped to stay under the cap */
  evicted: number;
  pooledBytes: number;
  /** the most bytes the pool has held since the last resetPoolHighWater */
  highWaterBytes: number;
  limitBytes: number;
}

export function poolStats(): PoolStats {
  return { ...stats, pooledBytes, highWaterBytes: highWater, limitBytes: maxPooledBytes };
}

/** Cap the pool (bytes); buffers over a lower cap are dropped now. Returns the previous cap. */
export function setPoolLimit(bytes: number): number {
  const prev = maxPooledBytes;
  maxPooledBytes = bytes;
  if (pooledBytes > bytes) evict(pooledBytes - bytes, '');
  return prev;
}

export function resetPoolHighWater(): void {
  highWater = pooledBytes;
}

export function clearPool(): void {
  free.clear();
  pooledBytes = 0;
}
