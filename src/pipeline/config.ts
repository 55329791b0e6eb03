// config.ts — the pipeline's YAML configuration: one schema with defaults, validated with errors that name the
// key (and its file:line) and the allowed values. Unknown keys are errors (a typo must not silently fall back to a
// default), and so are keys that cannot act: the BPE / preset sizes beside a `from`, a renamed key.
import { readFileSync } from 'node:fs';
import { isMap, isScalar, LineCounter, parse, parseDocument } from 'yaml';
import { KV_CACHE_DTYPES, type KvCacheDType } from '../model/kv-cache.js';

export const STAGES = ['data', 'tokenizer', 'pretrain', 'sft', 'sample', 'rank', 'rm', 'ppo', 'eval', 'report', 'export'] as const;
export type StageName = (typeof STAGES)[number];
/** stages that run only when asked for (`zhongjing train dpo`), outside the default recipe */
export const EXTRA_STAGES = ['dpo'] as const;
export type AnyStage = StageName | (typeof EXTRA_STAGES)[number];

export interface LoraSpec { r: number; alpha: number; dropout: number; targets: string[] }

export interface TrainSpec {
  steps: number;
  gradAccum: number;
  lr: number;
  lrMin: number;
  warmup: number;
  schedule: 'cosine' | 'linear' | 'constant';
  weightDecay: number;
  maxGradNorm: number;
  precision: 'f32' | 'bf16';
  evalEvery: number;
  saveEvery: number;
  onNonFinite: 'stop' | 'skip';
  /** recompute decoder layers in backward; null = on for models of 50M parameters and more (train/memory.ts) */
  gradientCheckpointing: boolean | null;
}

export interface PipelineConfig {
  name: string;
  seed: number;
  runsDir: string;
  data: {
    /** the embedded demo corpus at this size, or null to read files */
    demo: 'tiny' | 'small' | 'medium' | 'large' | null;
    /** user files (any format the data layer reads) by role */
    pretrain: string[];
    sft: string[];
    rankings: string[];
    prompts: string[];
    devFraction: number;
  };
  /** template `model`: the chat_template of tokenizer.from's tokenizer_config.json (the model's own format) */
  tokenizer: {
    /** BPE training only: null when tokenizer.from is set (2048 when left out without it) */
    vocabSize: number | null;
    template: 'ziya' | 'chatml' | 'model';
    from: string | null;
    /** learn up to `tokens` new tokens on the pretraining corpus on top of tokenizer.from's (src/tokenizer/extend.ts) */
    extend: TokenizerExtend | null;
  };
  model: {
    /** the shape of a model trained from scratch: null when model.from is set ('tiny' when left out without it) */
    preset: 'tiny' | 'anchor' | null;
    /** an HF model directory to continue pre-training from (instead of the preset, from scratch) */
    from: string | null;
    hiddenSize: number | null;
    layers: number | null;
    heads: number | null;
    kvHeads: number | null;
    intermediateSize: number | null;
    maxPositions: number | null;
    /** dtype of the weight matrices where a model is only sampled from (sample, eval stages); training loads f32 */
    weights: 'auto' | 'f32' | 'bf16' | 'q8_0' | 'q4_0';
    /** what generation's KV cache holds keys and values as (sample, the RL stage's rollouts, eval answers) */
    kvCache: KvCacheDType;
    /** format of the frozen base while a LoRA stage trains (sft / dpo with LoRA); full training keeps f32 */
    loraBaseWeights: 'f32' | 'bf16' | 'q8_0' | 'q4_0';
  };
  /** continued pre-training: the whole model, or a LoRA adapter merged into the base when the stage ends */
  pretrain: TrainSpec & { batchSize: number; seqLen: number; lora: LoraSpec | null };
  sft: TrainSpec & { batchSize: number; lora: LoraSpec | null; lossOn: 'all' | 'last'; maxLen: number };
  sample: {
    prompts: number; k: number; temperature: number; topP: number; maxNewTokens: number;
    /** an OpenAI-compatible server to sample from instead of the SFT model (docs/scale-out.md) */
    endpoint: { baseUrl: string; model: string; apiKeyEnv: string; concurrency: number; retries: number; timeoutMs: number; cache: string | null } | null;
  };
  rank: { judge: 'rules' | 'file'; file: string | null; includeDemoSets: boolean };
  rm: TrainSpec & { pairsPerBatch: number; lora: LoraSpec | null; maxLen: number };
  ppo: TrainSpec & {
    lora: LoraSpec; rolloutSize: number; miniBatch: number; epochs: number; maxNewTokens: number; temperature: number;
    topK: number; topP: number; gamma: number; lambda: number; clipRange: number; clipRangeValue: number; vfCoef: number;
    klInit: number; klTarget: number | null; klHorizon: number; rewardClip: number | null; noEosPenalty: number; devPrompts: number;
    /** the critic's head starts as the reward model's score head ('rm', when both read the same hidden size) or random */
    criticInit: 'rm' | 'random';
  };
  /** the RL algorithm of the `ppo` stage: PPO with a critic, or GRPO (group-relative advantages, no critic) */
  rl: 'ppo' | 'grpo';
  grpo: TrainSpec & {
    lora: LoraSpec; promptsPerStep: number; k: number | null; epochs: number; maxNewTokens: number; temperature: number;
    clipRange: number; klCoef: number; advantage: 'group' | 'rloo'; rewardClip: number | null; noEosPenalty: number; devPrompts: number;
  };
  /** preference optimisation without a reward model: `zhongjing train dpo` (not a step of the default recipe) */
  dpo: TrainSpec & { beta: number; pairsPerBatch: number; lora: LoraSpec; maxLen: number };
  eval: {
    prompts: number; maxNewTokens: number; repetitionPenalty: number;
    /** held-out safety prompts written for evaluation only (demo data; 0 = none) */
    safetyPrompts: number;
    /** `final` is the RL model only if its held-out safety pass rate is not below SFT's by more than the tolerance */
    safetyGate: boolean;
    safetyTolerance: number;
  };
  export: { gguf: 'f32' | 'f16' | 'q8_0' | null };
  /** `zhongjing export recipe`: how the recipe runs on a distributed engine (docs/scale-out.md) */
  scaleout: ScaleoutSpec;
}

