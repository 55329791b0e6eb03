// kv-cache.ts — KvCache: per layer, the rotated keys and the values of every token seen so far, in preallocated
// buffers, plus a (B, capacity) key-padding mask. The keys are held transposed, (B, Hkv, D, stride) with the
// positions innermost, and the values as (B, capacity, Hkv, D): a decode step's scores are q times K^T, and the
// attention kernel would otherwise transpose every cached key of every kv head on every step (a third of its time
// at Qwen2.5-0.5B's shape, 160 cached tokens). Attention reads the cache in place (a decode step: all rows in one
// call over the capacity, past positions masked), writing only the new keys and values.
// dtype 'bf16' stores both as bf16 bits (rounded to nearest even as they are written): half the memory and half the
// bytes each decode step reads (at batch 8 the f32 cache of Qwen2.5-0.5B at 192 positions is 37.7 MB, past a
// 32 MiB L3 while the weights stream by), widened back to f32 inside the attention kernel.
// Inference only (no autograd through the cache); sampling and batching policy live in generate.ts.
import { Tensor, shapeStr } from '../tensor/tensor.js';
import { backend } from '../backend/index.js';
import { phase } from '../backend/profile.js';

/** What a KV cache stores its keys and values as. */
export type KvCacheDType = 'f32' | 'bf16';
export const KV_CACHE_DTYPES: readonly KvCacheDType[] = ['f32', 'bf16'];

export class KvCache {
  /** per layer (B, Hkv, D, keyStride): key s of (b, kv head) at ((b·Hkv + kh)·D + d)·keyStride + s */
  readonly k: (Float32Array | Uint16Array)[];
  /** per layer (B, capacity, Hkv, D) */
  readonly v: (Float32Array | Uint16Array)[];
  /** the keys' row stride: the capacity rounded up to 16 (the kernel's contract) */
  readonly keyStride: number;
  /** (B, capacity): 1 = real token, 0 = padding */
  readonly mask: Int32Array;
  /** tokens committed so far (the same for every row: batches are left-padded) */
  length = 0;
  private live: number;
  private pending = 0;
  private anyPadding = false;
  /** the kernel's log-sum-exp output, unused here (no backward through the cache) */
  private lse = new Float32Array(0);
  /** a bf16 cache's new keys then values, rounded before they are stored (grows only; reused by every layer) */
  private rounded = new Uint16Array(0);

  constructor(readonly numLayers: number, readonly batch: number, readonly capacity: number,
    readonly numKvHeads: number, readonly headDim: number, readonly dtype: KvCacheDType = 'f32') {
    if (!KV_CACHE_DTYPES.includes(dtype))
      throw new Error(`[KvCache] dtype must be one of ${KV_CACHE_DTYPES.join(', ')}, got '${dtype}'`);
    this.keyStride = Math.ceil(capacity / 16) * 16;
    const nk = batch * numKvHeads * headDim * this.keyStride, nv = batch * capacity * numKvHeads * headDim;
    const make = (n: number) => (dtype === 'bf16' ? new Uint16Array(n) : new Float32Array(n));
    this.k = Array.from({ length: numLayers }, () => make(nk));
    this.v = Array.from({ length: numLayers }, () => make(nv));
    this.mask = new Int32Array(batch * capacity);
    this.live = batch;
  }

  /** rows in use: `batch` until keepRows drops finished ones (they are the first `rows` of the buffers) */
  get rows(): number {
    return this.live;
  }

  /**
   * Keep only the rows at these current indices (strictly increasing), moved down to 0 … n−1 in that order: a
   * batch whose finished rows leave it stops paying for them in every later step. Copies each kept row's cached
   * positions once per layer.
   */
  keepRows(keep: number[]): void {
    if (this.pending) throw new Error('[KvCache] keepRows between append and commit');
    for (let i = 0; i < keep.length; i++) {
      const r = keep[i]!;
      if (!Number.isInteger(r) || r < i || r >= this.rows || (i > 0 && r <= keep[i - 1]!))
        throw new Error(`[KvCache] keepRows needs increasing row indices below ${this.rows}, got [${keep.join(', ')}]`);
    }
    const cap = this.capacity, row = this.numKvHeads * this.headDim, n = this.length, kRow = row * this.keyStride;
    keep.forEach((r, i) => {
      if (r === i) return;
      for (const buf of this.k) buf.copyWithin(i * kRow, r * kRow, (r + 1) * kRow);
      for (const buf of this.v) buf.copyWithin(i * cap * row, r * cap * row, (r * cap + n) * row);
      this.mask.copyWithin(i * cap, r * cap, r * cap + n);
    });
    this.live = keep.length;
    this.anyPadding = false;
    for (let b = 0; b < this.rows && !this.anyPadding; b++)
      for (let t = 0; t < n; t++) if (!this.mask[b * cap + t]) { this.anyPadding = true; break; }
  }

