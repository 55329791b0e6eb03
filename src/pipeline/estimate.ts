// estimate.ts — checks made before a run does any work: the model's context against the config's lengths, and each
// stage's memory (weights, LoRA / optimiser state, activations, a rollout's KV cache) against what the machine has,
// refused with the knobs that lower it. Sizes follow what the stages hold: the frozen base of a LoRA stage in
// model.loraBaseWeights (f32 when training in full), AdamW's two f32 moments, the checkpointing default, and the
// RL stage's one shared base when the SFT model and the RM are both LoRA on it (train/tasks/rl-models.ts), and
// tokenizer.extend's grown vocabulary, trained in full beside pretrain's LoRA. They are
// estimates from shapes, not measurements: the loop's [memory] line measures (test/pipeline holds them together).
import { existsSync, readFileSync } from 'node:fs';
import { freemem, totalmem } from 'node:os';
import { join } from 'node:path';
import type { LoraSpec, PipelineConfig } from './config.js';
import { fromHfConfig } from '../model/config.js';
import { headDimOf, presets, type LlamaConfig } from '../model/llama.js';
import { CHECKPOINT_DEFAULT_PARAMS } from '../train/memory.js';
import { QUANT_BLOCK, QUANT_BLOCK_BYTES, isQuantized, type WeightFormat } from '../tensor/dtype.js';
import type { KvCacheDType } from '../model/kv-cache.js';

export interface ModelShape { config: LlamaConfig; source: string; fileDtype: 'f32' | 'bf16' }

/** The model the run trains: model.from's config.json, or the preset with the config's sizes (vocab ≈ tokenizer.vocabSize). */
export function modelShape(cfg: PipelineConfig): ModelShape {
  const m = cfg.model;
  if (m.from) {
    const file = join(m.from, 'config.json');
    if (!existsSync(file)) throw new Error(`[pipeline] model.from: ${file} does not exist (download the model first; see the config's header)`);
    const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    const dtype = json.torch_dtype === 'float32' ? 'f32' : 'bf16';
    return { config: fromHfConfig(json, file).config, source: file, fileDtype: dtype };
  }
  const base = presets[m.preset!];
  return {
    source: `model.preset ${m.preset}`, fileDtype: 'f32',
    config: {
      ...base, vocabSize: cfg.tokenizer.vocabSize!, hiddenSize: m.hiddenSize ?? base.hiddenSize, numLayers: m.layers ?? base.numLayers,
      numHeads: m.heads ?? base.numHeads, numKvHeads: m.kvHeads ?? base.numKvHeads, intermediateSize: m.intermediateSize ?? base.intermediateSize,
      maxPositions: m.maxPositions ?? Number.POSITIVE_INFINITY, // a preset model is sized to the config's lengths (stages/pretrain.ts)
    },
  };
}

/**
 * Lengths the run needs against the model's context. Generation prompts come from the SFT dialogues, so
 * sft.maxLen + the largest maxNewTokens is the longest sequence a sampling stage may build.
 */
export function checkContext(cfg: PipelineConfig, shape: ModelShape): void {
  const ctxLen = shape.config.maxPositions;
  if (!Number.isFinite(ctxLen)) return;
  const where = `the model's context (max_position_embeddings ${ctxLen}, ${shape.source})`;
  const lengths: [string, number][] = [['pretrain.seqLen', cfg.pretrain.seqLen], ['sft.maxLen', cfg.sft.maxLen], ['rm.maxLen', cfg.rm.maxLen], ['dpo.maxLen', cfg.dpo.maxLen]];
  for (const [k, n] of lengths) if (n > ctxLen) throw new Error(`[pipeline] ${k} (${n}) exceeds ${where}: lower ${k}`);
  const gen: [string, number][] = [['sample.maxNewTokens', cfg.sample.maxNewTokens], [cfg.rl === 'grpo' ? 'grpo.maxNewTokens' : 'ppo.maxNewTokens', cfg.rl === 'grpo' ? cfg.grpo.maxNewTokens : cfg.ppo.maxNewTokens], ['eval.maxNewTokens', cfg.eval.maxNewTokens]];
  for (const [k, n] of gen)
    if (cfg.sft.maxLen + n > ctxLen) throw new Error(`[pipeline] sft.maxLen (${cfg.sft.maxLen}) + ${k} (${n}) = ${cfg.sft.maxLen + n} exceeds ${where}: lower one of them`);
}