export interface TokenizerExtend { tokens: number; from: 'pretrain'; minFrequency: number }

export interface ScaleoutSpec {
  /** HF model id or path of the base the engine trains (required for an export) */
  model: string | null;
  precision: 'bf16' | 'fp16' | 'fp32';
  deepspeed: 'none' | 'zero2' | 'zero2-offload' | 'zero3' | 'zero3-offload';
  nodes: number;
  gpusPerNode: number;
  /** per-device batch; accumulation makes up the rest of each stage's batch */
  microBatch: number;
  /** the LLaMA-Factory template name for tokenizer.template `model` (null: picked from the chat template; lf-templates.ts) */
  template: string | null;
  /** the model the reward model starts from */
  rmFrom: 'pretrain' | 'sft';
  /** stages beyond pt → sft → rm → ppo: dpo, kto */
  extraStages: string[];
  /** epochs per stage instead of steps (null = the stage's steps) */
  epochs: { pretrain: number | null; sft: number | null; rm: number | null; ppo: number | null; dpo: number | null; kto: number | null };
  /** cutoff_len (null = the largest of our per-stage lengths) */
  cutoffLen: number | null;
}

type Spec =
  | { t: 'int'; min?: number; def: number | null; nullable?: boolean }
  | { t: 'num'; min?: number; max?: number; def: number | null; nullable?: boolean }
  | { t: 'str'; def: string | null; nullable?: boolean; choices?: readonly string[] }
  | { t: 'bool'; def: boolean | null; nullable?: boolean }
  | { t: 'strs'; def: string[] }
  | { t: 'obj'; fields: Record<string, Spec>; nullable?: boolean; defNull?: boolean };

const int = (def: number | null, min = 0, nullable = false): Spec => ({ t: 'int', def, min, nullable });
const num = (def: number | null, min?: number, max?: number, nullable = false): Spec => ({ t: 'num', def, min, max, nullable });
const str = (def: string | null, choices?: readonly string[], nullable = false): Spec => ({ t: 'str', def, choices, nullable });

