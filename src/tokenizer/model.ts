// model.ts — the BPE model: vocabulary, ranked merges, and applying merges to one pre-token (byte-level or
// character-level with `<0xNN>` byte fallback). No pre-tokenization, added tokens or files here.

import { BYTE_TO_CHAR, utf8Encode } from './bytes.js';
import { PairTable } from './bpe-learn.js';

export interface BpeModelSpec {
  /** token string → id */
  vocab: Map<string, number>;
  /** merges in rank order, as token strings */
  merges: [string, string][];
  /** symbols are raw bytes mapped through the GPT-2 table (byte-level BPE) rather than characters */
  byteLevel: boolean;
  /** characters missing from the vocabulary become `<0xNN>` tokens (SentencePiece-style) */
  byteFallback: boolean;
  unkToken: string | null;
  /** consecutive unknown characters become one unk token */
  fuseUnk: boolean;
  /** a pre-token that is itself in the vocabulary is emitted whole (LLaMA-3 style) */
  ignoreMerges: boolean;
}

const RANK_SHIFT = 2 ** 24;
const TEXT_ENCODER = new TextEncoder(); // heap key = rank * 2^24 + position; ranks < 2^28, positions < 2^24 stay exact in a double

export class BpeModel {
  readonly vocab: Map<string, number>;
  /** id → token string ('' for holes) */
  readonly idToToken: string[];
  readonly merges: [string, string][];
  readonly byteLevel: boolean;
  readonly byteFallback: boolean;
  readonly unkToken: string | null;
  readonly fuseUnk: boolean;
  readonly ignoreMerges: boolean;
  /** (a, b) → rank */
  private readonly rank = new PairTable();
  private readonly mergeResult: Int32Array;
  /** byte → id of its single-byte token (byte-level) or of `<0xNN>` (byte fallback); -1 when absent */
  readonly byteIds = new Int32Array(256).fill(-1);
  readonly unkId: number;
  private heap = new Float64Array(256);
  private sym = new Int32Array(128);
  private next = new Int32Array(128);
  private prev = new Int32Array(128);
  private bytes = new Uint8Array(256);

