// atomic.ts — crash-safe file writes: write a temporary file beside the target, fsync it, rename it over
// the target, fsync the directory. A reader sees the old file or the new one, never half of one.
// No retries or locking: one writer per path is assumed.
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

/** Write the chunks, in order, to `path` atomically. */
export function atomicWrite(path: string, chunks: Iterable<Uint8Array | string>): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${Date.now()}`);
  const fd = openSync(tmp, 'w');
  try {
    for (const c of chunks) {
      const buf = typeof c === 'string' ? Buffer.from(c, 'utf8') : c;
      let off = 0;
      while (off < buf.byteLength) off += writeSync(fd, buf, off, buf.byteLength - off);
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  syncDir(dir);
}

export function atomicWriteJson(path: string, value: unknown): void {
  atomicWrite(path, [JSON.stringify(value, null, 2) + '\n']);
}

function syncDir(dir: string): void {
  // makes the rename itself durable; some filesystems refuse fsync on directories, which is harmless
  try {
    const fd = openSync(dir, 'r');
    try { fsyncSync(fd); } finally { closeSync(fd); }
  } catch { /* not supported here */ }
}
