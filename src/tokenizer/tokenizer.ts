// tokenizer.ts — Tokenizer: added/special tokens, the pipeline around the BPE model, encode and decode.
// File formats live in tokenizer-json.ts, training in train.ts; this file reads and writes nothing.

import { utf8Encode, wellFormed } from './bytes.js';
import { BpeModel } from './model.js';
import {
  byteLevelDecode, parseDecoder, parseNormalizer, parsePostProcessor, parsePreTokenizer,
  type Decoder, type Normalizer, type PostProcessor, type PreTokenizer,
} from './pipeline.js';

export interface AddedToken {
  id: number;
  content: string;
  /** special tokens are skipped by decode({ skipSpecialTokens: true }) */
  special: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  singleWord: boolean;
}

/** What tokenizer_config.json adds: named special tokens and the chat template(s). */
export interface TokenizerConfig {
  bosToken: string | null;
  eosToken: string | null;
  padToken: string | null;
  unkToken: string | null;
  addBosToken: boolean;
  addEosToken: boolean;
  /** the default template, and named ones (HF's list form) */
  chatTemplate: string | null;
  chatTemplates: Record<string, string>;
  modelMaxLength: number | null;
  /** every other key, kept so that a load/save round trip loses nothing */
  extra: Record<string, unknown>;
}

export function emptyConfig(): TokenizerConfig {
  return { bosToken: null, eosToken: null, padToken: null, unkToken: null, addBosToken: false, addEosToken: false,
    chatTemplate: null, chatTemplates: {}, modelMaxLength: null, extra: {} };
}

export type Json = Record<string, unknown>;

export interface TokenizerParts {
  model: BpeModel;
  addedTokens: AddedToken[];
  /** the tokenizer.json objects, kept verbatim so saving writes back what was loaded */
  normalizer: Json | null;
  preTokenizer: Json | null;
  decoder: Json | null;
  postProcessor: Json | null;
  config?: TokenizerConfig;
}

export interface EncodeOptions {
  /** add what the post-processor adds (e.g. LLaMA's <s>); default false: callers add BOS/EOS explicitly */
  addSpecialTokens?: boolean;
  /** 'parse' (default, as HF): added/special token text becomes its id; 'plain': encoded as ordinary text */
  specialTokens?: 'parse' | 'plain';
}

/** transformers' clean_up_tokenization (tokenization_utils_base.py, 4.x): spaces dropped before these strings. */
const CLEAN_UP: [string, string][] = [[' .', '.'], [' ?', '?'], [' !', '!'], [' ,', ','], [" ' ", "'"], [" n't", "n't"],
  [" 'm", "'m"], [" 's", "'s"], [" 've", "'ve"], [" 're", "'re"]];

export function cleanUpSpaces(text: string): string {
  let s = text;
  for (const [from, to] of CLEAN_UP) s = s.split(from).join(to);
  return s;
}

const CACHE_LIMIT = 1 << 18;
const CACHE_MAX_PIECE = 256; // SentencePiece-style files have no pre-tokenizer: whole segments are not worth caching

export class Tokenizer {
  readonly model: BpeModel;
  readonly addedTokens: AddedToken[];
  readonly parts: TokenizerParts;
  config: TokenizerConfig;
  private readonly normalize: Normalizer | null;
  private readonly preTokenizer: PreTokenizer | null;
  private readonly decoder: Decoder | null;
  private readonly post: PostProcessor | null;
  private readonly addedById = new Map<number, AddedToken>();
  private readonly addedByContent = new Map<string, AddedToken>();
  private readonly addedRegex: RegExp | null;
  private readonly cache = new Map<string, number[]>();

