// ppo.ts — RLHF with PPO (Schulman et al. 2017; as in Ziegler et al. 2019 / Ouyang et al. 2022): rollouts from
// prompts with the KV-cache generator, a value head on the policy trunk as critic, a per-token KL penalty to a
// frozen reference (with LoRA: the same weights, PPO adapter off) under an adaptive coefficient, reward-model
// scores normalised (running mean/std) and optionally clipped, then a penalty when no EOS came, GAE(γ, λ), the
// clipped policy objective and clipped value loss, several epochs over shuffled mini-batches.
// Old, new and reference log-probs are all taken at the sampling temperature (the distribution that drew the
// tokens); top-k / top-p are refused (rl-common.ts says why). Prompts go without replacement within a pass.
// One loop step = one mini-batch update; the rollout behind it is part of the checkpoint, so resume is exact.
import type { Tensor } from '../../tensor/tensor.js';
import { tidy } from '../../tensor/scope.js';
import { noGrad } from '../../autograd/grad-mode.js';
import { add, clamp, exp, maskedMean, maximum, mul, neg, scale, slice, square, sub } from '../../ops/index.js';
import type { LlamaForCausalLM } from '../../model/llama.js';
import type { ValueHead } from '../../model/value-head.js';
import { generate } from '../../model/generate.js';
import type { Task } from '../loop.js';
import { tokenLogProbs } from './logprobs.js';
import { Rng } from '../../util/rng.js';
import { alignResponses, checkOnPolicySampling, fitPrompts, mean, perResponse, promptSlice } from './rl-common.js';

export interface PpoOptions {
  policy: LlamaForCausalLM;
  critic: ValueHead;
  /** trainable: the policy's adapter (or all weights) and the value head */
  namedParams: [string, Tensor][];
  /** every weight the stage holds (frozen bases, every adapter, heads), each once: what the memory line counts */
  allWeights?: Tensor[];
  /** runs fn with the frozen reference model (with LoRA: the policy itself with its adapter switched off) */
  asReference: <R>(fn: (reference: LlamaForCausalLM) => R) => R;
  /** reward-model score of a prompt + response (ids, EOS included when it ended) */
  score: (prompt: number[], response: number[]) => number;
  prompts: number[][];
  devPrompts: number[][];
  rolloutSize: number;
  miniBatch: number;
  epochs: number;
  maxNewTokens: number;
  eosIds: number[];
  temperature: number;
  topK: number;
  topP: number;
  gamma: number;
  lambda: number;
  clipRange: number;
  clipRangeValue: number;
  vfCoef: number;
  klInit: number;
  /** null = fixed coefficient */
  klTarget: number | null;
  klHorizon: number;
  /** clip normalised scores to ±rewardClip (null = off) */
  rewardClip: number | null;
  /** added to the normalised (and clipped) score of a response that did not end with EOS */
  noEosPenalty: number;
  seed: number;
  /** told when a rollout's rewards carry no signal (every response scored the same) */
  onWarn?: (message: string) => void;
}

interface Sample {
  prompt: number[];
  response: number[];
  old: number[];   // log π_old per response token (at the sampling temperature)
  ref: number[];   // log π_ref per response token
  value: number[]; // V per response token (state before the token)
  adv: number[];
  ret: number[];
}

interface Rollout {
  index: number;
  samples: Sample[];
  stats: Record<string, number>;
}

interface Running { n: number; mean: number; m2: number }

