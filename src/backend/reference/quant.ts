// quant.ts — reference q8_0 / q4_0 (de)quantization and the quantized decode matvec: the definition of correct
// for the native kernels. Weight quantizers follow llama.cpp's reference quantizers byte for byte
// (quantize_row_q8_0_ref / quantize_row_q4_0_ref, ggml/src/ggml-quants.c of ggml-org/llama.cpp at commit
// 01243c587fec): float (f32) arithmetic, scale stored as f16. Block layouts: src/tensor/dtype.ts, zj_kernels.h.
// The GEMM and embedding references dequantize through here; they live in gemm.ts and loss.ts.
import { PANEL_ROWS, QUANT_BLOCK as QK, QUANT_BLOCK_BYTES, isPanelLayout, isQuantized, panelScalesLength, rowFormatOf, type BlockDType, type QuantDType, type StorageFormat, type WeightFormat } from '../../tensor/dtype.js';
import type { BF16, F16, F32, U8 } from '../kernels.js';
import { bf16BitsToF32 } from './bf16.js';
import { f16ToF32, f32ToF16 } from './f16.js';

const fr = Math.fround;

/** C's roundf: halves away from zero (what the weight quantizers use). */
function roundHalfAway(v: number): number {
  return v < 0 ? -Math.round(-v) : Math.round(v);
}

/** Round half to even (what the activation quantizer uses: one SIMD instruction, no tie bias). */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function readF32(x: F32 | BF16): (i: number) => number {
  return x instanceof Uint16Array ? (i) => bf16BitsToF32(x[i]!) : (i) => fr(x[i]!);
}

/** 1 / d in f32, 0 when d is 0 (an all-zero block). A d so small that 1/d overflows gives ±inf, handled by the callers. */
function inverse(d: number): number {
  return d ? fr(1 / d) : 0;
}

function quantizeBlockQ8_0(get: (i: number) => number, i0: number, out: U8, o: number): void {
  let amax = 0;
  for (let j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(get(i0 + j)));
  const d = fr(amax / 127), id = inverse(d);
  const h = f32ToF16(d);
  out[o] = h & 0xff;
  out[o + 1] = h >>> 8;
  for (let j = 0; j < QK; j++) {
    const q = roundHalfAway(fr(get(i0 + j) * id));
    // |x·id| <= 127 up to rounding; only a non-finite id (d below ~2^-127) leaves that range, and NaN means 0·inf
    out[o + 2 + j] = (Number.isNaN(q) ? 0 : Math.max(-127, Math.min(127, q))) & 0xff;
  }
}

function quantizeBlockQ4_0(get: (i: number) => number, i0: number, out: U8, o: number): void {
  // the signed value of largest magnitude (the first one on ties) maps to -8
  let amax = 0, max = 0;
  for (let j = 0; j < QK; j++) {
    const v = get(i0 + j);
    if (amax < Math.abs(v)) { amax = Math.abs(v); max = v; }
  }
  const d = fr(max / -8), id = inverse(d);
  const h = f32ToF16(d);
  out[o] = h & 0xff;
  out[o + 1] = h >>> 8;
  const nib = (v: number): number => {
    const t = Math.trunc(fr(fr(v * id) + 8.5)); // (int8_t)(x·id + 8.5f): truncation toward zero
    return Number.isNaN(t) ? 8 : Math.max(0, Math.min(15, t));
  };
  for (let j = 0; j < QK / 2; j++) out[o + 2 + j] = nib(get(i0 + j)) | (nib(get(i0 + j + QK / 2)) << 4);
}

/** Quantize N rows of K values (f32 or bf16 bits) into `out` (N · K/32 blocks), llama.cpp's reference rules. */
export function quantizeRows(x: F32 | BF16, N: number, K: number, fmt: QuantDType, out: U8): void {
  checkQuantDims('quantizeRows', fmt, N, K, x.length, out.length);
  const get = readF32(x), bb = QUANT_BLOCK_BYTES[fmt], nb = (N * K) / QK;
  const block = fmt === 'q8_0' ? quantizeBlockQ8_0 : quantizeBlockQ4_0;
  for (let b = 0; b < nb; b++) block(get, b * QK, out, b * bb);
}

/** Value i (flat, row-major) of a quantized weight. Rows are whole blocks, so flat element i is in flat block i/32. */
export function dequantizeAt(w: U8, fmt: QuantDType, i: number): number {
  const b = Math.floor(i / QK), j = i - b * QK;
  const o = b * QUANT_BLOCK_BYTES[fmt];
  const d = f16ToF32(w[o]! | (w[o + 1]! << 8));
  if (fmt === 'q8_0') return d * ((w[o + 2 + j]! << 24) >> 24);
  const byte = w[o + 2 + (j & 15)]!;
  return d * ((j < 16 ? byte & 15 : byte >>> 4) - 8);
}