  constructor(parts: TokenizerParts) {
    this.parts = parts;
    this.model = parts.model;
    this.addedTokens = parts.addedTokens;
    this.config = parts.config ?? emptyConfig();
    for (const t of parts.addedTokens) {
      const clash = this.model.idToToken[t.id];
      if (clash && clash !== t.content) throw new Error(`[tokenizer] added token '${t.content}' reuses id ${t.id} of vocabulary token '${clash}'`);
      this.addedById.set(t.id, t);
      this.addedByContent.set(t.content, t);
    }
    this.normalize = parseNormalizer(parts.normalizer);
    this.preTokenizer = parsePreTokenizer(parts.preTokenizer);
    this.decoder = parseDecoder(parts.decoder);
    this.post = parsePostProcessor(parts.postProcessor, (t) => this.tokenToId(t));
    if (this.preTokenizer?.byteLevel && !this.model.byteLevel) throw new Error('[tokenizer] a ByteLevel pre-tokenizer needs a byte-level vocabulary');
    // Leftmost-longest: JS alternation is leftmost-first, so longer tokens go first.
    const contents = [...this.addedByContent.keys()].filter((c) => c.length > 0).sort((a, b) => b.length - a.length);
    this.addedRegex = contents.length ? new RegExp(contents.map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'gu') : null;
  }

  /** One past the largest id (model vocabulary and added tokens together). */
  get vocabSize(): number {
    let n = this.model.size;
    for (const t of this.addedTokens) if (t.id + 1 > n) n = t.id + 1;
    return n;
  }

  tokenToId(token: string): number | undefined {
    return this.addedByContent.get(token)?.id ?? this.model.vocab.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.addedById.get(id)?.content ?? (this.model.idToToken[id] || undefined);
  }

  isSpecial(id: number): boolean {
    return this.addedById.get(id)?.special ?? false;
  }

  /** UTF-8 bytes of a token's string as the model spells it (`<0xNN>` counts 1); used to align encodings. */
  tokenByteLength(id: number): number {
    const added = this.addedById.get(id);
    if (added) return utf8Encode(added.content).length;
    const t = this.model.idToToken[id] ?? '';
    if (this.model.byteLevel) return t.length; // one character per byte in the GPT-2 alphabet
    if (/^<0x[0-9A-Fa-f]{2}>$/.test(t)) return 1;
    return utf8Encode(t).length;
  }

  /**
   * UTF-8 bytes the model sees for `text` (after added-token splitting, normalizer and pre-tokenizer), in the units
   * tokenByteLength counts, so a character offset of a text maps to a token position in its encoding (chat masks).
   */
  modelByteLength(text: string): number {
    let n = 0;
    for (const seg of this.splitAdded(wellFormed(text))) {
      if ('id' in seg) { n += this.tokenByteLength(seg.id); continue; }
      for (const p of this.preTokenize(seg.text, seg.start === 0)) n += utf8Encode(p).length;
    }
    return n;
  }

  /** Ids of a pre-token, cached (the same Chinese clause or English word recurs constantly). */
  encodePiece(piece: string): number[] {
    if (piece.length > CACHE_MAX_PIECE) return this.model.encodeWord(piece);
    let ids = this.cache.get(piece);
    if (ids === undefined) {
      ids = this.model.encodeWord(piece);
      if (this.cache.size >= CACHE_LIMIT) {
        // drop the older half (Map iterates in insertion order) rather than everything
        let k = 0;
        for (const key of this.cache.keys()) { if (k++ >= CACHE_LIMIT / 2) break; this.cache.delete(key); }
      }
      this.cache.set(piece, ids);
    }
    return ids;
  }

  /** The pre-tokens of ordinary text (no added tokens inside). */
  preTokenize(text: string, first = true): string[] {
    const s = this.normalize ? this.normalize(text) : text;
    if (!s.length) return [];
    return this.preTokenizer ? this.preTokenizer.split([s], first) : [s];
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = [];
    if (opts.addSpecialTokens && this.post) out.push(...this.post.prefix);
    const s = wellFormed(text);
    const segments = opts.specialTokens === 'plain' ? [{ text: s, start: 0 }] : this.splitAdded(s);
    for (const seg of segments) {
      if ('id' in seg) { out.push(seg.id); continue; }
      for (const piece of this.preTokenize(seg.text, seg.start === 0)) {
        const ids = this.encodePiece(piece);
        for (let i = 0; i < ids.length; i++) out.push(ids[i]!);
      }
    }
    if (opts.addSpecialTokens && this.post) out.push(...this.post.suffix);
    return out;
  }

