// attention.ts — reference scaled dot-product attention with causal masking, GQA and a key-padding mask.
// Plain loops over one query row at a time; the logsumexp per row is saved for the backward pass
// (the flash-attention formulation of Dao et al. 2022, without tiling).
import type { BF16, F32, I32 } from '../kernels.js';
import { castBf16ToF32 } from './layout.js';

/** bf16 bits → a new f32 array (exact: the bits are an f32's upper half). */
function widenBf16(x: BF16): F32 {
  const out = new Float32Array(x.length);
  castBf16ToF32(x, out);
  return out;
}

function visible(b: number, t: number, s: number, T: number, S: number, causal: boolean, keyMask: I32 | null): boolean {
  if (causal && s > S - T + t) return false;
  return keyMask === null || keyMask[b * S + s] !== 0;
}

export function attentionForward(q: F32, k: F32, v: F32, out: F32, lse: F32, B: number, T: number, S: number,
  H: number, Hkv: number, D: number, scale: number, causal: boolean, keyMask: I32 | null): void {
  const group = H / Hkv;
  const sc = new Float64Array(S);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
    const kh = Math.floor(h / group);
    for (let t = 0; t < T; t++) {
      const qo = ((b * T + t) * H + h) * D;
      let m = -Infinity;
      for (let s = 0; s < S; s++) {
        if (!visible(b, t, s, T, S, causal, keyMask)) { sc[s] = -Infinity; continue; }
        const ko = ((b * S + s) * Hkv + kh) * D;
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[qo + d]! * k[ko + d]!;
        sc[s] = dot * scale;
        m = Math.max(m, sc[s]!);
      }
      const li = (b * H + h) * T + t;
      if (m === -Infinity) {
        lse[li] = -Infinity;
        for (let d = 0; d < D; d++) out[qo + d] = 0;
        continue;
      }
      let z = 0;
      for (let s = 0; s < S; s++) z += sc[s] === -Infinity ? 0 : Math.exp(sc[s]! - m);
      const l = m + Math.log(z);
      lse[li] = l;
      for (let d = 0; d < D; d++) {
        let acc = 0;
        for (let s = 0; s < S; s++) {
          if (sc[s] === -Infinity) continue;
          acc += Math.exp(sc[s]! - l) * v[((b * S + s) * Hkv + kh) * D + d]!;
        }
        out[qo + d] = acc;
      }
    }
  }
}

/** attentionForward over keys held transposed (kt: B, Hkv, D, ldk): the keys laid back out as (B, S, Hkv, D). */
export function attentionForwardKt(q: F32, kt: F32 | BF16, ldk: number, v: F32 | BF16, out: F32, lse: F32, B: number,
  T: number, S: number, H: number, Hkv: number, D: number, scale: number, causal: boolean, keyMask: I32 | null): void {
  if (!(Number.isInteger(ldk) && ldk % 16 === 0 && ldk >= S))
    throw new Error(`[attentionForwardKt] ldk (${ldk}) must be a multiple of 16 and at least S (${S})`);
  if ((kt instanceof Uint16Array) !== (v instanceof Uint16Array))
    throw new Error('[attentionForwardKt] kt and v must both be Float32Array or both Uint16Array (bf16)');
  // a bf16 cache: widened (bf16 bits are an f32's upper half), then as f32
  const kt32 = kt instanceof Uint16Array ? widenBf16(kt) : kt;
  const v32 = v instanceof Uint16Array ? widenBf16(v) : v;
  const k = new Float32Array(B * S * Hkv * D);
  for (let b = 0; b < B; b++) for (let kh = 0; kh < Hkv; kh++) for (let d = 0; d < D; d++) {
    const row = ((b * Hkv + kh) * D + d) * ldk;
    for (let s = 0; s < S; s++) k[((b * S + s) * Hkv + kh) * D + d] = kt32[row + s]!;
  }
  attentionForward(q, k, v32, out, lse, B, T, S, H, Hkv, D, scale, causal, keyMask);
}

// dV_s += P_ts dO_t ; dP_ts = dO_t·V_s ; dS_ts = P_ts (dP_ts - rowsum(dO_t * O_t)) ;
// dQ_t += scale dS_ts K_s ; dK_s += scale dS_ts Q_t
export function attentionBackward(q: F32, k: F32, v: F32, out: F32, lse: F32, dOut: F32, dq: F32, dk: F32, dv: F32,
  B: number, T: number, S: number, H: number, Hkv: number, D: number, scale: number, causal: boolean,
  keyMask: I32 | null): void {
  const group = H / Hkv;
  dq.fill(0, 0, B * T * H * D);
  dk.fill(0, 0, B * S * Hkv * D);
  dv.fill(0, 0, B * S * Hkv * D);
  const gq = new Float64Array(D);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
    const kh = Math.floor(h / group);
    for (let t = 0; t < T; t++) {
      const qo = ((b * T + t) * H + h) * D;
      const l = lse[(b * H + h) * T + t]!;
      if (l === -Infinity) continue;
      let delta = 0;
      for (let d = 0; d < D; d++) delta += dOut[qo + d]! * out[qo + d]!;
      gq.fill(0);
      for (let s = 0; s < S; s++) {
        if (!visible(b, t, s, T, S, causal, keyMask)) continue;
        const ko = ((b * S + s) * Hkv + kh) * D;
        let dot = 0, dp = 0;
        for (let d = 0; d < D; d++) {
          dot += q[qo + d]! * k[ko + d]!;
          dp += dOut[qo + d]! * v[ko + d]!;
        }
        const p = Math.exp(dot * scale - l);
        const ds = p * (dp - delta) * scale;
        for (let d = 0; d < D; d++) {
          dv[ko + d] = dv[ko + d]! + p * dOut[qo + d]!;
          gq[d]! += ds * k[ko + d]!;
          dk[ko + d] = dk[ko + d]! + ds * q[qo + d]!;
        }
      }
      for (let d = 0; d < D; d++) dq[qo + d] = gq[d]!;
    }
  }
}