const loraSpec = (defNull: boolean): Spec => ({
  t: 'obj', nullable: true, defNull, fields: {
    r: int(8, 1), alpha: num(16, 0), dropout: num(0, 0, 0.99),
    targets: { t: 'strs', def: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] },
  },
});

// no batchSize here: only pretrain and sft batch sequences by it (rm and dpo batch pairsPerBatch, ppo miniBatch,
// grpo promptsPerStep), and a key that does nothing is an error, not a silent no-op
const trainFields = (d: Partial<Record<keyof TrainSpec, number | string>>): Record<string, Spec> => ({
  steps: int((d.steps as number) ?? 100, 0), gradAccum: int(1, 1),
  lr: num((d.lr as number) ?? 1e-3, 0), lrMin: num((d.lrMin as number) ?? 1e-4, 0), warmup: int((d.warmup as number) ?? 10, 0),
  schedule: str((d.schedule as string) ?? 'cosine', ['cosine', 'linear', 'constant']), weightDecay: num(0.01, 0),
  maxGradNorm: num(1, 0), precision: str('f32', ['f32', 'bf16']), evalEvery: int((d.evalEvery as number) ?? 0, 0),
  saveEvery: int((d.saveEvery as number) ?? 50, 0), onNonFinite: str('stop', ['stop', 'skip']),
  gradientCheckpointing: { t: 'bool', def: null, nullable: true },
});

