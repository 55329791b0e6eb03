// config.ts — HF `config.json` (LlamaForCausalLM, Qwen2ForCausalLM) and `generation_config.json` ↔ our
// LlamaConfig / GenerationDefaults. Anything we do not implement (rope scaling, sliding windows, other
// activations, o_proj / MLP biases, unknown architectures) is refused with the field named; keys we neither
// use nor refuse are returned in `unusedKeys` so callers can show them instead of silently dropping them.
// Reads and writes no files (model-dir.ts does).
import type { LlamaConfig } from './llama.js';
import { validateConfig } from './llama.js';

export type Architecture = 'LlamaForCausalLM' | 'Qwen2ForCausalLM';
export const ARCHITECTURES: readonly Architecture[] = ['LlamaForCausalLM', 'Qwen2ForCausalLM'];

type Json = Record<string, unknown>;

// keys that carry no numerics we would have to honour (bookkeeping, training-time defaults of HF)
const HARMLESS = new Set([
  'architectures', 'model_type', 'transformers_version', 'torch_dtype', 'use_cache', 'initializer_range',
  '_name_or_path', 'pad_token_id', 'bos_token_id', 'eos_token_id', 'attention_dropout', 'pretraining_tp',
  'rope_scaling', 'use_sliding_window', 'sliding_window', 'max_window_layers', 'head_dim', 'attention_bias',
  'mlp_bias', 'hidden_act', 'vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers',
  'num_attention_heads', 'num_key_value_heads', 'rope_theta', 'rms_norm_eps', 'max_position_embeddings',
  'tie_word_embeddings', 'layer_types', 'dtype',
]);

export interface ParsedConfig {
  config: LlamaConfig;
  architecture: Architecture;
  /** every eos id the config lists (HF allows a list) */
  eosTokenIds: number[];
  padTokenId: number | null;
  /** keys present in the file that we do not read (shown, never silently honoured) */
  unusedKeys: string[];
}

/** Parse an HF config.json object. `file` names the source in errors. */
export function fromHfConfig(json: unknown, file = 'config.json'): ParsedConfig {
  const bad = (field: string, why: string): never => { throw new Error(`[config] ${file}: ${field}: ${why}`); };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) bad('(root)', 'expected a JSON object');
  const j = json as Json;
  const archs = j.architectures;
  let architecture: Architecture;
  if (archs === undefined) {
    // older files name only the model_type
    if (j.model_type === 'llama') architecture = 'LlamaForCausalLM';
    else if (j.model_type === 'qwen2') architecture = 'Qwen2ForCausalLM';
    else return bad('architectures', `missing, and model_type ${JSON.stringify(j.model_type)} is not llama or qwen2`);
  } else {
    if (!Array.isArray(archs) || archs.length !== 1 || typeof archs[0] !== 'string')
      return bad('architectures', `expected one architecture name, got ${JSON.stringify(archs)}`);
    if (!ARCHITECTURES.includes(archs[0] as Architecture))
      return bad('architectures', `${archs[0]} is not supported (supported: ${ARCHITECTURES.join(', ')})`);
    architecture = archs[0] as Architecture;
  }
  const qwen = architecture === 'Qwen2ForCausalLM';
  const int = (k: string, dflt?: number): number => {
    const v = j[k] ?? dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) return bad(k, `expected a positive integer, got ${JSON.stringify(v)}`);
    return v;
  };
  const num = (k: string, dflt: number): number => {
    const v = j[k] ?? dflt;
    if (typeof v !== 'number' || !(v > 0)) return bad(k, `expected a positive number, got ${JSON.stringify(v)}`);
    return v;
  };
  const bool = (k: string, dflt: boolean): boolean => {
    const v = j[k] ?? dflt;
    if (typeof v !== 'boolean') return bad(k, `expected true or false, got ${JSON.stringify(v)}`);
    return v;
  };

  const act = j.hidden_act ?? 'silu';
  if (act !== 'silu') bad('hidden_act', `${JSON.stringify(act)} is not supported (only silu: SwiGLU)`);
  const rs = j.rope_scaling;
  if (rs !== undefined && rs !== null) {
    if (typeof rs !== 'object') bad('rope_scaling', `expected an object or null, got ${JSON.stringify(rs)}`);
    const type = (rs as Json).rope_type ?? (rs as Json).type;
    if (type !== 'default') bad('rope_scaling', `type ${JSON.stringify(type)} is not supported (only plain RoPE)`);
  }
  if (j.use_sliding_window === true) bad('use_sliding_window', 'sliding-window attention is not supported');
  if (!qwen && typeof j.sliding_window === 'number') bad('sliding_window', 'sliding-window attention is not supported');
  if (j.attention_bias === true && !qwen)
    bad('attention_bias', 'LLaMA attention_bias adds an o_proj bias, which is not supported (Qwen2 q/k/v biases are)');
  if (j.mlp_bias === true) bad('mlp_bias', 'MLP biases are not supported');
  const tp = j.pretraining_tp;
  if (tp !== undefined && tp !== 1) bad('pretraining_tp', `must be 1, got ${JSON.stringify(tp)}`);
  const drop = j.attention_dropout;
  if (drop !== undefined && drop !== 0 && drop !== 0.0) bad('attention_dropout', `must be 0, got ${JSON.stringify(drop)}`);

  const numHeads = int('num_attention_heads');
  const hiddenSize = int('hidden_size');
  const hd = j.head_dim;
  if (hd !== undefined && hd !== null && hd !== hiddenSize / numHeads)
    bad('head_dim', `${JSON.stringify(hd)} differs from hidden_size / num_attention_heads = ${hiddenSize / numHeads}`);

  const ids = (k: string): number[] => {
    const v = j[k];
    if (v === undefined || v === null) return [];
    const list = Array.isArray(v) ? v : [v];
    for (const x of list) if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) bad(k, `expected a token id or a list of them, got ${JSON.stringify(v)}`);
    return list as number[];
  };
  const eosTokenIds = ids('eos_token_id');
  const bos = ids('bos_token_id');
  const pad = ids('pad_token_id');

  const config: LlamaConfig = {
    vocabSize: int('vocab_size'),
    hiddenSize,
    intermediateSize: int('intermediate_size'),
    numLayers: int('num_hidden_layers'),
    numHeads,
    numKvHeads: int('num_key_value_heads', numHeads),
    ropeTheta: num('rope_theta', 10000),
    rmsNormEps: num('rms_norm_eps', 1e-6),
    maxPositions: int('max_position_embeddings', 2048),
    tieWordEmbeddings: bool('tie_word_embeddings', false),
    attentionBias: qwen,
  };
  if (bos.length) config.bosTokenId = bos[0]!;
  if (eosTokenIds.length) config.eosTokenId = eosTokenIds[0]!;
  for (const [k, v] of [['bos_token_id', config.bosTokenId], ['eos_token_id', config.eosTokenId]] as const)
    if (v !== undefined && v >= config.vocabSize) bad(k, `${v} is outside the vocabulary (${config.vocabSize})`);
  try {
    validateConfig(config);
  } catch (e) {
    bad('(shape)', (e as Error).message);
  }
  const unusedKeys = Object.keys(j).filter((k) => !HARMLESS.has(k)).sort();
  return { config, architecture, eosTokenIds, padTokenId: pad[0] ?? null, unusedKeys };
}

