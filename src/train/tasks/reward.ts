// reward.ts — the reward-model stage (Ouyang et al. 2022; Zhongjing initialises it from the pre-trained
// model): a scalar value head on the final hidden states, read at the last token of prompt + answer, trained
// on pairs from K-way rankings with -logsigmoid(r_chosen - r_rejected - margin); dev accuracy = share of pairs
// scored in the right order.
import type { Tensor } from '../../tensor/tensor.js';
import { tidy } from '../../tensor/scope.js';
import { logSigmoid, mean, mul, neg, slice, sub, sum, tensor } from '../../ops/index.js';
import type { LlamaForCausalLM } from '../../model/llama.js';
import type { ValueHead } from '../../model/value-head.js';
import type { Task } from '../loop.js';
import { padBatch } from './sequences.js';
import { Rng } from '../../util/rng.js';

export interface PairSample {
  /** prompt ids (the rendered conversation up to the assistant's turn) */
  prompt: number[];
  /** answer ids (EOS included) */
  chosen: number[];
  rejected: number[];
  margin?: number;
}

/** Scores (B) of full sequences: the value head at each row's last token. */
export function scoreSequences(model: LlamaForCausalLM, head: ValueHead, seqs: number[][]): Tensor {
  const b = padBatch(seqs);
  const values = head.forward(model.hidden({ ids: b.ids })); // (B, T)
  return sum(mul(values, b.lastOneHot), 1);                  // (B)
}

export interface RewardTaskOptions {
  model: LlamaForCausalLM;
  head: ValueHead;
  namedParams: [string, Tensor][];
  train: PairSample[];
  dev: PairSample[];
  pairsPerBatch: number;
  seed: number;
}

export function rewardTask(o: RewardTaskOptions): Task {
  if (o.train.length === 0) throw new Error('[rm] no training pairs (does the ranking data hold at least two groups per prompt?)');
  const order = (epoch: number) => new Rng(o.seed * 7919 + epoch).permutation(o.train.length);
  let cached: { epoch: number; idx: number[] } | null = null;
  const pick = (k: number) => {
    const n = o.train.length, epoch = Math.floor(k / n);
    if (!cached || cached.epoch !== epoch) cached = { epoch, idx: order(epoch) };
    return o.train[cached.idx[k % n]!]!;
  };
  return {
    name: 'rm',
    namedParams: o.namedParams,
    allWeights: [...new Set([...o.model.parameters(), ...o.namedParams.map(([, t]) => t)])],
    loss(position) {
      const pairs = Array.from({ length: o.pairsPerBatch }, (_, i) => pick(position * o.pairsPerBatch + i));
      const { loss, accuracy, tokens } = pairLoss(o.model, o.head, pairs);
      return { loss, tokens, metrics: { accuracy } };
    },
    evaluate: () => evaluatePairs(o.model, o.head, o.dev, o.pairsPerBatch),
  };
}

function pairLoss(model: LlamaForCausalLM, head: ValueHead, pairs: PairSample[]): { loss: Tensor; accuracy: number; tokens: number } {
  const n = pairs.length;
  // chosen and rejected sequences in one batch: the trunk runs once for both halves
  const seqs = [...pairs.map((p) => [...p.prompt, ...p.chosen]), ...pairs.map((p) => [...p.prompt, ...p.rejected])];
  const scores = scoreSequences(model, head, seqs);               // (2n)
  const chosen = slice(scores, 0, 0, n), rejected = slice(scores, 0, n, 2 * n);
  const raw = sub(chosen, rejected);                              // (n)
  const margins = pairs.map((p) => p.margin ?? 0);
  const diff = margins.some((m) => m !== 0) ? sub(raw, tensor(margins)) : raw;
  const loss = mean(neg(logSigmoid(diff)));
  const d = raw.f32();
  let right = 0;
  for (let i = 0; i < n; i++) if (d[i]! > 0) right++;
  return { loss, accuracy: right / n, tokens: seqs.reduce((t, x) => t + x.length, 0) };
}

export function evaluatePairs(model: LlamaForCausalLM, head: ValueHead, dev: PairSample[], batch: number): { accuracy: number; loss: number } {
  if (dev.length === 0) return { accuracy: NaN, loss: NaN };
  let right = 0, lossSum = 0;
  for (let i = 0; i < dev.length; i += batch) {
    tidy(() => {
      const part = dev.slice(i, i + batch);
      const r = pairLoss(model, head, part);
      right += r.accuracy * part.length;
      lossSum += r.loss.item() * part.length;
    });
  }
  return { accuracy: right / dev.length, loss: lossSum / dev.length };
}