  /** Called before the layers run on T new tokens of B rows with their (B, T) padding mask. */
  append(B: number, T: number, keyMask: Tensor | null): void {
    if (B !== this.rows) throw new Error(`[KvCache] batch of ${B} rows, cache holds ${this.rows}`);
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
    return phase('attend', () => this.attendRows(layer, q, k, v));
  }

  private attendRows(layer: number, q: Tensor, k: Tensor, v: Tensor): Tensor {
    const [B, T, H, D] = q.shape as [number, number, number, number];
    if (T !== this.pending) throw new Error(`[KvCache] attend with ${T} tokens, append announced ${this.pending}`);
    const Hkv = this.numKvHeads, cap = this.capacity, S = this.length + T, ldk = this.keyStride;
    const row = Hkv * D;
    const kern = backend();
    let kd: Float32Array | Uint16Array = k.f32('KvCache'), vd: Float32Array | Uint16Array = v.f32('KvCache');
    if (this.dtype === 'bf16') {  // round once, then store the bits as the f32 path stores floats
      const n = kd.length;
      if (this.rounded.length < 2 * n) this.rounded = new Uint16Array(2 * n);
      const k16 = this.rounded.subarray(0, n), v16 = this.rounded.subarray(n, 2 * n);
      kern.castF32ToBf16(kd as Float32Array, k16);
      kern.castF32ToBf16(vd as Float32Array, v16);
      kd = k16;
      vd = v16;
    }
    const K = this.k[layer]!, V = this.v[layer]!;
    for (let b = 0; b < B; b++) {
      V.set(vd.subarray(b * T * row, (b + 1) * T * row), (b * cap + this.length) * row);
      // (T, Hkv, D) → columns length … length+T-1 of the row's (Hkv·D, ldk) block
      for (let j = 0; j < row; j++) {
        const dst = (b * row + j) * ldk + this.length;
        for (let t = 0; t < T; t++) K[dst + t] = kd[(b * T + t) * row + j]!;
      }
    }
    const qd = q.f32('KvCache');
    const out = Tensor.empty([B, T, H, D], 'f32');
    const od = out.f32();
    // straight over the cache (no Tensor views, no autograd record: the cache is inference only)
    const scale = 1 / Math.sqrt(D);
    if (T === 1) {
      // a decode step: one call for all rows over the whole capacity. The mask is 0 past each row's S keys, and one
      // query (causal, aligned at the end) sees every unmasked key, so this is exactly per-row attention over S; the
      // kernel skips masked keys' dot products and its pool spreads the B·H heads over threads
      if (this.lse.length < B * H) this.lse = new Float32Array(B * H);
      kern.attentionForwardKt(qd, K, ldk, V, od, this.lse.subarray(0, B * H), B, 1, cap, H, Hkv, D, scale, true,
        this.mask);
      return out;
    }
    // a prefill: one call per row, its keys the first S cached positions (causality is counted from the end of the
    // keys, so the capacity past S must not be in them), its output in place
    if (this.lse.length < H * T) this.lse = new Float32Array(H * T);
    const lse = this.lse.subarray(0, H * T);
    for (let b = 0; b < B; b++) {
      const mb = this.anyPadding ? this.mask.subarray(b * cap, b * cap + S) : null;
      kern.attentionForwardKt(qd.subarray(b * T * H * D, (b + 1) * T * H * D), K.subarray(b * row * ldk, (b + 1) * row * ldk),
        ldk, V.subarray(b * cap * row, (b * cap + S) * row), od.subarray(b * T * H * D, (b + 1) * T * H * D), lse,
        1, T, S, H, Hkv, D, scale, true, mb);
    }
    return out;
  }

  /** Forget everything (reuse the buffers for a new batch of the same shape). */
  reset(): void {
    this.length = 0;
    this.pending = 0;
    this.anyPadding = false;
    this.live = this.batch;
    this.mask.fill(0);
  }
}
