// sequences.ts — right-padded id batches for the preference and RL stages, with the masks they need:
// which positions hold response tokens, and a one-hot of each row's last real token (where a reward
// model reads its score).
import { Tensor } from '../../tensor/tensor.js';

export interface SeqBatch {
  ids: Tensor;        // (B, T) i32, right-padded
  lastOneHot: Tensor; // (B, T) f32: 1 at each row's last real token
  lengths: number[];
  T: number;
}

export function padBatch(seqs: readonly (readonly number[])[], padId = 0): SeqBatch {
  const B = seqs.length;
  if (B === 0) throw new Error('[sequences] empty batch');
  const T = Math.max(...seqs.map((s) => s.length));
  if (T === 0) throw new Error('[sequences] empty sequences');
  const ids = Tensor.empty([B, T], 'i32'), last = Tensor.empty([B, T], 'f32', true);
  const iv = ids.data as Int32Array, lv = last.data as Float32Array;
  iv.fill(padId);
  seqs.forEach((s, b) => {
    if (s.length === 0) throw new Error(`[sequences] row ${b} is empty`);
    for (let t = 0; t < s.length; t++) iv[b * T + t] = s[t]!;
    lv[b * T + s.length - 1] = 1;
  });
  return { ids, lastOneHot: last, lengths: seqs.map((s) => s.length), T };
}

/**
 * For next-token log-probs over positions 0..T-2 (predicting tokens 1..T-1): a (B, T-1) f32 mask that is 1
 * where the predicted token belongs to the response, i.e. index t with promptLen-1 <= t < length-1.
 */
export function responseMask(promptLens: readonly number[], lengths: readonly number[], T: number): Tensor {
  const B = lengths.length;
  const m = Tensor.empty([B, T - 1], 'f32', true);
  const d = m.data as Float32Array;
  for (let b = 0; b < B; b++) for (let t = promptLens[b]! - 1; t < lengths[b]! - 1; t++) d[b * (T - 1) + t] = 1;
  return m;
}