const schema: Record<string, Spec> = {
  name: str('demo'),
  seed: int(1, 0),
  runsDir: str('runs'),
  data: { t: 'obj', fields: {
    demo: str('small', ['tiny', 'small', 'medium', 'large'], true),
    pretrain: { t: 'strs', def: [] }, sft: { t: 'strs', def: [] }, rankings: { t: 'strs', def: [] }, prompts: { t: 'strs', def: [] },
    devFraction: num(0.1, 0, 0.9),
  } },
  tokenizer: { t: 'obj', fields: {
    vocabSize: int(null, 260, true), template: str('ziya', ['ziya', 'chatml', 'model']), from: str(null, undefined, true),
    extend: { t: 'obj', nullable: true, defNull: true, fields: { tokens: int(1000, 1), from: str('pretrain', ['pretrain']), minFrequency: int(2, 1) } },
  } },
  model: { t: 'obj', fields: {
    preset: str(null, ['tiny', 'anchor'], true), from: str(null, undefined, true), hiddenSize: int(null, 2, true), layers: int(null, 1, true),
    heads: int(null, 1, true), kvHeads: int(null, 1, true), intermediateSize: int(null, 1, true), maxPositions: int(null, 8, true),
    weights: str('auto', ['auto', 'f32', 'bf16', 'q8_0', 'q4_0']),
    kvCache: str('f32', [...KV_CACHE_DTYPES]),
    loraBaseWeights: str('f32', ['f32', 'bf16', 'q8_0', 'q4_0']),
  } },
  pretrain: { t: 'obj', fields: { ...trainFields({ steps: 300, lr: 3e-3, lrMin: 3e-4, warmup: 20 }), batchSize: int(8, 1), seqLen: int(128, 8), lora: loraSpec(true) } },
  sft: { t: 'obj', fields: { ...trainFields({ steps: 300, lr: 2e-3, lrMin: 2e-4, warmup: 20 }), batchSize: int(8, 1), lora: loraSpec(true), lossOn: str('all', ['all', 'last']), maxLen: int(256, 8) } },
  sample: { t: 'obj', fields: {
    prompts: int(48, 1), k: int(4, 2), temperature: num(0.9, 0), topP: num(0.95, 0, 1), maxNewTokens: int(96, 1),
    endpoint: { t: 'obj', nullable: true, defNull: true, fields: {
      baseUrl: str(''), model: str(''), apiKeyEnv: str('OPENAI_API_KEY'), concurrency: int(4, 1), retries: int(4, 0), timeoutMs: int(120000, 1), cache: str(null, undefined, true),
    } },
  } },
  rank: { t: 'obj', fields: { judge: str('rules', ['rules', 'file']), file: str(null, undefined, true), includeDemoSets: { t: 'bool', def: true } } },
  rm: { t: 'obj', fields: { ...trainFields({ steps: 200, lr: 1e-3, lrMin: 1e-4, warmup: 10, evalEvery: 50 }), pairsPerBatch: int(8, 1), lora: loraSpec(true), maxLen: int(256, 8) } },
  ppo: { t: 'obj', fields: {
    ...trainFields({ steps: 96, lr: 1e-3, lrMin: 1e-3, warmup: 0, schedule: 'constant', evalEvery: 24 }),
    lora: loraSpec(false), rolloutSize: int(16, 1), miniBatch: int(8, 1), epochs: int(2, 1), maxNewTokens: int(64, 1),
    temperature: num(1, 0), topK: int(0, 0), topP: num(1, 0, 1), gamma: num(1, 0, 1), lambda: num(0.95, 0, 1),
    clipRange: num(0.2, 0), clipRangeValue: num(0.2, 0), vfCoef: num(0.1, 0), klInit: num(0.05, 0), klTarget: num(6, 0, undefined, true),
    klHorizon: int(1000, 1), rewardClip: num(5, 0, undefined, true), noEosPenalty: num(-1), devPrompts: int(16, 1),
    criticInit: str('rm', ['rm', 'random']),
  } },
  rl: str('ppo', ['ppo', 'grpo']),
  grpo: { t: 'obj', fields: {
    ...trainFields({ steps: 48, lr: 1e-3, lrMin: 1e-3, warmup: 0, schedule: 'constant', evalEvery: 12 }),
    lora: loraSpec(false), promptsPerStep: int(4, 1), k: int(null, 2, true), epochs: int(1, 1), maxNewTokens: int(64, 1),
    temperature: num(1, 0), clipRange: num(0.2, 0), klCoef: num(0.04, 0), advantage: str('group', ['group', 'rloo']),
    rewardClip: num(5, 0, undefined, true), noEosPenalty: num(-1), devPrompts: int(16, 1),
  } },
  dpo: { t: 'obj', fields: { ...trainFields({ steps: 200, lr: 1e-3, lrMin: 1e-4, warmup: 10, evalEvery: 50 }), beta: num(0.1, 0), pairsPerBatch: int(8, 1), lora: loraSpec(false), maxLen: int(256, 8) } },
  eval: { t: 'obj', fields: { prompts: int(40, 1), maxNewTokens: int(96, 1), repetitionPenalty: num(1.2, 1), safetyPrompts: int(120, 0),
    safetyGate: { t: 'bool', def: true }, safetyTolerance: num(0, 0, 1) } },
  export: { t: 'obj', fields: { gguf: str('q8_0', ['f32', 'f16', 'q8_0'], true) } },
  scaleout: { t: 'obj', fields: {
    model: str(null, undefined, true), precision: str('bf16', ['bf16', 'fp16', 'fp32']),
    deepspeed: str('zero2', ['none', 'zero2', 'zero2-offload', 'zero3', 'zero3-offload']), nodes: int(1, 1), gpusPerNode: int(1, 1),
    microBatch: int(4, 1), template: str(null, undefined, true), rmFrom: str('pretrain', ['pretrain', 'sft']), extraStages: { t: 'strs', def: [] },
    epochs: { t: 'obj', fields: Object.fromEntries(['pretrain', 'sft', 'rm', 'ppo', 'dpo', 'kto'].map((k) => [k, int(null, 1, true)])) },
    cutoffLen: int(null, 8, true),
  } },
};

/** `field`: the dotted key the error is about, for loadConfig to find its line in the file */
export class ConfigError extends Error {
  constructor(message: string, readonly field?: string) { super(message); }
}

const keyFail = (field: string, why: string): never => { throw new ConfigError(`[config] ${field}: ${why}`, field); };

