// nn.ts — fused neural-network ops: softmax / log-softmax, RMSNorm, RoPE, embedding, and casts.
// Each keeps a composed equivalent in test/ops (fused vs composed).
import { Tensor, shapeStr } from '../tensor/tensor.js';
import { backend } from '../backend/index.js';
import { record } from './record.js';
import { zeros } from './creation.js';
import { assertFrozen, dequantize } from './quant.js';
import { isQuantized } from '../tensor/dtype.js';

function lastDim(x: Tensor, op: string): { rows: number; cols: number } {
  if (x.rank < 1) throw new Error(`[${op}] needs at least 1-D input, got ${shapeStr(x.shape)}`);
  const cols = x.shape[x.rank - 1]!;
  return { rows: cols === 0 ? 0 : x.size / cols, cols };
}

export function softmax(x: Tensor): Tensor {
  const { rows, cols } = lastDim(x, 'softmax');
  const out = Tensor.empty(x.shape, 'f32');
  backend().softmaxForward(x.f32('softmax'), out.f32(), rows, cols);
  return record('softmax', out, [x], [out], (g) => {
    const dx = Tensor.empty(x.shape, 'f32');
    backend().softmaxBackward(out.f32(), g.f32(), dx.f32(), rows, cols);
    return [dx];
  });
}

export function logSoftmax(x: Tensor): Tensor {
  const { rows, cols } = lastDim(x, 'logSoftmax');
  const out = Tensor.empty(x.shape, 'f32');
  backend().logSoftmaxForward(x.f32('logSoftmax'), out.f32(), rows, cols);
  return record('logSoftmax', out, [x], [out], (g) => {
    const dx = Tensor.empty(x.shape, 'f32');
    backend().logSoftmaxBackward(out.f32(), g.f32(), dx.f32(), rows, cols);
    return [dx];
  });
}

/** RMSNorm (Zhang & Sennrich 2019) over the last axis: x / sqrt(mean(x²) + eps) * weight. */
export function rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  const { rows, cols } = lastDim(x, 'rmsNorm');
  if (weight.rank !== 1 || weight.shape[0] !== cols)
    throw new Error(`[rmsNorm] weight must be 1-D of size ${cols}, got ${shapeStr(weight.shape)}`);
  const out = Tensor.empty(x.shape, 'f32');
  const rstd = Tensor.empty([rows], 'f32');
  backend().rmsNormForward(x.f32('rmsNorm'), weight.f32('rmsNorm'), out.f32(), rstd.f32(), rows, cols, eps);
  return record('rmsNorm', out, [x, weight], [rstd], (g) => {
    const dx = Tensor.empty(x.shape, 'f32'), dw = Tensor.empty(weight.shape, 'f32');
    backend().rmsNormBackward(x.f32(), weight.f32(), rstd.f32(), g.f32(), dx.f32(), dw.f32(), rows, cols);
    return [dx, dw];
  });
}

/**
 * Rotary position embedding (Su et al. 2021) in the HF LLaMA rotate_half convention, for x (B, T, H, D)
 * with positions (B·T) — per-row positions support left padding and the KV cache's offset.
 */
export function rope(x: Tensor, positions: Tensor, theta: number): Tensor {
  if (x.rank !== 4) throw new Error(`[rope] x must be (B, T, H, D), got ${shapeStr(x.shape)}`);
  const [B, T, H, D] = x.shape as [number, number, number, number];
  if (D % 2) throw new Error(`[rope] head dim must be even, got ${D}`);
  const pos = positions.i32('rope');
  if (pos.length !== B * T) throw new Error(`[rope] positions has ${pos.length} entries, needs B·T = ${B * T}`);
  const out = Tensor.empty(x.shape, 'f32');
  backend().rope(x.f32('rope'), out.f32(), pos, B * T, H, D, theta, false);
  return record('rope', out, [x], [positions], (g) => {
    const dx = Tensor.empty(x.shape, 'f32');
    backend().rope(g.f32(), dx.f32(), pos, B * T, H, D, theta, true);
    return [dx];
  });
}

/**
 * Rows of weight (V, C) picked by integer ids (...) → (..., C); the gradient scatter-adds. The weight may be held
 * in any WeightFormat (rows come out as f32), since real checkpoints tie the embedding to a quantized LM head.
 */
export function embedding(weight: Tensor, ids: Tensor): Tensor {
  if (weight.rank !== 2) throw new Error(`[embedding] weight must be (V, C), got ${shapeStr(weight.shape)}`);
  if (weight.dtype === 'i32') throw new Error(`[embedding] weight ${shapeStr(weight.shape)} is i32, not a weight format`);
  assertFrozen(weight, 'embedding');
  const [V, C] = weight.shape as [number, number];
  const idv = ids.i32('embedding');
  const out = Tensor.empty([...ids.shape, C], 'f32');
  const w = weight.dtype === 'f32' ? weight.f32('embedding') : weight.data;
  backend().embeddingForward(w as Float32Array, weight.dtype, idv, out.f32(), idv.length, C, V);
  return record('embedding', out, [weight], [ids], (g) => {
    const dw = zeros(weight.shape);
    backend().embeddingBackward(idv, g.f32(), dw.f32(), idv.length, C, V);
    return [dw];
  });
}

/** Round to bf16 storage (no gradient flows through a storage cast). */
export function toBf16(x: Tensor): Tensor {
  if (x.dtype === 'bf16') return x;
  const out = Tensor.empty(x.shape, 'bf16');
  backend().castF32ToBf16(x.f32('toBf16'), out.data as Uint16Array);
  return out;
}

export function toF32(x: Tensor): Tensor {
  if (x.dtype === 'f32') return x;
  if (isQuantized(x.dtype)) return dequantize(x);
  if (x.dtype === 'i32') {
    const out = Tensor.empty(x.shape, 'f32');
    (out.data as Float32Array).set(x.data as Int32Array);
    return out;
  }
  const out = Tensor.empty(x.shape, 'f32');
  backend().castBf16ToF32(x.data as Uint16Array, out.f32());
  return out;
}
