// grpo.ts — Group Relative Policy Optimisation (Shao et al. 2024, DeepSeekMath): K samples per prompt, each scored by
// the reward model; a sample's advantage is its score normalised within its own group (or, with `rloo`, its score
// minus the mean of the other K−1: Ahmadian et al. 2024), applied to every token of the response; the clipped
// importance-ratio objective plus β·KL to the frozen reference with the k3 estimator exp(r)−r−1, r = ref − new.
// No critic. The loss is a mean over all response tokens of the batch (token-level, so long answers are not
// down-weighted per token). Log-probs are taken at the sampling temperature; top-k / top-p are refused.
// One loop step = one update over one rollout (promptsPerStep × K sequences); `epochs` updates reuse a rollout.
import type { Tensor } from '../../tensor/tensor.js';
import { tidy } from '../../tensor/scope.js';
import { noGrad } from '../../autograd/grad-mode.js';
import { add, affine, clamp, exp, maskedMean, maximum, mul, neg, scale, sub } from '../../ops/index.js';
import type { LlamaForCausalLM } from '../../model/llama.js';
import { generate } from '../../model/generate.js';
import type { Task } from '../loop.js';
import { tokenLogProbs } from './logprobs.js';
import { evaluatePolicy } from './ppo.js';
import { alignResponses, checkOnPolicySampling, fitPrompts, mean, perResponse, promptSlice } from './rl-common.js';

export interface GrpoOptions {
  policy: LlamaForCausalLM;
  /** trainable: the policy's adapter (or all weights) */
  namedParams: [string, Tensor][];
  /** every weight the stage holds (frozen bases, every adapter, heads), each once: what the memory line counts */
  allWeights?: Tensor[];
  asReference: <R>(fn: (reference: LlamaForCausalLM) => R) => R;
  score: (prompt: number[], response: number[]) => number;
  prompts: number[][];
  devPrompts: number[][];
  promptsPerStep: number;
  /** samples per prompt (the group) */
  k: number;
  epochs: number;
  maxNewTokens: number;
  eosIds: number[];
  temperature: number;
  clipRange: number;
  /** β of the k3 KL term */
  klCoef: number;
  advantage: 'group' | 'rloo';
  /** clip group-normalised advantages to ±rewardClip (null = off) */
  rewardClip: number | null;
  /** added to the advantage of a response that did not end with EOS (after normalisation) */
  noEosPenalty: number;
  seed: number;
  /** told when a rollout's rewards carry no signal (every group scored its samples alike) */
  onWarn?: (message: string) => void;
}

interface Sample { prompt: number[]; response: number[]; old: number[]; ref: number[]; adv: number }
interface Rollout { index: number; samples: Sample[]; stats: Record<string, number> }

/** Advantages of one group of scores: normalised within the group (std with n−1), or leave-one-out baselines. */
export function groupAdvantages(scores: readonly number[], kind: 'group' | 'rloo'): number[] {
  const n = scores.length;
  if (n < 2) throw new Error(`[grpo] a group needs at least 2 samples, got ${n}`);
  const m = mean(scores);
  if (kind === 'rloo') return scores.map((s) => s - (m * n - s) / (n - 1));
  const sd = Math.sqrt(scores.reduce((a, s) => a + (s - m) ** 2, 0) / (n - 1));
  return scores.map((s) => (sd > 1e-8 ? (s - m) / sd : 0));
}