function fill(spec: Spec, v: unknown, path: string): unknown {
  const fail = (why: string): never => keyFail(path, why);
  if (spec.t === 'obj') {
    if (v === undefined) return spec.defNull ? null : fill(spec, {}, path);
    if (v === null) { if (spec.nullable) return null; fail('must be a mapping, got null'); }
    if (typeof v !== 'object' || Array.isArray(v)) fail(`must be a mapping, got ${JSON.stringify(v)}`);
    const o = v as Record<string, unknown>;
    // the line reported is the unknown key's own
    for (const k of Object.keys(o))
      if (!(k in spec.fields)) throw new ConfigError(`[config] ${path}: unknown key '${k}' (allowed: ${Object.keys(spec.fields).join(', ')})`, path ? `${path}.${k}` : k);
    const out: Record<string, unknown> = {};
    for (const [k, s] of Object.entries(spec.fields)) out[k] = fill(s, o[k], path ? `${path}.${k}` : k);
    return out;
  }
  if (v === undefined) return spec.def;
  if (v === null) { if ('nullable' in spec && spec.nullable) return null; fail('may not be null'); }
  switch (spec.t) {
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v)) fail(`must be an integer, got ${JSON.stringify(v)}`);
      if (spec.min !== undefined && (v as number) < spec.min) fail(`must be >= ${spec.min}, got ${v}`);
      return v;
    case 'num':
      if (typeof v !== 'number' || !Number.isFinite(v)) fail(`must be a number, got ${JSON.stringify(v)}`);
      if (spec.min !== undefined && (v as number) < spec.min) fail(`must be >= ${spec.min}, got ${v}`);
      if (spec.max !== undefined && (v as number) > spec.max) fail(`must be <= ${spec.max}, got ${v}`);
      return v;
    case 'str':
      if (typeof v !== 'string') fail(`must be a string, got ${JSON.stringify(v)}`);
      if (spec.choices && !spec.choices.includes(v as string)) fail(`must be one of ${spec.choices.join(', ')}, got '${v}'`);
      return v;
    case 'bool':
      if (typeof v !== 'boolean') fail(`must be true or false, got ${JSON.stringify(v)}`);
      return v;
    case 'strs':
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) fail(`must be a list of strings, got ${JSON.stringify(v)}`);
      return v;
  }
}

/** Keys that moved: the old name is an error naming the new one (a second key for the same thing must not exist). */
const RENAMED: Record<string, string> = { 'scaleout.pretrainLora': 'pretrain.lora' };
/** Keys that only shape a tokenizer trained here / a model built here: with a `from`, they could not act. */
const BPE_KEYS = ['vocabSize'] as const;
const PRESET_KEYS = ['preset', 'hiddenSize', 'layers', 'heads', 'kvHeads', 'intermediateSize', 'maxPositions'] as const;