  constructor(spec: BpeModelSpec, where = '[bpe]') {
    this.vocab = spec.vocab;
    this.merges = spec.merges;
    this.byteLevel = spec.byteLevel;
    this.byteFallback = spec.byteFallback;
    this.unkToken = spec.unkToken;
    this.fuseUnk = spec.fuseUnk;
    this.ignoreMerges = spec.ignoreMerges;
    let maxId = -1;
    for (const id of spec.vocab.values()) if (id > maxId) maxId = id;
    if (maxId >= 2 ** 21) throw new Error(`${where} vocabulary ids must stay below 2^21, got ${maxId}`);
    this.idToToken = new Array<string>(maxId + 1).fill('');
    for (const [t, id] of spec.vocab) this.idToToken[id] = t;
    this.mergeResult = new Int32Array(spec.merges.length);
    spec.merges.forEach(([a, b], r) => {
      const ia = spec.vocab.get(a), ib = spec.vocab.get(b), ic = spec.vocab.get(a + b);
      if (ia === undefined) throw new Error(`${where}.merges[${r}]: '${a}' is not in the vocabulary`);
      if (ib === undefined) throw new Error(`${where}.merges[${r}]: '${b}' is not in the vocabulary`);
      if (ic === undefined) throw new Error(`${where}.merges[${r}]: merged token '${a + b}' is not in the vocabulary`);
      this.rank.getOrInsert(ia, ib, r); // a repeated merge keeps its first rank, as in HF
      this.mergeResult[r] = ic;
    });
    for (let b = 0; b < 256; b++) {
      const t = spec.byteLevel ? BYTE_TO_CHAR[b]! : `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
      this.byteIds[b] = spec.vocab.get(t) ?? -1;
    }
    if (spec.byteLevel) {
      const missing = this.byteIds.indexOf(-1);
      if (missing >= 0) throw new Error(`${where}.vocab: byte-level vocabulary lacks the token for byte 0x${missing.toString(16)}`);
    }
    this.unkId = spec.unkToken === null ? -1 : spec.vocab.get(spec.unkToken) ?? -1;
    if (spec.unkToken !== null && this.unkId < 0) throw new Error(`${where}.unk_token: '${spec.unkToken}' is not in the vocabulary`);
  }

  get size(): number { return this.idToToken.length; }

  mergeRank(a: number, b: number): number {
    return this.rank.get(a, b);
  }

  /** Initial symbols of a pre-token: its bytes (byte-level) or its characters with byte fallback / unk. */
  initialSymbols(piece: string): number[] {
    if (this.byteLevel) {
      if (this.bytes.length < 3 * piece.length) this.bytes = new Uint8Array(6 * piece.length); // UTF-8 ≤ 3 bytes per UTF-16 unit
      const n = TEXT_ENCODER.encodeInto(piece, this.bytes).written;
      const out = new Array<number>(n);
      for (let i = 0; i < n; i++) out[i] = this.byteIds[this.bytes[i]!]!;
      return out;
    }
    const out: number[] = [];
    let lastUnk = false;
    for (const ch of piece) {
      const id = this.vocab.get(ch);
      if (id !== undefined) { out.push(id); lastUnk = false; continue; }
      if (this.byteFallback) {
        const bytes = utf8Encode(ch);
        const ids = Array.from(bytes, (b) => this.byteIds[b]!);
        if (ids.every((i) => i >= 0)) { out.push(...ids); lastUnk = false; continue; }
      }
      if (this.unkId < 0) throw new Error(`[bpe] character U+${ch.codePointAt(0)!.toString(16).toUpperCase()} is not in the vocabulary and there is no unk token`);
      if (!(this.fuseUnk && lastUnk)) out.push(this.unkId);
      lastUnk = true;
    }
    return out;
  }

  /** Applies merges lowest rank first, leftmost first among equal ranks (as HF's BPE does). */
  applyMerges(ids: number[]): number[] {
    const n = ids.length;
    if (n < 2) return ids;
    if (n === 2) {
      const r = this.mergeRank(ids[0]!, ids[1]!);
      return r < 0 ? ids : [this.mergeResult[r]!];
    }
    if (n >= RANK_SHIFT) throw new Error(`[bpe] a pre-token of ${n} symbols is too long (limit ${RANK_SHIFT - 1})`);
    // scratch reused across calls (encode is synchronous): symbols, links, and a binary min-heap of
    // rank * 2^24 + position (n - 1 initial pushes plus at most 2 per merge: under 3n entries)
    if (this.sym.length < n) { this.sym = new Int32Array(2 * n); this.next = new Int32Array(2 * n); this.prev = new Int32Array(2 * n); }
    if (this.heap.length < 3 * n) this.heap = new Float64Array(4 * n);
    const sym = this.sym, next = this.next, prev = this.prev;
    for (let i = 0; i < n; i++) { sym[i] = ids[i]!; next[i] = i + 1 < n ? i + 1 : -1; prev[i] = i - 1; }
    const heap = this.heap;
    let size = 0;
    const hpush = (v: number): void => {
      let i = size++;
      while (i > 0) { const up = (i - 1) >> 1; if (heap[up]! <= v) break; heap[i] = heap[up]!; i = up; }
      heap[i] = v;
    };
    const hpop = (): number => {
      const top = heap[0]!;
      const last = heap[--size]!;
      if (size > 0) {
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          if (l >= size) break;
          const r = l + 1;
          const m = r < size && heap[r]! < heap[l]! ? r : l;
          if (heap[m]! >= last) break;
          heap[i] = heap[m]!; i = m;
        }
        heap[i] = last;
      }
      return top;
    };
    for (let i = 0; i + 1 < n; i++) {
      const r = this.mergeRank(sym[i]!, sym[i + 1]!);
      if (r >= 0) hpush(r * RANK_SHIFT + i);
    }
    let alive = n;
    while (size > 0) {
      const v = hpop();
      const r = Math.floor(v / RANK_SHIFT);
      const p = v - r * RANK_SHIFT;
      const q = next[p]!;
      if (sym[p]! < 0 || q < 0) continue;
      if (this.mergeRank(sym[p]!, sym[q]!) !== r) continue; // stale entry
      sym[p] = this.mergeResult[r]!;
      const R = next[q]!;
      next[p] = R;
      if (R >= 0) prev[R] = p;
      sym[q] = -1;
      alive--;
      const L = prev[p]!;
      if (L >= 0) { const rl = this.mergeRank(sym[L]!, sym[p]!); if (rl >= 0) hpush(rl * RANK_SHIFT + L); }
      if (R >= 0) { const rr = this.mergeRank(sym[p]!, sym[R]!); if (rr >= 0) hpush(rr * RANK_SHIFT + p); }
    }
    const out = new Array<number>(alive);
    for (let i = 0, k = 0; i >= 0; i = next[i]!) out[k++] = sym[i]!;
    return out;
  }

  /** Ids for one pre-token (no cache; Tokenizer caches). */
  encodeWord(piece: string): number[] {
    if (this.ignoreMerges) {
      const whole = this.vocab.get(this.byteLevel ? toByteLevel(piece) : piece);
      if (whole !== undefined) return [whole];
    }
    return this.applyMerges(this.initialSymbols(piece));
  }
}

/** A raw string in the byte-level alphabet. */
export function toByteLevel(piece: string): string {
  const bytes = utf8Encode(piece);
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += BYTE_TO_CHAR[bytes[i]!];
  return s;
}