  /** Splits on added tokens (matched on the raw text, before normalization and pre-tokenization). */
  splitAdded(text: string): ({ text: string; start: number } | { id: number })[] {
    const re = this.addedRegex;
    if (!re) return text.length ? [{ text, start: 0 }] : [];
    const out: ({ text: string; start: number } | { id: number })[] = [];
    re.lastIndex = 0;
    let last = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const tok = this.addedByContent.get(m[0])!;
      let start = m.index, end = m.index + m[0].length;
      if (tok.singleWord) {
        const before = text[start - 1], after = text[end];
        if ((before && /[\p{L}\p{N}_]/u.test(before)) || (after && /[\p{L}\p{N}_]/u.test(after))) continue;
      }
      if (tok.lstrip) while (start > last && /\s/u.test(text[start - 1]!)) start--;
      if (tok.rstrip) while (end < text.length && /\s/u.test(text[end]!)) end++;
      if (start > last) out.push({ text: text.slice(last, start), start: last });
      out.push({ id: tok.id });
      last = end;
      re.lastIndex = end;
    }
    if (last < text.length) out.push({ text: text.slice(last), start: last });
    return out;
  }

  /**
   * `cleanUpSpaces` removes the space before . ? ! , and English contractions, as transformers' decode does when the
   * config sets clean_up_tokenization_spaces (Llama-3's does); default: that config flag, absent = false. Lossy.
   */
  decode(ids: readonly number[], opts: { skipSpecialTokens?: boolean; cleanUpSpaces?: boolean } = {}): string {
    const text = this.decodeRaw(ids, opts.skipSpecialTokens ?? false);
    return (opts.cleanUpSpaces ?? this.config.extra.clean_up_tokenization_spaces === true) ? cleanUpSpaces(text) : text;
  }

  private decodeRaw(ids: readonly number[], skipSpecial: boolean): string {
    const tokens: string[] = [];
    for (const id of ids) {
      const added = this.addedById.get(id);
      if (added) { if (!(skipSpecial && added.special)) tokens.push(added.content); continue; }
      const t = this.model.idToToken[id];
      if (t === undefined || t === '') throw new Error(`[tokenizer] decode: id ${id} is not in the vocabulary (size ${this.vocabSize})`);
      tokens.push(t);
    }
    if (this.decoder) return this.decoder(tokens).join('');
    if (this.model.byteLevel) return byteLevelDecode(tokens).join('');
    return tokens.join(' ');
  }

  /**
   * A copy with more added tokens (e.g. ChatML's <|im_start|> / <|im_end|>) at new ids after every existing one;
   * contents already present keep their id. Existing ids never change.
   */
  withAddedTokens(contents: string[], special = true): Tokenizer {
    const added = this.addedTokens.map((t) => ({ ...t }));
    let next = this.vocabSize;
    for (const content of contents) {
      if (!content) throw new Error('[tokenizer] an added token cannot be empty');
      if (this.tokenToId(content) !== undefined || added.some((t) => t.content === content)) continue;
      added.push({ id: next++, content, special, lstrip: false, rstrip: false, normalized: !special, singleWord: false });
    }
    return new Tokenizer({ ...this.parts, addedTokens: added, config: structuredClone(this.config) });
  }

  /** Characters per token over some texts: the compression figure vocabulary extension reports. */
  charsPerToken(texts: Iterable<string>): number {
    let chars = 0, tokens = 0;
    for (const t of texts) { chars += [...t].length; tokens += this.encode(t).length; }
    return tokens ? chars / tokens : 0;
  }
}
