// lm-step.ts — one causal-LM optimisation step (forward, cross-entropy, backward, clipped AdamW) inside a
// scope, so every activation goes back to the pool before the next step.
import type { Tensor } from '../tensor/tensor.js';
import { tidy } from '../tensor/scope.js';
import { backward, zeroGrad } from '../autograd/backward.js';
import { crossEntropy } from '../ops/loss.js';
import { AdamW, clipScale, globalGradNorm } from '../optim/adamw.js';
import type { LlamaForCausalLM } from '../model/llama.js';

export interface LmBatch {
  /** (B, T) input ids */
  ids: Tensor;
  /** (B, T) next-token targets, IGNORE_INDEX where no loss is taken */
  targets: Tensor;
  keyMask?: Tensor | null;
}

export interface StepResult {
  loss: number;
  gradNorm: number;
}

/** Forward + backward of one micro-batch; gradients accumulate into the parameters' .grad. */
export function accumulateGradients(model: LlamaForCausalLM, batch: LmBatch, lossScale = 1): number {
  return tidy(() => {
    const logits = model.forward({ ids: batch.ids, keyMask: batch.keyMask ?? null }); // (B, T, V)
    const loss = crossEntropy(logits, batch.targets);
    const value = loss.item();
    backward(loss, lossScale);
    return value;
  });
}

/** Clip to maxGradNorm (0 = off), apply AdamW at lr, clear gradients. */
export function applyUpdate(opt: AdamW, lr: number, maxGradNorm: number): number {
  const params = opt.params();
  const norm = globalGradNorm(params);
  opt.update(lr, maxGradNorm > 0 ? clipScale(norm, maxGradNorm) : 1);
  zeroGrad(params);
  return norm;
}

export function lmTrainStep(model: LlamaForCausalLM, opt: AdamW, batch: LmBatch, lr: number, maxGradNorm = 1): StepResult {
  const loss = accumulateGradients(model, batch);
  const gradNorm = applyUpdate(opt, lr, maxGradNorm);
  return { loss, gradNorm };
}
