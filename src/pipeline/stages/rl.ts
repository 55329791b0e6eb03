// rl.ts — stages `rm` and `ppo`. rm: a value head on the pre-trained model (as Zhongjing did), trained on the pairs
// of the ranked sets, as a LoRA adapter over that model (`rm.lora`) or in full. ppo (the recipe's RL stage; `rl: grpo`
// runs GRPO in it instead): the SFT model (its adapter frozen) gets a new adapter (and, for PPO, a critic whose head
// starts as the RM's score head); the reference is the same weights with that adapter off; when the RM sits on the
// same base bytes, its adapter rides on the same base too (train/stages/rl-models.ts): one base copy for all roles.
import { join } from 'node:path';
import type { RunContext } from '../context.js';
import { input, loopConfig, trainStage, loraBaseWeights, loraConfig, markDone, readJsonl, resetStage, stageDir } from '../context.js';
import { loadModelDir, saveModelDir } from '../../model/model-dir.js';
import { ValueHead } from '../../model/value-head.js';
import type { LlamaForCausalLM } from '../../model/llama.js';
import { LoraAdapter, freezeParameters, withActiveAdapters } from '../../nn/lora.js';
import { noGrad } from '../../autograd/grad-mode.js';
import { rewardTask, type PairSample } from '../../train/stages/reward.js';
import { loadRlModels } from '../../train/stages/rl-models.js';
import { ppoTask } from '../../train/stages/ppo.js';
import { grpoTask } from '../../train/stages/grpo.js';
import { dpoTask } from '../../train/stages/dpo.js';
import { resolveCheckpointing } from '../../train/memory.js';
import { pairsFromRanking, parseRanking, rankingToPreferenceSet, splitOf, type Conversation } from '../../data/index.js';
import type { RankingRecord } from '../../data/index.js';
import { loadTokenizer, type Tokenizer } from '../../tokenizer/index.js';
import { promptIds } from '../../eval/local-model.js';
import { DATA_FILES } from './data.js';
import { RANKINGS_FILE, firstTurnPrompts } from './rank.js';
import { eosId } from './lm.js';

/** Pairs (all ordered pairs across rank groups, ties skipped) as ids, split by ranked set so no prompt is on both sides. */
export function preferencePairs(tok: Tokenizer, template: string, rankingsPath: string, maxLen: number, devFraction: number, seed: number):
  { train: PairSample[]; dev: PairSample[]; tooLong: number } {
  const eos = eosId(tok);
  const m = { tok, template };
  const train: PairSample[] = [], dev: PairSample[] = [];
  let tooLong = 0;
  readJsonl<RankingRecord>(rankingsPath).forEach((raw) => {
    const set = rankingToPreferenceSet(parseRanking(raw));
    const toDev = splitOf(set, devFraction, seed) === 'dev';
    for (const p of pairsFromRanking(set)) {
      const prompt = promptIds(m, p.context);
      const s: PairSample = { prompt, chosen: [...tok.encode(p.chosen), eos], rejected: [...tok.encode(p.rejected), eos] };
      if (prompt.length + Math.max(s.chosen.length, s.rejected.length) > maxLen) { tooLong++; continue; }
      (toDev ? dev : train).push(s);
    }
  });
  return { train, dev, tooLong };
}

export async function runRm(ctx: RunContext): Promise<Record<string, unknown>> {
  const base = input(ctx, 'pretrain', 'model', 'rm');
  const rankingsPath = input(ctx, 'rank', RANKINGS_FILE, 'rm');
  const tok = await loadTokenizer(input(ctx, 'tokenizer', 'tokenizer.json', 'rm'));
  const dir = resetStage(ctx, 'rm');
  const { cfg } = ctx;
  const eos = eosId(tok);
  const { train: train_, dev, tooLong } = preferencePairs(tok, cfg.tokenizer.template, rankingsPath, cfg.rm.maxLen, cfg.data.devFraction, cfg.seed);
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
  const before = noGrad(() => rewardTask({ model, head, namedParams: named, train: train_, dev, pairsPerBatch: cfg.rm.pairsPerBatch, seed: cfg.seed }).evaluate!());
  const task = rewardTask({ model, head, namedParams: named, train: train_, dev, pairsPerBatch: cfg.rm.pairsPerBatch, seed: cfg.seed });
  const res = await trainStage(task, { ...loopConfig(cfg.rm, join(dir, 'train'), ctx.quiet), evalEvery: cfg.rm.evalEvery || cfg.rm.steps });
  saveModelDir(join(dir, 'model'), model, { eosTokenIds: [eos], padTokenId: eos, tokenizerFrom: stageDir(ctx, 'tokenizer'), adapters: adapter ? [...ptAdapters, adapter] : [], valueHead: head,
    baseFrom: low.baseFrom ? base : null });
  const after = res.evals.at(-1) ?? {};
  // the dtype the first projection was held in while training (what model.loraBaseWeights did, read off the weights)
  const summary = { baseWeights: model.model.layers.items[0]!.selfAttn.qProj.weight.dtype, trainPairs: train_.length, devPairs: dev.length, tooLong, steps: res.steps, firstLoss: res.losses[0], lastLoss: res.lastLoss,
    devAccuracyBefore: before.accuracy, devAccuracy: after.accuracy, devLoss: after.loss };
  markDone(ctx, 'rm', summary);
  return summary;
}

