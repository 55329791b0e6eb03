// model-dir.ts — the model directory every `--model DIR` accepts (docs/model-directory.md): HF config.json,
// model.safetensors or shards + model.safetensors.index.json, generation_config.json, tokenizer.json and
// tokenizer_config.json (carried, not parsed here: the tokenizer module reads them), optional PEFT folders
// adapters/<name>/ stacked in the order of adapters.json, optional value_head.safetensors.
// Every file is written atomically; loading refuses missing or misshapen tensors by name. Loading reads tensor by
// tensor into the destination storage in the dtype `weights` asks for (weights.ts): no f32 copy of a bf16 checkpoint.
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LlamaForCausalLM } from './llama.js';
import type { KvCacheDType } from './kv-cache.js';
import {
  fromHfConfig, fromHfGenerationConfig, toHfConfig, toHfGenerationConfig,
  type Architecture, type GenerationDefaults, type ParsedConfig,
} from './config.js';
import { openSafetensorsDir, writeSafetensorsDir, type StDtype, type TensorSource } from './safetensors.js';
import { WeightPlan, roleOf, type FileDType, type WeightsOption } from './weights.js';
import { quantizeQ4_0, quantizeQ8_0 } from './gguf.js';
import { toBf16Array } from './half.js';
import { Tensor } from '../tensor/tensor.js';
import { isQuantized, type DType } from '../tensor/dtype.js';
import { isPlaceholder } from '../nn/layers.js';
import { loadAdapter, saveAdapter } from './lora-io.js';
import { ValueHead } from './value-head.js';
import { atomicWrite, atomicWriteJson } from './atomic.js';
import type { LoraAdapter } from '../nn/lora.js';

export const ADAPTERS_FILE = 'adapters.json';
export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json'] as const;

// tensors some checkpoints carry that are derived, not learned (old LLaMA exports kept RoPE's inv_freq)
const DERIVED = /^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/;

export interface ModelDir {
  dir: string;
  model: LlamaForCausalLM;
  architecture: Architecture;
  eosTokenIds: number[];
  padTokenId: number | null;
  generation: GenerationDefaults;
  /** stacked adapters, in adapters.json order */
  adapters: LoraAdapter[];
  valueHead: ValueHead | null;
  /** path of tokenizer.json when the directory has one */
  tokenizerPath: string | null;
  /** a tokenizer carried inside the model file (GGUF), as tokenizer.json / tokenizer_config.json objects */
  tokenizerJson?: { json: unknown; config: unknown } | null;
  /** config keys and file tensors we did not use (shown by the CLI, never silently honoured) */
  unused: { configKeys: string[]; tensors: string[] };
}

export interface AdapterEntry { name: string; enabled: boolean }

function readJson(path: string, where: string): unknown {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) { throw new Error(`[${where}] ${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`); }
  try { return JSON.parse(text); } catch (e) { throw new Error(`[${where}] ${path}: not valid JSON (${(e as Error).message})`); }
}

export function readAdaptersList(dir: string): AdapterEntry[] {
  const path = join(dir, ADAPTERS_FILE);
  if (!existsSync(path)) return [];
  const j = readJson(path, 'model dir') as { adapters?: unknown };
  if (!j || !Array.isArray(j.adapters)) throw new Error(`[model dir] ${path}: adapters: expected a list`);
  return j.adapters.map((a: unknown, i: number) => {
    const e = (typeof a === 'string' ? { name: a } : a) as { name?: unknown; enabled?: unknown };
    if (!e || typeof e.name !== 'string' || !/^[\w.-]+$/.test(e.name))
      throw new Error(`[model dir] ${path}: adapters[${i}].name: expected a folder name under adapters/, got ${JSON.stringify(e?.name)}`);
    if (e.enabled !== undefined && typeof e.enabled !== 'boolean') throw new Error(`[model dir] ${path}: adapters[${i}].enabled: expected true or false`);
    return { name: e.name, enabled: e.enabled !== false };
  });
}

export interface LoadOptions {
  /** false loads the base only */
  adapters?: boolean;
  /**
   * The dtype of the weight matrices (weights.ts): 'auto' (default) keeps the file's precision (BF16 stays bf16,
   * F16 becomes bf16, F32 stays f32); bf16 / q8_0 / q4_0 are made per tensor at load. Training that updates the
   * base (pre-training, full fine-tuning) asks for 'f32': f32 masters. Norms, biases and 1-D tensors are always f32.
   */
  weights?: WeightsOption;
  /** where fallback warnings go (default stderr) */
  warn?: (line: string) => void;
  /** what the model's decoding KV caches hold keys and values as (kv-cache.ts; default f32) */
  kvCache?: KvCacheDType;
  /**
   * The model only decodes (chat, serve, generation, evaluation, benchmarks): q8_0 / q4_0 matrices take the decode
   * kernel's panel layout where the backend has it (decode-layout.ts; loadModel applies it). Not for models that
   * train.
   */
  forDecode?: boolean;
}

const FILE_DTYPE: Record<StDtype, FileDType> = { F32: 'f32', F16: 'f16', BF16: 'bf16' };

