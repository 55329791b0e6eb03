// rope-scaling.ts — the scaled-RoPE variants HF configs name in `rope_scaling`, each a rewrite of the D/2
// inverse frequencies the rope op rotates by (its `invFreq` table): llama3 (Llama 3.1+ band-wise rescaling),
// linear (positions / factor, Kaiokendev) and dynamic (NTK-aware base growth past the trained length).
// Semantics follow transformers' modeling_rope_utils.py (v4.45–4.57); this file holds no config parsing.

export type RopeScaling =
  | { type: 'linear'; factor: number }
  | { type: 'dynamic'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number };

interface RopeConfig { ropeTheta: number; maxPositions: number; ropeScaling?: RopeScaling | null }

/** theta^(-2i/D) for i < D/2, in double. */
export function defaultInvFreq(theta: number, D: number): Float64Array {
  const f = new Float64Array(D / 2);
  for (let i = 0; i < D / 2; i++) f[i] = Math.pow(theta, (-2 * i) / D);
  return f;
}

/**
 * The inverse frequencies for a forward pass whose largest position is seqLen - 1, or null for plain RoPE
 * (the kernel then derives them from theta itself). Only `dynamic` depends on seqLen.
 */
export function ropeInvFreq(c: RopeConfig, D: number, seqLen: number): Float64Array | null {
  const s = c.ropeScaling;
  if (!s) return null;
  if (s.type === 'linear') return defaultInvFreq(c.ropeTheta, D).map((f) => f / s.factor);
  if (s.type === 'dynamic') {
    // within the trained length the model sees plain RoPE; beyond it the base grows with the length
    if (seqLen <= c.maxPositions) return null;
    const base = c.ropeTheta * Math.pow(s.factor * seqLen / c.maxPositions - (s.factor - 1), D / (D - 2));
    return defaultInvFreq(base, D);
  }
  // llama3: wavelengths longer than original/lowFreqFactor are slowed by `factor`, shorter than
  // original/highFreqFactor kept, and the band between interpolated linearly in original/wavelength
  const f = defaultInvFreq(c.ropeTheta, D);
  const lowWavelen = s.originalMaxPositions / s.lowFreqFactor, highWavelen = s.originalMaxPositions / s.highFreqFactor;
  for (let i = 0; i < f.length; i++) {
    const wavelen = (2 * Math.PI) / f[i]!;
    if (wavelen < highWavelen) continue;
    if (wavelen > lowWavelen) { f[i] = f[i]! / s.factor; continue; }
    const smooth = (s.originalMaxPositions / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
    f[i] = (1 - smooth) * f[i]! / s.factor + smooth * f[i]!;
  }
  return f;
}

/** True when the frequencies change with the sequence length (recomputed per forward pass). */
export function ropeDependsOnLength(c: RopeConfig): boolean {
  return c.ropeScaling?.type === 'dynamic';
}

/**
 * The longest sequence the model accepts: maxPositions, except under dynamic scaling, whose
 * max_position_embeddings is the trained length it extends (by up to `factor`).
 */
export function positionLimit(c: RopeConfig): number {
  return c.ropeScaling?.type === 'dynamic' ? Math.floor(c.maxPositions * c.ropeScaling.factor) : c.maxPositions;
}
