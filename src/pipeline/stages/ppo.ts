// ppo.ts — stage `ppo` (the recipe's RL stage; `rl: grpo` runs GRPO in it instead): the SFT model (its adapter frozen)
// gets a new adapter (and, for PPO, a critic whose head starts as the RM's score head); the reference is the same
// weights with that adapter off; when the RM sits on the same base bytes, its adapter rides on the same base too
// (train/tasks/rl-models.ts): one base copy for all roles.
import { join } from 'node:path';
import { type RunContext, input, loopConfig, trainStage, loraBaseWeights, loraConfig, markDone, readJsonl, resetStage, stageDir } from '../context.js';
import { saveModelDir } from '../../model/model-dir.js';
import { ValueHead } from '../../model/value-head.js';
import { noGrad } from '../../autograd/grad-mode.js';
import { loadRlModels } from '../../train/tasks/rl-models.js';
import { ppoTask } from '../../train/tasks/ppo.js';
import { grpoTask } from '../../train/tasks/grpo.js';
import { resolveCheckpointing } from '../../train/memory.js';
import type { Conversation } from '../../data/index.js';
import { loadTokenizer } from '../../tokenizer/index.js';
import { promptIds } from '../../eval/local-model.js';
import { DATA_FILES } from './data.js';
import { firstTurnPrompts, eosId } from '../stage-inputs.js';

export async function runPpo(ctx: RunContext): Promise<Record<string, unknown>> {
  const sftDir = input(ctx, 'sft', 'model', 'ppo');
  const rmDir = input(ctx, 'rm', 'model', 'ppo');
  const trainSet = readJsonl<Conversation>(input(ctx, 'data', DATA_FILES.train, 'ppo'));
  const devConvs = readJsonl<Conversation>(input(ctx, 'data', DATA_FILES.dev, 'ppo'));
  const tok = await loadTokenizer(input(ctx, 'tokenizer', 'tokenizer.json', 'ppo'));
  const dir = resetStage(ctx, 'ppo');
  const { cfg } = ctx;
  const algo = cfg.rl;
  const eos = eosId(tok);
  const spec = algo === 'grpo' ? cfg.grpo : cfg.ppo;
  const low = loraBaseWeights(ctx, 'ppo', true); // the policy and reward model only ever train adapters here
  const models = loadRlModels({ sftDir, rmDir, where: 'ppo', log: (line) => ctx.log(line), weights: low.weights,
    kvCache: cfg.model.kvCache, adapter: { name: algo, config: loraConfig(spec.lora), seed: cfg.seed, initSeed: cfg.seed + 5 } });
  const { policy, adapter, asReference, score } = models;
  const policyDir = models.sft, rmHead = models.rewardHead;
  policy.gradientCheckpointing = resolveCheckpointing(policy, spec.gradientCheckpointing ?? undefined);
  adapter.training = true; // ppo/grpo.lora.dropout: off in rollouts and old log-probs (no gradients there), on in updates
  const m = { tok, template: cfg.tokenizer.template };
  const prompts = firstTurnPrompts(trainSet).map((p) => promptIds(m, p.turns));
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
