// tokenizer-json.ts — HF `tokenizer.json` and `tokenizer_config.json`: parse (validating, naming the bad field) and
// write. Follows the layout the `tokenizers` library (≥ 0.20) saves; merges are read as "a b" strings or [a, b] pairs.
// Only BPE models are accepted; WordPiece / Unigram / WordLevel files are rejected by name.

import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BpeModel } from './model.js';
import { fail, parseDecoder, parseNormalizer, parsePreTokenizer } from './pipeline.js';
import { emptyConfig, Tokenizer, type AddedToken, type Json, type TokenizerConfig } from './tokenizer.js';

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseAddedToken(v: unknown, where: string, file = 'tokenizer.json'): AddedToken {
  if (!isObj(v)) throw new Error(`[${file}] ${where}: expected an object`);
  const flag = (k: string, d: boolean): boolean => {
    const x = v[k];
    if (x === undefined) return d;
    if (typeof x !== 'boolean') throw new Error(`[${file}] ${where}.${k}: expected true or false, got ${JSON.stringify(x)}`);
    return x;
  };
  if (typeof v.content !== 'string' || v.content.length === 0) throw new Error(`[${file}] ${where}.content: expected a non-empty string`);
  const special = flag('special', false);
  return {
    id: typeof v.id === 'number' ? v.id : -1,
    content: v.content, special,
    lstrip: flag('lstrip', false), rstrip: flag('rstrip', false),
    normalized: flag('normalized', !special), singleWord: flag('single_word', false),
  };
}

/** Parses a tokenizer.json object (and optionally the matching tokenizer_config.json object). */
export function tokenizerFromJson(json: unknown, configJson?: unknown): Tokenizer {
  if (!isObj(json)) fail('(root)', 'expected an object');
  // the pipeline is checked before the (large) vocabulary is built, so an unsupported file fails at once
  parseNormalizer(json.normalizer);
  parsePreTokenizer(json.pre_tokenizer);
  parseDecoder(json.decoder);
  const m = json.model;
  if (!isObj(m)) fail('model', 'expected an object');
  const type = m.type ?? 'BPE';
  if (type !== 'BPE') fail('model.type', `only BPE models are supported, got '${String(type)}'`);
  for (const k of ['continuing_subword_prefix', 'end_of_word_suffix'] as const) {
    if (m[k] !== null && m[k] !== undefined && m[k] !== '') fail(`model.${k}`, `not supported (got ${JSON.stringify(m[k])})`);
  }
  if (m.dropout !== null && m.dropout !== undefined && m.dropout !== 0) fail('model.dropout', 'BPE dropout is not supported');
  if (!isObj(m.vocab)) fail('model.vocab', 'expected an object of token → id');
  const vocab = new Map<string, number>();
  const seen = new Map<number, string>();
  for (const [t, id] of Object.entries(m.vocab)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) fail(`model.vocab[${JSON.stringify(t)}]`, `expected a non-negative integer id, got ${JSON.stringify(id)}`);
    const prev = seen.get(id);
    if (prev !== undefined) fail(`model.vocab[${JSON.stringify(t)}]`, `id ${id} is also used by ${JSON.stringify(prev)}`);
    seen.set(id, t);
    vocab.set(t, id);
  }
  if (!Array.isArray(m.merges)) fail('model.merges', 'expected an array');
  const merges: [string, string][] = m.merges.map((x, i): [string, string] => {
    if (typeof x === 'string') {
      const parts = x.split(' ');
      if (parts.length !== 2 || !parts[0] || !parts[1]) fail(`model.merges[${i}]`, `expected "left right", got ${JSON.stringify(x)}`);
      return [parts[0], parts[1]];
    }
    if (Array.isArray(x) && x.length === 2 && typeof x[0] === 'string' && typeof x[1] === 'string') return [x[0], x[1]];
    fail(`model.merges[${i}]`, `expected "left right" or [left, right], got ${JSON.stringify(x)?.slice(0, 60)}`);
  });
  const byteFallback = m.byte_fallback === true;
  const preTok = (json.pre_tokenizer ?? null) as Json | null;
  const byteLevel = JSON.stringify(preTok ?? {}).includes('"ByteLevel"');
  const unk = m.unk_token;
  if (unk !== null && unk !== undefined && typeof unk !== 'string') fail('model.unk_token', 'expected a string or null');
  let model: BpeModel;
  try {
    model = new BpeModel({ vocab, merges, byteLevel, byteFallback, unkToken: (unk as string | null | undefined) ?? null,
      fuseUnk: m.fuse_unk === true, ignoreMerges: m.ignore_merges === true }, '[tokenizer.json] model');
  } catch (e) {
    throw new Error((e as Error).message.replace(/^\[tokenizer\.json\] model\.(\w+)/, '[tokenizer.json] model.$1'));
  }
  const added = Array.isArray(json.added_tokens) ? json.added_tokens : json.added_tokens === undefined ? [] : fail('added_tokens', 'expected an array');
  const addedTokens = added.map((a, i) => {
    const t = parseAddedToken(a, `added_tokens[${i}]`);
    if (t.id < 0 || !Number.isInteger(t.id)) fail(`added_tokens[${i}].id`, 'expected a non-negative integer');
    return t;
  });
  const config = configJson === undefined ? emptyConfig() : parseTokenizerConfig(configJson);
  // tokenizer_config's added_tokens_decoder may name tokens the tokenizer.json lacks (older files); merge them in.
  const decl = configJson !== undefined && isObj(configJson) ? configJson.added_tokens_decoder : undefined;
  if (isObj(decl)) {
    for (const [k, v] of Object.entries(decl)) {
      const t = parseAddedToken(v, `added_tokens_decoder[${JSON.stringify(k)}]`, 'tokenizer_config.json');
      t.id = Number(k);
      if (!Number.isInteger(t.id) || t.id < 0) throw new Error(`[tokenizer_config.json] added_tokens_decoder[${JSON.stringify(k)}]: key must be an integer id`);
      const have = addedTokens.find((a) => a.id === t.id);
      if (have && have.content !== t.content) throw new Error(`[tokenizer_config.json] added_tokens_decoder[${JSON.stringify(k)}].content: '${t.content}' but tokenizer.json's added_tokens says '${have.content}'`);
      if (!have) addedTokens.push(t);
    }
  }
  const g = (k: string): Json | null => {
    const v = json[k];
    if (v === null || v === undefined) return null;
    if (!isObj(v)) fail(k, 'expected an object or null');
    return v;
  };
  return new Tokenizer({ model, addedTokens, normalizer: g('normalizer'), preTokenizer: g('pre_tokenizer'), decoder: g('decoder'), postProcessor: g('post_processor'), config });
}

