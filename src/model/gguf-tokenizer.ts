// gguf-tokenizer.ts — the tokenizer a GGUF file carries (tokenizer.ggml.* keys, llama.cpp docs/gguf.md) as an HF
// tokenizer.json object + tokenizer_config.json object, and as a Tokenizer. Byte-level BPE "gpt2" with pre-tokenizer
// types "qwen2" and "gpt-2" (the ones gguf-export.ts writes) goes through tokenizer.json as it is; SentencePiece
// "llama" vocabularies (tokens + scores, <0xNN> byte pieces) become LLaMA-2's tokenizer.json layout with merges derived
// from the scores, and tokenizerFromGguf runs them with llama.cpp's score-ordered merging (tokenizer/spm.ts).
// Token types: NORMAL / BYTE go in the vocabulary, CONTROL / USER_DEFINED (and "llama"'s UNKNOWN) become added tokens
// (CONTROL special); UNUSED ids stay empty. Other tokenizer models and pre-tokenizers are refused by name.
import type { GgufFile } from './gguf.js';
import { TokenType } from './gguf-export.js';
import { GPT2_PATTERN, QWEN2_PATTERN } from '../tokenizer/pre-tokenize.js';
import { mergesFromScores, removeExtraWhitespacesSteps, SpmModel } from '../tokenizer/spm.js';
import { tokenizerFromJson } from '../tokenizer/tokenizer-json.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';

type Json = Record<string, unknown>;

export interface GgufTokenizer {
  json: Json; config: Json; ids: number;
  /** "llama" (SentencePiece) vocabularies: the piece scores by id, and every piece by text (for tokenizerFromGguf) */
  spm?: { scores: Float32Array; lookup: Map<string, number> };
}

/** The Tokenizer of a GGUF file (SentencePiece vocabularies with llama.cpp's merging), or null when it has none. */
export function tokenizerFromGguf(f: GgufFile): Tokenizer | null {
  const t = tokenizerJsonFromGguf(f);
  return t ? tokenizerOfGgufJson(t, f.path) : null;
}

/** The Tokenizer of tokenizerJsonFromGguf's objects (ModelDir.tokenizerJson of a GGUF model holds them); plain objects → tokenizer.json. */
export function tokenizerOfGgufJson(t: { json: unknown; config: unknown; spm?: GgufTokenizer['spm'] }, path = 'GGUF'): Tokenizer {
  if (!t.spm) return tokenizerFromJson(t.json, t.config);
  // the pipeline, added tokens and config parsed without the (derived) merges; SpmModel takes them as they are
  const model = (t.json as Json).model as Json;
  const parsed = tokenizerFromJson({ ...(t.json as Json), model: { ...model, merges: [] } }, t.config);
  const m = parsed.model;
  const spm = new SpmModel({ vocab: m.vocab, merges: model.merges as [string, string][], byteLevel: false,
    byteFallback: true, unkToken: m.unkToken, fuseUnk: m.fuseUnk, ignoreMerges: false }, t.spm.scores, t.spm.lookup, `[gguf tokenizer] ${path}: tokenizer.ggml`);
  return new Tokenizer({ ...parsed.parts, model: spm, config: parsed.config });
}