export async function runPpo(ctx: RunContext): Promise<Record<string, unknown>> {
  const sftDir = input(ctx, 'sft', 'model', 'ppo');
  const rmDir = input(ctx, 'rm', 'model', 'ppo');
  const train_ = readJsonl<Conversation>(input(ctx, 'data', DATA_FILES.train, 'ppo'));
  const devConvs = readJsonl<Conversation>(input(ctx, 'data', DATA_FILES.dev, 'ppo'));
  const tok = await loadTokenizer(input(ctx, 'tokenizer', 'tokenizer.json', 'ppo'));
  const dir = resetStage(ctx, 'ppo');
  const { cfg } = ctx;
  const algo = cfg.rl;
  const eos = eosId(tok);
  const spec = algo === 'grpo' ? cfg.grpo : cfg.ppo;
  const low = loraBaseWeights(ctx, 'ppo', true); // the policy and reward model only ever train adapters here
  const models = loadRlModels({ sftDir, rmDir, where: 'ppo', log: (line) => ctx.log(line), weights: low.weights,
    adapter: { name: algo, config: loraConfig(spec.lora), seed: cfg.seed, initSeed: cfg.seed + 5 } });
  const { policy, adapter, asReference, score } = models;
  const policyDir = models.sft, rmHead = models.rewardHead;
  policy.gradientCheckpointing = resolveCheckpointing(policy, spec.gradientCheckpointing ?? undefined);
  adapter.training = true; // ppo/grpo.lora.dropout: off in rollouts and old log-probs (no gradients there), on in updates
  const m = { tok, template: cfg.tokenizer.template };
  const prompts = firstTurnPrompts(train_).map((p) => promptIds(m, p.turns));
  // held-out prompts for the reward/KL curve: interleave consultations, safety prompts and single questions
  const groups = [devConvs.filter((c) => c.turns.filter((t) => t.role === 'assistant').length >= 2 && !c.meta.safety),
    devConvs.filter((c) => c.meta.safety), devConvs.filter((c) => c.turns.filter((t) => t.role === 'assistant').length < 2 && !c.meta.safety)]
    .map((g) => firstTurnPrompts(g));
  const mixed = Array.from({ length: Math.max(...groups.map((g) => g.length)) }, (_, i) => groups.map((g) => g[i]).filter((x) => x !== undefined)).flat();
  const devPrompts = mixed.slice(0, spec.devPrompts).map((p) => promptIds(m, p!.turns));
  let task, criticHead: ValueHead | null = null, criticInit = 'none';
  if (algo === 'grpo') {
    const g = cfg.grpo;
    task = grpoTask({
      policy, namedParams: adapter.namedParameters(), allWeights: models.allWeights(), asReference, score, prompts, devPrompts, promptsPerStep: g.promptsPerStep,
      k: g.k ?? cfg.sample.k, epochs: g.epochs, maxNewTokens: g.maxNewTokens, eosIds: [eos], temperature: g.temperature,
      clipRange: g.clipRange, klCoef: g.klCoef, advantage: g.advantage, rewardClip: g.rewardClip, noEosPenalty: g.noEosPenalty, seed: cfg.seed,
      onWarn: (msg) => ctx.log(msg),
    });
  } else {
    const p = cfg.ppo;
    criticHead = new ValueHead(policy.config.hiddenSize, cfg.seed + 1);
    // current practice starts the critic from the reward model's score head: its values are on the reward's scale
    // from the first rollout instead of noise (the heads read the same hidden size when RM and policy share a base)
    if (p.criticInit === 'rm' && rmHead.hiddenSize === criticHead.hiddenSize) {
      criticHead.vHead.summary.weight.f32().set(rmHead.vHead.summary.weight.f32());
      criticHead.vHead.summary.bias!.f32().set(rmHead.vHead.summary.bias!.f32());
      criticInit = 'rm';
    } else criticInit = 'random';
    task = ppoTask({
      policy, critic: criticHead, namedParams: [...adapter.namedParameters(), ...criticHead.namedParameters().map(([n, t]) => [`critic.${n}`, t] as [string, typeof t])],
      allWeights: [...models.allWeights(), ...criticHead.parameters()], asReference, score, prompts, devPrompts, rolloutSize: p.rolloutSize, miniBatch: p.miniBatch, epochs: p.epochs,
      maxNewTokens: p.maxNewTokens, eosIds: [eos], temperature: p.temperature, topK: p.topK, topP: p.topP, gamma: p.gamma,
      lambda: p.lambda, clipRange: p.clipRange, clipRangeValue: p.clipRangeValue, vfCoef: p.vfCoef, klInit: p.klInit,
      klTarget: p.klTarget, klHorizon: p.klHorizon, rewardClip: p.rewardClip, noEosPenalty: p.noEosPenalty, seed: cfg.seed,
      onWarn: (msg) => ctx.log(msg),
    });
  }
  if (task.promptsTooLong) ctx.log(`[ppo] ${task.promptsTooLong} of ${prompts.length} prompts leave no room for ${spec.maxNewTokens} new tokens: skipped`);
  const before = noGrad(() => task.evaluate!());
  const res = await trainStage(task, loopConfig(spec, join(dir, 'train'), ctx.quiet));
  const after = res.evals.at(-1) ?? noGrad(() => task.evaluate!());
  saveModelDir(join(dir, 'model'), policy, { eosTokenIds: [eos], padTokenId: eos, tokenizerFrom: stageDir(ctx, 'tokenizer'),
    adapters: [...policyDir.adapters, adapter], valueHead: criticHead ?? undefined, generation: policyDir.generation,
    baseFrom: low.baseFrom ? sftDir : null });
  const perRollout = algo === 'grpo' ? cfg.grpo.epochs : cfg.ppo.epochs * Math.ceil(cfg.ppo.rolloutSize / cfg.ppo.miniBatch);
  const summary = { algorithm: algo, baseCopies: models.baseCopies, baseWeights: policy.model.layers.items[0]!.selfAttn.qProj.weight.dtype, prompts: prompts.length, promptsTooLong: task.promptsTooLong, devPrompts: devPrompts.length, steps: res.steps,
    rollouts: Math.ceil(res.steps / perRollout), criticInit, devScoreBefore: before.score, devScoreAfter: after.score, devKlAfter: after.kl,
    klTarget: algo === 'ppo' ? cfg.ppo.klTarget : null, devLengthAfter: after.response_length,
    ...(models.unsharedReason ? { baseCopiesReason: models.unsharedReason } : {}) };
  markDone(ctx, 'ppo', summary);
  return summary;
}