function at(raw: unknown, path: string): unknown {
  let v = raw;
  for (const k of path.split('.')) v = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

/** The checks on keys as written (before defaults): renamed keys, and keys a `from` leaves without effect. */
function checkWrittenKeys(raw: unknown): void {
  for (const [old, now] of Object.entries(RENAMED))
    if (at(raw, old) !== undefined) keyFail(old, `renamed to ${now} (one key for this machine and the scale-out export); move the block there`);
  const tokFrom = at(raw, 'tokenizer.from'), modelFrom = at(raw, 'model.from');
  for (const k of BPE_KEYS)
    if (tokFrom != null && at(raw, `tokenizer.${k}`) != null)
      keyFail(`tokenizer.${k}`, `sizes a BPE trained here, but tokenizer.from (${String(tokFrom)}) is set, so none is trained: remove tokenizer.${k} (tokenizer.extend adds tokens to the model's own)`);
  for (const k of PRESET_KEYS)
    if (modelFrom != null && at(raw, `model.${k}`) != null)
      keyFail(`model.${k}`, `shapes a model built from scratch, but model.from (${String(modelFrom)}) is set and its config.json gives the shape: remove model.${k} (or set it to null)`);
}

/** Validate a parsed config object, filling defaults. */
export function validateConfig(raw: unknown): PipelineConfig {
  checkWrittenKeys(raw);
  const c = fill({ t: 'obj', fields: schema }, raw ?? {}, '') as PipelineConfig;
  // the BPE / preset defaults apply only where something is trained / built here
  if (!c.tokenizer.from) c.tokenizer.vocabSize ??= 2048;
  if (!c.model.from) c.model.preset ??= 'tiny';
  if (c.tokenizer.extend && !c.tokenizer.from)
    keyFail('tokenizer.extend', 'adds tokens to a pretrained tokenizer: set tokenizer.from (a BPE trained here is sized by tokenizer.vocabSize instead)');
  if (c.tokenizer.extend && !c.model.from)
    keyFail('tokenizer.extend', 'resizes a pretrained model\'s embeddings: set model.from (a model built here is sized to the tokenizer already)');
  if (!/^[A-Za-z0-9._-]+$/.test(c.name)) keyFail('name', `use letters, digits, '.', '_' or '-', got '${c.name}'`);
  if (c.data.demo === null && c.data.pretrain.length + c.data.sft.length === 0)
    keyFail('data', 'with demo: null, list files under data.pretrain and/or data.sft');
  if (c.tokenizer.template === 'model' && !c.tokenizer.from)
    keyFail('tokenizer.template', "'model' is the chat_template of tokenizer.from's tokenizer_config.json; set tokenizer.from (e.g. the model's directory)");
  if (c.model.from && !c.tokenizer.from)
    keyFail('model.from', `a pretrained model reads its own tokenizer's ids: set tokenizer.from (usually ${c.model.from} too); a BPE trained here would give its embeddings other meanings`);
  if (c.rank.judge === 'file' && !c.rank.file) keyFail('rank.file', 'required when rank.judge is file');
  if (c.sample.endpoint && (!/^https?:\/\//.test(c.sample.endpoint.baseUrl) || !c.sample.endpoint.model))
    keyFail('sample.endpoint', 'baseUrl (http(s)://…/v1) and model are required');
  if (c.ppo.miniBatch > c.ppo.rolloutSize) keyFail('ppo.miniBatch', `(${c.ppo.miniBatch}) exceeds ppo.rolloutSize (${c.ppo.rolloutSize})`);
  // on-policy objectives take log-probs of the distribution that drew the samples: truncated sampling is refused
  if (c.ppo.topK !== 0) keyFail('ppo.topK', `must be 0 (top-k sampling makes PPO's ratio and KL refer to another distribution), got ${c.ppo.topK}`);
  if (c.ppo.topP !== 1) keyFail('ppo.topP', `must be 1 (top-p sampling makes PPO's ratio and KL refer to another distribution), got ${c.ppo.topP}`);
  if (!(c.ppo.temperature > 0)) keyFail('ppo.temperature', `must be positive, got ${c.ppo.temperature}`);
  if (!(c.grpo.temperature > 0)) keyFail('grpo.temperature', `must be positive, got ${c.grpo.temperature}`);
  return c;
}

/** Read, parse and validate a config file; `edit` changes the parsed YAML first (the CLI's --set overrides). */
export function loadConfig(path: string, edit?: (raw: unknown) => unknown): PipelineConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`[config] ${path}: cannot read (${(e as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (e) {
    throw new ConfigError(`[config] ${path}: invalid YAML: ${(e as Error).message}`);
  }
  const edited = edit ? edit(raw) : raw;
  try {
    return validateConfig(edited);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    // file:line where the key is written in the file (not where a --set changed it)
    const line = e.field && JSON.stringify(at(raw, e.field)) === JSON.stringify(at(edited, e.field)) ? keyLine(text, e.field) : null;
    throw new ConfigError(e.message.replace('[config]', `[config] ${path}${line ? `:${line}` : ''}:`), e.field);
  }
}

/** 1-based line of a dotted key in YAML text, or null when the key is not written there. */
export function keyLine(text: string, field: string): number | null {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  let node: unknown = doc.contents;
  let line: number | null = null;
  for (const k of field.split('.')) {
    if (!isMap(node)) return null;
    const pair = node.items.find((p) => isScalar(p.key) && p.key.value === k);
    if (!pair || !isScalar(pair.key) || !pair.key.range) return null;
    line = lc.linePos(pair.key.range[0]).line;
    node = pair.value;
  }
  return line;
}
