// extend.ts — vocabulary extension: learn domain tokens on a corpus and append them to an existing tokenizer without
// changing any existing id or merge; compression before/after; and, for each new token, the old tokens it replaces
// (what the model layer averages to initialise the new embedding row). Resizing a model is not done here.

import { tokenStringToBytes } from './bytes.js';
import { learnMerges } from './bpe-learn.js';
import { BpeModel } from './model.js';
import { wordsToCorpus, type TextSource } from './train.js';
import { Tokenizer } from './tokenizer.js';

export interface ExtendOptions {
  /** how many tokens to add at most */
  newTokens: number;
  /** pairs (and, for byte-fallback vocabularies, unknown characters) seen fewer times are not added (default 2) */
  minFrequency?: number;
  /** byte-fallback vocabularies: at most this many whole characters among the new tokens (default half of newTokens) */
  maxNewCharacters?: number;
  onProgress?: (p: { phase: 'count'; bytes: number } | { phase: 'merge'; added: number; total: number }) => void;
}

export interface ExtendResult {
  tokenizer: Tokenizer;
  /** ids of the new tokens, in the order they were added */
  newIds: number[];
}

const BYTE_TOKEN = /^<0x[0-9A-Fa-f]{2}>$/;

/** Words as the model sees them: pre-tokens (byte-level) or ▁-led pieces (SentencePiece-style, where a whole
 * segment is one BPE word; learning inside ▁-led pieces keeps ▁ at token starts, as SentencePiece does). */
function modelWords(tok: Tokenizer, text: string, metaspace: string): string[] {
  const out: string[] = [];
  for (const seg of tok.splitAdded(text)) {
    if ('id' in seg) continue;
    for (const piece of tok.preTokenize(seg.text, seg.start === 0)) {
      if (tok.model.byteLevel) { out.push(piece); continue; }
      let start = 0;
      for (let i = 1; i < piece.length; i++) if (piece.startsWith(metaspace, i)) { out.push(piece.slice(start, i)); start = i; }
      out.push(piece.slice(start));
    }
  }
  return out;
}

export async function extendTokenizer(base: Tokenizer, source: TextSource, opts: ExtendOptions): Promise<ExtendResult> {
  const minFreq = opts.minFrequency ?? 2;
  const m0 = base.model;
  const counts = new Map<string, number>();
  let bytes = 0;
  for await (const text of source as AsyncIterable<string>) {
    bytes += text.length;
    for (const w of modelWords(base, text, '\u2581')) counts.set(w, (counts.get(w) ?? 0) + 1);
    opts.onProgress?.({ phase: 'count', bytes });
  }
  const vocab = new Map(m0.vocab);
  const tokens: string[] = [];
  for (const [t, id] of vocab) tokens[id] = t;
  for (const a of base.addedTokens) tokens[a.id] ??= a.content;
  let nextId = base.vocabSize; // after model and added tokens, so no existing id moves
  const newIds: number[] = [];
  const addToken = (s: string): number => {
    const id = nextId++;
    vocab.set(s, id); tokens[id] = s; newIds.push(id);
    return id;
  };

  // SentencePiece-style vocabularies miss whole characters (they fall back to <0xNN>): add the frequent ones first.
  if (!m0.byteLevel) {
    const charCount = new Map<string, number>();
    for (const [w, c] of counts) for (const ch of w) if (!vocab.has(ch)) charCount.set(ch, (charCount.get(ch) ?? 0) + c);
    const chars = [...charCount].filter(([, c]) => c >= minFreq).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    for (const [ch] of chars.slice(0, Math.min(opts.newTokens, opts.maxNewCharacters ?? Math.ceil(opts.newTokens / 2)))) addToken(ch);
  }
  const withChars = new BpeModel({ vocab, merges: m0.merges, byteLevel: m0.byteLevel, byteFallback: m0.byteFallback,
    unkToken: m0.unkToken, fuseUnk: m0.fuseUnk, ignoreMerges: m0.ignoreMerges });

  // Each word as the ids the (old) merges produce; new merges continue from there, ranked after every old one, so
  // encoding applies all old merges first and reaches exactly these sequences.
  const corpus = wordsToCorpus(counts, (b) => withChars.applyMerges(withChars.initialSymbols(new TextDecoder().decode(b))));
  counts.clear();
  const frozen = new Uint8Array(Math.max(nextId, 1));
  for (let id = 0; id < tokens.length; id++) {
    const t = tokens[id];
    if (t === undefined || BYTE_TOKEN.test(t) || id === m0.unkId || base.addedTokens.some((a) => a.id === id)) frozen[id] = 1;
  }
  const budget = opts.newTokens - newIds.length;
  const learned = budget <= 0 ? [] : learnMerges(corpus, {
    maxMerges: Number.MAX_SAFE_INTEGER,
    minFrequency: minFreq,
    stop: () => newIds.length >= opts.newTokens,
    mergeable: (a, b) => !(frozen[a] || frozen[b]),
    newSymbol(a, b) {
      const s = tokens[a]! + tokens[b]!;
      return vocab.get(s) ?? addToken(s); // an existing spelling keeps its id (as in training)
    },
    onProgress: opts.onProgress ? () => opts.onProgress!({ phase: 'merge', added: newIds.length, total: opts.newTokens }) : undefined,
    progressEvery: 500,
  });
  const merges: [string, string][] = [...m0.merges, ...learned.map((l): [string, string] => [tokens[l.a]!, tokens[l.b]!])];
  const model = new BpeModel({ vocab, merges, byteLevel: m0.byteLevel, byteFallback: m0.byteFallback,
    unkToken: m0.unkToken, fuseUnk: m0.fuseUnk, ignoreMerges: m0.ignoreMerges });
  const p = base.parts;
  const tokenizer = new Tokenizer({ ...p, model, addedTokens: base.addedTokens.map((a) => ({ ...a })), config: structuredClone(base.config) });
  return { tokenizer, newIds };
}

/**
 * For each token of `extended` that `old` lacks: the old-token ids its text encodes to under the old tokenizer's model
 * (bytes or characters, old merges; no pre-tokenization, since a token is already one piece). The model layer
 * initialises each new embedding / LM-head row from the mean of these rows.
 */
export function newTokenSources(old: Tokenizer, extended: Tokenizer): Map<number, number[]> {
  const out = new Map<number, number[]>();
  const om = old.model;
  for (let id = 0; id < extended.model.idToToken.length; id++) {
    const t = extended.model.idToToken[id];
    if (!t || om.vocab.has(t) || old.idToToken(id) !== undefined) continue;
    const bytes = om.byteLevel ? tokenStringToBytes(t) : null;
    if (om.byteLevel && !bytes) throw new Error(`[extend] token ${id} '${t}' is not in the byte-level alphabet`);
    out.set(id, om.applyMerges(bytes ? bytes.map((b) => om.byteIds[b]!) : om.initialSymbols(t)));
  }
  return out;
}

export interface CompressionReport { before: number; after: number; heldOutChars: number }

/** Characters per token of both tokenizers on the same held-out texts. */
export function compressionReport(before: Tokenizer, after: Tokenizer, heldOut: string[]): CompressionReport {
  return { before: before.charsPerToken(heldOut), after: after.charsPerToken(heldOut), heldOutChars: heldOut.reduce((a, t) => a + [...t].length, 0) };
}
