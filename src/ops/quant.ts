// quant.ts — weight-format conversion ops: a 2-D f32 / bf16 weight to any WeightFormat (f32, bf16, q8_0, q4_0) and
// back to f32. No gradient flows through them: the results are frozen storage. matmul and embedding read every
// format directly; this file only converts (load time, tests, export).
import { Tensor, shapeStr } from '../tensor/tensor.js';
import { QUANT_BLOCK, WEIGHT_FORMATS, isQuantized, type WeightFormat } from '../tensor/dtype.js';
import { backend } from '../backend/index.js';

/** t (f32 or bf16; 2-D [N, K] with K % 32 == 0 for q8_0 / q4_0) held in `fmt`. Returns t itself when already so. */
export function toWeightFormat(t: Tensor, fmt: WeightFormat): Tensor {
  if (!WEIGHT_FORMATS.includes(fmt)) throw new Error(`[toWeightFormat] unknown weight format '${fmt}' (one of ${WEIGHT_FORMATS.join(', ')})`);
  if (t.dtype === fmt) return t;
  if (t.dtype === 'i32') throw new Error(`[toWeightFormat] an i32 tensor ${shapeStr(t.shape)} is not a weight`);
  if (isQuantized(t.dtype)) {
    // quantizing twice compounds the rounding; only the way back to floats is offered
    if (isQuantized(fmt)) throw new Error(`[toWeightFormat] ${t.dtype} ${shapeStr(t.shape)} to ${fmt}: dequantize from the original weights instead`);
    const f = dequantize(t);
    return fmt === 'f32' ? f : toWeightFormat(f, fmt);
  }
  if (fmt === 'f32') {
    const out = Tensor.empty(t.shape, 'f32');
    backend().castBf16ToF32(t.data as Uint16Array, out.f32());
    return out;
  }
  if (fmt === 'bf16') {
    const out = Tensor.empty(t.shape, 'bf16');
    backend().castF32ToBf16(t.f32('toWeightFormat'), out.data as Uint16Array);
    return out;
  }
  if (t.rank !== 2) throw new Error(`[toWeightFormat] ${fmt} holds 2-D weights [N, K], got ${shapeStr(t.shape)}`);
  const [N, K] = t.shape as [number, number];
  if (K % QUANT_BLOCK) throw new Error(`[toWeightFormat] ${fmt} needs K (the last dim) a multiple of ${QUANT_BLOCK}, got ${shapeStr(t.shape)}`);
  const out = Tensor.empty([N, K], fmt);
  backend().quantizeRows(t.data as Float32Array | Uint16Array, N, K, fmt, out.data as Uint8Array);
  return out;
}

/** Any weight (f32, bf16, q8_0, q4_0) as a new f32 tensor of the same shape (an f32 input is returned as is). */
export function dequantize(t: Tensor): Tensor {
  if (t.dtype === 'f32') return t;
  if (t.dtype === 'i32') throw new Error(`[dequantize] an i32 tensor ${shapeStr(t.shape)} is not a weight`);
  const out = Tensor.empty(t.shape, 'f32');
  if (t.dtype === 'bf16') backend().castBf16ToF32(t.data as Uint16Array, out.f32());
  else backend().dequantizeRows(t.data as Uint8Array, t.dtype, t.shape[0]!, t.shape[1]!, out.f32());
  return out;
}

/** Quantized weights are frozen storage: the ops that read them refuse one that requires grad. */
export function assertFrozen(w: Tensor, op: string): void {
  if (isQuantized(w.dtype) && w.requiresGrad)
    throw new Error(`[${op}] a ${w.dtype} weight ${shapeStr(w.shape)} is frozen storage and cannot require grad ` +
      '(train an f32 copy, or LoRA adapters over it)');
}
