// lm.ts — stages `pretrain` and `sft`. pretrain: a model from the preset (or an HF directory to continue, in
// full or through a LoRA adapter merged into the base at the end) on packed text blocks. sft: the pre-trained model, full or with a LoRA adapter, on conversations rendered by the
// run's chat template with the loss on assistant tokens (every doctor turn, or the last only).
import { join } from 'node:path';
import type { RunContext } from '../context.js';
import { input, loopConfig, trainStage, loraBaseWeights, loraConfig, markDone, readJsonl, resetStage, stageDir } from '../context.js';
import { LlamaForCausalLM, presets, type LlamaConfig } from '../../model/llama.js';
import { loadModelDir, saveModelDir } from '../../model/model-dir.js';
import { LoraAdapter, freezeParameters } from '../../nn/lora.js';
import { causalLmTask } from '../../train/stages/causal-lm.js';
import type { LmSequence } from '../../train/stages/lm-batches.js';
import { packBlocks, toMessages, type Conversation } from '../../data/index.js';
import { encodeChat, type Tokenizer } from '../../tokenizer/index.js';
import { formatInjection, injectionMarkers, recordInjections } from '../../tokenizer/injection.js';
import { DATA_FILES } from './data.js';
import { EOS_TOKEN, runTokenizerOf } from './tokenizer.js';

export function eosId(tok: Tokenizer): number {
  const id = tok.tokenToId(tok.config.eosToken ?? EOS_TOKEN);
  if (id === undefined) throw new Error(`[pipeline] the tokenizer has no EOS token '${tok.config.eosToken ?? EOS_TOKEN}'`);
  return id;
}

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

/** Conversations → ids with the loss mask from the chat template; those longer than maxLen are counted and left out. */
export function encodeConversations(tok: Tokenizer, template: string, convs: Conversation[], maxLen: number, lossOn: 'all' | 'last', file = 'conversations'): { seqs: LmSequence[]; tooLong: number; injected: string[] } {
  const seqs: LmSequence[] = [];
  let tooLong = 0;
  const markers = injectionMarkers(tok, template), injected: string[] = [];
  for (const [i, c] of convs.entries()) {
    const found = recordInjections(c, markers, { file, line: i + 1 });
    if (found.length) { injected.push(...found.map(formatInjection)); continue; }
    const enc = encodeChat(tok, template, toMessages(c.turns), { addGenerationPrompt: false });
    if (enc.ids.length > maxLen) { tooLong++; continue; }
    let mask: ArrayLike<number> = enc.assistantMask;
    if (lossOn === 'last') {
      // keep only the final assistant run of the mask
      const m = Uint8Array.from(enc.assistantMask);
      let i = m.length - 1;
      while (i >= 0 && !m[i]) i--;
      while (i >= 0 && m[i]) i--;
      m.fill(0, 0, i + 1);
      mask = m;
    }
    seqs.push({ ids: enc.ids, lossMask: mask as ArrayLike<number> });
  }
  return { seqs, tooLong, injected };
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

export async function runSft(ctx: RunContext): Promise<Record<string, unknown>> {
  const base = input(ctx, 'pretrain', 'model', 'sft');
  const tok = await runTokenizerOf(ctx, 'sft');
  const train_ = readJsonl<Conversation>(input(ctx, 'data', DATA_FILES.train, 'sft'));
  const dev = readJsonl<Conversation>(input(ctx, 'data', DATA_FILES.dev, 'sft'));
  const dir = resetStage(ctx, 'sft');
  const { cfg } = ctx;
  const low = loraBaseWeights(ctx, 'sft', !!cfg.sft.lora);
  const { model } = loadModelDir(base, { adapters: false, weights: low.weights });
  const template = cfg.tokenizer.template;
  const tr = encodeConversations(tok, template, train_, cfg.sft.maxLen, cfg.sft.lossOn, input(ctx, 'data', DATA_FILES.train, 'sft'));
  const dv = encodeConversations(tok, template, dev, cfg.sft.maxLen, cfg.sft.lossOn, input(ctx, 'data', DATA_FILES.dev, 'sft'));
  for (const p of [...tr.injected, ...dv.injected]) ctx.log(`[sft] ${p}`);
  let adapter: LoraAdapter | null = null;
  let named = model.namedParameters();
  if (cfg.sft.lora) {
    freezeParameters(model.parameters());
    adapter = new LoraAdapter('sft', loraConfig(cfg.sft.lora), cfg.seed).attach(model.namedLinears(), cfg.seed);
    adapter.training = true;
    named = adapter.namedParameters();
  }
  const task = causalLmTask({ name: 'sft', model, namedParams: named, train: tr.seqs, dev: dv.seqs, batchSize: cfg.sft.batchSize, seed: cfg.seed + 1, gradientCheckpointing: cfg.sft.gradientCheckpointing ?? undefined });
  const res = await trainStage(task, loopConfig(cfg.sft, join(dir, 'train'), ctx.quiet));
  if (adapter) adapter.training = false;
  const eos = eosId(tok);
  saveModelDir(join(dir, 'model'), model, { eosTokenIds: [eos], padTokenId: eos, tokenizerFrom: stageDir(ctx, 'tokenizer'), adapters: adapter ? [adapter] : [],
    baseFrom: low.baseFrom ? base : null,
    generation: { eosTokenIds: [eos], repetitionPenalty: cfg.eval.repetitionPenalty } });
  const summary = { mode: adapter ? `LoRA r=${cfg.sft.lora!.r}` : 'full', ...(low.baseFrom ? { baseWeights: cfg.model.loraBaseWeights } : {}), trainSequences: tr.seqs.length, devSequences: dv.seqs.length, tooLong: tr.tooLong + dv.tooLong, injected: tr.injected.length + dv.injected.length,
    trainable: named.reduce((n, [, t]) => n + t.size, 0), steps: res.steps, firstLoss: res.losses[0], lastLoss: res.lastLoss, dev: res.evals.at(-1) ?? null };
  markDone(ctx, 'sft', summary);
  return summary;
}
