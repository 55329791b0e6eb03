// bpe-learn.ts — the merge learner shared by training and vocabulary extension: integer symbol sequences in,
// merges out. It knows nothing of bytes, strings or files.
//
// Every occurrence of every symbol lives once in flat typed arrays linked as per-word lists (sym/next/prev); each pair
// keeps a list of the positions where it starts and an exact count. A merge touches only its own occurrences and
// adjusts the counts of the neighbouring pairs (no recount), and a max-heap with lazy invalidation picks the next pair.

export interface MergeCorpus {
  /** every word's symbols, back to back */
  symbols: Int32Array;
  /** word w is symbols[wordStart[w] .. wordStart[w+1]) */
  wordStart: Int32Array;
  /** how often each word occurs */
  wordCount: Int32Array;
}

export interface LearnOptions {
  /** stop after this many merges */
  maxMerges: number;
  /** stop when the best pair occurs fewer times than this */
  minFrequency: number;
  /** the symbol a merge of (a, b) produces; called once per merge, in order */
  newSymbol(a: number, b: number): number;
  /** checked before each merge; true stops learning (e.g. the vocabulary reached its size) */
  stop?: () => boolean;
  /** pairs for which this is false are never merged (e.g. byte-fallback tokens) */
  mergeable?: (a: number, b: number) => boolean;
  /** called every `progressEvery` merges */
  onProgress?: (mergesDone: number, bestCount: number) => void;
  progressEvery?: number;
}

export interface LearnedMerge { a: number; b: number; result: number; count: number }

/** Open-addressing hash map (a, b) → int over typed arrays: numeric Map keys above 2^31 are boxed in V8. */
export class PairTable {
  private cap = 1 << 16;
  private ka = new Int32Array(this.cap).fill(-1);
  private kb = new Int32Array(this.cap);
  private val = new Int32Array(this.cap);
  size = 0;
  private slot(a: number, b: number): number {
    const mask = this.cap - 1;
    let h = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77)) >>> 0;
    h = (h ^ (h >>> 15)) & mask;
    while (this.ka[h] !== -1 && (this.ka[h] !== a || this.kb[h] !== b)) h = (h + 1) & mask;
    return h;
  }
  get(a: number, b: number): number {
    const s = this.slot(a, b);
    return this.ka[s] === -1 ? -1 : this.val[s]!;
  }
  /** index of (a, b), inserting `fresh` when absent */
  getOrInsert(a: number, b: number, fresh: number): number {
    let s = this.slot(a, b);
    if (this.ka[s] !== -1) return this.val[s]!;
    if ((this.size + 1) * 2 > this.cap) { this.grow(); s = this.slot(a, b); }
    this.ka[s] = a; this.kb[s] = b; this.val[s] = fresh; this.size++;
    return fresh;
  }
  private grow(): void {
    const { ka, kb, val } = this;
    this.cap *= 2;
    this.ka = new Int32Array(this.cap).fill(-1);
    this.kb = new Int32Array(this.cap);
    this.val = new Int32Array(this.cap);
    for (let i = 0; i < ka.length; i++) {
      if (ka[i] === -1) continue;
      const s = this.slot(ka[i]!, kb[i]!);
      this.ka[s] = ka[i]!; this.kb[s] = kb[i]!; this.val[s] = val[i]!;
    }
  }
}

/** Growable Int32 / Float64 columns indexed by pair. */
function growI32(a: Int32Array<ArrayBuffer>, n: number): Int32Array<ArrayBuffer> {
  if (n <= a.length) return a;
  const b = new Int32Array(Math.max(n, a.length * 2));
  b.set(a);
  return b;
}
function growF64(a: Float64Array<ArrayBuffer>, n: number): Float64Array<ArrayBuffer> {
  if (n <= a.length) return a;
  const b = new Float64Array(Math.max(n, a.length * 2));
  b.set(a);
  return b;
}