function tokenField(v: unknown, key: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  if (isObj(v) && typeof v.content === 'string') return v.content;
  throw new Error(`[tokenizer_config.json] ${key}: expected a string, an {"content": ...} object or null, got ${JSON.stringify(v)}`);
}

export function parseTokenizerConfig(v: unknown): TokenizerConfig {
  if (!isObj(v)) throw new Error('[tokenizer_config.json] (root): expected an object');
  const c = emptyConfig();
  const known = new Set(['bos_token', 'eos_token', 'pad_token', 'unk_token', 'add_bos_token', 'add_eos_token', 'chat_template', 'model_max_length', 'added_tokens_decoder']);
  c.bosToken = tokenField(v.bos_token, 'bos_token');
  c.eosToken = tokenField(v.eos_token, 'eos_token');
  c.padToken = tokenField(v.pad_token, 'pad_token');
  c.unkToken = tokenField(v.unk_token, 'unk_token');
  for (const k of ['add_bos_token', 'add_eos_token'] as const) {
    if (v[k] !== undefined && typeof v[k] !== 'boolean') throw new Error(`[tokenizer_config.json] ${k}: expected true or false`);
  }
  c.addBosToken = v.add_bos_token === true;
  c.addEosToken = v.add_eos_token === true;
  const ct = v.chat_template;
  if (typeof ct === 'string') c.chatTemplate = ct;
  else if (Array.isArray(ct)) {
    ct.forEach((e, i) => {
      if (!isObj(e) || typeof e.name !== 'string' || typeof e.template !== 'string') throw new Error(`[tokenizer_config.json] chat_template[${i}]: expected {"name": string, "template": string}`);
      c.chatTemplates[e.name] = e.template;
    });
    c.chatTemplate = c.chatTemplates.default ?? null;
  } else if (ct !== undefined && ct !== null) throw new Error('[tokenizer_config.json] chat_template: expected a string or a list of {name, template}');
  if (v.model_max_length !== undefined) {
    if (typeof v.model_max_length !== 'number') throw new Error('[tokenizer_config.json] model_max_length: expected a number');
    c.modelMaxLength = v.model_max_length;
  }
  for (const [k, x] of Object.entries(v)) if (!known.has(k)) c.extra[k] = x;
  return c;
}

