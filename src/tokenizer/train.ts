// train.ts — byte-level BPE training from text (strings, async streams or files): count pre-tokens, learn merges,
// build a Tokenizer whose tokenizer.json HF libraries and llama.cpp ("qwen2" pre-tokenizer) read.
// The merge learner itself is bpe-learn.ts; no encoding logic here.

import { open } from 'node:fs/promises';
import { BYTE_TO_CHAR } from './bytes.js';
import { learnMerges } from './bpe-learn.js';
import { BpeModel } from './model.js';
import { QWEN2_PATTERN, qwen2Split } from './pre-tokenize.js';
import { emptyConfig, Tokenizer, type AddedToken, type Json } from './tokenizer.js';

export interface TrainOptions {
  /** final vocabulary size, special tokens included */
  vocabSize: number;
  /** pairs seen fewer times are never merged (default 2) */
  minFrequency?: number;
  /** get ids 0..k-1, are never split, and are matched before pre-tokenization */
  specialTokens?: string[];
  bosToken?: string | null;
  eosToken?: string | null;
  padToken?: string | null;
  onProgress?: (p: TrainProgress) => void;
}

export type TrainProgress =
  | { phase: 'count'; bytes: number; words: number }
  | { phase: 'merge'; merges: number; total: number; bestCount: number };

export type TextSource = Iterable<string> | AsyncIterable<string>;

/** Pre-token frequencies: the only thing BPE training needs from the text. */
export class WordCounter {
  readonly counts = new Map<string, number>();
  bytes = 0;
  private readonly specialSplit: RegExp | null;
  constructor(specialTokens: string[] = [], private readonly split: (s: string) => string[] = qwen2Split) {
    const esc = specialTokens.filter((s) => s.length).sort((a, b) => b.length - a.length).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    this.specialSplit = esc.length ? new RegExp(esc.join('|'), 'u') : null;
  }
  add(text: string): void {
    this.bytes += text.length;
    const parts = this.specialSplit ? text.split(this.specialSplit) : [text];
    const counts = this.counts;
    for (const part of parts) {
      const words = this.split(part);
      for (let i = 0; i < words.length; i++) {
        const w = words[i]!;
        counts.set(w, (counts.get(w) ?? 0) + 1);
      }
    }
  }
}

/** Reads files as UTF-8 in slices of about `sliceBytes` cut at line ends, so no slice splits a pre-token. */
export async function* readTextFiles(paths: string[], sliceBytes = 4 << 20): AsyncGenerator<string> {
  const dec = new TextDecoder('utf-8');
  for (const p of paths) {
    const fh = await open(p, 'r');
    try {
      const buf = Buffer.alloc(sliceBytes);
      let carry = '';
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, sliceBytes, null);
        if (bytesRead === 0) break;
        const s = carry + dec.decode(buf.subarray(0, bytesRead), { stream: true });
        const cut = s.lastIndexOf('\n') + 1;
        if (cut > 0) { yield s.slice(0, cut); carry = s.slice(cut); } else carry = s;
      }
      carry += dec.decode();
      if (carry) yield carry;
    } finally {
      await fh.close();
    }
  }
}

/** The tokenizer.json pipeline of tokenizers trained here: Qwen2 split, byte-level alphabet, no normalizer. */
export function byteLevelPipeline(): { normalizer: null; preTokenizer: Json; decoder: Json; postProcessor: Json } {
  const bl = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
  return {
    normalizer: null,
    preTokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: QWEN2_PATTERN }, behavior: 'Isolated', invert: false }, bl] },
    decoder: bl,
    postProcessor: bl,
  };
}