/** The tokenizer.json / tokenizer_config.json objects of a GGUF file, or null when it has no tokenizer. */
export function tokenizerJsonFromGguf(f: GgufFile): GgufTokenizer | null {
  const bad = (key: string, why: string): never => { throw new Error(`[gguf tokenizer] ${f.path}: ${key}: ${why}`); };
  const model = f.kv.get('tokenizer.ggml.model');
  if (model === undefined) return null;
  if (model !== 'gpt2' && model !== 'llama')
    bad('tokenizer.ggml.model', `${JSON.stringify(model)} is not supported (byte-level BPE "gpt2", SentencePiece "llama")`);
  const tokens = f.kv.get('tokenizer.ggml.tokens');
  if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === 'string')) return bad('tokenizer.ggml.tokens', 'expected an array of strings');
  const types = (f.kv.get('tokenizer.ggml.token_type') ?? tokens.map(() => TokenType.NORMAL)) as unknown[];
  if (!Array.isArray(types) || types.length !== tokens.length) bad('tokenizer.ggml.token_type', `expected ${tokens.length} token types`);
  if (model === 'llama') return sentencePieceTokenizer(f, tokens as string[], types, bad);
  const merges = f.kv.get('tokenizer.ggml.merges') ?? [];
  if (!Array.isArray(merges) || !merges.every((m) => typeof m === 'string')) bad('tokenizer.ggml.merges', 'expected an array of "a b" strings');
  const pre = f.kv.get('tokenizer.ggml.pre') ?? 'default';
  const bl = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
  let preTokenizer: Json;
  if (pre === 'qwen2') preTokenizer = { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: QWEN2_PATTERN }, behavior: 'Isolated', invert: false }, bl] };
  else if (pre === 'gpt-2' || pre === 'default') preTokenizer = { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: GPT2_PATTERN }, behavior: 'Isolated', invert: false }, bl] };
  else return bad('tokenizer.ggml.pre', `${JSON.stringify(pre)} is not supported (qwen2, gpt-2)`);
  // no prototype: real vocabularies hold tokens such as "toString" and "__proto__"
  const vocab = Object.create(null) as Record<string, number>;
  const added: Json[] = [];
  (tokens as string[]).forEach((t, id) => {
    const ty = types[id];
    if (ty === TokenType.NORMAL || ty === TokenType.BYTE) {
      if (t in vocab) bad('tokenizer.ggml.tokens', `token ${JSON.stringify(t)} appears at ids ${vocab[t]} and ${id}`);
      vocab[t] = id;
    } else if (ty === TokenType.CONTROL || ty === TokenType.USER_DEFINED) {
      added.push({ id, content: t, single_word: false, lstrip: false, rstrip: false, normalized: ty !== TokenType.CONTROL, special: ty === TokenType.CONTROL });
    } else if (ty !== TokenType.UNUSED && ty !== TokenType.UNKNOWN) bad(`tokenizer.ggml.token_type[${id}]`, `unknown token type ${JSON.stringify(ty)}`);
  });
  const json: Json = {
    version: '1.0', truncation: null, padding: null, added_tokens: added, normalizer: null, pre_tokenizer: preTokenizer,
    post_processor: bl, decoder: bl,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false,
      byte_fallback: false, ignore_merges: false, vocab, merges },
  };
  return { json, config: configOf(f, tokens as string[], bad, {}), ids: tokens.length };
}

/** tokenizer_config.json from the special-token ids and flags; `dflt` holds what llama.cpp assumes when a key is absent. */
function configOf(f: GgufFile, tokens: string[], bad: (key: string, why: string) => never,
  dflt: { bos?: number; eos?: number; unk?: number; addBos?: boolean }): Json {
  const tokenOf = (key: string, d?: number): string | null => {
    const id = f.kv.get(key) ?? (d !== undefined && d < tokens.length ? d : undefined);
    if (id === undefined) return null;
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= tokens.length) return bad(key, `id ${JSON.stringify(id)} is not a token of the vocabulary`);
    return tokens[id]!;
  };
  const flag = (key: string, d: boolean): boolean => {
    const v = f.kv.get(key);
    if (v === undefined) return d;
    if (typeof v !== 'boolean') return bad(key, `expected true or false, got ${JSON.stringify(v)}`);
    return v;
  };
  const config: Json = {
    bos_token: tokenOf('tokenizer.ggml.bos_token_id', dflt.bos), eos_token: tokenOf('tokenizer.ggml.eos_token_id', dflt.eos),
    pad_token: tokenOf('tokenizer.ggml.padding_token_id'), unk_token: tokenOf('tokenizer.ggml.unknown_token_id', dflt.unk),
    add_bos_token: flag('tokenizer.ggml.add_bos_token', dflt.addBos ?? false), add_eos_token: flag('tokenizer.ggml.add_eos_token', false),
  };
  const tpl = f.kv.get('tokenizer.chat_template');
  if (typeof tpl === 'string') config.chat_template = tpl;
  return config;
}

const METASPACE = '\u2581';

/**
 * A SentencePiece "llama" vocabulary in LLaMA-2's tokenizer.json layout: normalizer [SentencePiece's whitespace
 * trimming (tokenizer.ggml.remove_extra_whitespaces)] + Prepend ▁ (tokenizer.ggml.add_space_prefix, default true as in
 * llama.cpp) + spaces → ▁, no pre-tokenizer, BPE with byte fallback and merges
 * derived from the scores, the BOS/EOS template of add_bos_token (default true) / add_eos_token. llama.cpp's defaults
 * when the id keys are absent (llama-vocab.cpp): bos 1, eos 2, unk 0.
 */
