// clean.ts — the cleaning pipeline over a stream of records: normalise → de-identify → length / turn filters →
// exact dedup → near-duplicate removal. Every step is counted; in = out + every drop reason, always.
// Memory is bounded by the dedup indexes (compact typed arrays, see minhash.ts), not by the stream.
import { deidentify, emptyCounts, type DeidCounts, type DeidOptions } from './deid.js';
import { Hash64Set, hash64, NearDupIndex, type MinHashOptions } from './minhash.js';
import { dedupKey, mapTexts, normalizeText, textLength } from './normalize.js';
import type { DataRecord } from './types.js';

export interface CleanOptions {
  normalize?: boolean;
  deid?: boolean | DeidOptions;
  dedup?: boolean;
  nearDup?: boolean | MinHashOptions;
  minChars?: number;
  maxChars?: number;
  /** for conversations: user+assistant turns (system not counted) */
  minTurns?: number;
  maxTurns?: number;
}

export interface CleanReport {
  recordsIn: number;
  recordsOut: number;
  /** records whose text the normaliser changed */
  normalized: number;
  /** records with at least one replacement, and replacements by type */
  deidRecords: number;
  deid: DeidCounts;
  dropped: { empty: number; tooShort: number; tooLong: number; tooFewTurns: number; tooManyTurns: number; exactDup: number; nearDup: number };
  indexBytes: number;
  /** records seen when the near-dup index hit its memory cap (later ones were checked but not indexed) */
  nearDupIndexFullAt?: number;
}

export function newCleanReport(): CleanReport {
  return {
    recordsIn: 0, recordsOut: 0, normalized: 0, deidRecords: 0, deid: emptyCounts(),
    dropped: { empty: 0, tooShort: 0, tooLong: 0, tooFewTurns: 0, tooManyTurns: 0, exactDup: 0, nearDup: 0 },
    indexBytes: 0,
  };
}

export function cleanBalanced(r: CleanReport): boolean {
  return r.recordsIn === r.recordsOut + Object.values(r.dropped).reduce((a, b) => a + b, 0);
}

function hasEmptyText(r: DataRecord): boolean {
  let empty = false;
  mapTexts(r, (s) => { if (s.trim() === '') empty = true; return s; });
  return empty;
}

/** A stateful cleaner: feed records one by one; `push` returns the cleaned record or null when dropped. */
export class Cleaner {
  readonly report = newCleanReport();
  private exact: Hash64Set | null;
  private near: NearDupIndex | null;
  constructor(private readonly o: CleanOptions = {}) {
    this.exact = o.dedup === false ? null : new Hash64Set();
    this.near = o.nearDup ? new NearDupIndex(typeof o.nearDup === 'object' ? o.nearDup : {}) : null;
  }

  push<T extends DataRecord>(r: T): T | null {
    const rep = this.report, o = this.o;
    rep.recordsIn++;
    if (o.normalize !== false) {
      let changed = false;
      mapTexts(r, (s) => { const t = normalizeText(s); if (t !== s) changed = true; return t; });
      if (changed) rep.normalized++;
    }
    if (hasEmptyText(r)) { rep.dropped.empty++; return null; }
    if (o.deid) {
      const before = Object.values(rep.deid).reduce((a, b) => a + b, 0);
      const dopts = typeof o.deid === 'object' ? o.deid : {};
      mapTexts(r, (s) => deidentify(s, rep.deid, dopts));
      if (Object.values(rep.deid).reduce((a, b) => a + b, 0) > before) rep.deidRecords++;
    }
    const len = textLength(r);
    if (o.minChars !== undefined && len < o.minChars) { rep.dropped.tooShort++; return null; }
    if (o.maxChars !== undefined && len > o.maxChars) { rep.dropped.tooLong++; return null; }
    if (r.kind === 'conversation') {
      const n = r.turns.filter((t) => t.role !== 'system').length;
      if (o.minTurns !== undefined && n < o.minTurns) { rep.dropped.tooFewTurns++; return null; }
      if (o.maxTurns !== undefined && n > o.maxTurns) { rep.dropped.tooManyTurns++; return null; }
    }
    const key = dedupKey(r);
    if (this.exact && !this.exact.add(hash64(`${r.kind}\u0000${key}`))) { rep.dropped.exactDup++; return null; }
    if (this.near && this.near.isNearDuplicate(key)) { rep.dropped.nearDup++; return null; }
    rep.recordsOut++;
    rep.indexBytes = (this.exact?.bytes() ?? 0) + (this.near?.bytes() ?? 0);
    if (this.near?.indexFullAt !== undefined) rep.nearDupIndexFullAt = this.near.indexFullAt;
    return r;
  }
}

export async function* cleanStream<T extends DataRecord>(src: AsyncIterable<T>, cleaner: Cleaner): AsyncGenerator<T> {
  for await (const r of src) {
    const c = cleaner.push(r);
    if (c) yield c;
  }
}
