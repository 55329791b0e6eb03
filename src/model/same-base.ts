// same-base.ts — whether two model directories hold the same base weights, and whether two PEFT adapter folders are
// the same adapter, decided from the bytes on disk (tensor names, dtypes, shapes, then the data in 4 MiB chunks), so
// a stage can load one base for both and be sure it is not mixing two models. Nothing is loaded into a model here,
// and a recorded hash or path is never trusted in place of the bytes.
import { closeSync, openSync, readFileSync, readSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile, openSafetensorsDir, type StEntry, type TensorSource } from './safetensors.js';
import { parseAdapterConfig } from './lora-io.js';

const CHUNK = 4 << 20;

/** Positioned reads of whole files, one descriptor per file, for chunked comparison. */
class Reader {
  private fds = new Map<string, number>();
  read(file: string, buf: Buffer, len: number, offset: number): void {
    let fd = this.fds.get(file);
    if (fd === undefined) { fd = openSync(file, 'r'); this.fds.set(file, fd); }
    let got = 0;
    while (got < len) {
      const n = readSync(fd, buf, got, len - got, offset + got);
      if (n === 0) throw new Error(`[same base] ${file}: unexpected end of file at offset ${offset + got}`);
      got += n;
    }
  }
  close(): void { for (const fd of this.fds.values()) closeSync(fd); this.fds.clear(); }
}

function sameData(r: Reader, a: StEntry & { file: string }, b: StEntry & { file: string }, bufA: Buffer, bufB: Buffer): boolean {
  if (a.offset === b.offset && realpathSync(a.file) === realpathSync(b.file)) return true; // the very same bytes
  for (let off = 0; off < a.byteLength; off += bufA.length) {
    const n = Math.min(bufA.length, a.byteLength - off);
    r.read(a.file, bufA, n, a.offset + off);
    r.read(b.file, bufB, n, b.offset + off);
    if (bufA.compare(bufB, 0, n, 0, n) !== 0) return false;
  }
  return true;
}

/** The first difference between two tensor sources (names, dtype, shape, bytes), or null when they are identical. */
function compareSources(a: TensorSource, b: TensorSource, chunkBytes = CHUNK): string | null {
  const na = a.names().sort(), nb = b.names().sort();
  const onlyA = na.filter((n) => !nb.includes(n)), onlyB = nb.filter((n) => !na.includes(n));
  if (onlyA.length || onlyB.length)
    return `tensor names differ (${onlyA.length ? `only in the first: ${onlyA.slice(0, 2).join(', ')}` : `only in the second: ${onlyB.slice(0, 2).join(', ')}`})`;
  const r = new Reader();
  const bufA = Buffer.alloc(chunkBytes), bufB = Buffer.alloc(chunkBytes);
  try {
    for (const n of na) {
      const ea = a.entry(n), eb = b.entry(n);
      if (ea.dtype !== eb.dtype) return `'${n}' is ${ea.dtype} in one and ${eb.dtype} in the other`;
      if (ea.shape.join() !== eb.shape.join()) return `'${n}' has shape [${ea.shape}] in one and [${eb.shape}] in the other`;
      if (!sameData(r, ea, eb, bufA, bufB)) return `'${n}' holds different values`;
    }
  } finally {
    r.close();
  }
  return null;
}

/**
 * Whether two model directories hold byte-identical base weights (model.safetensors or its shards; adapters and
 * value heads are not part of the base). Returns null when they do, else the first difference in words.
 */
export function compareBaseWeights(dirA: string, dirB: string, chunkBytes = CHUNK): string | null {
  const a = openSafetensorsDir(dirA);
  try {
    const b = openSafetensorsDir(dirB);
    try { return compareSources(a, b, chunkBytes); } finally { b.close(); }
  } finally {
    a.close();
  }
}

/** Whether two PEFT folders are the same adapter: equal parsed adapter_config.json and identical tensors. */
export function sameAdapterFolder(dirA: string, dirB: string): boolean {
  const cfg = (d: string) => {
    const p = join(d, 'adapter_config.json');
    return JSON.stringify(parseAdapterConfig(JSON.parse(readFileSync(p, 'utf8')), p));
  };
  if (cfg(dirA) !== cfg(dirB)) return false;
  const a = new SafetensorsFile(join(dirA, 'adapter_model.safetensors'));
  try {
    const b = new SafetensorsFile(join(dirB, 'adapter_model.safetensors'));
    try { return compareSources(a, b) === null; } finally { b.close(); }
  } finally {
    a.close();
  }
}
