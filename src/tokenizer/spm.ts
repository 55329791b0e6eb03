// spm.ts — SentencePiece-style BPE by piece scores, as llama.cpp tokenizes a GGUF "llama" vocabulary (LLaMA-1/2,
// Ziya, Chinese-LLaMA): the characters of a segment are merged pairwise, the pair whose concatenation is the
// highest-scoring vocabulary piece first (ties: the leftmost), and characters no piece covers fall back to <0xNN>
// byte pieces. No normalization here (the ▁ for spaces, the leading ▁ and SentencePiece's whitespace trimming are the
// tokenizer pipeline's normalizer steps; the last is defined here), no files.
// Algorithm as read in llama.cpp's src/llama-vocab.cpp (llm_tokenizer_spm_session, llm_bigram_spm::comparator), in the
// sources node-llama-cpp 3.21.1 bundles; the code is ours.
import { BpeModel, type BpeModelSpec } from './model.js';
import { utf8Encode } from './bytes.js';

/**
 * The merge list HF's converter derives from a SentencePiece vocabulary (transformers' SentencePieceExtractor): every
 * split of a piece into two pieces, pieces by descending score, a piece's splits by the ids of their halves. BPE over
 * it equals the score-ordered merging except where different pieces tie on score; kept so the model saves as an
 * ordinary tokenizer.json.
 */
export function mergesFromScores(pieces: readonly (string | null)[], scores: ArrayLike<number>, vocab: ReadonlyMap<string, number>): [string, string][] {
  const order = pieces.map((_, i) => i).filter((i) => pieces[i] !== null);
  order.sort((a, b) => scores[b]! - scores[a]! || a - b); // stable by id among equal scores
  const out: [string, string][] = [];
  const local: [string, string, number, number][] = [];
  for (const id of order) {
    const p = pieces[id]!;
    local.length = 0;
    for (let at = 1; at < p.length; at++) {
      const c = p.charCodeAt(at);
      if (c >= 0xdc00 && c <= 0xdfff) continue; // inside a surrogate pair: not a character boundary
      const il = vocab.get(p.slice(0, at));
      if (il === undefined) continue;
      const ir = vocab.get(p.slice(at));
      if (ir !== undefined) local.push([p.slice(0, at), p.slice(at), il, ir]);
    }
    if (local.length > 1) local.sort((x, y) => x[2] - y[2] || x[3] - y[3]);
    for (const [l, r] of local) out.push([l, r]);
  }
  return out;
}

/**
 * SentencePiece's remove_extra_whitespaces (normalizer.cc Normalizer::Normalize, google/sentencepiece at 2734490, Feb
 * 2025) as tokenizer.json normalizer steps, to run before spaces become ▁: leading spaces dropped, each run of spaces
 * kept as one, trailing spaces — and trailing ▁, which the normalizer strips from its escaped output too — dropped.
 * Only U+0020 counts: the normalizer compares with " " after its character map, and a GGUF "llama" vocabulary carries
 * no map (the nmt_nfkc rule would first turn tab, newline, CR, U+3000, … into spaces; without it they stay as text).
 * Anchored by lookarounds, not ^ / $, which Oniguruma (HF's regex engine) also matches at line breaks.
 */
export const SP_TRIM_PATTERN = '(?<![^\\n]|\\n) +|[ \u2581]+(?![^\\n]|\\n)';
export const SP_COLLAPSE_PATTERN = ' {2,}';
export function removeExtraWhitespacesSteps(): Record<string, unknown>[] {
  return [
    { type: 'Replace', pattern: { Regex: SP_TRIM_PATTERN }, content: '' },
    { type: 'Replace', pattern: { Regex: SP_COLLAPSE_PATTERN }, content: ' ' },
  ];
}

const HEX = '0123456789ABCDEF';

/** BpeModel whose encodeWord is llama.cpp's SPM merging by score; vocabulary, merges and byte ids as BpeModel. */
export class SpmModel extends BpeModel {
  /** score of each id (tokenizer.ggml.scores), 0 for ids without one */
  readonly scores: Float32Array;
  /** every piece → id, whatever its type (llama.cpp's text_to_token: control and unused pieces can be merged into too) */
  private readonly lookup: Map<string, number>;
  // scratch reused across calls (encode is synchronous)
  private hScore = new Float64Array(64);
  private hLeft = new Int32Array(64);
  private hRight = new Int32Array(64);
  private hSize = new Int32Array(64);