const GiB = 2 ** 30;
/** node, the addon, tokenizer tables and the buffer pool's slack: what a run holds beside its tensors */
const PROCESS_BYTES = 0.4 * GiB;

export function parameterCount(c: LlamaConfig): number {
  const C = c.hiddenSize, D = headDimOf(c), F = c.intermediateSize;
  const attn = C * c.numHeads * D * 2 + C * c.numKvHeads * D * 2 + (c.attentionBias ? c.numHeads * D + 2 * c.numKvHeads * D : 0);
  const layer = attn + 3 * C * F + 2 * C;
  return c.vocabSize * C * (c.tieWordEmbeddings ? 1 : 2) + c.numLayers * layer + C;
}

function loraParameters(c: LlamaConfig, l: LoraSpec): number {
  const C = c.hiddenSize, D = headDimOf(c), F = c.intermediateSize;
  const dims: Record<string, [number, number]> = {
    q_proj: [C, c.numHeads * D], k_proj: [C, c.numKvHeads * D], v_proj: [C, c.numKvHeads * D], o_proj: [c.numHeads * D, C],
    gate_proj: [C, F], up_proj: [C, F], down_proj: [F, C],
  };
  return c.numLayers * l.targets.reduce((s, t) => s + (dims[t] ? l.r * (dims[t]![0] + dims[t]![1]) : 0), 0);
}

/** f32 bytes a decoder layer keeps per token for backward (norm outputs, q/k/v, attention out, MLP), plus scores. */
function layerBytesPerToken(c: LlamaConfig, T: number): number {
  const D = headDimOf(c);
  return 4 * (10 * c.hiddenSize + 2 * c.numKvHeads * D + 4 * c.intermediateSize + 2 * c.numHeads * T);
}

/** Bytes per cached key or value (model/kv-cache.ts). */
function kvBytes(dtype: KvCacheDType = 'f32'): number {
  return dtype === 'bf16' ? 2 : 4;
}

/** Bytes per value of a [N, K] matrix held in fmt (llama.cpp's block layouts for q8_0 / q4_0). */
function matrixBytes(N: number, K: number, fmt: WeightFormat): number {
  // as weights.ts targetDType: rows that are not whole 32-value blocks are held in bf16 under a quantized format
  const f: WeightFormat = isQuantized(fmt) && K % QUANT_BLOCK ? 'bf16' : fmt;
  const perValue = f === 'f32' ? 4 : f === 'bf16' ? 2 : QUANT_BLOCK_BYTES[f] / QUANT_BLOCK;
  return N * K * perValue;
}

/**
 * Bytes of one copy of the base with every matrix (projections, embedding table, an untied LM head) in fmt and the
 * norms and biases in f32: what loadModelDir holds for `weights: fmt` (model/weights.ts).
 */
export function baseWeightBytes(c: LlamaConfig, fmt: WeightFormat): number {
  const C = c.hiddenSize, D = headDimOf(c), F = c.intermediateSize, q = c.numHeads * D, kv = c.numKvHeads * D;
  const layer = matrixBytes(q, C, fmt) + 2 * matrixBytes(kv, C, fmt) + matrixBytes(C, q, fmt)
    + 2 * matrixBytes(F, C, fmt) + matrixBytes(C, F, fmt)
    + 4 * (2 * C + (c.attentionBias ? q + 2 * kv : 0));
  return matrixBytes(c.vocabSize, C, fmt) * (c.tieWordEmbeddings ? 1 : 2) + c.numLayers * layer + 4 * C;
}

export interface StageMemory { stage: string; bytes: number; parts: Record<string, number>; knobs: string[] }

interface TrainShape {
  stage: string; key: string; rows: number; T: number; lora: LoraSpec | null; checkpointing: boolean | null; rowsKey: string; lenKey: string;
  /** model.loraBaseWeights (a LoRA stage's frozen base); full fine-tuning trains f32 whatever it says */
  baseWeights: WeightFormat;
  /** copies of the base held (the RL stage: 2 when the RM cannot share the SFT model's) */
  copies: number;
  /** adapters held frozen beside the trained one (the RL stage: the SFT model's and the RM's) */
  frozenAdapters: LoraSpec[];
  /** value heads beside the model (RM score head, PPO critic), all counted as trained: C + 1 values each */
  heads: number;
  /** a rollout's generation (the RL stage): rows and tokens of its KV cache */
  rollout?: { rows: number; T: number; key: string };
  /** model.kvCache: what the rollout's cache holds */
  kvCache?: KvCacheDType;
  /** the RL stage: new tokens per response; T is a prompt of up to sft.maxLen plus these */
  newTokens?: number;
  /** tokenizer.extend under LoRA: the vocabulary matrices train in full beside the adapter (stages/pretrain.ts) */
  vocabTrains?: boolean;
  /** pretrain over a low-precision base: the adapter merges into the checkpoint's weights, held in this precision */
  mergesInto?: 'f32' | 'bf16';
}