/** One checkpoint tensor as a Tensor of `dtype`, read straight into its storage (quantized: through one f32 row set). */
function readWeight(src: TensorSource, name: string, shape: readonly number[], dtype: DType): Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  const file = src.entry(name).dtype;
  if (dtype === 'f32') {
    const a = new Float32Array(n);
    src.readInto(name, a);
    return new Tensor(a, shape);
  }
  if (dtype === 'bf16' && file !== 'F32') {
    const a = new Uint16Array(n);
    src.readInto(name, a);
    return new Tensor(a, shape);
  }
  const f = new Float32Array(n); // transient, one tensor
  src.readInto(name, f);
  if (dtype === 'bf16') return new Tensor(toBf16Array(f), shape);
  if (dtype === 'q8_0') return new Tensor(quantizeQ8_0(f), shape, 'q8_0');
  if (dtype === 'q4_0') return new Tensor(quantizeQ4_0(f), shape, 'q4_0');
  throw new Error(`[model dir] cannot hold '${name}' as ${dtype}`);
}

/** Put a loaded tensor in the model: f32 ones are trainable parameters, other dtypes frozen weights. */
export function installWeight(model: LlamaForCausalLM, name: string, t: Tensor): void {
  t.keep();
  t.requiresGrad = t.dtype === 'f32';
  t.name = name;
  model.replaceParameter(name, t);
}

/** Every parameter was replaced (a placeholder left behind would alias a shared zero buffer). */
export function checkNoPlaceholders(model: LlamaForCausalLM, where: string): void {
  for (const [n, p] of model.namedParameters()) if (isPlaceholder(p)) throw new Error(`[${where}] internal: '${n}' was never loaded`);
}

/** The number of ids a tokenizer.json uses (model vocabulary and added tokens). */
export function tokenizerIdCount(path: string): number {
  const j = readJson(path, 'model dir') as { model?: { vocab?: Record<string, number> }; added_tokens?: { id?: number }[] };
  let max = -1;
  for (const id of Object.values(j.model?.vocab ?? {})) if (typeof id === 'number' && id > max) max = id;
  for (const a of j.added_tokens ?? []) if (typeof a.id === 'number' && a.id > max) max = a.id;
  return max + 1;
}

/** Load a model directory. */
export function loadModelDir(dirIn: string, opts: LoadOptions = {}): ModelDir {
  const dir = resolve(dirIn);
  if (!existsSync(dir)) throw new Error(`[model dir] ${dir}: no such directory`);
  const parsed: ParsedConfig = fromHfConfig(readJson(join(dir, 'config.json'), 'model dir'), join(dir, 'config.json'));
  const genPath = join(dir, 'generation_config.json');
  const generation = existsSync(genPath) ? fromHfGenerationConfig(readJson(genPath, 'model dir'), genPath) : {};
  const tok = join(dir, 'tokenizer.json');
  if (existsSync(tok)) {
    const ids = tokenizerIdCount(tok);
    if (ids > parsed.config.vocabSize)
      throw new Error(`[model dir] ${dir}: tokenizer.json uses ${ids} ids but the embedding has ${parsed.config.vocabSize} rows (config.json vocab_size)`);
  }
  const model = new LlamaForCausalLM(parsed.config, 0, { init: 'deferred' }); // every tensor is read below
  model.kvCacheDType = opts.kvCache ?? 'f32';
  const plan = new WeightPlan(opts.weights ?? 'auto', opts.warn);
  const src = openSafetensorsDir(dir);
  const unusedTensors: string[] = [];
  try {
    const have = new Set(src.names());
    for (const [name, p] of model.namedParameters()) {
      if (!have.has(name)) throw new Error(`[model dir] ${dir}: checkpoint lacks tensor '${name}'`);
      const e = src.entry(name);
      if (e.shape.join() !== p.shape.join())
        throw new Error(`[model dir] ${e.file}: '${name}' has shape [${e.shape}], config.json implies [${p.shape}]`);
      const dtype = plan.dtypeFor(name, e.shape, FILE_DTYPE[e.dtype], roleOf(name, parsed.config.tieWordEmbeddings));
      installWeight(model, name, readWeight(src, name, e.shape, dtype));
      have.delete(name);
    }
    checkNoPlaceholders(model, 'model dir');
    for (const n of have) {
      // a tied model may still carry lm_head.weight (HF ignores it too); derived buffers are recomputed
      if ((n === 'lm_head.weight' && parsed.config.tieWordEmbeddings) || DERIVED.test(n)) { unusedTensors.push(n); continue; }
      throw new Error(`[model dir] ${dir}: checkpoint has tensor '${n}' that a ${parsed.architecture} of this config does not have`);
    }
  } finally {
    src.close();
  }
  const adapters: LoraAdapter[] = [];
  if (opts.adapters !== false) {
    const linears = model.namedLinears();
    for (const a of readAdaptersList(dir)) {
      const ad = loadAdapter(join(dir, 'adapters', a.name), a.name, linears);
      ad.enabled = a.enabled;
      adapters.push(ad);
    }
  }
  return {
    dir, model, architecture: parsed.architecture, eosTokenIds: parsed.eosTokenIds, padTokenId: parsed.padTokenId,
    generation, adapters, valueHead: ValueHead.load(dir, parsed.config.hiddenSize),
    tokenizerPath: existsSync(tok) ? tok : null,
    unused: { configKeys: parsed.unusedKeys, tensors: unusedTensors },
  };
}