  /**
   * `spec.vocab`: the pieces the tokenizer decodes (merges are derived from `scores` when `spec.merges` is empty);
   * `lookup`: all pieces by text, default spec.vocab.
   */
  constructor(spec: BpeModelSpec, scores: Float32Array, lookup?: Map<string, number>, where = '[spm]') {
    const pieces: (string | null)[] = [];
    for (const [t, id] of spec.vocab) pieces[id] = t;
    for (let i = 0; i < pieces.length; i++) if (pieces[i] === undefined) pieces[i] = null;
    const merges = spec.merges.length ? spec.merges : mergesFromScores(pieces, scores, spec.vocab);
    super({ ...spec, merges, byteLevel: false, ignoreMerges: false }, where);
    this.scores = scores;
    this.lookup = lookup ?? spec.vocab;
  }

  private byteToken(b: number): number {
    const id = this.byteIds[b]!;
    if (id >= 0) return id;
    // llama.cpp's byte_to_token: the byte itself as a piece when there is no <0xNN>, else (here) the unk piece
    const raw = b < 0x80 ? this.lookup.get(String.fromCharCode(b)) : undefined;
    if (raw !== undefined) return raw;
    if (this.unkId >= 0) return this.unkId;
    throw new Error(`[spm] byte 0x${HEX[b >> 4]}${HEX[b & 15]} has no <0x..> piece and the vocabulary has no unk piece`);
  }

  /** Ids of one normalized segment (spaces already ▁): merge by score, bytes for uncovered characters. */
  override encodeWord(piece: string): number[] {
    // symbols: the characters (code points), as [start, end) offsets into piece; n = 0 once merged away
    const starts: number[] = [], ends: number[] = [];
    for (let i = 0; i < piece.length;) {
      const c = piece.codePointAt(i)!;
      const w = c > 0xffff ? 2 : 1;
      starts.push(i); ends.push(i + w);
      i += w;
    }
    const n = starts.length;
    if (n === 0) return [];
    const next = new Int32Array(n), prev = new Int32Array(n), len = new Int32Array(n);
    for (let i = 0; i < n; i++) { next[i] = i + 1 < n ? i + 1 : -1; prev[i] = i - 1; len[i] = ends[i]! - starts[i]!; }
    // max-heap of bigrams: higher score first, then smaller left (llm_bigram_spm::comparator)
    let size = 0;
    const before = (a: number, b: number): boolean =>
      this.hScore[a]! > this.hScore[b]! || (this.hScore[a] === this.hScore[b] && this.hLeft[a]! < this.hLeft[b]!);
    const swap = (a: number, b: number): void => {
      let t: number;
      t = this.hScore[a]!; this.hScore[a] = this.hScore[b]!; this.hScore[b] = t;
      t = this.hLeft[a]!; this.hLeft[a] = this.hLeft[b]!; this.hLeft[b] = t;
      t = this.hRight[a]!; this.hRight[a] = this.hRight[b]!; this.hRight[b] = t;
      t = this.hSize[a]!; this.hSize[a] = this.hSize[b]!; this.hSize[b] = t;
    };
    const tryAdd = (left: number, right: number): void => {
      if (left < 0 || right < 0) return;
      const id = this.lookup.get(piece.slice(starts[left]!, starts[left]! + len[left]! + len[right]!));
      if (id === undefined) return;
      if (size === this.hScore.length) {
        const grow = <T extends Float64Array | Int32Array>(a: T): T => { const b = new (a.constructor as new (n: number) => T)(2 * a.length); b.set(a); return b; };
        this.hScore = grow(this.hScore); this.hLeft = grow(this.hLeft); this.hRight = grow(this.hRight); this.hSize = grow(this.hSize);
      }
      let i = size++;
      this.hScore[i] = this.scores[id] ?? 0; this.hLeft[i] = left; this.hRight[i] = right; this.hSize[i] = len[left]! + len[right]!;
      while (i > 0) { const up = (i - 1) >> 1; if (!before(i, up)) break; swap(i, up); i = up; }
    };
    const pop = (): void => {
      swap(0, --size);
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < size && before(l, m)) m = l;
        if (r < size && before(r, m)) m = r;
        if (m === i) break;
        swap(i, m); i = m;
      }
    };
    for (let i = 1; i < n; i++) tryAdd(i - 1, i);
    while (size > 0) {
      const left = this.hLeft[0]!, right = this.hRight[0]!, sz = this.hSize[0]!;
      pop();
      // stale: one side merged away, or grown since this pair was queued
      if (len[left] === 0 || len[right] === 0 || len[left]! + len[right]! !== sz) continue;
      len[left] = sz;
      len[right] = 0;
      next[left] = next[right]!;
      if (next[right]! >= 0) prev[next[right]!] = left;
      tryAdd(prev[left]!, left);
      tryAdd(left, next[left]!);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]!) {
      const text = piece.slice(starts[i]!, starts[i]! + len[i]!);
      const id = this.lookup.get(text);
      if (id !== undefined) { out.push(id); continue; }
      // only a single character can be uncovered (every merge makes a piece): its UTF-8 bytes
      for (const b of utf8Encode(text)) out.push(this.byteToken(b));
    }
    return out;
  }
}
