// sft.ts — stage `sft`: the pre-trained model, full or with a LoRA adapter, on conversations rendered by the run's chat
// template with the loss on assistant tokens (every doctor turn, or the last only).
import { join } from 'node:path';
import { type RunContext, input, loopConfig, trainStage, loraBaseWeights, loraConfig, markDone, readJsonl, resetStage, stageDir } from '../context.js';
import { loadModelDir, saveModelDir } from '../../model/model-dir.js';
import { LoraAdapter, freezeParameters } from '../../nn/lora.js';
import { causalLmTask } from '../../train/tasks/causal-lm.js';
import type { Conversation } from '../../data/index.js';
import { DATA_FILES } from './data.js';
import { runTokenizerOf } from './tokenizer.js';
import { eosId, encodeConversations } from '../stage-inputs.js';

export async function runSft(ctx: RunContext): Promise<Record<string, unknown>> {
  const base = input(ctx, 'pretrain', 'model', 'sft');
  const tok = await runTokenizerOf(ctx, 'sft');
  const trainSet = readJsonl<Conversation>(input(ctx, 'data', DATA_FILES.train, 'sft'));
  const dev = readJsonl<Conversation>(input(ctx, 'data', DATA_FILES.dev, 'sft'));
  const dir = resetStage(ctx, 'sft');
  const { cfg } = ctx;
  const low = loraBaseWeights(ctx, 'sft', !!cfg.sft.lora);
  const { model } = loadModelDir(base, { adapters: false, weights: low.weights });
  const template = cfg.tokenizer.template;
  const tr = encodeConversations(tok, template, trainSet, cfg.sft.maxLen, cfg.sft.lossOn, input(ctx, 'data', DATA_FILES.train, 'sft'));
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
