// creation.ts — making tensors: from arrays, constants, and seeded random initialisations.
import { Tensor, numel, shapeStr, type Shape } from '../tensor/tensor.js';
import type { DType } from '../tensor/dtype.js';
import { Rng } from '../util/rng.js';

export function tensor(values: ArrayLike<number>, shape?: Shape, dtype: DType = 'f32'): Tensor {
  const s = shape ?? [values.length];
  if (numel(s) !== values.length)
    throw new Error(`[tensor] ${values.length} values do not fill shape ${shapeStr(s)}`);
  const t = Tensor.empty(s, dtype);
  if (dtype === 'bf16') throw new Error('[tensor] build bf16 tensors with toBf16(tensor(...))');
  (t.data as Float32Array | Int32Array).set(values);
  return t;
}

export function zeros(shape: Shape, dtype: DType = 'f32'): Tensor {
  return Tensor.empty(shape, dtype, true);
}

export function full(shape: Shape, value: number): Tensor {
  const t = Tensor.empty(shape, 'f32');
  t.data.fill(value);
  return t;
}

export function ones(shape: Shape): Tensor {
  return full(shape, 1);
}

/** Normal(0, std) samples from a seeded generator. */
export function randn(shape: Shape, rng: Rng, std = 1): Tensor {
  const t = Tensor.empty(shape, 'f32');
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = rng.normal() * std;
  return t;
}

/** Uniform [lo, hi) samples from a seeded generator. */
export function rand(shape: Shape, rng: Rng, lo = 0, hi = 1): Tensor {
  const t = Tensor.empty(shape, 'f32');
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = lo + (hi - lo) * rng.next();
  return t;
}

/** A trainable leaf: requires grad and is never disposed by scopes. */
export function parameter(t: Tensor, name?: string): Tensor {
  t.requiresGrad = true;
  t.keep();
  if (name) t.name = name;
  return t;
}