export function ppoTask(o: PpoOptions): Task & { stats(): Record<string, number>; promptsTooLong: number } {
  if (o.prompts.length === 0) throw new Error('[ppo] no prompts');
  checkOnPolicySampling('ppo', o);
  const { kept: prompts, tooLong } = fitPrompts(o.prompts, o.maxNewTokens, o.policy.config.maxPositions, 'ppo');
  const tau = o.temperature;
  const nMini = Math.ceil(o.rolloutSize / o.miniBatch);
  const perRollout = o.epochs * nMini;
  let klCoef = o.klInit;
  let scores: Running = { n: 0, mean: 0, m2: 0 };
  let rollout: Rollout | null = null;

  function collect(index: number): Rollout {
    const picked = promptSlice(prompts.length, index * o.rolloutSize, o.rolloutSize, o.seed).map((i) => prompts[i]!);
    const gen = generate(o.policy, picked, {
      maxNewTokens: o.maxNewTokens, eosTokenIds: o.eosIds, doSample: true, temperature: tau, seed: o.seed * 7 + index,
    });
    const responses = gen.ids.map((r) => (r.length ? r : [o.eosIds[0] ?? 0]));
    const ended = gen.finishReasons.map((f) => f === 'eos');
    const seqs = picked.map((p, i) => [...p, ...responses[i]!]);
    const lens = picked.map((p) => p.length), rlens = responses.map((r) => r.length);
    // old log-probs, values and entropy under the current policy; reference log-probs with the adapter off
    const cur = noGrad(() => tidy(() => {
      const t = tokenLogProbs(o.policy, seqs, lens, { temperature: tau, entropy: true });
      const v = o.critic.forward(t.hidden); // (B, T)
      return { lp: perResponse(t.logProbs, lens, rlens), v: perResponse(slice(v, 1, 0, t.batch.T - 1), lens, rlens),
        ent: perResponse(t.entropy!, lens, rlens).map(mean) };
    }));
    const ref = o.asReference((refModel) => noGrad(() => tidy(() =>
      perResponse(tokenLogProbs(refModel, seqs, lens, { temperature: tau }).logProbs, lens, rlens))));
    const raw = picked.map((p, i) => o.score(p, responses[i]!));
    const bad = raw.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw new Error(`[ppo] rollout ${index}: the reward model scored response ${bad} as ${raw[bad]}`);
    if (Math.max(...raw) - Math.min(...raw) <= 1e-8)
      o.onWarn?.(`[ppo] rollout ${index}: every response got the same reward (${raw[0]}): this rollout trains only the KL term and the value head`);
    for (const s of raw) {
      scores.n++;
      const d = s - scores.mean;
      scores.mean += d / scores.n;
      scores.m2 += d * (s - scores.mean);
    }
    const std = scores.n > 1 ? Math.sqrt(scores.m2 / (scores.n - 1)) : 1;
    // the penalty comes after normalisation, so its size is what the config says whatever the RM's spread
    const penalty = ended.map((e) => (e ? 0 : o.noEosPenalty));
    const samples: Sample[] = picked.map((p, i) => {
      let norm = (raw[i]! - scores.mean) / (std > 1e-6 ? std : 1);
      if (o.rewardClip !== null) norm = Math.max(-o.rewardClip, Math.min(o.rewardClip, norm));
      norm += penalty[i]!;
      const L = responses[i]!.length, old = cur.lp[i]!, rf = ref[i]!, v = cur.v[i]!;
      const rewards = old.map((x, t) => -klCoef * (x - rf[t]!) + (t === L - 1 ? norm : 0));
      const adv = gae(rewards, v, o.gamma, o.lambda);
      return { prompt: p, response: responses[i]!, old, ref: rf, value: v, adv, ret: adv.map((a, t) => a + v[t]!) };
    });
    // whiten advantages over the rollout
    const all = samples.flatMap((s) => s.adv);
    const m = mean(all);
    const sd = Math.sqrt(all.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, all.length - 1)) || 1;
    for (const s of samples) s.adv = s.adv.map((a) => (a - m) / (sd + 1e-8));
    const meanKl = mean(samples.map((s) => s.old.reduce((a, x, t) => a + x - s.ref[t]!, 0)));
    const stats = {
      score: mean(raw),
      no_eos_penalty: mean(penalty),
      kl: meanKl,
      kl_coef: klCoef,
      entropy: mean(cur.ent),
      response_length: mean(rlens),
      eos_rate: ended.filter(Boolean).length / ended.length,
    };
    // adaptive KL controller (Ziegler et al. 2019): move the coefficient toward the target KL
    if (o.klTarget !== null) {
      const err = Math.max(-0.2, Math.min(0.2, meanKl / o.klTarget - 1));
      klCoef *= 1 + (err * o.rolloutSize) / o.klHorizon;
    }
    return { index, samples, stats };
  }

  function miniLoss(r: Rollout, idx: number[]) {
    const ss = idx.map((i) => r.samples[i]!);
    const seqs = ss.map((s) => [...s.prompt, ...s.response]);
    const lens = ss.map((s) => s.prompt.length);
    const t = tokenLogProbs(o.policy, seqs, lens, { temperature: tau });
    const Tm = t.batch.T - 1;
    const aligned = (pick: (s: Sample) => number[]) => alignResponses(ss.map(pick), lens, Tm);
    const old = aligned((s) => s.old), advT = aligned((s) => s.adv), retT = aligned((s) => s.ret), oldV = aligned((s) => s.value);
    const values = slice(o.critic.forward(t.hidden), 1, 0, Tm);                     // (B, T-1)
    const ratio = exp(sub(t.logProbs, old));                                       // (B, T-1)
    const pg = maskedMean(maximum(neg(mul(advT, ratio)), neg(mul(advT, clamp(ratio, 1 - o.clipRange, 1 + o.clipRange)))), t.mask);
    const vClipped = add(oldV, clamp(sub(values, oldV), -o.clipRangeValue, o.clipRangeValue));
    const vf = scale(maskedMean(maximum(square(sub(values, retT)), square(sub(vClipped, retT))), t.mask), 0.5);
    const loss = add(pg, scale(vf, o.vfCoef));
    const rv = ratio.f32(), mv = t.mask.f32();
    let clipped = 0, n = 0, ratioSum = 0, ratioDev = 0;
    for (let i = 0; i < rv.length; i++) if (mv[i]) {
      n++; ratioSum += rv[i]!; ratioDev = Math.max(ratioDev, Math.abs(rv[i]! - 1));
      if (Math.abs(rv[i]! - 1) > o.clipRange) clipped++;
    }
    return { loss, tokens: seqs.reduce((a, s) => a + s.length, 0),
      metrics: { pg_loss: pg.item(), value_loss: vf.item(), clip_frac: clipped / Math.max(1, n), ratio_mean: ratioSum / Math.max(1, n), ratio_max_dev: ratioDev } };
  }

  return {
    name: 'ppo',
    namedParams: o.namedParams,
    allWeights: o.allWeights,
    loss(position) {
      const index = Math.floor(position / perRollout), k = position % perRollout;
      if (!rollout || rollout.index !== index) rollout = collect(index);
      const epoch = Math.floor(k / nMini), mb = k % nMini;
      const order = new Rng(o.seed * 13 + index * 101 + epoch).permutation(rollout.samples.length);
      const r = miniLoss(rollout, order.slice(mb * o.miniBatch, (mb + 1) * o.miniBatch));
      return { ...r, metrics: { ...r.metrics, ...rollout.stats } };
    },
    evaluate: () => evaluatePolicy(o),
    stats: () => (rollout ? rollout.stats : {}),
    promptsTooLong: tooLong,
    extraState: () => ({ klCoef, scores, rollout }),
    loadExtraState(s) {
      if (typeof s.klCoef === 'number') klCoef = s.klCoef;
      if (s.scores) scores = s.scores as Running;
      rollout = (s.rollout as Rollout | null) ?? null;
    },
  };
}

