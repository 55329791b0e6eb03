// pretrain.ts — stage `pretrain`: a model from the preset (or an HF directory to continue, in full or through a LoRA
// adapter merged into the base at the end) trained on packed text blocks. After a tokenizer extension the model's
// embedding (and an untied LM head) is fitted to the new vocabulary (model/resize.ts) and trains in full beside the
// adapter, as LLaMA-Factory's resize_vocab does: the new rows must learn, and the rows are one tensor.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RunContext, input, loopConfig, trainStage, loraConfig, markDone, readJsonl, resetStage, stageDir } from '../context.js';
import { LlamaForCausalLM, presets, type LlamaConfig } from '../../model/llama.js';
import { loadModelDir, saveModelDir } from '../../model/model-dir.js';
import { LoraAdapter, freezeParameters } from '../../nn/lora.js';
import { causalLmTask } from '../../train/tasks/causal-lm.js';
import { packBlocks, type Conversation } from '../../data/index.js';
import { DATA_FILES } from './data.js';
import { EXTENSION_FILE, runTokenizerOf, type ExtensionFile } from './tokenizer.js';
import { resizeVocabulary } from '../../model/resize.js';
import type { Tensor } from '../../tensor/tensor.js';
import { eosId } from '../stage-inputs.js';
import { holdF32FromFile, mergeIntoOriginals } from './pretrain-merge.js';
import type { StDtype } from '../../model/safetensors.js';

function modelConfig(ctx: RunContext, vocabSize: number, eos: number): LlamaConfig {
  const m = ctx.cfg.model;
  const base = presets[m.preset ?? 'tiny']; // config.ts fills 'tiny' where no model.from is set
  const need = Math.max(ctx.cfg.pretrain.seqLen, ctx.cfg.sft.maxLen, ctx.cfg.rm.maxLen, 64);
  return {
    ...base, vocabSize, eosTokenId: eos,
    hiddenSize: m.hiddenSize ?? base.hiddenSize, numLayers: m.layers ?? base.numLayers, numHeads: m.heads ?? base.numHeads,
    numKvHeads: m.kvHeads ?? base.numKvHeads, intermediateSize: m.intermediateSize ?? base.intermediateSize,
    maxPositions: m.maxPositions ?? Math.max(base.maxPositions, need),
  };
}