/** `zhongjing train dpo`: the SFT model with a new LoRA adapter trained by DPO on the ranked pairs; reference = adapter off. */
export async function runDpo(ctx: RunContext): Promise<Record<string, unknown>> {
  const sftDir = input(ctx, 'sft', 'model', 'dpo');
  const rankingsPath = input(ctx, 'rank', RANKINGS_FILE, 'dpo');
  const tok = await loadTokenizer(input(ctx, 'tokenizer', 'tokenizer.json', 'dpo'));
  const dir = resetStage(ctx, 'dpo');
  const { cfg } = ctx;
  const eos = eosId(tok);
  const { train: train_, dev, tooLong } = preferencePairs(tok, cfg.tokenizer.template, rankingsPath, cfg.dpo.maxLen, cfg.data.devFraction, cfg.seed);
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
  const task = dpoTask({ model: policy, namedParams: adapter.namedParameters(), train: train_, dev, pairsPerBatch: cfg.dpo.pairsPerBatch, beta: cfg.dpo.beta, seed: cfg.seed, asReference });
  const res = await trainStage(task, { ...loopConfig(cfg.dpo, join(dir, 'train'), ctx.quiet), evalEvery: cfg.dpo.evalEvery || cfg.dpo.steps });
  saveModelDir(join(dir, 'model'), policy, { eosTokenIds: [eos], padTokenId: eos, tokenizerFrom: stageDir(ctx, 'tokenizer'), adapters: [...md.adapters, adapter], generation: md.generation,
    baseFrom: low.baseFrom ? sftDir : null });
  const ev = res.evals.at(-1) ?? {};
  const summary = { trainPairs: train_.length, devPairs: dev.length, tooLong, steps: res.steps, firstLoss: res.losses[0], lastLoss: res.lastLoss, devRewardAccuracy: ev.reward_accuracy };
  markDone(ctx, 'dpo', summary);
  return summary;
}