function addedJson(t: AddedToken): Json {
  return { id: t.id, content: t.content, single_word: t.singleWord, lstrip: t.lstrip, rstrip: t.rstrip, normalized: t.normalized, special: t.special };
}

export function tokenizerToJson(tok: Tokenizer): Json {
  const m = tok.model;
  const vocab: Record<string, number> = {};
  for (let id = 0; id < m.idToToken.length; id++) if (m.idToToken[id]) vocab[m.idToToken[id]!] = id;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [...tok.addedTokens].sort((a, b) => a.id - b.id).map(addedJson),
    normalizer: tok.parts.normalizer,
    pre_tokenizer: tok.parts.preTokenizer,
    post_processor: tok.parts.postProcessor,
    decoder: tok.parts.decoder,
    model: {
      type: 'BPE', dropout: null, unk_token: m.unkToken, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: m.fuseUnk, byte_fallback: m.byteFallback, ignore_merges: m.ignoreMerges,
      vocab, merges: m.merges.map(([a, b]) => [a, b]),
    },
  };
}

export function configToJson(tok: Tokenizer): Json {
  const c = tok.config;
  const decoder: Record<string, Json> = {};
  for (const t of [...tok.addedTokens].sort((a, b) => a.id - b.id)) {
    const { id: _id, ...rest } = addedJson(t);
    decoder[String(t.id)] = rest;
  }
  const named = Object.entries(c.chatTemplates);
  return {
    ...c.extra,
    add_bos_token: c.addBosToken,
    add_eos_token: c.addEosToken,
    added_tokens_decoder: decoder,
    bos_token: c.bosToken,
    eos_token: c.eosToken,
    pad_token: c.padToken,
    unk_token: c.unkToken,
    ...(named.length ? { chat_template: named.map(([name, template]) => ({ name, template })) } : c.chatTemplate !== null ? { chat_template: c.chatTemplate } : {}),
    ...(c.modelMaxLength !== null ? { model_max_length: c.modelMaxLength } : {}),
    tokenizer_class: c.extra.tokenizer_class ?? 'PreTrainedTokenizerFast',
    clean_up_tokenization_spaces: c.extra.clean_up_tokenization_spaces ?? false,
  };
}

async function readJson(path: string, what: string): Promise<unknown> {
  const text = await readFile(path, 'utf8');
  try { return JSON.parse(text); } catch (e) { throw new Error(`[${what}] ${path}: not valid JSON (${(e as Error).message})`); }
}

/** Loads `dir/tokenizer.json` (+ `dir/tokenizer_config.json` when present), or a tokenizer.json path. */
export async function loadTokenizer(path: string): Promise<Tokenizer> {
  const isDir = !path.endsWith('.json');
  const file = isDir ? join(path, 'tokenizer.json') : path;
  if (!existsSync(file)) throw new Error(`[tokenizer] ${file} does not exist`);
  const cfgPath = join(isDir ? path : join(path, '..'), 'tokenizer_config.json');
  const cfg = existsSync(cfgPath) ? await readJson(cfgPath, 'tokenizer_config.json') : undefined;
  const tok = tokenizerFromJson(await readJson(file, 'tokenizer.json'), cfg);
  // newer transformers keep the template beside the config: chat_template.jinja, or chat_template.json
  const dir = isDir ? path : join(path, '..');
  if (tok.config.chatTemplate === null) {
    if (existsSync(join(dir, 'chat_template.jinja'))) tok.config.chatTemplate = await readFile(join(dir, 'chat_template.jinja'), 'utf8');
    else if (existsSync(join(dir, 'chat_template.json'))) {
      const j = await readJson(join(dir, 'chat_template.json'), 'chat_template.json');
      const t = (j as { chat_template?: unknown })?.chat_template;
      if (typeof t !== 'string') throw new Error(`[chat_template.json] chat_template: expected a string`);
      tok.config.chatTemplate = t;
    }
  }
  return tok;
}

/** Writes tokenizer.json and tokenizer_config.json into `dir`. */
export async function saveTokenizer(tok: Tokenizer, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerToJson(tok), null, 2) + '\n');
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(configToJson(tok), null, 2) + '\n');
}