/** Values of the vocabulary matrices: the embedding, and an untied LM head. */
function vocabValues(c: LlamaConfig): number {
  return c.vocabSize * c.hiddenSize * (c.tieWordEmbeddings ? 1 : 2);
}

function trainingMemory(c: LlamaConfig, s: TrainShape): StageMemory {
  const P = parameterCount(c);
  // with tokenizer.extend the embedding (and an untied head) trains beside LoRA: its master copy is the base's own f32
  // tensor (an f32 base), or an f32 copy beside a low-precision one (counted whole: an upper bound); its gradient and
  // AdamW moments are extra
  const vocabTrained = s.lora && s.vocabTrains ? vocabValues(c) : 0;
  const trainable = (s.lora ? loraParameters(c, s.lora) + vocabTrained : P) + s.heads * (c.hiddenSize + 1);
  const fmt: WeightFormat = s.lora ? s.baseWeights : 'f32';
  const ck = s.checkpointing ?? P >= CHECKPOINT_DEFAULT_PARAMS;
  const N = s.rows * s.T;
  const perLayer = layerBytesPerToken(c, s.T);
  const activations = ck ? c.numLayers * N * 4 * c.hiddenSize + N * perLayer : c.numLayers * N * perLayer;
  const frozen = s.frozenAdapters.reduce((a, l) => a + loraParameters(c, l), 0) * 4;
  const parts: Record<string, number> = {
    weights: s.copies * baseWeightBytes(c, fmt) + (s.lora ? trainable - vocabTrained : s.heads * (c.hiddenSize + 1)) * 4 + frozen, // adapters and heads in f32
    'grads + AdamW': trainable * 12,
    activations: activations + N * c.hiddenSize * 16 + 3 * 32 * 2 ** 20, // hidden states around the chunked LM head
  };
  if (s.rollout) {
    // generate's KV cache over the whole rollout (keys and values per layer, model.kvCache); its forward frees each
    // layer's work
    const r = s.rollout;
    parts['rollout KV cache'] = 2 * c.numLayers * r.rows * r.T * c.numKvHeads * headDimOf(c) * kvBytes(s.kvCache) + r.rows * r.T * perLayer;
  }
  if (vocabTrained && fmt !== 'f32') parts['vocabulary in f32'] = vocabTrained * 4;
  // the merge re-reads the base in its file's precision (training's buffers are gone by then, so an upper bound)
  if (s.mergesInto && baseWeightBytes(c, s.mergesInto) > baseWeightBytes(c, fmt)) parts['merge into the base'] = baseWeightBytes(c, s.mergesInto) - baseWeightBytes(c, fmt);
  parts.process = PROCESS_BYTES;
  const knobs = [
    ...(ck ? [] : [`${s.key}.gradientCheckpointing: true`]),
    ...(s.lora && fmt !== 'q4_0' ? [`model.loraBaseWeights (${fmt}; bf16, q8_0 or q4_0 hold the frozen base smaller)`] : []),
    `${s.lenKey} (${s.newTokens !== undefined ? `${s.newTokens} + a prompt of up to sft.maxLen` : s.T})`, `${s.rowsKey} (${s.rows})`, ...(s.lora ? [] : [`${s.key}.lora: {r: 16, alpha: 32} instead of full training`]),
    ...(vocabTrained ? [`tokenizer.extend (the ${c.vocabSize} × ${c.hiddenSize} embedding${c.tieWordEmbeddings ? '' : ' and LM head'} train in full beside ${s.key}'s LoRA adapter: ` +
      `${gib(vocabTrained * 12)} of gradients and AdamW moments whatever tokenizer.extend.tokens is; remove it to train the adapter alone)`] : []),
    ...(s.rollout && s.rollout.key !== s.rowsKey ? [`${s.rollout.key} (${s.rollout.rows})`] : []),
  ];
  return { stage: s.stage, bytes: Object.values(parts).reduce((a, b) => a + b, 0), parts, knobs };
}