export function learnMerges(corpus: MergeCorpus, opts: LearnOptions): LearnedMerge[] {
  const { symbols, wordStart, wordCount } = corpus;
  const N = symbols.length;
  const nWords = wordCount.length;
  const mergeable = opts.mergeable;
  const sym = Int32Array.from(symbols);
  const next = new Int32Array(N);
  const prev = new Int32Array(N);
  const cnt = new Int32Array(N);
  for (let w = 0; w < nWords; w++) {
    const s = wordStart[w]!, e = wordStart[w + 1]!, c = wordCount[w]!;
    for (let p = s; p < e; p++) {
      next[p] = p + 1 < e ? p + 1 : -1;
      prev[p] = p > s ? p - 1 : -1;
      cnt[p] = c;
    }
  }

  // ---- pairs: identity, counts, occurrence lists ----
  const table = new PairTable();
  let nPairs = 0;
  let pairA = new Int32Array(1 << 16);
  let pairB = new Int32Array(1 << 16);
  let pairCount = new Float64Array(1 << 16);
  const pairId = (a: number, b: number): number => {
    const id = table.getOrInsert(a, b, nPairs);
    if (id === nPairs) {
      nPairs++;
      pairA = growI32(pairA, nPairs); pairB = growI32(pairB, nPairs); pairCount = growF64(pairCount, nPairs);
      pairA[id] = a; pairB[id] = b; pairCount[id] = 0;
    }
    return id;
  };

  // Initial occurrences go into one bucket-sorted array (two passes, no per-pair allocations); occurrences created
  // later by merges go into small per-pair JS arrays.
  const posPair = new Int32Array(N).fill(-1);
  for (let p = 0; p < N; p++) {
    const q = next[p]!;
    if (q < 0) continue;
    const a = sym[p]!, b = sym[q]!;
    if (mergeable && !mergeable(a, b)) continue;
    const id = pairId(a, b);
    posPair[p] = id;
    pairCount[id] += cnt[p]!;
  }
  const baseStart = new Int32Array(nPairs + 1);
  for (let p = 0; p < N; p++) if (posPair[p]! >= 0) baseStart[posPair[p]! + 1]!++;
  for (let i = 0; i < nPairs; i++) baseStart[i + 1]! += baseStart[i]!;
  const baseOcc = new Int32Array(baseStart[nPairs]!);
  {
    const fill = baseStart.slice(0, nPairs);
    for (let p = 0; p < N; p++) { const id = posPair[p]!; if (id >= 0) baseOcc[fill[id]!++] = p; }
  }
  const nBasePairs = nPairs;
  const baseDone = new Uint8Array(nBasePairs);
  const extra: (number[] | undefined)[] = [];

  // ---- max-heap of (count, pair) with lazy invalidation; ties go to the smaller (a, b) for determinism ----
  let hCount = new Float64Array(1 << 16);
  let hPair = new Int32Array(1 << 16);
  let hSize = 0;
  const above = (i: number, j: number): boolean => {
    const ci = hCount[i]!, cj = hCount[j]!;
    if (ci !== cj) return ci > cj;
    const pi = hPair[i]!, pj = hPair[j]!;
    const ai = pairA[pi]!, aj = pairA[pj]!;
    return ai !== aj ? ai < aj : pairB[pi]! < pairB[pj]!;
  };
  const swap = (i: number, j: number): void => {
    const c = hCount[i]!; hCount[i] = hCount[j]!; hCount[j] = c;
    const p = hPair[i]!; hPair[i] = hPair[j]!; hPair[j] = p;
  };
  const push = (count: number, pair: number): void => {
    if (hSize === hCount.length) { hCount = growF64(hCount, hSize + 1); hPair = growI32(hPair, hSize + 1); }
    hCount[hSize] = count; hPair[hSize] = pair;
    let i = hSize++;
    while (i > 0) { const up = (i - 1) >> 1; if (!above(i, up)) break; swap(i, up); i = up; }
  };
  const pop = (): void => {
    hSize--;
    if (hSize === 0) return;
    hCount[0] = hCount[hSize]!; hPair[0] = hPair[hSize]!;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < hSize && above(l, m)) m = l;
      if (r < hSize && above(r, m)) m = r;
      if (m === i) break;
      swap(i, m); i = m;
    }
  };
  for (let id = 0; id < nPairs; id++) if (pairCount[id]! > 0) push(pairCount[id]!, id);

  const touched: number[] = [];
  let touchedMark = new Uint8Array(1 << 16);
  const addOcc = (id: number, p: number, w: number): void => {
    pairCount[id] += w;
    let list = extra[id];
    if (!list) extra[id] = list = [];
    list.push(p);
    if (id >= touchedMark.length) { const t = new Uint8Array(Math.max(id + 1, touchedMark.length * 2)); t.set(touchedMark); touchedMark = t; }
    if (!touchedMark[id]) { touchedMark[id] = 1; touched.push(id); }
  };
  const dec = (a: number, b: number, w: number): void => {
    const id = table.get(a, b);
    if (id >= 0) pairCount[id] -= w;
  };

  const merges: LearnedMerge[] = [];
  const every = opts.progressEvery ?? 1000;
  while (merges.length < opts.maxMerges && hSize > 0 && !(opts.stop && opts.stop())) {
    const top = hPair[0]!, topCount = hCount[0]!;
    pop();
    const actual = pairCount[top]!;
    if (actual !== topCount) { if (actual > 0) push(actual, top); continue; }
    if (actual < opts.minFrequency || actual <= 0) break;
    const a = pairA[top]!, b = pairB[top]!;
    const c = opts.newSymbol(a, b);

    // Positions where (a, b) may start; entries can be stale (checked below). For a == b the left-to-right order
    // matters ("a a a" merges the first two), so that case is sorted.
    let positions: ArrayLike<number>;
    const ex = extra[top];
    if (top < nBasePairs && !baseDone[top]) {
      const base = baseOcc.subarray(baseStart[top]!, baseStart[top + 1]!);
      positions = ex ? Int32Array.from([...base, ...ex]) : base;
      baseDone[top] = 1;
    } else positions = ex ?? [];
    if (a === b && ex) positions = Int32Array.from(positions).sort();

    for (let k = 0; k < positions.length; k++) {
      const p = positions[k]!;
      if (sym[p] !== a) continue;
      const q = next[p]!;
      if (q < 0 || sym[q] !== b) continue;
      const w = cnt[p]!;
      const L = prev[p]!, R = next[q]!;
      if (L >= 0) {
        const s = sym[L]!;
        dec(s, a, w);
        if (!mergeable || mergeable(s, c)) addOcc(pairId(s, c), L, w);
      }
      if (R >= 0) {
        const s = sym[R]!;
        dec(b, s, w);
        if (!mergeable || mergeable(c, s)) addOcc(pairId(c, s), p, w);
      }
      sym[p] = c;
      next[p] = R;
      if (R >= 0) prev[R] = p;
      sym[q] = -1;
      next[q] = -1;
      prev[q] = -1;
    }
    pairCount[top] = 0;
    extra[top] = undefined;
    for (const id of touched) { touchedMark[id] = 0; if (pairCount[id]! > 0) push(pairCount[id]!, id); }
    touched.length = 0;
    merges.push({ a, b, result: c, count: actual });
    if (opts.onProgress && merges.length % every === 0) opts.onProgress(merges.length, actual);
  }
  return merges;
}
