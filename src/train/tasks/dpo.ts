// dpo.ts — Direct Preference Optimisation (Rafailov et al. 2023) on the same pairs as the reward model:
// loss = -logsigmoid(β · ((log π(c) - log π_ref(c)) - (log π(r) - log π_ref(r)))). Reference log-probs are
// computed once, before training, by the caller's reference (with LoRA: the adapter switched off).
import type { Tensor } from '../../tensor/tensor.js';
import { tidy } from '../../tensor/scope.js';
import { noGrad } from '../../autograd/grad-mode.js';
import { logSigmoid, mean, neg, scale, slice, sub, tensor } from '../../ops/index.js';
import type { LlamaForCausalLM } from '../../model/llama.js';
import type { Task } from '../loop.js';
import type { PairSample } from './reward.js';
import { sequenceLogProb } from './logprobs.js';
import { Rng } from '../../util/rng.js';

export interface DpoTaskOptions {
  model: LlamaForCausalLM;
  namedParams: [string, Tensor][];
  train: PairSample[];
  dev: PairSample[];
  pairsPerBatch: number;
  beta: number;
  seed: number;
  /** runs fn with the frozen reference model (with LoRA: the policy itself with its adapter switched off) */
  asReference: <R>(fn: (reference: LlamaForCausalLM) => R) => R;
}

interface RefScores { chosen: number; rejected: number }

function pairSeqs(pairs: PairSample[]): { seqs: number[][]; promptLens: number[] } {
  return {
    seqs: [...pairs.map((p) => [...p.prompt, ...p.chosen]), ...pairs.map((p) => [...p.prompt, ...p.rejected])],
    promptLens: [...pairs.map((p) => p.prompt.length), ...pairs.map((p) => p.prompt.length)],
  };
}

function referenceScores(model: LlamaForCausalLM, pairs: PairSample[], batch: number): RefScores[] {
  const out: RefScores[] = [];
  for (let i = 0; i < pairs.length; i += batch) {
    const part = pairs.slice(i, i + batch);
    const lp = noGrad(() => tidy(() => { const { seqs, promptLens } = pairSeqs(part); return sequenceLogProb(model, seqs, promptLens).toArray(); }));
    part.forEach((_, j) => out.push({ chosen: lp[j]!, rejected: lp[part.length + j]! }));
  }
  return out;
}

export function dpoTask(o: DpoTaskOptions): Task {
  if (o.train.length === 0) throw new Error('[dpo] no training pairs');
  const refTrain = o.asReference((ref) => referenceScores(ref, o.train, o.pairsPerBatch));
  const refDev = o.asReference((ref) => referenceScores(ref, o.dev, o.pairsPerBatch));
  const loss = (pairs: PairSample[], refs: RefScores[]) => {
    const n = pairs.length;
    const { seqs, promptLens } = pairSeqs(pairs);
    const lp = sequenceLogProb(o.model, seqs, promptLens);               // (2n)
    const refDiff = tensor(refs.map((r) => r.chosen - r.rejected));       // (n)
    const margin = sub(sub(slice(lp, 0, 0, n), slice(lp, 0, n, 2 * n)), refDiff);
    const l = mean(neg(logSigmoid(scale(margin, o.beta))));
    const m = margin.f32();
    let right = 0;
    for (let i = 0; i < n; i++) if (m[i]! > 0) right++;
    return { loss: l, accuracy: right / n, tokens: seqs.reduce((t, s) => t + s.length, 0) };
  };
  // epoch-wise seeded shuffle, deterministic in the position (exact resume)
  const orders = new Map<number, number[]>();
  const shuffled = (k: number) => {
    const n = o.train.length, epoch = Math.floor(k / n);
    let idx = orders.get(epoch);
    if (!idx) {
      idx = new Rng(o.seed * 31 + epoch).permutation(n);
      orders.clear();
      orders.set(epoch, idx);
    }
    return idx[k % n]!;
  };
  return {
    name: 'dpo',
    namedParams: o.namedParams,
    allWeights: [...new Set([...o.model.parameters(), ...o.namedParams.map(([, t]) => t)])],
    loss(position) {
      const idx = Array.from({ length: o.pairsPerBatch }, (_, i) => shuffled((position * o.pairsPerBatch + i)));
      const r = loss(idx.map((i) => o.train[i]!), idx.map((i) => refTrain[i]!));
      return { loss: r.loss, tokens: r.tokens, metrics: { reward_accuracy: r.accuracy } };
    },
    evaluate() {
      if (!o.dev.length) return { reward_accuracy: NaN, loss: NaN };
      let acc = 0, l = 0;
      for (let i = 0; i < o.dev.length; i += o.pairsPerBatch) tidy(() => {
        const part = o.dev.slice(i, i + o.pairsPerBatch);
        const r = loss(part, refDev.slice(i, i + part.length));
        acc += r.accuracy * part.length;
        l += r.loss.item() * part.length;
      });
      return { reward_accuracy: acc / o.dev.length, loss: l / o.dev.length };
    },
  };
}