function inferenceMemory(cfg: PipelineConfig, shape: ModelShape, c: LlamaConfig, stage: string, rows: number, T: number): StageMemory {
  const w = cfg.model.weights === 'auto' ? shape.fileDtype : cfg.model.weights;
  // llama.cpp block layouts, plus the panel-scale table a quantized matrix gains at its first batched product (one
  // f16 per block: ops/panel-scales.ts)
  const perValue = w === 'f32' ? 4 : w === 'bf16' ? 2 : (QUANT_BLOCK_BYTES[w] + 2) / QUANT_BLOCK;
  const kv = 2 * c.numLayers * rows * T * c.numKvHeads * headDimOf(c) * kvBytes(cfg.model.kvCache);
  const parts = { weights: parameterCount(c) * perValue, 'KV cache': kv, logits: rows * c.vocabSize * 4 * 2, process: PROCESS_BYTES };
  return { stage, bytes: Object.values(parts).reduce((a, b) => a + b, 0), parts, knobs: [`model.weights (${w}; bf16 or q8_0 are smaller)`, `${stage}.maxNewTokens`] };
}

/**
 * Whether the RL stage loads one base for policy, reference and reward model: the SFT model and the RM are both
 * LoRA on the pre-trained model (rl-models.ts compares the bytes; full SFT or a full RM changes them).
 */
export function rlSharesBase(cfg: PipelineConfig): boolean {
  return !!cfg.sft.lora && !!cfg.rm.lora;
}

/** The memory each stage of the recipe is expected to peak at. */
export function estimateMemory(cfg: PipelineConfig, shape: ModelShape): StageMemory[] {
  // tokenizer.extend grows the vocabulary by up to `tokens` rows (fewer where the model has spare rows past its
  // tokenizer: an upper bound), for every stage from pretrain on
  const ext = cfg.tokenizer.extend;
  const c: LlamaConfig = ext ? { ...shape.config, vocabSize: shape.config.vocabSize + ext.tokens } : shape.config;
  const genT = cfg.sft.maxLen + Math.max(cfg.sample.maxNewTokens, cfg.ppo.maxNewTokens);
  // RL prompts are first patient turns of the SFT dialogues, so sft.maxLen bounds them (as checkContext assumes); a
  // rollout never outgrows the context (fitPrompts drops prompts that would)
  const rlLen = (maxNew: number) => Math.min(cfg.sft.maxLen + maxNew, c.maxPositions);
  const fmt = cfg.model.loraBaseWeights;
  const none = { copies: 1, frozenAdapters: [], heads: 0, baseWeights: fmt };
  const rl = cfg.rl === 'grpo'
    ? { rows: cfg.grpo.promptsPerStep * (cfg.grpo.k ?? cfg.sample.k), rowsKey: 'grpo.promptsPerStep', lora: cfg.grpo.lora, T: rlLen(cfg.grpo.maxNewTokens), newTokens: cfg.grpo.maxNewTokens, lenKey: 'grpo.maxNewTokens', heads: 1 }
    : { rows: cfg.ppo.miniBatch, rowsKey: 'ppo.miniBatch', lora: cfg.ppo.lora, T: rlLen(cfg.ppo.maxNewTokens), newTokens: cfg.ppo.maxNewTokens, lenKey: 'ppo.maxNewTokens', heads: 2 };
  const rollout = cfg.rl === 'grpo' ? { rows: rl.rows, T: rl.T, key: rl.rowsKey } : { rows: cfg.ppo.rolloutSize, T: rl.T, key: 'ppo.rolloutSize' };
  // the policy carries the SFT adapter (frozen) and, on a shared base, the RM's; a full SFT model or RM is a base copy
  const frozenAdapters = [cfg.sft.lora, cfg.rm.lora].filter((l): l is LoraSpec => !!l);
  return [
    // pretrain holds a checkpoint's base in model.loraBaseWeights under LoRA and merges into the file's precision
    // (stages/pretrain-merge.ts); a preset model is trained from its f32 initialisation
    trainingMemory(c, { ...none, stage: 'pretrain', key: 'pretrain', rows: cfg.pretrain.batchSize, T: cfg.pretrain.seqLen, lora: cfg.pretrain.lora, checkpointing: cfg.pretrain.gradientCheckpointing, rowsKey: 'pretrain.batchSize', lenKey: 'pretrain.seqLen',
      baseWeights: cfg.model.from ? fmt : 'f32', vocabTrains: !!ext, ...(cfg.model.from && fmt !== 'f32' ? { mergesInto: shape.fileDtype } : {}) }),
    trainingMemory(c, { ...none, stage: 'sft', key: 'sft', rows: cfg.sft.batchSize, T: cfg.sft.maxLen, lora: cfg.sft.lora, checkpointing: cfg.sft.gradientCheckpointing, rowsKey: 'sft.batchSize', lenKey: 'sft.maxLen' }),
    inferenceMemory(cfg, shape, c, 'sample', 8, genT),
    trainingMemory(c, { ...none, stage: 'rm', key: 'rm', rows: 2 * cfg.rm.pairsPerBatch, T: cfg.rm.maxLen, lora: cfg.rm.lora, checkpointing: cfg.rm.gradientCheckpointing, rowsKey: 'rm.pairsPerBatch', lenKey: 'rm.maxLen', heads: 1 }),
    // the policy (reference = its adapters off, critic = a head) and the reward model on one base when both are LoRA
    trainingMemory(c, { ...rl, stage: 'ppo', key: cfg.rl, checkpointing: (cfg.rl === 'grpo' ? cfg.grpo : cfg.ppo).gradientCheckpointing,
      baseWeights: fmt, copies: rlSharesBase(cfg) ? 1 : 2, frozenAdapters, rollout, kvCache: cfg.model.kvCache }),
    inferenceMemory(cfg, shape, c, 'eval', 8, cfg.sft.maxLen + cfg.eval.maxNewTokens),
  ];
}

