// rm.ts — stage `rm`: a value head on the pre-trained model (as Zhongjing did), trained on the pairs of the ranked sets,
// as a LoRA adapter over that model (`rm.lora`) or in full.
import { join } from 'node:path';
import { type RunContext, input, loopConfig, trainStage, loraBaseWeights, loraConfig, markDone, resetStage, stageDir } from '../context.js';
import { loadModelDir, saveModelDir } from '../../model/model-dir.js';
import { ValueHead } from '../../model/value-head.js';
import { LoraAdapter, freezeParameters } from '../../nn/lora.js';
import { noGrad } from '../../autograd/grad-mode.js';
import { rewardTask } from '../../train/tasks/reward.js';
import { resolveCheckpointing } from '../../train/memory.js';
import { loadTokenizer } from '../../tokenizer/index.js';
import { RANKINGS_FILE, eosId, preferencePairs } from '../stage-inputs.js';

export async function runRm(ctx: RunContext): Promise<Record<string, unknown>> {
  const base = input(ctx, 'pretrain', 'model', 'rm');
  const rankingsPath = input(ctx, 'rank', RANKINGS_FILE, 'rm');
  const tok = await loadTokenizer(input(ctx, 'tokenizer', 'tokenizer.json', 'rm'));
  const dir = resetStage(ctx, 'rm');
  const { cfg } = ctx;
  const eos = eosId(tok);
  const { train: trainSet, dev, tooLong } = preferencePairs(tok, cfg.tokenizer.template, rankingsPath, cfg.rm.maxLen, cfg.data.devFraction, cfg.seed);
  // a pre-trained model that is itself base + a (continued-pre-training) adapter keeps it: frozen and on under the
  // RM's LoRA (so the RM's base bytes stay the SFT model's and PPO can share them), merged first for a full RM
  const low = loraBaseWeights(ctx, 'rm', !!cfg.rm.lora);
  const { model, adapters: ptAdapters } = loadModelDir(base, { weights: low.weights });
  model.gradientCheckpointing = resolveCheckpointing(model, cfg.rm.gradientCheckpointing ?? undefined);
  const head = new ValueHead(model.config.hiddenSize, cfg.seed);
  let adapter: LoraAdapter | null = null;
  let named = [...model.namedParameters(), ...head.namedParameters().map(([n, t]) => [`v_head.${n}`, t] as [string, typeof t])];
  if (cfg.rm.lora) {
    freezeParameters(model.parameters());
    for (const a of ptAdapters) a.setTrainable(false);
    adapter = new LoraAdapter('rm', loraConfig(cfg.rm.lora), cfg.seed).attach(model.namedLinears(), cfg.seed + 3);
    adapter.training = true; // rm.lora.dropout (inputs dropped only where gradients flow)
    named = [...adapter.namedParameters(), ...head.namedParameters()];
  } else for (const a of ptAdapters) (a.enabled ? a.merge() : a.detach());
  const before = noGrad(() => rewardTask({ model, head, namedParams: named, train: trainSet, dev, pairsPerBatch: cfg.rm.pairsPerBatch, seed: cfg.seed }).evaluate!());
  const task = rewardTask({ model, head, namedParams: named, train: trainSet, dev, pairsPerBatch: cfg.rm.pairsPerBatch, seed: cfg.seed });
  const res = await trainStage(task, { ...loopConfig(cfg.rm, join(dir, 'train'), ctx.quiet), evalEvery: cfg.rm.evalEvery || cfg.rm.steps });
  saveModelDir(join(dir, 'model'), model, { eosTokenIds: [eos], padTokenId: eos, tokenizerFrom: stageDir(ctx, 'tokenizer'), adapters: adapter ? [...ptAdapters, adapter] : [], valueHead: head,
    baseFrom: low.baseFrom ? base : null });
  const after = res.evals.at(-1) ?? {};
  // the dtype the first projection was held in while training (what model.loraBaseWeights did, read off the weights)
  const summary = { baseWeights: model.model.layers.items[0]!.selfAttn.qProj.weight.dtype, trainPairs: trainSet.length, devPairs: dev.length, tooLong, steps: res.steps, firstLoss: res.losses[0], lastLoss: res.lastLoss,
    devAccuracyBefore: before.accuracy, devAccuracy: after.accuracy, devLoss: after.loss };
  markDone(ctx, 'rm', summary);
  return summary;
}