export async function runPretrain(ctx: RunContext): Promise<Record<string, unknown>> {
  const tok = await runTokenizerOf(ctx, 'pretrain');
  const docs = readJsonl<{ text: string }>(input(ctx, 'data', DATA_FILES.pretrain, 'pretrain'));
  const convs = readJsonl<Conversation>(input(ctx, 'data', DATA_FILES.train, 'pretrain'));
  const dir = resetStage(ctx, 'pretrain');
  const { cfg } = ctx;
  const eos = eosId(tok);
  // through LoRA the frozen base may be held in model.loraBaseWeights; the adapter then merges into the checkpoint's
  // own weights at the end (pretrain-merge.ts). Full training and the f32 setting hold f32.
  const low = cfg.pretrain.lora && cfg.model.from && cfg.model.loraBaseWeights !== 'f32' ? cfg.model.loraBaseWeights : null;
  let model = cfg.model.from ? loadModelDir(cfg.model.from, { adapters: false, weights: low ?? 'f32' }).model : new LlamaForCausalLM(modelConfig(ctx, tok.vocabSize, eos), cfg.seed);
  if (low) ctx.log(`[pretrain] frozen base held as ${low} (model.loraBaseWeights); the adapter merges into ${cfg.model.from}'s own weights`);
  const extFile = join(stageDir(ctx, 'tokenizer'), EXTENSION_FILE);
  const ext = cfg.tokenizer.extend && existsSync(extFile) ? (JSON.parse(readFileSync(extFile, 'utf8')) as ExtensionFile) : null;
  if (cfg.tokenizer.extend && !ext) throw new Error(`[pretrain] tokenizer.extend is set but ${extFile} is missing: rerun the tokenizer stage (--from tokenizer)`);
  let grown: string | null = null;
  const vocabNames = ['model.embed_tokens.weight', ...(model.lmHead ? ['lm_head.weight'] : [])];
  if (ext) {
    if (low) holdF32FromFile(model, cfg.model.from!, vocabNames); // they train in full: f32 from the file
    if (model.config.vocabSize < ext.baseVocabSize)
      throw new Error(`[pretrain] the model's vocabulary (${model.config.vocabSize}) is smaller than its tokenizer's before extension (${ext.baseVocabSize})`);
    const rows0 = model.config.vocabSize;
    const sources = new Map(Object.entries(ext.sources).map(([k, v]) => [Number(k), v]));
    model = resizeVocabulary(model, Math.max(tok.vocabSize, rows0), sources, ext.baseVocabSize);
    grown = `${ext.newIds.length} new tokens in rows ${ext.baseVocabSize}…${tok.vocabSize - 1} (each the mean of its old pieces' rows); matrices ${rows0} → ${model.config.vocabSize} rows`;
    ctx.log(`[pretrain] tokenizer.extend: ${grown}`);
  }
  if (model.config.vocabSize < tok.vocabSize)
    throw new Error(`[pretrain] the model's vocabulary (${model.config.vocabSize}) is smaller than the tokenizer's (${tok.vocabSize})`);
  // Zhongjing's continued pre-training mixed textbooks with Q&A and dialogues: the dialogues join as plain text
  const texts = [...docs.map((d) => d.text), ...convs.map((c) => c.turns.map((t) => t.text).join('\n'))];
  const blocks = [...packBlocks(texts.map((t) => tok.encode(t)), { blockSize: cfg.pretrain.seqLen + 1, separatorId: eos })];
  if (blocks.length < 2) throw new Error(`[pretrain] only ${blocks.length} block(s) of ${cfg.pretrain.seqLen + 1} tokens: more text or a shorter pretrain.seqLen is needed`);
  const nDev = Math.max(1, Math.floor(blocks.length * 0.05));
  const seqs = blocks.map((b) => ({ ids: b }));
  // continued pre-training through LoRA: the base stays frozen; the adapter is folded in before saving, so later
  // stages read a plain model (sft and rm attach their own adapters to it)
  let adapter: LoraAdapter | null = null;
  let named = model.namedParameters();
  if (cfg.pretrain.lora) {
    freezeParameters(model.parameters());
    adapter = new LoraAdapter('pretrain', loraConfig(cfg.pretrain.lora), cfg.seed).attach(model.namedLinears(), cfg.seed + 7);
    adapter.training = true;
    named = adapter.namedParameters();
    if (ext) {
      // the vocabulary matrices train in full (their gradients and AdamW's two moments: 3 × 4 bytes per value)
      const params = new Map(model.namedParameters());
      const vocab: [string, Tensor][] = vocabNames.map((n) => [n, params.get(n)!]);
      for (const [, t] of vocab) t.requiresGrad = true;
      named = [...named, ...vocab];
      const values = vocab.reduce((n, [, t]) => n + t.size, 0);
      ctx.log(`[pretrain] tokenizer.extend: ${vocab.map(([n]) => n).join(' and ')} train beside the LoRA adapter (${(values / 1e6).toFixed(1)}M values: +${(values * 12 / 2 ** 30).toFixed(2)} GiB for gradients and AdamW moments)`);
    }
  }
  const task = causalLmTask({ name: 'pretrain', model, namedParams: named, train: seqs.slice(nDev), dev: seqs.slice(0, nDev), batchSize: cfg.pretrain.batchSize, seed: cfg.seed, gradientCheckpointing: cfg.pretrain.gradientCheckpointing ?? undefined });
  const res = await trainStage(task, loopConfig(cfg.pretrain, join(dir, 'train'), ctx.quiet));
  let dtype: StDtype | undefined;
  if (adapter) {
    adapter.training = false;
    if (low) dtype = mergeIntoOriginals(model, adapter, cfg.model.from!, new Set(ext ? vocabNames : []));
    else adapter.merge();
  }
  saveModelDir(join(dir, 'model'), model, { eosTokenIds: [eos], padTokenId: eos, tokenizerFrom: stageDir(ctx, 'tokenizer'), generation: { eosTokenIds: [eos], repetitionPenalty: cfg.eval.repetitionPenalty }, ...(dtype ? { dtype } : {}) });
  const summary = { params: model.numParameters(), mode: adapter ? `LoRA r=${cfg.pretrain.lora!.r} (merged)` : 'full', from: cfg.model.from ?? `preset ${cfg.model.preset}`,
    trainable: named.reduce((n, [, t]) => n + t.size, 0), ...(grown ? { vocabulary: grown } : {}), blocks: blocks.length, devBlocks: nDev, steps: res.steps, firstLoss: res.losses[0], lastLoss: res.lastLoss, dev: res.evals.at(-1) ?? null };
  markDone(ctx, 'pretrain', summary);
  return summary;
}
