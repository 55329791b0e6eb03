// dtype.ts — the element types a Tensor can hold and their storage arrays.
// bf16 is storage only (weights, matmul operands): arithmetic on it goes through f32.
// q8_0 / q4_0 are weight formats in llama.cpp's block layouts (ggml-common.h, block_q8_0 / block_q4_0): a Tensor of
// such a dtype is a 2-D weight [N, K] stored row by row, each row K / 32 blocks, the storage a Uint8Array of bytes.
//   q8_0 block (34 bytes): f16 scale d, then 32 int8 q;            value[i] = d · q[i]
//   q4_0 block (18 bytes): f16 scale d, then 16 bytes of nibbles;  value[j] = d · ((qs[j] & 15) − 8),
//                                                                   value[j + 16] = d · ((qs[j] >> 4) − 8), j < 16
// Quantized tensors never require grad: they are frozen weights read by matmul and embedding only.

//   q8_0x16 / q4_0x16: the same blocks interleaved by panels of 16 rows, the layout the native AVX-512 VNNI decode
//   kernel reads without regrouping (zj_kernels.h, ZJ_W_*_P16; made at load for inference: model/decode-layout.ts).
//   N is a multiple of 16; the bytes are as many as the row layout's.

export type DType = 'f32' | 'bf16' | 'i32' | 'q8_0' | 'q4_0' | 'q8_0x16' | 'q4_0x16';
/** The block-quantized weight formats (llama.cpp's, row by row: what files hold and `--weights` names). */
export type QuantDType = 'q8_0' | 'q4_0';
/** The same formats in the decode kernels' panel layout: held in memory only, never written to a file. */
export type PanelDType = 'q8_0x16' | 'q4_0x16';
/** Either layout of block-quantized bytes. */
export type BlockDType = QuantDType | PanelDType;
/** The formats a weight matrix can be held in (what `--weights` names). */
export type WeightFormat = 'f32' | 'bf16' | QuantDType;
export const WEIGHT_FORMATS: readonly WeightFormat[] = ['f32', 'bf16', 'q8_0', 'q4_0'];
/** What a kernel's weight buffer may hold: a weight format, or a quantized one in the panel layout. */
export type StorageFormat = WeightFormat | PanelDType;
export type Storage = Float32Array | Uint16Array | Int32Array | Uint8Array;

/** Elements per quantization block, and bytes per block, of each quantized format. */
export const QUANT_BLOCK = 32;
export const QUANT_BLOCK_BYTES: Record<BlockDType, number> = { q8_0: 34, q4_0: 18, q8_0x16: 34, q4_0x16: 18 };
/** Rows per panel of the panel layouts. */
export const PANEL_ROWS = 16;
/**
 * Values in a quantized [N, K] weight's panel-scale table (Kernels.quantPanelScales): one f16 scale per block, rows
 * padded to whole panels of 16. At 2 bytes per block it adds 2/18 of a q4_0 weight's bytes and 2/34 of a q8_0 one's.
 */
export function panelScalesLength(N: number, K: number): number {
  return Math.ceil(N / 16) * 16 * (K / QUANT_BLOCK);
}

export function isQuantized(dtype: DType | StorageFormat): dtype is BlockDType {
  return dtype === 'q8_0' || dtype === 'q4_0' || dtype === 'q8_0x16' || dtype === 'q4_0x16';
}

export function isPanelLayout(dtype: DType | StorageFormat): dtype is PanelDType {
  return dtype === 'q8_0x16' || dtype === 'q4_0x16';
}

/** The row-layout format of either layout. */
export function rowFormatOf(dtype: BlockDType): QuantDType {
  return dtype === 'q8_0x16' ? 'q8_0' : dtype === 'q4_0x16' ? 'q4_0' : dtype;
}

/** The panel layout of a row-layout format. */
export function panelFormatOf(fmt: QuantDType): PanelDType {
  return fmt === 'q8_0' ? 'q8_0x16' : 'q4_0x16';
}

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

/** Length of the storage array that holds `numel` elements of `dtype` (bytes for quantized formats). */
export function storageLength(dtype: DType, numel: number): number {
  if (!isQuantized(dtype)) return numel;
  if (numel % QUANT_BLOCK) throw new Error(`[dtype] ${dtype} holds whole blocks of ${QUANT_BLOCK}, got ${numel} elements`);
  return (numel / QUANT_BLOCK) * QUANT_BLOCK_BYTES[dtype];
}

/** A zero-filled storage array for n elements (n is an element count; quantized formats get their bytes). */
export function storageFor(dtype: DType, n: number): Storage {
  switch (dtype) {
    case 'f32': return float64Mode ? (new Float64Array(n) as unknown as Float32Array) : new Float32Array(n);
    case 'bf16': return new Uint16Array(n);
    case 'i32': return new Int32Array(n);
    case 'q8_0': case 'q4_0': case 'q8_0x16': case 'q4_0x16': return new Uint8Array(storageLength(dtype, n));
  }
}

/** The dtype a storage array implies; a Uint8Array is ambiguous between formats, so it needs `hint`. */
export function dtypeOf(data: Storage, hint?: DType): DType {
  if (data instanceof Float32Array || data instanceof Float64Array) return 'f32';
  if (data instanceof Uint16Array) return 'bf16';
  if (data instanceof Int32Array) return 'i32';
  if (hint && isQuantized(hint)) return hint;
  throw new Error('[dtype] byte storage needs its quantized format (q8_0 or q4_0) named');
}

/** Bytes of storage per storage-array element (1 for the byte arrays of quantized formats). */
export function bytesPerElement(dtype: DType): number {
  if (isQuantized(dtype)) return 1;
  return dtype === 'bf16' ? 2 : 4;
}

/** Bytes that `numel` elements of `dtype` occupy (what memory reports count). */
export function bytesOf(dtype: DType, numel: number): number {
  return storageLength(dtype, numel) * bytesPerElement(dtype);
}