function sentencePieceTokenizer(f: GgufFile, tokens: string[], types: unknown[], bad: (key: string, why: string) => never): GgufTokenizer {
  const rawScores = f.kv.get('tokenizer.ggml.scores');
  if (rawScores !== undefined && (!Array.isArray(rawScores) || rawScores.length !== tokens.length || !rawScores.every((x) => typeof x === 'number')))
    bad('tokenizer.ggml.scores', `expected ${tokens.length} numbers`);
  const scores = rawScores ? Float32Array.from(rawScores as number[]) : new Float32Array(tokens.length);
  // SentencePiece's normalizer_spec.remove_extra_whitespaces (gguf-py Keys.Tokenizer.REMOVE_EXTRA_WS). llama.cpp reads
  // it but applies it only in its UGM (T5) normalizer, not to "llama" vocabularies; we do what SentencePiece, which
  // the model was trained with, does (spm.ts removeExtraWhitespacesSteps), so on runs of spaces llama.cpp differs
  const trim = f.kv.get('tokenizer.ggml.remove_extra_whitespaces') ?? false;
  if (typeof trim !== 'boolean') bad('tokenizer.ggml.remove_extra_whitespaces', `expected true or false, got ${JSON.stringify(trim)}`);
  const prefix = f.kv.get('tokenizer.ggml.add_space_prefix') ?? true;
  if (typeof prefix !== 'boolean') bad('tokenizer.ggml.add_space_prefix', `expected true or false, got ${JSON.stringify(prefix)}`);
  const vocab = Object.create(null) as Record<string, number>;
  const vocabMap = new Map<string, number>();
  const lookup = new Map<string, number>(); // llama.cpp's token_to_id: every piece, a repeated text keeps its last id
  const pieces: (string | null)[] = new Array(tokens.length).fill(null);
  const added: Json[] = [];
  tokens.forEach((t, id) => {
    const ty = types[id];
    lookup.set(t, id);
    if (ty === TokenType.UNUSED) return;
    if (ty !== TokenType.NORMAL && ty !== TokenType.BYTE && ty !== TokenType.CONTROL && ty !== TokenType.USER_DEFINED && ty !== TokenType.UNKNOWN)
      bad(`tokenizer.ggml.token_type[${id}]`, `unknown token type ${JSON.stringify(ty)}`);
    if (t in vocab) bad('tokenizer.ggml.tokens', `token ${JSON.stringify(t)} appears at ids ${vocab[t]} and ${id}`);
    vocab[t] = id;
    vocabMap.set(t, id);
    pieces[id] = t;
    // llama.cpp splits CONTROL / UNKNOWN (parse_special) and USER_DEFINED (always) out of the raw text before merging
    if (ty === TokenType.CONTROL || ty === TokenType.UNKNOWN || ty === TokenType.USER_DEFINED)
      added.push({ id, content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: ty !== TokenType.USER_DEFINED });
  });
  const config = configOf(f, tokens, bad, { bos: 1, eos: 2, unk: 0, addBos: true });
  const unkId = lookup.get(config.unk_token as string ?? '');
  const single: Json[] = [];
  if (config.add_bos_token && config.bos_token) single.push({ SpecialToken: { id: config.bos_token, type_id: 0 } });
  single.push({ Sequence: { id: 'A', type_id: 0 } });
  if (config.add_eos_token && config.eos_token) single.push({ SpecialToken: { id: config.eos_token, type_id: 0 } });
  const special_tokens: Json = {};
  for (const k of ['bos_token', 'eos_token'] as const) {
    const c = config[k] as string | null;
    if (c) special_tokens[c] = { id: c, ids: [lookup.get(c)], tokens: [c] };
  }
  const space = { type: 'Replace', pattern: { String: ' ' }, content: METASPACE };
  const json: Json = {
    version: '1.0', truncation: null, padding: null, added_tokens: added,
    normalizer: prefix || trim
      ? { type: 'Sequence', normalizers: [...(trim ? removeExtraWhitespacesSteps() : []), ...(prefix ? [{ type: 'Prepend', prepend: METASPACE }] : []), space] }
      : space,
    pre_tokenizer: null,
    post_processor: { type: 'TemplateProcessing', single, pair: [], special_tokens },
    decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: METASPACE }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' },
      ...(prefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : [])] },
    model: { type: 'BPE', dropout: null, unk_token: unkId !== undefined && pieces[unkId] !== null ? config.unk_token : null, continuing_subword_prefix: null,
      end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab,
      merges: mergesFromScores(pieces, scores, vocabMap) },
  };
  return { json, config, ids: tokens.length, spm: { scores, lookup } };
}
