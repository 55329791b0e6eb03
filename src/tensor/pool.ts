// pool.ts — reuse of storage buffers so a training step does not allocate without bound.
// Buffers are keyed by dtype and exact length; a disposed tensor's buffer goes back here and is handed
// out again uninitialised (callers that need zeros say so). The pool keeps at most `maxPooledBytes`.
import type { DType, Storage } from './dtype.js';
import { bytesPerElement, isFloat64Mode, storageFor, storageLength } from './dtype.js';

const free = new Map<string, Storage[]>();
let pooledBytes = 0;
let maxPooledBytes = 2 * 1024 ** 3;
const stats = { allocated: 0, reused: 0, released: 0 };

const key = (dtype: DType, n: number) => `${dtype}:${n}${dtype === 'f32' && isFloat64Mode() ? ':f64' : ''}`;

/** A buffer of n elements; contents are arbitrary unless zero is set. */
export function acquire(dtype: DType, n: number, zero: boolean): Storage {
  const list = free.get(key(dtype, storageLength(dtype, n)));
  const buf = list?.pop();
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
  if (bytes === 0 || pooledBytes + bytes > maxPooledBytes) return;
  if (buf instanceof Float64Array) return; // float64-mode buffers are for gradient checks only
  const k = key(dtype, buf.length);
  let list = free.get(k);
  if (!list) free.set(k, (list = []));
  list.push(buf);
  pooledBytes += bytes;
  stats.released++;
}

export function poolStats(): { allocated: number; reused: number; released: number; pooledBytes: number } {
  return { ...stats, pooledBytes };
}

export function setPoolLimit(bytes: number): void {
  maxPooledBytes = bytes;
}

export function clearPool(): void {
  free.clear();
  pooledBytes = 0;
}