/** The config.json HF transformers would write for this model. */
export function toHfConfig(c: LlamaConfig, opts: { architecture?: Architecture; eosTokenIds?: number[]; padTokenId?: number | null } = {}): Json {
  const architecture = opts.architecture ?? (c.attentionBias ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM');
  if (c.attentionBias !== (architecture === 'Qwen2ForCausalLM'))
    throw new Error(`[config] ${architecture} cannot express attentionBias=${c.attentionBias}`);
  const qwen = architecture === 'Qwen2ForCausalLM';
  const eos = opts.eosTokenIds?.length ? opts.eosTokenIds : c.eosTokenId !== undefined ? [c.eosTokenId] : [];
  const out: Json = {
    architectures: [architecture],
    model_type: qwen ? 'qwen2' : 'llama',
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: c.hiddenSize / c.numHeads,
    hidden_act: 'silu',
    max_position_embeddings: c.maxPositions,
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    rope_scaling: null,
    tie_word_embeddings: c.tieWordEmbeddings,
    torch_dtype: 'float32',
  };
  if (qwen) out.use_sliding_window = false;
  else { out.attention_bias = false; out.mlp_bias = false; }
  if (c.bosTokenId !== undefined) out.bos_token_id = c.bosTokenId;
  if (eos.length) out.eos_token_id = eos.length === 1 ? eos[0] : eos;
  if (opts.padTokenId !== undefined && opts.padTokenId !== null) out.pad_token_id = opts.padTokenId;
  return out;
}

/** Sampling defaults from generation_config.json (every field optional, HF names in the file). */
export interface GenerationDefaults {
  bosTokenId?: number;
  eosTokenIds?: number[];
  padTokenId?: number;
  doSample?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  maxNewTokens?: number;
}

const GEN_KEYS: [keyof GenerationDefaults, string, 'int' | 'num' | 'bool' | 'ids'][] = [
  ['bosTokenId', 'bos_token_id', 'int'], ['eosTokenIds', 'eos_token_id', 'ids'], ['padTokenId', 'pad_token_id', 'int'],
  ['doSample', 'do_sample', 'bool'], ['temperature', 'temperature', 'num'], ['topK', 'top_k', 'int'],
  ['topP', 'top_p', 'num'], ['repetitionPenalty', 'repetition_penalty', 'num'], ['maxNewTokens', 'max_new_tokens', 'int'],
];

export function fromHfGenerationConfig(json: unknown, file = 'generation_config.json'): GenerationDefaults {
  const bad = (field: string, why: string): never => { throw new Error(`[config] ${file}: ${field}: ${why}`); };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return bad('(root)', 'expected a JSON object');
  const j = json as Json;
  const out: GenerationDefaults = {};
  const o = out as Record<string, unknown>;
  for (const [ours, key, kind] of GEN_KEYS) {
    const v = j[key];
    if (v === undefined || v === null) continue;
    if (kind === 'bool') { if (typeof v !== 'boolean') bad(key, `expected true or false, got ${JSON.stringify(v)}`); o[ours] = v; continue; }
    if (kind === 'ids') {
      const list = Array.isArray(v) ? v : [v];
      if (!list.every((x) => Number.isInteger(x) && x >= 0)) bad(key, `expected a token id or a list of them, got ${JSON.stringify(v)}`);
      o[ours] = list;
      continue;
    }
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (kind === 'int' && !Number.isInteger(v)))
      bad(key, `expected a non-negative ${kind === 'int' ? 'integer' : 'number'}, got ${JSON.stringify(v)}`);
    o[ours] = v;
  }
  return out;
}

export function toHfGenerationConfig(g: GenerationDefaults): Json {
  const out: Json = {};
  const o = g as Record<string, unknown>;
  for (const [ours, key, kind] of GEN_KEYS) {
    const v = o[ours];
    if (v === undefined) continue;
    out[key] = kind === 'ids' && Array.isArray(v) && v.length === 1 ? v[0] : v;
  }
  out.transformers_version = '4.46.0'; // the schema we follow; HF only reads it for warnings
  return out;
}
