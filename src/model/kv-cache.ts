// kv-cache.ts — KvCache: per layer, the rotated keys and the values of every token seen so far, in
// preallocated (B, capacity, Hkv, D) buffers, plus a (B, capacity) key-padding mask. Attention reads each
// row's first S positions as a zero-copy view, so a decode step copies only its own new keys.
// Inference only (no autograd through the cache); sampling and batching policy live in generate.ts.
import { Tensor, shapeStr } from '../tensor/tensor.js';
import { attention } from '../ops/attention.js';

export class KvCache {
  readonly k: Float32Array[];
  readonly v: Float32Array[];
  /** (B, capacity): 1 = real token, 0 = padding */
  readonly mask: Int32Array;
  /** tokens committed so far (the same for every row: batches are left-padded) */
  length = 0;
  private pending = 0;
  private anyPadding = false;

  constructor(readonly numLayers: number, readonly batch: number, readonly capacity: number,
    readonly numKvHeads: number, readonly headDim: number) {
    const n = batch * capacity * numKvHeads * headDim;
    this.k = Array.from({ length: numLayers }, () => new Float32Array(n));
    this.v = Array.from({ length: numLayers }, () => new Float32Array(n));
    this.mask = new Int32Array(batch * capacity);
  }

  /** Called before the layers run on T new tokens of B rows with their (B, T) padding mask. */
  append(B: number, T: number, keyMask: Tensor | null): void {
    if (B !== this.batch) throw new Error(`[KvCache] batch of ${B} rows, cache holds ${this.batch}`);
    if (this.length + T > this.capacity)
      throw new Error(`[KvCache] ${this.length} cached + ${T} new tokens exceed the capacity ${this.capacity}`);
    const m = keyMask ? keyMask.i32('KvCache') : null;
    if (m && m.length !== B * T) throw new Error(`[KvCache] keyMask must be (B, T) = (${B}, ${T}), got ${shapeStr(keyMask!.shape)}`);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) {
      const keep = m ? (m[b * T + t] !== 0 ? 1 : 0) : 1;
      this.mask[b * this.capacity + this.length + t] = keep;
      if (!keep) this.anyPadding = true;
    }
    this.pending = T;
  }

  /** Called after the last layer: the T tokens become part of the past. */
  commit(T: number): void {
    this.length += T;
    this.pending = 0;
  }

  /** Store this layer's new k, v (B, T, Hkv, D) and attend q (B, T, H, D) over past + new keys → (B, T, H, D). */
  attend(layer: number, q: Tensor, k: Tensor, v: Tensor): Tensor {
    const [B, T, H, D] = q.shape as [number, number, number, number];
    if (T !== this.pending) throw new Error(`[KvCache] attend with ${T} tokens, append announced ${this.pending}`);
    const Hkv = this.numKvHeads, cap = this.capacity, S = this.length + T;
    const row = Hkv * D;
    const kd = k.f32('KvCache'), vd = v.f32('KvCache');
    const K = this.k[layer]!, V = this.v[layer]!;
    for (let b = 0; b < B; b++) {
      K.set(kd.subarray(b * T * row, (b + 1) * T * row), (b * cap + this.length) * row);
      V.set(vd.subarray(b * T * row, (b + 1) * T * row), (b * cap + this.length) * row);
    }
    const qd = q.f32('KvCache');
    const out = Tensor.empty([B, T, H, D], 'f32');
    const od = out.f32();
    // one attention call per row over views of the cache; views are kept so no scope returns them to the pool
    for (let b = 0; b < B; b++) {
      const view = (buf: Float32Array, off: number, len: number, shape: number[]) => new Tensor(buf.subarray(off, off + len), shape).keep();
      const qb = view(qd, b * T * H * D, T * H * D, [1, T, H, D]);
      const kb = view(K, b * cap * row, S * row, [1, S, Hkv, D]);
      const vb = view(V, b * cap * row, S * row, [1, S, Hkv, D]);
      const mb = this.anyPadding ? new Tensor(this.mask.subarray(b * cap, b * cap + S), [1, S]).keep() : null;
      const ob = attention(qb, kb, vb, { causal: true, keyMask: mb }); // (1, T, H, D)
      od.set(ob.f32(), b * T * H * D);
      ob.dispose();
    }
    return out;
  }

  /** Forget everything (reuse the buffers for a new batch of the same shape). */
  reset(): void {
    this.length = 0;
    this.pending = 0;
    this.anyPadding = false;
    this.mask.fill(0);
  }
}