/** Bytes the machine can give this run now: MemAvailable (Linux), else free memory. */
export function availableMemory(): number {
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch { /* not Linux */ }
  return freemem();
}

const gib = (b: number) => `${(b / GiB).toFixed(1)} GiB`;

export function memoryText(m: StageMemory): string {
  return `${m.stage} ~${gib(m.bytes)} (${Object.entries(m.parts).map(([k, v]) => `${k} ${gib(v)}`).join(', ')})`;
}

/** Refuse before any work when a stage would need more than `available` bytes, naming what lowers it. */
export function checkMemory(stages: StageMemory[], available = availableMemory(), total = totalmem()): void {
  const worst = stages.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  if (worst.bytes <= available) return;
  throw new Error(`[pipeline] memory: stage ${memoryText(worst)} but this machine has ${gib(available)} available (of ${gib(total)}). ` +
    `Lower it with: ${worst.knobs.join(', ')}`);
}

/** What a stage processes, as tokens (an upper bound: every sequence at its length limit), or null for no model work. */
export function stageTokens(cfg: PipelineConfig, stage: string): { tokens: number; what: string } | null {
  const k = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : `${n}`);
  const t = (tokens: number, what: string) => ({ tokens, what: `${k(tokens)} tokens (${what})` });
  switch (stage) {
    case 'pretrain': { const p = cfg.pretrain; return t(p.steps * p.gradAccum * p.batchSize * p.seqLen, `${p.steps} steps × ${p.gradAccum * p.batchSize} × ${p.seqLen}`); }
    case 'sft': { const p = cfg.sft; return t(p.steps * p.gradAccum * p.batchSize * p.maxLen, `${p.steps} steps × ${p.gradAccum * p.batchSize} × ≤ ${p.maxLen}`); }
    case 'rm': { const p = cfg.rm; return t(p.steps * p.gradAccum * 2 * p.pairsPerBatch * p.maxLen, `${p.steps} steps × ${p.gradAccum * p.pairsPerBatch} pairs × 2 × ≤ ${p.maxLen}`); }
    case 'ppo': {
      if (cfg.rl === 'grpo') { const g = cfg.grpo; const n = g.promptsPerStep * (g.k ?? cfg.sample.k); return t(g.steps * n * g.maxNewTokens, `${g.steps} steps × ${n} responses × ≤ ${g.maxNewTokens} new`); }
      const p = cfg.ppo; return t(p.steps * p.miniBatch * p.maxNewTokens, `${p.steps} steps × ${p.miniBatch} responses × ≤ ${p.maxNewTokens} new`);
    }
    case 'sample': { const s = cfg.sample; return t(s.prompts * s.k * s.maxNewTokens, `${s.prompts} prompts × ${s.k} answers × ≤ ${s.maxNewTokens} new`); }
    // the SFT and the RL model each answer every prompt
    case 'eval': { const e = cfg.eval; return t(2 * e.prompts * e.maxNewTokens, `${e.prompts} prompts × 2 models × ≤ ${e.maxNewTokens} new`); }
    default: return null;
  }
}
