// gguf-tokenizer.ts — the tokenizer a GGUF file carries (tokenizer.ggml.* keys, llama.cpp docs/gguf.md) as an HF
// tokenizer.json object + tokenizer_config.json object, so the tokenizer module builds it like any other: the
// byte-level BPE model "gpt2" with pre-tokenizer types "qwen2" and "gpt-2" (the ones gguf-export.ts writes).
// Token types: NORMAL / BYTE go in the BPE vocabulary, CONTROL / USER_DEFINED become added tokens (CONTROL special),
// UNUSED ids stay empty. SentencePiece "llama" vocabularies and other pre-tokenizers are refused by name.
import type { GgufFile } from './gguf.js';
import { TokenType } from './gguf-export.js';
import { GPT2_PATTERN, QWEN2_PATTERN } from '../tokenizer/pre-tokenize.js';

type Json = Record<string, unknown>;

export interface GgufTokenizer { json: Json; config: Json; ids: number }

/** The tokenizer.json / tokenizer_config.json objects of a GGUF file, or null when it has no tokenizer. */
export function tokenizerJsonFromGguf(f: GgufFile): GgufTokenizer | null {
  const bad = (key: string, why: string): never => { throw new Error(`[gguf tokenizer] ${f.path}: ${key}: ${why}`); };
  const model = f.kv.get('tokenizer.ggml.model');
  if (model === undefined) return null;
  if (model !== 'gpt2')
    bad('tokenizer.ggml.model', `${JSON.stringify(model)} is not supported (only byte-level BPE "gpt2"; SentencePiece "llama" vocabularies need their merges, which GGUF does not store)`);
  const tokens = f.kv.get('tokenizer.ggml.tokens');
  if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === 'string')) return bad('tokenizer.ggml.tokens', 'expected an array of strings');
  const types = (f.kv.get('tokenizer.ggml.token_type') ?? tokens.map(() => TokenType.NORMAL)) as unknown[];
  if (!Array.isArray(types) || types.length !== tokens.length) bad('tokenizer.ggml.token_type', `expected ${tokens.length} token types`);
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
  const tokenOf = (key: string): string | null => {
    const id = f.kv.get(key);
    if (id === undefined) return null;
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= tokens.length) return bad(key, `id ${JSON.stringify(id)} is not a token of the vocabulary`);
    return tokens[id] as string;
  };
  const config: Json = {
    bos_token: tokenOf('tokenizer.ggml.bos_token_id'), eos_token: tokenOf('tokenizer.ggml.eos_token_id'),
    pad_token: tokenOf('tokenizer.ggml.padding_token_id'), unk_token: null,
    add_bos_token: f.kv.get('tokenizer.ggml.add_bos_token') === true, add_eos_token: f.kv.get('tokenizer.ggml.add_eos_token') === true,
  };
  const tpl = f.kv.get('tokenizer.chat_template');
  if (typeof tpl === 'string') config.chat_template = tpl;
  return { json, config, ids: tokens.length };
}
