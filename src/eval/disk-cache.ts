// disk-cache.ts — an append-only JSONL key → value store for answers and judge replies, so interrupted runs resume
// and repeated runs cost nothing. One line per entry, the last entry for a key wins; a torn last line (a crash
// mid-write) is ignored with a count. No eviction and no locking across processes: one writer per file.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createHash } from 'node:crypto';

export function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

export class DiskCache<V> {
  private readonly map = new Map<string, V>();
  /** lines that could not be parsed when the file was opened */
  readonly badLines: number = 0;
  hits = 0;
  misses = 0;

  constructor(readonly path: string | null) {
    if (!path || !existsSync(path)) return;
    let bad = 0;
    const text = readFileSync(path, 'utf8');
    // a torn last line gets its newline now, so the next entry does not glue onto it
    if (text.length && !text.endsWith('\n')) appendFileSync(path, '\n');
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        const e = JSON.parse(line) as { k?: unknown; v?: V };
        if (typeof e.k !== 'string' || !('v' in e)) { bad++; continue; }
        this.map.set(e.k, e.v as V);
      } catch { bad++; }
    }
    this.badLines = bad;
  }

  get size(): number { return this.map.size; }

  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) this.misses++; else this.hits++;
    return v;
  }

  has(key: string): boolean { return this.map.has(key); }

  set(key: string, value: V): void {
    this.map.set(key, value);
    if (!this.path) return;
    mkdirSync(dirname(this.path), { recursive: true });
    // one appendFileSync per entry: a line is either whole or torn at the end, never interleaved
    appendFileSync(this.path, JSON.stringify({ k: key, v: value }) + '\n');
  }
}
