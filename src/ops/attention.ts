// attention.ts — fused scaled dot-product attention (flash-attention formulation, Dao et al. 2022):
// causal, grouped-query (GQA) and key padding, without a (T, S) tensor per head in memory. Under a checkpoint that
// keeps values, the output is kept for the recomputation instead of computed twice (autograd/checkpoint.ts).
import { Tensor, shapeStr } from '../tensor/tensor.js';
import { backend } from '../backend/index.js';
import { record } from './record.js';
import { keptAcrossRecompute } from '../autograd/checkpoint.js';

export interface AttentionOptions {
  causal?: boolean;
  /** (B, S) i32: nonzero keeps the key, 0 masks it (padding) */
  keyMask?: Tensor | null;
  /** defaults to 1/sqrt(D) */
  scale?: number;
}

/** q (B, T, H, D), k and v (B, S, Hkv, D) → (B, T, H, D). Query t sits at position S - T + t. */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  if (q.rank !== 4 || k.rank !== 4 || v.rank !== 4)
    throw new Error(`[attention] q, k, v must be 4-D: ${shapeStr(q.shape)} ${shapeStr(k.shape)} ${shapeStr(v.shape)}`);
  const [B, T, H, D] = q.shape as [number, number, number, number];
  const [Bk, S, Hkv, Dk] = k.shape as [number, number, number, number];
  if (Bk !== B || Dk !== D || k.shape.join() !== v.shape.join())
    throw new Error(`[attention] k/v ${shapeStr(k.shape)}/${shapeStr(v.shape)} do not match q ${shapeStr(q.shape)}`);
  if (H % Hkv) throw new Error(`[attention] query heads ${H} not a multiple of key/value heads ${Hkv}`);
  if (S < T) throw new Error(`[attention] fewer keys (${S}) than queries (${T})`);
  const causal = opts.causal ?? true;
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  const mask = opts.keyMask ? opts.keyMask.i32('attention') : null;
  if (mask && mask.length !== B * S) throw new Error(`[attention] keyMask must be (B, S) = (${B}, ${S}), got ${shapeStr(opts.keyMask!.shape)}`);
  // Inside a checkpointed segment that keeps values (checkpointKeep), the output and its log-sum-exp are kept from
  // the forward for the recomputation: the same bits come back and the node is recorded again on the recomputed q, k, v.
  let fresh: Tensor | null = null;
  const out = keptAcrossRecompute(() => {
    const o = Tensor.empty(q.shape, 'f32');
    fresh = Tensor.empty([B, H, T], 'f32');
    backend().attentionForward(q.f32('attention'), k.f32('attention'), v.f32('attention'), o.f32(), fresh.f32(),
      B, T, S, H, Hkv, D, scale, causal, mask);
    return o;
  }).value;
  const lse = keptAcrossRecompute(() => {
    if (!fresh) throw new Error('[attention] internal: a kept output came back without its kept log-sum-exp');
    return fresh;
  }).value;
  const saved = opts.keyMask ? [out, lse, opts.keyMask] : [out, lse];
  return record('attention', out, [q, k, v], saved, (g) => {
    const dq = Tensor.empty(q.shape, 'f32'), dk = Tensor.empty(k.shape, 'f32'), dv = Tensor.empty(v.shape, 'f32');
    backend().attentionBackward(q.f32(), k.f32(), v.f32(), out.f32(), lse.f32(), g.f32(), dq.f32(), dk.f32(), dv.f32(),
      B, T, S, H, Hkv, D, scale, causal, mask);
    return [dq, dk, dv];
  });
}
