// causal-lm.ts — the task behind `pretrain` (packed text blocks) and `sft` (chat-encoded conversations with
// the loss on assistant tokens): next-token cross-entropy over an LmBatcher, dev loss as evaluation.
import type { Tensor } from '../../tensor/tensor.js';
import { lmLoss } from '../lm-step.js';
import { resolveCheckpointing } from '../memory.js';
import { tidy } from '../../tensor/scope.js';
import type { LlamaForCausalLM } from '../../model/llama.js';
import type { Task } from '../loop.js';
import { LmBatcher, collate, type LmSequence } from './lm-batches.js';

export interface CausalLmTaskOptions {
  name: string;
  model: LlamaForCausalLM;
  /** what to optimise (all weights, or only LoRA adapter weights) */
  namedParams: [string, Tensor][];
  train: LmSequence[];
  dev?: LmSequence[];
  batchSize: number;
  seed: number;
  /** recompute decoder layers in backward (default: on for models of CHECKPOINT_DEFAULT_PARAMS and more) */
  gradientCheckpointing?: boolean;
}

export function causalLmTask(o: CausalLmTaskOptions): Task {
  const batcher = new LmBatcher(o.train, o.batchSize, o.seed);
  o.model.gradientCheckpointing = resolveCheckpointing(o.model, o.gradientCheckpointing);
  return {
    name: o.name,
    namedParams: o.namedParams,
    allWeights: o.model.parameters(),
    loss(position) {
      const b = batcher.batch(position);
      return { loss: lmLoss(o.model, b), tokens: b.tokens };
    },
    evaluate: o.dev && o.dev.length ? () => ({ loss: devLoss(o.model, o.dev!, o.batchSize) }) : undefined,
  };
}

/** Token-weighted mean cross-entropy over a dev set. */
export function devLoss(model: LlamaForCausalLM, dev: LmSequence[], batchSize: number): number {
  let sum = 0, count = 0;
  for (let i = 0; i < dev.length; i += batchSize) {
    tidy(() => {
      const b = collate(dev.slice(i, i + batchSize));
      const l = lmLoss(model, b, { reduction: 'sum' }).item();
      sum += l;
      count += b.tokens;
    });
  }
  return count ? sum / count : NaN;
}