/**
 * Generalised advantage estimation (Schulman et al. 2016) over one response: δ_t = r_t + γ V_{t+1} − V_t,
 * A_t = δ_t + γλ A_{t+1}, with V after the last token taken as 0 (the episode ends there).
 */
export function gae(rewards: readonly number[], values: readonly number[], gamma: number, lambda: number): number[] {
  const adv = new Array<number>(rewards.length);
  let next = 0, acc = 0;
  for (let t = rewards.length - 1; t >= 0; t--) {
    const delta = rewards[t]! + gamma * next - values[t]!;
    acc = delta + gamma * lambda * acc;
    adv[t] = acc;
    next = values[t]!;
  }
  return adv;
}

/** Greedy responses to held-out prompts: mean RM score and mean KL (sum over tokens) to the reference. */
export function evaluatePolicy(o: Pick<PpoOptions, 'policy' | 'devPrompts' | 'maxNewTokens' | 'eosIds' | 'asReference' | 'score'>): Record<string, number> {
  const dev = o.devPrompts.filter((p) => p.length + o.maxNewTokens <= o.policy.config.maxPositions);
  if (dev.length === 0) return {};
  const gen = generate(o.policy, dev, { maxNewTokens: o.maxNewTokens, eosTokenIds: o.eosIds });
  const responses = gen.ids.map((r) => (r.length ? r : [o.eosIds[0] ?? 0]));
  const seqs = dev.map((p, i) => [...p, ...responses[i]!]);
  const lens = dev.map((p) => p.length), rlens = responses.map((r) => r.length);
  const cur = tidy(() => perResponse(tokenLogProbs(o.policy, seqs, lens).logProbs, lens, rlens));
  const ref = o.asReference((refModel) => tidy(() => perResponse(tokenLogProbs(refModel, seqs, lens).logProbs, lens, rlens)));
  const score = dev.map((p, i) => o.score(p, responses[i]!));
  const kl = cur.map((c, i) => c.reduce((a, x, t) => a + x - ref[i]![t]!, 0));
  return { score: mean(score), kl: mean(kl), response_length: mean(rlens) };
}