/** Symbols of every distinct multi-byte pre-token, for the learner; single-byte words have no pairs. */
export function wordsToCorpus(counts: Map<string, number>, symbolOf: (bytes: Uint8Array) => Int32Array | number[]): { symbols: Int32Array; wordStart: Int32Array; wordCount: Int32Array } {
  const enc = new TextEncoder();
  let symbols = new Int32Array(1 << 20);
  const starts: number[] = [0];
  const wc: number[] = [];
  let n = 0;
  for (const [w, c] of counts) {
    const syms = symbolOf(enc.encode(w));
    if (syms.length < 2) continue;
    if (n + syms.length > symbols.length) { const g = new Int32Array(Math.max(symbols.length * 2, n + syms.length)); g.set(symbols); symbols = g; }
    symbols.set(syms, n);
    n += syms.length;
    starts.push(n);
    wc.push(c);
  }
  return { symbols: symbols.slice(0, n), wordStart: Int32Array.from(starts), wordCount: Int32Array.from(wc) };
}

export async function trainByteLevelBpe(source: TextSource, opts: TrainOptions): Promise<Tokenizer> {
  const specials = opts.specialTokens ?? [];
  if (new Set(specials).size !== specials.length) throw new Error('[train] specialTokens has duplicates');
  const k = specials.length;
  if (opts.vocabSize < k + 256) throw new Error(`[train] vocabSize ${opts.vocabSize} is below ${k + 256} (256 byte tokens + ${k} special tokens)`);
  const counter = new WordCounter(specials);
  let lastReport = 0;
  for await (const text of source as AsyncIterable<string>) {
    if (typeof text !== 'string') throw new Error(`[train] the text source yielded ${typeof text}, expected strings`);
    counter.add(text);
    if (opts.onProgress && counter.bytes - lastReport > (1 << 22)) { lastReport = counter.bytes; opts.onProgress({ phase: 'count', bytes: counter.bytes, words: counter.counts.size }); }
  }
  // Ids: special tokens 0..k-1, byte b at k + b (byte order), merges from k + 256 on.
  const tokens: string[] = [...specials, ...BYTE_TO_CHAR];
  const ids = new Map<string, number>(tokens.map((t, i) => [t, i]));
  if (ids.size !== tokens.length) throw new Error('[train] a special token equals a single-byte token');
  const corpus = wordsToCorpus(counter.counts, (bytes) => { const s = new Int32Array(bytes.length); for (let i = 0; i < bytes.length; i++) s[i] = k + bytes[i]!; return s; });
  counter.counts.clear();
  const total = opts.vocabSize - k - 256;
  const merges = learnMerges(corpus, {
    maxMerges: Number.MAX_SAFE_INTEGER,
    minFrequency: opts.minFrequency ?? 2,
    stop: () => tokens.length >= opts.vocabSize,
    newSymbol(a, b) {
      // Two merge paths can spell the same string ("ab"+"c", "a"+"bc"); like HF's trainer, reuse its id.
      const s = tokens[a]! + tokens[b]!;
      let id = ids.get(s);
      if (id === undefined) { id = tokens.length; tokens.push(s); ids.set(s, id); }
      return id;
    },
    onProgress: opts.onProgress ? (m, best) => opts.onProgress!({ phase: 'merge', merges: m, total, bestCount: best }) : undefined,
  });
  const model = new BpeModel({
    vocab: ids, merges: merges.map((m) => [tokens[m.a]!, tokens[m.b]!]),
    byteLevel: true, byteFallback: false, unkToken: null, fuseUnk: false, ignoreMerges: false,
  });
  const addedTokens: AddedToken[] = specials.map((content, id) => ({ id, content, special: true, lstrip: false, rstrip: false, normalized: false, singleWord: false }));
  const config = emptyConfig();
  config.bosToken = opts.bosToken ?? null;
  config.eosToken = opts.eosToken ?? null;
  config.padToken = opts.padToken ?? null;
  for (const t of [config.bosToken, config.eosToken, config.padToken]) {
    if (t !== null && !specials.includes(t)) throw new Error(`[train] '${t}' is named as bos/eos/pad but is not among specialTokens`);
  }
  return new Tokenizer({ model, addedTokens, ...byteLevelPipeline(), config });
}
