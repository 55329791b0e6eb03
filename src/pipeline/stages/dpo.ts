// dpo.ts — `zhongjing train dpo` (outside the default recipe): the SFT model with a new LoRA adapter trained by DPO on
// the ranked pairs; the reference is the SFT model's own adapters.
import { join } from 'node:path';
import { type RunContext, input, loopConfig, trainStage, loraBaseWeights, loraConfig, markDone, resetStage, stageDir } from '../context.js';
import { loadModelDir, saveModelDir } from '../../model/model-dir.js';
import type { LlamaForCausalLM } from '../../model/llama.js';
import { LoraAdapter, freezeParameters, withActiveAdapters } from '../../nn/lora.js';
import { dpoTask } from '../../train/tasks/dpo.js';
import { resolveCheckpointing } from '../../train/memory.js';
import { loadTokenizer } from '../../tokenizer/index.js';
import { RANKINGS_FILE, eosId, preferencePairs } from '../stage-inputs.js';

/** `zhongjing train dpo`: the SFT model with a new LoRA adapter trained by DPO on the ranked pairs; reference = adapter off. */
export async function runDpo(ctx: RunContext): Promise<Record<string, unknown>> {
  const sftDir = input(ctx, 'sft', 'model', 'dpo');
  const rankingsPath = input(ctx, 'rank', RANKINGS_FILE, 'dpo');
  const tok = await loadTokenizer(input(ctx, 'tokenizer', 'tokenizer.json', 'dpo'));
  const dir = resetStage(ctx, 'dpo');
  const { cfg } = ctx;
  const eos = eosId(tok);
  const { train: trainSet, dev, tooLong } = preferencePairs(tok, cfg.tokenizer.template, rankingsPath, cfg.dpo.maxLen, cfg.data.devFraction, cfg.seed);
  const low = loraBaseWeights(ctx, 'dpo', true);
  const md = loadModelDir(sftDir, { weights: low.weights });
  const policy = md.model;
  policy.gradientCheckpointing = resolveCheckpointing(policy, cfg.dpo.gradientCheckpointing ?? undefined);
  freezeParameters(policy.parameters());
  for (const a of md.adapters) a.setTrainable(false);
  const adapter = new LoraAdapter('dpo', loraConfig(cfg.dpo.lora), cfg.seed).attach(policy.namedLinears(), cfg.seed + 9);
  adapter.training = true; // dpo.lora.dropout, in the policy's forward only (the reference runs without gradients)
  // the reference is the SFT model: its own enabled adapters on, the DPO adapter off
  const refActive = md.adapters.filter((a) => a.enabled);
  const asReference = <R>(fn: (ref: LlamaForCausalLM) => R): R => withActiveAdapters(policy, refActive, () => fn(policy));
  const task = dpoTask({ model: policy, namedParams: adapter.namedParameters(), train: trainSet, dev, pairsPerBatch: cfg.dpo.pairsPerBatch, beta: cfg.dpo.beta, seed: cfg.seed, asReference });
  const res = await trainStage(task, { ...loopConfig(cfg.dpo, join(dir, 'train'), ctx.quiet), evalEvery: cfg.dpo.evalEvery || cfg.dpo.steps });
  saveModelDir(join(dir, 'model'), policy, { eosTokenIds: [eos], padTokenId: eos, tokenizerFrom: stageDir(ctx, 'tokenizer'), adapters: [...md.adapters, adapter], generation: md.generation,
    baseFrom: low.baseFrom ? sftDir : null });
  const ev = res.evals.at(-1) ?? {};
  const summary = { trainPairs: trainSet.length, devPairs: dev.length, tooLong, steps: res.steps, firstLoss: res.losses[0], lastLoss: res.lastLoss, devRewardAccuracy: ev.reward_accuracy };
  markDone(ctx, 'dpo', summary);
  return summary;
}
