// rl-common.ts — what PPO and GRPO share: prompts drawn without replacement per pass, the length filter, per-response
// views of (B, T-1) tensors. Log-probs and entropies at the sampling temperature come from logprobs.ts's chunked head.
// It holds no objective: each algorithm's loss lives in its own file.
import type { Tensor } from '../../tensor/tensor.js';
import { Tensor as TensorClass } from '../../tensor/tensor.js';
import { Rng } from '../../util/rng.js';

/**
 * Sampling settings an on-policy objective can be exact under. Top-k / top-p truncate the support by the current
 * policy's own ranking, so the reference (and the policy after an update) would be scored on a different support:
 * the ratio and the KL are then not those of the distribution that generated the samples. We refuse them instead of
 * renormalising (which would make the reference depend on the policy).
 */
export function checkOnPolicySampling(where: string, s: { temperature: number; topK: number; topP: number }): void {
  if (!(s.temperature > 0)) throw new Error(`[${where}] temperature must be positive (log-probs are taken at it), got ${s.temperature}`);
  if (s.topK !== 0) throw new Error(`[${where}] topK must be 0: top-k truncation makes the importance ratio and KL refer to another distribution`);
  if (s.topP !== 1) throw new Error(`[${where}] topP must be 1: top-p truncation makes the importance ratio and KL refer to another distribution`);
}

/** Prompts that leave room for maxNewTokens within the model's context, and how many were dropped. */
export function fitPrompts(prompts: number[][], maxNewTokens: number, maxPositions: number, where: string): { kept: number[][]; tooLong: number } {
  const kept = prompts.filter((p) => p.length > 0 && p.length + maxNewTokens <= maxPositions);
  if (kept.length === 0)
    throw new Error(`[${where}] none of ${prompts.length} prompts fits: prompt + maxNewTokens (${maxNewTokens}) must be ≤ maxPositions (${maxPositions})`);
  return { kept, tooLong: prompts.length - kept.length };
}

/**
 * Prompt indices [start, start + n) of an endless sequence of passes, each pass a fresh seeded permutation: every
 * prompt is used once per pass (no replacement within a pass), and any slice is recomputable (exact resume).
 */
export function promptSlice(count: number, start: number, n: number, seed: number): number[] {
  const out: number[] = [];
  let pass = -1, perm: number[] = [];
  for (let i = start; i < start + n; i++) {
    const p = Math.floor(i / count);
    if (p !== pass) { pass = p; perm = new Rng(seed * 7919 + p).permutation(count); }
    out.push(perm[i % count]!);
  }
  return out;
}

/** Per-row values at the response positions of a (B, T-1) tensor (position t predicts token t+1). */
export function perResponse(x: Tensor, promptLens: readonly number[], responseLens: readonly number[]): number[][] {
  const [, Tm] = x.shape as [number, number];
  const d = x.f32('rl');
  return responseLens.map((L, b) => Array.from({ length: L }, (_, k) => d[b * Tm + promptLens[b]! - 1 + k]!));
}

/** A (B, T-1) f32 tensor with per-response values placed at their positions (zeros elsewhere). */
export function alignResponses(values: readonly (readonly number[])[], promptLens: readonly number[], Tm: number): Tensor {
  const x = TensorClass.empty([values.length, Tm], 'f32', true);
  const d = x.data as Float32Array;
  values.forEach((v, b) => v.forEach((val, k) => { d[b * Tm + promptLens[b]! - 1 + k] = val; }));
  return x;
}

export const mean = (x: readonly number[]): number => (x.length ? x.reduce((a, b) => a + b, 0) / x.length : 0);