/** Dequantize N rows of K values into out (f32). Products of an f16 scale and a small integer are exact in f32. */
export function dequantizeRows(w: U8, fmt: BlockDType, N: number, K: number, out: F32): void {
  const r = inRowLayout(w, fmt, N, K);
  checkQuantDims('dequantizeRows', r.fmt, N, K, out.length, r.w.length);
  for (let i = 0; i < N * K; i++) out[i] = dequantizeAt(r.w, r.fmt, i);
}

// The panel layout (zj_kernels.h, ZJ_W_*_P16) as a mapping of bytes: block b of row n goes to group b of panel
// n / 16, its f16 scale to slot n % 16 of the group's first 32 bytes, its 4-byte chunk c to 32 + 64c + 4 · (n % 16).
// Each call site of the reference reads a panel-layout weight by undoing the mapping first: the spec of the layout
// is this mapping, and the arithmetic is the row layout's.
function panelMap(fmt: QuantDType, N: number, K: number, each: (rowOff: number, panelOff: number, len: number) => void): void {
  if (N % PANEL_ROWS) throw new Error(`[quantPanels] ${fmt}x16 holds whole panels of ${PANEL_ROWS} rows, got N=${N}`);
  if (K % QK) throw new Error(`[quantPanels] ${fmt} rows need K a multiple of ${QK}, got K=${K}`);
  const nb = K / QK, bytes = QUANT_BLOCK_BYTES[fmt], chunks = (bytes - 2) / 4;
  for (let n = 0; n < N; n++) {
    const p = Math.floor(n / PANEL_ROWS), i = n % PANEL_ROWS;
    for (let b = 0; b < nb; b++) {
      const ro = (n * nb + b) * bytes, go = (p * nb + b) * PANEL_ROWS * bytes;
      each(ro, go + 2 * i, 2);
      for (let c = 0; c < chunks; c++) each(ro + 2 + 4 * c, go + 32 + 64 * c + 4 * i, 4);
    }
  }
}

/** w's bytes to read from: a copy when out is w (in place). */
function repackSource(where: string, fmt: QuantDType, N: number, K: number, w: U8, out: U8): U8 {
  checkQuantDims(where, fmt, N, K, N * K, w.length);
  checkQuantDims(where, fmt, N, K, N * K, out.length);
  return w === out ? w.slice() : w;
}

/** Row layout → panel layout (Kernels.quantToPanels); out may be w. */
export function quantToPanels(w: U8, fmt: QuantDType, N: number, K: number, out: U8): void {
  const src = repackSource('quantToPanels', fmt, N, K, w, out);
  panelMap(fmt, N, K, (ro, po, len) => { for (let j = 0; j < len; j++) out[po + j] = src[ro + j]!; });
}

/** Panel layout → row layout (Kernels.quantFromPanels); out may be w. */
export function quantFromPanels(w: U8, fmt: QuantDType, N: number, K: number, out: U8): void {
  const src = repackSource('quantFromPanels', fmt, N, K, w, out);
  panelMap(fmt, N, K, (ro, po, len) => { for (let j = 0; j < len; j++) out[ro + j] = src[po + j]!; });
}

/** The reference has no kernel of its own for the panel layout: it reads it through the row layout. */
export function quantPanelsSupported(): boolean {
  return false;
}

/** A quantized (N, K) weight in the row layout: itself, or a panel-layout one mapped back. */
export function inRowLayout(w: U8, fmt: BlockDType, N: number, K: number): { w: U8; fmt: QuantDType } {
  if (!isPanelLayout(fmt)) return { w, fmt };
  const base = rowFormatOf(fmt), out = new Uint8Array(w.length);
  quantFromPanels(w, base, N, K, out);
  return { w: out, fmt: base };
}

/** w's block scales (f16 bits) regrouped by panels of 16 rows (Kernels.quantPanelScales), rows past N zero. */
export function quantPanelScales(w: U8, fmt: QuantDType, N: number, K: number, out: F16): void {
  checkQuantDims('quantPanelScales', fmt, N, K, N * K, w.length);
  checkPanelScales('quantPanelScales', N, K, out);
  const nb = K / QK, bytes = QUANT_BLOCK_BYTES[fmt];
  out.fill(0);
  for (let n = 0; n < N; n++)
    for (let b = 0; b < nb; b++) {
      const o = (n * nb + b) * bytes;
      out[(Math.floor(n / 16) * nb + b) * 16 + (n % 16)] = w[o]! | (w[o + 1]! << 8);
    }
}

