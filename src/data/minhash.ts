// minhash.ts — near-duplicate detection: MinHash signatures over character shingles (Broder 1997; computed by
// one-permutation hashing with densification), LSH banding
// (Leskovec, Rajaraman & Ullman, Mining of Massive Datasets ch. 3), candidates verified with 8-bit b-bit MinHash
// (Li & König 2010) so that memory stays ~ (bands × 8 / load + perms) bytes per kept document. Also a compact 64-bit hash
// set for exact dedup. Everything lives in typed arrays; no per-document objects.

/** Two independent 32-bit string hashes (FNV-1a and a murmur-style mix) → a 64-bit fingerprint as [hi, lo]. */
export function hash64(s: string): [number, number] {
  let a = 0x811c9dc5, b = 0x9747b28c;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  a ^= a >>> 16; a = Math.imul(a, 0x85ebca6b); a ^= a >>> 13;
  b ^= b >>> 16; b = Math.imul(b, 0xc2b2ae35); b ^= b >>> 16;
  return [a >>> 0, b >>> 0];
}

function mix32(x: number): number {
  x ^= x >>> 16; x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15; x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Open-addressing set of 64-bit fingerprints in two Uint32Arrays (8 bytes per slot, load ≤ 0.5). */
export class Hash64Set {
  private hi: Uint32Array;
  private lo: Uint32Array;
  private used: Uint8Array;
  size = 0;
  constructor(capacity = 1024) {
    let n = 16;
    while (n < capacity * 2) n *= 2;
    this.hi = new Uint32Array(n); this.lo = new Uint32Array(n); this.used = new Uint8Array(n);
  }
  /** Adds; returns false when it was already there. */
  add(h: [number, number]): boolean {
    if ((this.size + 1) * 2 > this.hi.length) this.grow();
    const mask = this.hi.length - 1;
    let i = (h[1] ^ mix32(h[0])) & mask;
    while (this.used[i]) {
      if (this.hi[i] === h[0] && this.lo[i] === h[1]) return false;
      i = (i + 1) & mask;
    }
    this.used[i] = 1; this.hi[i] = h[0]; this.lo[i] = h[1];
    this.size++;
    return true;
  }
  private grow(): void {
    const { hi, lo, used } = this;
    const n = hi.length * 2;
    this.hi = new Uint32Array(n); this.lo = new Uint32Array(n); this.used = new Uint8Array(n);
    this.size = 0;
    for (let i = 0; i < hi.length; i++) if (used[i]) this.add([hi[i]!, lo[i]!]);
  }
  bytes(): number {
    return this.hi.byteLength * 2 + this.used.byteLength;
  }
}

export interface MinHashOptions {
  /** characters per shingle */
  shingle?: number;
  /** LSH bands × rows = signature length */
  bands?: number;
  rows?: number;
  /** estimated Jaccard similarity at or above which a document is a near duplicate */
  threshold?: number;
  seed?: number;
  /**
   * hard cap on the index's memory: once reached, later documents are still checked against the indexed ones but
   * no longer added (reported as `indexFullAt`), so memory stays bounded whatever the input size
   */
  maxBytes?: number;
}

/**
 * Keeps an LSH index of the documents accepted so far. `isNearDuplicate(text)` answers against them and, when the
 * answer is no, adds the text. With 8 bands × 8 rows a pair of Jaccard 0.8 shares a band with probability 0.94,
 * a pair of 0.5 with 0.03; verification with the stored 8-bit signature removes the false candidates.
 */
export class NearDupIndex {
  readonly k: number;
  readonly bands: number;
  readonly rows: number;
  readonly threshold: number;
  private seeds: Uint32Array;
  private binBits: number;
  private sig: Uint32Array;
  // band table: key (32-bit band hash, band index mixed in) → doc index + 1
  private keys: Uint32Array;
  private vals: Uint32Array;
  private filled = 0;
  // 8-bit signatures of accepted documents, doc-major, in fixed pages (no doubling overshoot, no copy on growth)
  private pages: Uint8Array[] = [];
  private static readonly PAGE_DOCS = 16384;
  docs = 0;
  /** documents seen when the index reached maxBytes (undefined while it has room) */
  indexFullAt?: number;
  private seen = 0;
  private readonly maxBytes: number;

  constructor(o: MinHashOptions = {}) {
    this.k = o.shingle ?? 5;
    this.bands = o.bands ?? 8;
    this.rows = o.rows ?? 8;
    this.threshold = o.threshold ?? 0.8;
    this.maxBytes = o.maxBytes ?? Infinity;
    const n = this.bands * this.rows;
    this.binBits = Math.log2(n);
    if (!Number.isInteger(this.binBits) || n < 2) throw new Error(`[NearDupIndex] bands × rows must be a power of two, got ${n}`);
    this.seeds = new Uint32Array(n);
    let s = (o.seed ?? 0x2545f491) >>> 0;
    for (let i = 0; i < n; i++) { s = mix32(s + 0x9e3779b9); this.seeds[i] = s; }
    this.sig = new Uint32Array(n);
    this.keys = new Uint32Array(1 << 12);
    this.vals = new Uint32Array(1 << 12);
  }

  /**
   * MinHash signature of a text into this.sig by one-permutation hashing (Li, Owen & Zhang 2012): one hash per
   * shingle, its top bits choose a bin, the rest compete for the bin's minimum; empty bins borrow from the next
   * non-empty bin with an offset (rotation densification, Shrivastava & Li 2014). One hash per shingle instead of
   * one per shingle and permutation: ~60× less work. Whitespace is ignored; texts shorter than k are one shingle.
   */
  private signature(text: string): void {
    const t = text.replace(/\s+/g, '');
    const n = this.sig.length, k = this.k, sig = this.sig, seed = this.seeds[0]!;
    const shift = 32 - this.binBits, valueMask = (1 << shift) - 1;
    sig.fill(0xffffffff);
    const last = Math.max(0, t.length - k);
    for (let i = 0; i <= last; i++) {
      let h = 0x811c9dc5;
      const end = Math.min(t.length, i + k);
      for (let j = i; j < end; j++) h = Math.imul(h ^ t.charCodeAt(j), 0x01000193);
      h = mix32(h ^ seed);
      const bin = h >>> shift, v = h & valueMask;
      if (v < sig[bin]!) sig[bin] = v;
    }
    for (let b = 0; b < n; b++) {
      if (sig[b] !== 0xffffffff) continue;
      for (let d = 1; d < n; d++) {
        const src = sig[(b + d) % n]!;
        // only bins filled by a shingle (values below 2^shift) are borrowed from, never densified ones
        if (src <= valueMask) { sig[b] = (src + d * (valueMask + 1)) >>> 0; break; }
      }
    }
  }

  private bandKey(b: number): number {
    let h = mix32(b + 1);
    for (let r = 0; r < this.rows; r++) h = mix32(h ^ this.sig[b * this.rows + r]!);
    return h || 1; // 0 marks an empty slot
  }

  private similarity(doc: number): number {
    const n = this.sig.length;
    const page = this.pages[Math.floor(doc / NearDupIndex.PAGE_DOCS)]!;
    const off = (doc % NearDupIndex.PAGE_DOCS) * n;
    let same = 0;
    for (let p = 0; p < n; p++) if ((this.sig[p]! & 0xff) === page[off + p]) same++;
    // b-bit estimator: P(match) = J + (1 - J) / 256
    return (same / n - 1 / 256) / (1 - 1 / 256);
  }

  isNearDuplicate(text: string): boolean {
    this.signature(text);
    const mask = this.keys.length - 1;
    const bandKeys: number[] = [];
    for (let b = 0; b < this.bands; b++) {
      const key = this.bandKey(b);
      bandKeys.push(key);
      for (let i = key & mask; this.keys[i] !== 0; i = (i + 1) & mask) {
        if (this.keys[i] === key && this.similarity(this.vals[i]! - 1) >= this.threshold) return true;
      }
    }
    this.seen++;
    if (this.indexFullAt !== undefined) return false;
    // the next growth would double the band table: stop adding before it would pass the cap
    const growth = (this.filled + this.bands) * 4 > this.keys.length * 3 ? this.keys.byteLength * 2 : 0;
    if (this.bytes() + growth + this.sig.length * NearDupIndex.PAGE_DOCS > this.maxBytes) {
      this.indexFullAt = this.seen;
      return false;
    }
    this.insert(bandKeys);
    return false;
  }

  private insert(bandKeys: number[]): void {
    const n = this.sig.length;
    const pi = Math.floor(this.docs / NearDupIndex.PAGE_DOCS);
    if (pi === this.pages.length) this.pages.push(new Uint8Array(NearDupIndex.PAGE_DOCS * n));
    const page = this.pages[pi]!, off = (this.docs % NearDupIndex.PAGE_DOCS) * n;
    for (let p = 0; p < n; p++) page[off + p] = this.sig[p]! & 0xff;
    const doc = ++this.docs;
    for (const key of bandKeys) {
      // linear probing stays short up to 3/4 full; growing at 1/2 would double the biggest array too early
      if ((this.filled + 1) * 4 > this.keys.length * 3) this.growTable();
      const mask = this.keys.length - 1;
      let i = key & mask;
      while (this.keys[i] !== 0) i = (i + 1) & mask;
      this.keys[i] = key; this.vals[i] = doc;
      this.filled++;
    }
  }

  private growTable(): void {
    const { keys, vals } = this;
    this.keys = new Uint32Array(keys.length * 2);
    this.vals = new Uint32Array(keys.length * 2);
    const mask = this.keys.length - 1;
    for (let j = 0; j < keys.length; j++) {
      if (keys[j] === 0) continue;
      let i = keys[j]! & mask;
      while (this.keys[i] !== 0) i = (i + 1) & mask;
      this.keys[i] = keys[j]!; this.vals[i] = vals[j]!;
    }
  }

  bytes(): number {
    return this.keys.byteLength + this.vals.byteLength + this.pages.reduce((a, p) => a + p.byteLength, 0);
  }
}
