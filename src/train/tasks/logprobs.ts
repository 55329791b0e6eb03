// logprobs.ts — per-token log-probabilities (and, on request, entropies) of response tokens under a causal LM,
// the quantities PPO's ratio, the KL penalty, its entropy bonus and DPO's implicit reward are built from. The
// head goes through the chunked ops of ops/lm-head.ts whenever it is a plain product, so no (B, T, V) logits exist.
import type { Tensor } from '../../tensor/tensor.js';
import { exp, gatherLogProbs, logSoftmax, mul, neg, scale, slice, sum } from '../../ops/index.js';
import { lmHeadLogProbs } from '../../ops/lm-head.js';
import { noGrad } from '../../autograd/grad-mode.js';
import type { LlamaForCausalLM } from '../../model/llama.js';
import { plainHeadWeight } from '../lm-step.js';
import { padBatch, responseMask, type SeqBatch } from './sequences.js';

export interface TokenLogProbs {
  /** (B, T-1): log p(token t+1 | ≤ t) */
  logProbs: Tensor;
  /** (B, T-1): 1 on response tokens */
  mask: Tensor;
  /** (B, T, C) final hidden states, for value heads */
  hidden: Tensor;
  /** (B, T-1): entropy of the next-token distribution (no gradient), when asked for */
  entropy: Tensor | null;
  batch: SeqBatch;
}

export interface TokenLogProbsOptions {
  /** also compute each position's entropy (a metric; costs one pass over the vocabulary per row) */
  entropy?: boolean;
  /**
   * divides the logits first (default 1): the distribution a sampler at that temperature draws from, which PPO's
   * ratio and KL must use. With a plain head, logits/τ = (h/τ)·Wᵀ, so the chunked path scales h instead.
   */
  temperature?: number;
}

/** Log-probs (and entropies) of `next` (B, T) under the LM head over hidden states h (B, T, C). */
export function headLogProbs(model: LlamaForCausalLM, h: Tensor, next: Tensor, opts: TokenLogProbsOptions = {}):
  { logProbs: Tensor; entropy: Tensor | null } {
  const tau = opts.temperature ?? 1;
  if (!(tau > 0)) throw new Error(`[logprobs] temperature must be positive, got ${tau}`);
  const W = plainHeadWeight(model);
  if (W) return lmHeadLogProbs(tau === 1 ? h : scale(h, 1 / tau), W, next, { entropy: opts.entropy });
  // a head with bias or adapters: the unchunked path
  const raw = model.logits(h);
  const logits = tau === 1 ? raw : scale(raw, 1 / tau);
  const logProbs = gatherLogProbs(logits, next);
  const entropy = opts.entropy ? noGrad(() => { const l = logSoftmax(logits); return neg(sum(mul(exp(l), l), -1)); }) : null;
  return { logProbs, entropy };
}

/** Log-probs of every next token of prompt+response sequences, with the response mask. */
export function tokenLogProbs(model: LlamaForCausalLM, seqs: number[][], promptLens: number[], opts: TokenLogProbsOptions = {}): TokenLogProbs {
  const batch = padBatch(seqs);
  const Tn = batch.T;
  const hidden = model.hidden({ ids: batch.ids });              // (B, T, C)
  const next = slice(batch.ids, 1, 1, Tn);                      // (B, T-1) i32
  const { logProbs, entropy } = headLogProbs(model, slice(hidden, 1, 0, Tn - 1), next, opts); // (B, T-1)
  return { logProbs, mask: responseMask(promptLens, batch.lengths, Tn), hidden, entropy, batch };
}

/** Sum of response-token log-probs per sequence (B). */
export function sequenceLogProb(model: LlamaForCausalLM, seqs: number[][], promptLens: number[]): Tensor {
  const t = tokenLogProbs(model, seqs, promptLens);
  return sum(mul(t.logProbs, t.mask), 1);
}
