// lm-step.ts — one causal-LM optimisation step (forward, cross-entropy, backward, clipped AdamW) inside a
// scope, so every activation goes back to the pool before the next step. Each part runs as a profile phase
// (forward, backward, optimizer; kernels filed per phase) when a profile is on (bench train --profile, ZJ_PROFILE=1).
import type { Tensor } from '../tensor/tensor.js';
import { tidy } from '../tensor/scope.js';
import { backward, zeroGrad } from '../autograd/backward.js';
import { crossEntropy, type CrossEntropyOptions } from '../ops/loss.js';
import { lmHeadCrossEntropy } from '../ops/lm-head.js';
import { noteActivations } from './memory.js';
import { AdamW, clipScale, globalGradNorm } from '../optim/adamw.js';
import type { LlamaForCausalLM } from '../model/llama.js';
import { phase } from '../backend/profile.js';

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

/**
 * The head weight [V, C] when the LM head is a plain product with it (tied embedding, or an untied head without
 * bias or enabled adapters), so the chunked head ops can stand in for logits; null otherwise.
 */
export function plainHeadWeight(model: LlamaForCausalLM): Tensor | null {
  const head = model.lmHead;
  if (!head) return model.model.embedTokens.weight;
  if (head.bias || head.lora.some((s) => s.adapter.enabled)) return null;
  return head.weight;
}

/** Next-token cross-entropy of a batch without materialising (B·T, V) logits where the head allows it. */
export function lmLoss(model: LlamaForCausalLM, batch: LmBatch, opts: CrossEntropyOptions = {}): Tensor {
  const h = model.hidden({ ids: batch.ids, keyMask: batch.keyMask ?? null }); // (B, T, C)
  const W = plainHeadWeight(model);
  return W ? lmHeadCrossEntropy(h, W, batch.targets, opts) : crossEntropy(model.logits(h), batch.targets, opts);
}

/** Forward + backward of one micro-batch; gradients accumulate into the parameters' .grad. */
export function accumulateGradients(model: LlamaForCausalLM, batch: LmBatch, lossScale = 1): number {
  return tidy(() => {
    const loss = phase('forward', () => lmLoss(model, batch), 'fwd: ');
    noteActivations(loss);
    const value = loss.item();
    phase('backward', () => backward(loss, lossScale), 'bwd: ');
    return value;
  });
}

/** Clip to maxGradNorm (0 = off), apply AdamW at lr, clear gradients. */
export function applyUpdate(opt: AdamW, lr: number, maxGradNorm: number): number {
  return phase('optimizer', () => {
    const params = opt.params();
    const norm = globalGradNorm(params);
    opt.update(lr, maxGradNorm > 0 ? clipScale(norm, maxGradNorm) : 1);
    zeroGrad(params);
    return norm;
  }, 'opt: ');
}

export function lmTrainStep(model: LlamaForCausalLM, opt: AdamW, batch: LmBatch, lr: number, maxGradNorm = 1): StepResult {
  const loss = accumulateGradients(model, batch);
  const gradNorm = applyUpdate(opt, lr, maxGradNorm);
  return { loss, gradNorm };
}
