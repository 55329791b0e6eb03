// dtype.ts — the element types a Tensor can hold and their storage arrays.
// bf16 is storage only (weights, matmul operands): arithmetic on it goes through f32.

export type DType = 'f32' | 'bf16' | 'i32';
export type Storage = Float32Array | Uint16Array | Int32Array;

// Float64 mode: 'f32' tensors are stored in Float64Array so that finite-difference gradient checks
// run in double precision. Only the reference backend accepts such storage (it is plain JS indexing).
let float64Mode = false;

export function setFloat64Mode(on: boolean): boolean {
  const prev = float64Mode;
  float64Mode = on;
  return prev;
}

export function isFloat64Mode(): boolean {
  return float64Mode;
}

export function storageFor(dtype: DType, n: number): Storage {
  switch (dtype) {
    case 'f32': return float64Mode ? (new Float64Array(n) as unknown as Float32Array) : new Float32Array(n);
    case 'bf16': return new Uint16Array(n);
    case 'i32': return new Int32Array(n);
  }
}

export function dtypeOf(data: Storage): DType {
  if (data instanceof Float32Array || data instanceof Float64Array) return 'f32';
  if (data instanceof Uint16Array) return 'bf16';
  return 'i32';
}

export function bytesPerElement(dtype: DType): number {
  return dtype === 'bf16' ? 2 : 4;
}
