// logprobs.ts — per-token log-probabilities of response tokens under a causal LM, the quantity PPO's ratio,
// the KL penalty and DPO's implicit reward are built from.
import type { Tensor } from '../../tensor/tensor.js';
import { gatherLogProbs, mul, scale, slice, sum } from '../../ops/index.js';
import type { LlamaForCausalLM } from '../../model/llama.js';
import { padBatch, responseMask, type SeqBatch } from './sequences.js';

export interface TokenLogProbs {
  /** (B, T-1): log p(token t+1 | ≤ t) */
  logProbs: Tensor;
  /** (B, T-1): 1 on response tokens */
  mask: Tensor;
  /** (B, T, C) final hidden states, for value heads */
  hidden: Tensor;
  batch: SeqBatch;
}

/**
 * Log-probs of every next token of prompt+response sequences, with the response mask. `temperature` (default 1)
 * divides the logits first: the distribution a sampler at that temperature draws from (PPO's ratio and KL).
 */
export function tokenLogProbs(model: LlamaForCausalLM, seqs: number[][], promptLens: number[], opts: { temperature?: number } = {}): TokenLogProbs {
  const batch = padBatch(seqs);
  const Tn = batch.T;
  const temperature = opts.temperature ?? 1;
  if (!(temperature > 0)) throw new Error(`[logprobs] temperature must be positive, got ${temperature}`);
  const hidden = model.hidden({ ids: batch.ids });              // (B, T, C)
  const raw = model.logits(slice(hidden, 1, 0, Tn - 1));        // (B, T-1, V)
  const logits = temperature === 1 ? raw : scale(raw, 1 / temperature);
  const next = slice(batch.ids, 1, 1, Tn);                      // (B, T-1) i32
  const logProbs = gatherLogProbs(logits, next);                // (B, T-1)
  return { logProbs, mask: responseMask(promptLens, batch.lengths, Tn), hidden, batch };
}

/** Sum of response-token log-probs per sequence (B). */
export function sequenceLogProb(model: LlamaForCausalLM, seqs: number[][], promptLens: number[]): Tensor {
  const t = tokenLogProbs(model, seqs, promptLens);
  return sum(mul(t.logProbs, t.mask), 1);
}

