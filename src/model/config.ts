// config.ts — HF `config.json` (LlamaForCausalLM incl. LLaMA-1/2/3.x, Qwen2ForCausalLM, Qwen3ForCausalLM) and
// `generation_config.json` ↔ our LlamaConfig / GenerationDefaults. Anything that would change the math and we
// do not implement (rope scaling types other than llama3/linear/dynamic, sliding windows, other activations,
// o_proj / MLP biases, partial rotary, unknown architectures) is refused with the field and value named; keys
// we neither use nor refuse are returned in `unusedKeys` so callers can show them. Reads and writes no files.
import type { LlamaConfig, RopeScaling } from './llama.js';
import { headDimOf, validateConfig } from './llama.js';

export type Architecture = 'LlamaForCausalLM' | 'Qwen2ForCausalLM' | 'Qwen3ForCausalLM';
export const ARCHITECTURES: readonly Architecture[] = ['LlamaForCausalLM', 'Qwen2ForCausalLM', 'Qwen3ForCausalLM'];
const MODEL_TYPES: Record<string, Architecture> = { llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM', qwen3: 'Qwen3ForCausalLM' };

type Json = Record<string, unknown>;

// keys that carry no numerics we would have to honour (bookkeeping, training-time defaults of HF)
const HARMLESS = new Set([
  'architectures', 'model_type', 'transformers_version', 'torch_dtype', 'use_cache', 'initializer_range',
  '_name_or_path', 'pad_token_id', 'bos_token_id', 'eos_token_id', 'attention_dropout', 'pretraining_tp',
  'rope_scaling', 'use_sliding_window', 'sliding_window', 'max_window_layers', 'head_dim', 'attention_bias',
  'mlp_bias', 'hidden_act', 'vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers',
  'num_attention_heads', 'num_key_value_heads', 'rope_theta', 'rms_norm_eps', 'max_position_embeddings',
  'tie_word_embeddings', 'layer_types', 'dtype', 'rope_parameters', 'partial_rotary_factor', 'max_sequence_length',
  'use_mrope',
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
    const a = typeof j.model_type === 'string' ? MODEL_TYPES[j.model_type] : undefined;
    if (!a) return bad('architectures', `missing, and model_type ${JSON.stringify(j.model_type)} is not one of ${Object.keys(MODEL_TYPES).join(', ')}`);
    architecture = a;
  } else {
    if (!Array.isArray(archs) || archs.length !== 1 || typeof archs[0] !== 'string')
      return bad('architectures', `expected one architecture name, got ${JSON.stringify(archs)}`);
    if (!ARCHITECTURES.includes(archs[0] as Architecture))
      return bad('architectures', `${archs[0]} is not supported (supported: ${ARCHITECTURES.join(', ')})`);
    architecture = archs[0] as Architecture;
  }
  const qwen2 = architecture === 'Qwen2ForCausalLM', qwen3 = architecture === 'Qwen3ForCausalLM';
  const qwen = qwen2 || qwen3;
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
  // transformers v5 writes rope_theta and the scaling together as rope_parameters
  const rp = j.rope_parameters;
  if (rp !== undefined && rp !== null && (typeof rp !== 'object' || Array.isArray(rp)))
    bad('rope_parameters', `expected an object or null, got ${JSON.stringify(rp)}`);
  const ropeFields = (rp ?? null) as Json | null;
  if (ropeFields && j.rope_scaling !== undefined && j.rope_scaling !== null)
    bad('rope_parameters', 'given together with rope_scaling: keep one of them');
  const ropeScaling = parseRopeScaling(ropeFields ?? j.rope_scaling, ropeFields ? 'rope_parameters' : 'rope_scaling', bad);
  const prf = j.partial_rotary_factor;
  if (prf !== undefined && prf !== null && prf !== 1) bad('partial_rotary_factor', `${JSON.stringify(prf)} is not supported (RoPE over the whole head only)`);
  if (j.use_mrope === true) bad('use_mrope', 'multimodal RoPE is not supported');
  if (j.use_sliding_window === true) bad('use_sliding_window', 'sliding-window attention is not supported');
  if (!qwen && typeof j.sliding_window === 'number') bad('sliding_window', `${j.sliding_window}: sliding-window attention is not supported`);
  const lt = j.layer_types;
  if (lt !== undefined && lt !== null) {
    if (!Array.isArray(lt)) bad('layer_types', `expected a list, got ${JSON.stringify(lt)}`);
    const other = (lt as unknown[]).findIndex((t) => t !== 'full_attention');
    if (other >= 0) bad(`layer_types[${other}]`, `${JSON.stringify((lt as unknown[])[other])} is not supported (only full_attention)`);
  }
  if (j.attention_bias === true && !qwen2)
    bad('attention_bias', `${architecture} attention_bias adds an o_proj bias, which is not supported (Qwen2 q/k/v biases are)`);
  if (j.mlp_bias === true) bad('mlp_bias', 'MLP biases are not supported');
  const tp = j.pretraining_tp;
  if (tp !== undefined && tp !== 1) bad('pretraining_tp', `must be 1, got ${JSON.stringify(tp)}`);
  const drop = j.attention_dropout;
  if (drop !== undefined && drop !== 0 && drop !== 0.0) bad('attention_dropout', `must be 0, got ${JSON.stringify(drop)}`);

  const numHeads = int('num_attention_heads');
  const hiddenSize = int('hidden_size');
  const hd = j.head_dim;
  let headDim: number | undefined;
  if (hd !== undefined && hd !== null) {
    headDim = int('head_dim');
    if (headDim % 2) bad('head_dim', `${headDim} must be even for RoPE`);
  } else if (hiddenSize % numHeads) {
    bad('num_attention_heads', `${numHeads} does not divide hidden_size ${hiddenSize} and head_dim is not given`);
  }

  const ids = (k: string): number[] => {
    const v = j[k];
    if (v === undefined || v === null) return [];
    const list = Array.isArray(v) ? v : [v];
    for (const x of list) if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) bad(k, `expected a token id or a list of them, got ${JSON.stringify(v)}`);
    return list as number[];
  };
  const eosTokenIds = ids('eos_token_id');
  const bos = ids('bos_token_id');
  // early LLaMA conversions wrote pad_token_id -1 for "no padding token"
  const pad = j.pad_token_id === -1 ? [] : ids('pad_token_id');

  const config: LlamaConfig = {
    vocabSize: int('vocab_size'),
    hiddenSize,
    intermediateSize: int('intermediate_size'),
    numLayers: int('num_hidden_layers'),
    numHeads,
    numKvHeads: int('num_key_value_heads', numHeads),
    ropeTheta: ropeFields && ropeFields.rope_theta !== undefined ? ropeNum(ropeFields, 'rope_theta', 'rope_parameters', bad) : num('rope_theta', 10000),
    rmsNormEps: num('rms_norm_eps', 1e-6),
    // LLaMA-1 conversions named the length max_sequence_length
    maxPositions: int('max_position_embeddings', typeof j.max_sequence_length === 'number' ? j.max_sequence_length : 2048),
    tieWordEmbeddings: bool('tie_word_embeddings', false),
    attentionBias: qwen2,
  };
  if (headDim !== undefined && headDim * numHeads !== hiddenSize) config.headDim = headDim;
  if (qwen3) config.qkNorm = true;
  if (ropeScaling) config.ropeScaling = ropeScaling;
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

type Bad = (field: string, why: string) => never;

function ropeNum(o: Json, k: string, where: string, bad: Bad): number {
  const v = o[k];
  if (typeof v !== 'number' || !(v > 0)) return bad(`${where}.${k}`, `expected a positive number, got ${JSON.stringify(v)}`);
  return v;
}

/** rope_scaling (or v5's rope_parameters): null / default → plain RoPE; llama3, linear, dynamic; else refused. */
function parseRopeScaling(rs: unknown, where: string, bad: Bad): RopeScaling | null {
  if (rs === undefined || rs === null) return null;
  if (typeof rs !== 'object' || Array.isArray(rs)) return bad(where, `expected an object or null, got ${JSON.stringify(rs)}`);
  const o = rs as Json;
  const type = o.rope_type ?? o.type ?? 'default';
  if (type === 'default') return null;
  if (type === 'linear' || type === 'dynamic') return { type, factor: ropeNum(o, 'factor', where, bad) };
  if (type === 'llama3') {
    const orig = o.original_max_position_embeddings;
    if (typeof orig !== 'number' || !Number.isInteger(orig) || orig <= 0)
      bad(`${where}.original_max_position_embeddings`, `expected a positive integer, got ${JSON.stringify(orig)}`);
    return {
      type, factor: ropeNum(o, 'factor', where, bad), lowFreqFactor: ropeNum(o, 'low_freq_factor', where, bad),
      highFreqFactor: ropeNum(o, 'high_freq_factor', where, bad), originalMaxPositions: orig as number,
    };
  }
  return bad(where, `type ${JSON.stringify(type)} is not supported (supported: default, llama3, linear, dynamic)`);
}

function ropeScalingJson(s: RopeScaling): Json {
  if (s.type !== 'llama3') return { rope_type: s.type, factor: s.factor };
  return {
    rope_type: 'llama3', factor: s.factor, low_freq_factor: s.lowFreqFactor, high_freq_factor: s.highFreqFactor,
    original_max_position_embeddings: s.originalMaxPositions,
  };
}

/** The architecture a config implies: q/k norms → Qwen3, q/k/v biases → Qwen2, else LLaMA. */
export function architectureOf(c: LlamaConfig): Architecture {
  return c.qkNorm ? 'Qwen3ForCausalLM' : c.attentionBias ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM';
}

/** The config.json HF transformers would write for this model. */
export function toHfConfig(c: LlamaConfig, opts: { architecture?: Architecture; eosTokenIds?: number[]; padTokenId?: number | null } = {}): Json {
  const architecture = opts.architecture ?? architectureOf(c);
  if (c.attentionBias !== (architecture === 'Qwen2ForCausalLM'))
    throw new Error(`[config] ${architecture} cannot express attentionBias=${c.attentionBias}`);
  if (!!c.qkNorm !== (architecture === 'Qwen3ForCausalLM'))
    throw new Error(`[config] ${architecture} cannot express qkNorm=${!!c.qkNorm}`);
  const qwen = architecture !== 'LlamaForCausalLM';
  const eos = opts.eosTokenIds?.length ? opts.eosTokenIds : c.eosTokenId !== undefined ? [c.eosTokenId] : [];
  const out: Json = {
    architectures: [architecture],
    model_type: architecture === 'Qwen3ForCausalLM' ? 'qwen3' : qwen ? 'qwen2' : 'llama',
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: headDimOf(c),
    hidden_act: 'silu',
    max_position_embeddings: c.maxPositions,
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    rope_scaling: c.ropeScaling ? ropeScalingJson(c.ropeScaling) : null,
    tie_word_embeddings: c.tieWordEmbeddings,
    torch_dtype: 'float32',
  };
  if (qwen) out.use_sliding_window = false;
  if (architecture === 'Qwen3ForCausalLM') out.attention_bias = false;
  if (!qwen) { out.attention_bias = false; out.mlp_bias = false; }
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