export function grpoTask(o: GrpoOptions): Task & { stats(): Record<string, number>; promptsTooLong: number } {
  if (o.prompts.length === 0) throw new Error('[grpo] no prompts');
  if (!(Number.isInteger(o.k) && o.k >= 2)) throw new Error(`[grpo] k must be an integer ≥ 2, got ${o.k}`);
  checkOnPolicySampling('grpo', { temperature: o.temperature, topK: 0, topP: 1 });
  const { kept: prompts, tooLong } = fitPrompts(o.prompts, o.maxNewTokens, o.policy.config.maxPositions, 'grpo');
  const tau = o.temperature;
  let rollout: Rollout | null = null;

  function collect(index: number): Rollout {
    const groupPrompts = promptSlice(prompts.length, index * o.promptsPerStep, o.promptsPerStep, o.seed).map((i) => prompts[i]!);
    const picked = groupPrompts.flatMap((p) => Array.from({ length: o.k }, () => p));
    const gen = generate(o.policy, picked, {
      maxNewTokens: o.maxNewTokens, eosTokenIds: o.eosIds, doSample: true, temperature: tau, seed: o.seed * 11 + index,
    });
    const responses = gen.ids.map((r) => (r.length ? r : [o.eosIds[0] ?? 0]));
    const ended = gen.finishReasons.map((f) => f === 'eos');
    const seqs = picked.map((p, i) => [...p, ...responses[i]!]);
    const lens = picked.map((p) => p.length), rlens = responses.map((r) => r.length);
    const cur = noGrad(() => tidy(() => {
      const t = tokenLogProbs(o.policy, seqs, lens, { temperature: tau, entropy: true });
      return { lp: perResponse(t.logProbs, lens, rlens), ent: perResponse(t.entropy!, lens, rlens).map(mean) };
    }));
    const ref = o.asReference((m) => noGrad(() => tidy(() => perResponse(tokenLogProbs(m, seqs, lens, { temperature: tau }).logProbs, lens, rlens))));
    const raw = picked.map((p, i) => o.score(p, responses[i]!));
    const bad = raw.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw new Error(`[grpo] rollout ${index}: the reward model scored response ${bad} as ${raw[bad]}`);
    const adv: number[] = [];
    let constant = 0;
    for (let g = 0; g < groupPrompts.length; g++) {
      const group = raw.slice(g * o.k, (g + 1) * o.k);
      if (Math.max(...group) - Math.min(...group) <= 1e-8) constant++;
      adv.push(...groupAdvantages(group, o.advantage));
    }
    if (constant === groupPrompts.length)
      o.onWarn?.(`[grpo] rollout ${index}: every group's samples got equal rewards: no advantage, this update trains only the KL term`);
    const penalty = ended.map((e) => (e ? 0 : o.noEosPenalty));
    const samples = picked.map((p, i): Sample => {
      let a = adv[i]!;
      if (o.rewardClip !== null) a = Math.max(-o.rewardClip, Math.min(o.rewardClip, a));
      return { prompt: p, response: responses[i]!, old: cur.lp[i]!, ref: ref[i]!, adv: a + penalty[i]! };
    });
    const stats = {
      score: mean(raw), no_eos_penalty: mean(penalty), constant_groups: constant / groupPrompts.length,
      kl: mean(samples.map((s) => s.old.reduce((a, x, t) => a + x - s.ref[t]!, 0))), entropy: mean(cur.ent),
      response_length: mean(rlens), eos_rate: ended.filter(Boolean).length / ended.length,
    };
    return { index, samples, stats };
  }

  return {
    name: 'grpo',
    namedParams: o.namedParams,
    allWeights: o.allWeights,
    loss(position) {
      const index = Math.floor(position / o.epochs);
      if (!rollout || rollout.index !== index) rollout = collect(index);
      const ss = rollout.samples;
      const seqs = ss.map((s) => [...s.prompt, ...s.response]);
      const lens = ss.map((s) => s.prompt.length);
      const t = tokenLogProbs(o.policy, seqs, lens, { temperature: tau });
      const Tm = t.batch.T - 1;
      const old = alignResponses(ss.map((s) => s.old), lens, Tm);
      const ref = alignResponses(ss.map((s) => s.ref), lens, Tm);
      const advT = alignResponses(ss.map((s) => s.response.map(() => s.adv)), lens, Tm);
      const ratio = exp(sub(t.logProbs, old));                                         // (B, T-1)
      const pgTok = maximum(neg(mul(advT, ratio)), neg(mul(advT, clamp(ratio, 1 - o.clipRange, 1 + o.clipRange))));
      const r = sub(ref, t.logProbs);                                                  // log ref − log π
      const k3 = affine(sub(exp(r), r), 1, -1);                                        // exp(r) − r − 1 (≥ 0)
      const pg = maskedMean(pgTok, t.mask), kl = maskedMean(k3, t.mask);
      const loss = add(pg, scale(kl, o.klCoef));
      const rv = ratio.f32(), mv = t.mask.f32();
      let clipped = 0, n = 0, ratioSum = 0, ratioDev = 0;
      for (let i = 0; i < rv.length; i++) if (mv[i]) {
      n++; ratioSum += rv[i]!; ratioDev = Math.max(ratioDev, Math.abs(rv[i]! - 1));
      if (Math.abs(rv[i]! - 1) > o.clipRange) clipped++;
    }
      return { loss, tokens: seqs.reduce((a, s) => a + s.length, 0),
        metrics: { pg_loss: pg.item(), kl_k3: kl.item(), clip_frac: clipped / Math.max(1, n), ratio_mean: ratioSum / Math.max(1, n), ratio_max_dev: ratioDev, ...rollout.stats } };
    },
    evaluate: () => evaluatePolicy(o),
    stats: () => (rollout ? rollout.stats : {}),
    promptsTooLong: tooLong,
    extraState: () => ({ rollout }),
    loadExtraState(s) { rollout = (s.rollout as Rollout | null) ?? null; },
  };
}
