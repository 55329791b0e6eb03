// pretrain.ts — stage `pretrain`: a model from the preset (or an HF directory to continue, in full or through a LoRA
// adapter merged into the base at the end) trained on packed text blocks.
import { join } from 'node:path';
import { type RunContext, input, loopConfig, trainStage, loraConfig, markDone, readJsonl, resetStage, stageDir } from '../context.js';
import { LlamaForCausalLM, presets, type LlamaConfig } from '../../model/llama.js';
import { loadModelDir, saveModelDir } from '../../model/model-dir.js';
import { LoraAdapter, freezeParameters } from '../../nn/lora.js';
import { causalLmTask } from '../../train/tasks/causal-lm.js';
import { packBlocks, type Conversation } from '../../data/index.js';
import { DATA_FILES } from './data.js';
import { runTokenizerOf } from './tokenizer.js';
import { eosId } from '../stage-inputs.js';

function modelConfig(ctx: RunContext, vocabSize: number, eos: number): LlamaConfig {
  const m = ctx.cfg.model;
  const base = presets[m.preset];
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
  const model = cfg.model.from ? loadModelDir(cfg.model.from, { adapters: false, weights: 'f32' }).model : new LlamaForCausalLM(modelConfig(ctx, tok.vocabSize, eos), cfg.seed);
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
  }
  const task = causalLmTask({ name: 'pretrain', model, namedParams: named, train: seqs.slice(nDev), dev: seqs.slice(0, nDev), batchSize: cfg.pretrain.batchSize, seed: cfg.seed, gradientCheckpointing: cfg.pretrain.gradientCheckpointing ?? undefined });
  const res = await trainStage(task, loopConfig(cfg.pretrain, join(dir, 'train'), ctx.quiet));
  if (adapter) { adapter.training = false; adapter.merge(); }
  saveModelDir(join(dir, 'model'), model, { eosTokenIds: [eos], padTokenId: eos, tokenizerFrom: stageDir(ctx, 'tokenizer'), generation: { eosTokenIds: [eos], repetitionPenalty: cfg.eval.repetitionPenalty } });
  const summary = { params: model.numParameters(), mode: adapter ? `LoRA r=${cfg.pretrain.lora!.r} (merged)` : 'full', from: cfg.model.from ?? `preset ${cfg.model.preset}`,
    trainable: named.reduce((n, [, t]) => n + t.size, 0), blocks: blocks.length, devBlocks: nDev, steps: res.steps, firstLoss: res.losses[0], lastLoss: res.lastLoss, dev: res.evals.at(-1) ?? null };
  markDone(ctx, 'pretrain', summary);
  return summary;
}
