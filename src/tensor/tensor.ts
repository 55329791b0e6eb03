// tensor.ts — Tensor: shape, dtype and contiguous row-major storage, plus the autograd links
// (grad, the node that produced it). No math lives here: ops do the work through the backend.
import type { DType, Storage } from './dtype.js';
import { PANEL_ROWS, dtypeOf, isPanelLayout, isQuantized, storageLength } from './dtype.js';
import { acquire, release } from './pool.js';
import { track } from './scope.js';

/** How a tensor was produced: its inputs, the tensors kept for the backward pass, and the vjp. */
export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  readonly saved: readonly Tensor[];
  /** gradients w.r.t. each input (null where the input needs none), given the output's gradient */
  backward(grad: Tensor): (Tensor | null)[];
}

export type Shape = readonly number[];

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeStr(shape: Shape): string {
  return `[${shape.join(',')}]`;
}

export function checkShape(shape: Shape, where: string): void {
  for (const d of shape)
    if (!Number.isInteger(d) || d < 0) throw new Error(`[${where}] invalid shape ${shapeStr(shape)}`);
}

let nextId = 1;

export class Tensor {
  readonly id = nextId++;
  readonly shape: Shape;
  readonly dtype: DType;
  private _data: Storage | null;
  requiresGrad = false;
  grad: Tensor | null = null;
  node: GradNode | null = null;
  /** set on parameters and other long-lived tensors: scopes never dispose them */
  kept = false;
  name?: string;
  /** the tensor whose buffer this view shares (reshape), or null if it owns its buffer */
  private base: Tensor | null = null;
  /** live views of this tensor's buffer; the buffer is pooled only once they are gone */
  private views = 0;
  private heldBuffer: Storage | null = null;
  /** values derived from this tensor's storage (see derived()); dropped on dispose */
  private derivedValues: Map<string, unknown> | null = null;

  /** `dtype` is needed only for byte storage (q8_0 / q4_0), whose format the array cannot tell. */
  constructor(data: Storage, shape: Shape, dtype?: DType) {
    checkShape(shape, 'Tensor');
    const dt = dtypeOf(data, dtype);
    if (dtype && dtype !== dt) throw new Error(`[Tensor] storage holds ${dt}, not ${dtype}`);
    if (isQuantized(dt) && (shape.length !== 2 || shape[1]! % 32))
      throw new Error(`[Tensor] ${dt} tensors are 2-D weights [N, K] with K a multiple of 32, got ${shapeStr(shape)}`);
    if (isPanelLayout(dt) && shape[0]! % PANEL_ROWS)
      throw new Error(`[Tensor] ${dt} holds whole panels of ${PANEL_ROWS} rows, got ${shapeStr(shape)}`);
    const want = storageLength(dt, numel(shape));
    if (data.length !== want)
      throw new Error(`[Tensor] storage has ${data.length} elements, shape ${shapeStr(shape)} of ${dt} needs ${want}`);
    this._data = data;
    this.shape = Object.freeze([...shape]);
    this.dtype = dt;
    track(this);
  }

  /** A tensor over a pooled buffer; contents are arbitrary unless zero is set. */
  static empty(shape: Shape, dtype: DType = 'f32', zero = false): Tensor {
    checkShape(shape, 'Tensor.empty');
    return new Tensor(acquire(dtype, numel(shape), zero), shape, dtype);
  }

  get data(): Storage {
    if (!this._data) throw new Error(`[Tensor] use after dispose (tensor #${this.id}${this.name ? ' ' + this.name : ''})`);
    return this._data;
  }

  get size(): number {
    return numel(this.shape);
  }

  get rank(): number {
    return this.shape.length;
  }

  get disposed(): boolean {
    return this._data === null;
  }

  /** The f32 storage; throws naming `where` if the tensor holds another dtype. */
  f32(where = 'f32'): Float32Array {
    if (this.dtype !== 'f32') throw new Error(`[${where}] expected an f32 tensor, got ${this.dtype} ${shapeStr(this.shape)}`);
    return this.data as Float32Array;
  }

  i32(where = 'i32'): Int32Array {
    if (this.dtype !== 'i32') throw new Error(`[${where}] expected an i32 tensor, got ${this.dtype} ${shapeStr(this.shape)}`);
    return this.data as Int32Array;
  }

  item(): number {
    if (this.size !== 1) throw new Error(`[item] tensor of shape ${shapeStr(this.shape)} is not a scalar`);
    if (this.dtype !== 'f32' && this.dtype !== 'i32') throw new Error(`[item] ${this.dtype} tensor: cast to f32 first`);
    return this.data[0]!;
  }

  toArray(): number[] {
    if (this.dtype !== 'f32' && this.dtype !== 'i32') throw new Error(`[toArray] ${this.dtype} tensor: cast to f32 first`);
    return Array.from(this.data as Float32Array | Int32Array);
  }

  /** Mark as long-lived (parameters, optimiser state, caches): scopes will not dispose it. */
  keep(): this {
    this.kept = true;
    return this;
  }

  /** A tensor of another shape over the same buffer (same number of elements). */
  static viewOf(x: Tensor, shape: Shape): Tensor {
    const owner = x.base ?? x;
    const v = new Tensor(x.data, shape, x.dtype);
    v.base = owner;
    owner.views++;
    return v;
  }

  /**
   * A value derived from this tensor's storage, made by `make` from it on first use under `key` and kept until
   * dispose: a kernel's layout of frozen weights (ops/panel-scales.ts). Only for storage that is not written after it
   * is made (quantized weights): nothing here notices a write. Per tensor, not per buffer, since a disposed tensor's
   * buffer comes back from the pool as another tensor's.
   */
  derived<T>(key: string, make: (data: Storage) => T): T {
    const data = this.data;  // throws after dispose
    const values = (this.derivedValues ??= new Map());
    if (!values.has(key)) values.set(key, make(data));
    return values.get(key) as T;
  }

  /**
   * x's storage as a new tensor of `dtype` (the same storage length), which owns it from now on; x is left disposed
   * without releasing it. For bytes rearranged in place into another layout (model/decode-layout.ts): no second
   * copy of the weight is made, and none goes to the pool. x must be no view and have none.
   */
  static adoptAs(x: Tensor, dtype: DType): Tensor {
    if (x.base || x.views > 0) throw new Error(`[Tensor.adoptAs] ${x} shares its storage with views`);
    const t = new Tensor(x.data, x.shape, dtype);
    if (x.name !== undefined) t.name = x.name;
    t.kept = x.kept;
    x.derivedValues = null;
    x._data = null;
    x.node = null;
    return t;
  }

  /** Return the storage to the pool. The tensor must not be used afterwards. */
  dispose(): void {
    this.derivedValues = null;
    if (!this._data) return;
    if (this.base) {
      const owner = this.base;
      owner.views--;
      if (owner.views === 0 && owner.heldBuffer) {
        release(owner.dtype, owner.heldBuffer);
        owner.heldBuffer = null;
      }
    } else if (this.views > 0) {
      this.heldBuffer = this._data; // pooled when the last view goes
    } else {
      release(this.dtype, this._data);
    }
    this._data = null;
    this.node = null;
    if (this.grad && !this.grad.kept) this.grad.dispose();
    this.grad = null;
  }

  toString(): string {
    return `Tensor(${this.dtype} ${shapeStr(this.shape)}${this.requiresGrad ? ' grad' : ''})`;
  }
}