/** The reference reads every scale from w itself: it never needs a panel-scale table. */
export function matvecReadsPanelScales(): boolean {
  return false;
}

/** A panel-scale table must have exactly its weight's length (a table of another weight would read wrong scales). */
export function checkPanelScales(where: string, N: number, K: number, t: F16): void {
  const want = panelScalesLength(N, K);
  if (!(t instanceof Uint16Array) || t.length !== want)
    throw new Error(`[${where}] panelScales of a ${N}×${K} weight must be a Uint16Array of ${want} values, got ${t instanceof Uint16Array ? t.length : typeof t}`);
}

/** A whole (N, K) weight of any format (either quantized layout) as f32 values: the reference GEMM reads B so. */
export function weightAsF32(w: F32 | BF16 | U8, fmt: StorageFormat, N: number, K: number): F32 | BF16 {
  if (!isQuantized(fmt)) return w as F32 | BF16;
  const r = inRowLayout(w as U8, fmt, N, K), out = new Float32Array(N * K);
  dequantizeRows(r.w, r.fmt, N * K / QK, QK, out);
  return out;
}

function checkQuantDims(where: string, fmt: QuantDType, N: number, K: number, values: number, bytes: number): void {
  if (K % QK) throw new Error(`[${where}] ${fmt} rows need K a multiple of ${QK}, got K=${K}`);
  if (values < N * K) throw new Error(`[${where}] ${N}×${K} values do not fit an array of ${values}`);
  if (bytes < (N * K / QK) * QUANT_BLOCK_BYTES[fmt])
    throw new Error(`[${where}] ${N}×${K} ${fmt} needs ${(N * K / QK) * QUANT_BLOCK_BYTES[fmt]} bytes, got ${bytes}`);
}

/**
 * The activation side of the quantized matvec: each row of x (M, K) in blocks of 32, d = amax/127 kept in f32
 * (not rounded to f16: it never leaves the kernel), q = round-half-even(x · (1/d)) as int8.
 */
export function quantizeActivations(x: F32, M: number, K: number): { q: Int8Array; d: Float32Array } {
  const nb = (M * K) / QK, q = new Int8Array(M * K), d = new Float32Array(nb);
  for (let b = 0; b < nb; b++) {
    let amax = 0;
    for (let j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(fr(x[b * QK + j]!)));
    const db = fr(amax / 127), id = inverse(db);
    d[b] = db;
    for (let j = 0; j < QK; j++) {
      const v = roundHalfEven(fr(fr(x[b * QK + j]!) * id));
      q[b * QK + j] = Number.isNaN(v) ? 0 : Math.max(-127, Math.min(127, v));
    }
  }
  return { q, d };
}

/**
 * out[m, n] = Σ_b s · Σ_j qw[n, b, j] · qx[m, b, j] with s = f32(d_w · d_x): x quantized by quantizeActivations,
 * W quantized (N, K). Integer block sums are exact; the native kernels differ only in the order of the f32 sums.
 */
export function matvecQuant(M: number, N: number, K: number, x: F32, w: U8, fmt: QuantDType, out: F32): void {
  if (K % QK) throw new Error(`[matvec] ${fmt} weights need K a multiple of ${QK}, got K=${K}`);
  const { q, d } = quantizeActivations(x, M, K);
  const nbK = K / QK, bb = QUANT_BLOCK_BYTES[fmt];
  const qw = new Int8Array(QK);
  for (let n = 0; n < N; n++) {
    const acc = new Float64Array(M);
    for (let b = 0; b < nbK; b++) {
      const o = (n * nbK + b) * bb;
      const dw = f16ToF32(w[o]! | (w[o + 1]! << 8));
      for (let j = 0; j < QK; j++) {
        if (fmt === 'q8_0') qw[j] = (w[o + 2 + j]! << 24) >> 24;
        else { const byte = w[o + 2 + (j & 15)]!; qw[j] = (j < 16 ? byte & 15 : byte >>> 4) - 8; }
      }
      for (let m = 0; m < M; m++) {
        let isum = 0;
        for (let j = 0; j < QK; j++) isum += qw[j]! * q[(m * nbK + b) * QK + j]!;
        acc[m] = acc[m]! + fr(dw * d[m * nbK + b]!) * isum;
      }
    }
    for (let m = 0; m < M; m++) out[m * N + n] = acc[m]!;
  }
}