export interface SaveOptions {
  architecture?: Architecture;
  eosTokenIds?: number[];
  padTokenId?: number | null;
  generation?: GenerationDefaults;
  /** written to adapters/<name>/ and listed in adapters.json in this order */
  adapters?: LoraAdapter[];
  valueHead?: ValueHead | null;
  /** copy tokenizer.json / tokenizer_config.json from this directory */
  tokenizerFrom?: string | null;
  dtype?: StDtype;
  maxShardBytes?: number;
  /**
   * Copy the base weights' files (model.safetensors, or its shards and index) from this model directory instead
   * of writing the model's tensors: a LoRA stage whose frozen base is held bf16 / quantized in memory (frozenBase)
   * keeps the original weights on disk. The directory must hold this model's base (same config.json shapes).
   */
  baseFrom?: string | null;
}

const WEIGHT_FILE = /^model(-\d{5}-of-\d{5})?\.safetensors$|^model\.safetensors\.index\.json$/;

function copyBaseWeights(from: string, dir: string, model: LlamaForCausalLM): void {
  const src = resolve(from);
  const files = readdirSync(src).filter((f) => WEIGHT_FILE.test(f));
  if (!files.length) throw new Error(`[saveModelDir] baseFrom ${src}: no model.safetensors or shards to copy`);
  const st = openSafetensorsDir(src);
  try {
    const have = new Set(st.names());
    for (const [name, p] of model.namedParameters()) {
      if (!have.has(name)) throw new Error(`[saveModelDir] baseFrom ${src}: lacks tensor '${name}' of this model`);
      if (st.entry(name).shape.join() !== p.shape.join())
        throw new Error(`[saveModelDir] baseFrom ${src}: '${name}' is [${st.entry(name).shape}], the model's is [${p.shape}]`);
    }
  } finally {
    st.close();
  }
  for (const f of readdirSync(dir)) if (WEIGHT_FILE.test(f)) rmSync(join(dir, f), { force: true });
  for (const f of files) copyFileSync(join(src, f), join(dir, f));
}

/** Write a model directory (base weights, configs, and whatever extras are given). */
export function saveModelDir(dirIn: string, model: LlamaForCausalLM, opts: SaveOptions = {}): void {
  const dir = resolve(dirIn);
  mkdirSync(dir, { recursive: true });
  if (opts.baseFrom) {
    if (resolve(opts.baseFrom) !== dir) copyBaseWeights(opts.baseFrom, dir, model); // else the files are already there
  } else {
    const tensors = model.namedParameters().map(([name, t]) => {
      if (isQuantized(t.dtype)) throw new Error(`[saveModelDir] '${name}' is ${t.dtype}: safetensors checkpoints hold f32 or bf16 (load with weights 'f32' or 'bf16' to save, or pass baseFrom)`);
      return { name, shape: t.shape, data: t.data as Float32Array | Uint16Array };
    });
    const opt: { dtype?: StDtype; maxShardBytes?: number } = {};
    if (opts.dtype) opt.dtype = opts.dtype;
    if (opts.maxShardBytes) opt.maxShardBytes = opts.maxShardBytes;
    writeSafetensorsDir(dir, tensors, opt);
  }
  const hf = toHfConfig(model.config, { architecture: opts.architecture, eosTokenIds: opts.eosTokenIds, padTokenId: opts.padTokenId });
  if (opts.dtype === 'BF16') hf.torch_dtype = 'bfloat16';
  if (opts.dtype === 'F16') hf.torch_dtype = 'float16';
  atomicWriteJson(join(dir, 'config.json'), hf);
  const gen: GenerationDefaults = { ...opts.generation };
  if (gen.bosTokenId === undefined && model.config.bosTokenId !== undefined) gen.bosTokenId = model.config.bosTokenId;
  if (gen.eosTokenIds === undefined && model.config.eosTokenId !== undefined) gen.eosTokenIds = opts.eosTokenIds ?? [model.config.eosTokenId];
  atomicWriteJson(join(dir, 'generation_config.json'), toHfGenerationConfig(gen));
  if (opts.adapters) {
    for (const a of opts.adapters) saveAdapter(join(dir, 'adapters', a.name), a);
    atomicWriteJson(join(dir, ADAPTERS_FILE), { adapters: opts.adapters.map((a) => ({ name: a.name, enabled: a.enabled })) });
  }
  if (opts.valueHead) opts.valueHead.save(dir);
  if (opts.tokenizerFrom && resolve(opts.tokenizerFrom) !== dir)
    for (const f of TOKENIZER_FILES) if (existsSync(join(opts.tokenizerFrom, f))) atomicWrite(join(dir, f), [readFileSync(join(opts.tokenizerFrom, f))]);
}
