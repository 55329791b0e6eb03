// gguf.ts — the GGUF v3 container (ggml docs/gguf.md): "GGUF" magic, version, tensor and key/value counts,
// typed key/values (scalars, strings, arrays), tensor infos (name, dims innermost-first, ggml type, offset),
// then the tensor data aligned to general.alignment (32). Writes F32, F16, BF16, Q8_0 and Q4_0 tensors (the
// quantizers are the engine's: see below), whole or streamed a chunk at a time; reads any file's header back with
// validation that names the file and the byte offset. What goes into the file (names, metadata) is
// gguf-export.ts's business; this file knows nothing about LLaMA.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { atomicWrite } from './atomic.js';
import { backend } from '../backend/index.js';
import { QUANT_BLOCK_BYTES } from '../tensor/dtype.js';

export const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
export const GGUF_VERSION = 3;
export const GGUF_ALIGNMENT = 32;

export enum GgufType { UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12 }
// ggml type ids (ggml.h enum ggml_type, llama.cpp b4000+): only the ones we read and write
export enum GgmlType { F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 8, BF16 = 30 }
export const QK8_0 = 32;
export const QK4_0 = 32;

export type GgufValue =
  | { type: Exclude<GgufType, GgufType.STRING | GgufType.ARRAY | GgufType.BOOL>; value: number }
  | { type: GgufType.BOOL; value: boolean }
  | { type: GgufType.STRING; value: string }
  | { type: GgufType.ARRAY; itemType: GgufType; value: (number | string | boolean)[] };

export const u32 = (value: number): GgufValue => ({ type: GgufType.UINT32, value });
export const i32 = (value: number): GgufValue => ({ type: GgufType.INT32, value });
export const f32 = (value: number): GgufValue => ({ type: GgufType.FLOAT32, value });
export const str = (value: string): GgufValue => ({ type: GgufType.STRING, value });
export const bool = (value: boolean): GgufValue => ({ type: GgufType.BOOL, value });
export const arr = (itemType: GgufType, value: (number | string | boolean)[]): GgufValue => ({ type: GgufType.ARRAY, itemType, value });

/** Bytes of one tensor of `n` elements stored as `type`. */
export function ggmlBytes(type: GgmlType, n: number): number {
  if (type === GgmlType.F32) return 4 * n;
  if (type === GgmlType.F16 || type === GgmlType.BF16) return 2 * n;
  if (type === GgmlType.Q4_0) return (n / QK4_0) * (2 + QK4_0 / 2);
  return (n / QK8_0) * (2 + QK8_0);
}

// The quantizers are the engine's (backend quantizeRows / dequantizeRows: llama.cpp's reference rules byte for byte,
// defined in backend/reference/quant.ts, native where built), wrapped for whole flat arrays: one definition of the blocks.
function quantizeFlat(x: Float32Array, fmt: 'q8_0' | 'q4_0'): Uint8Array {
  if (x.length % QK8_0) throw new Error(`[gguf] ${fmt.toUpperCase()} needs a multiple of ${QK8_0} values, got ${x.length}`);
  const out = new Uint8Array((x.length / QK8_0) * QUANT_BLOCK_BYTES[fmt]);
  backend().quantizeRows(x, x.length / QK8_0, QK8_0, fmt, out);
  return out;
}

function dequantizeFlat(bytes: Uint8Array, n: number, fmt: 'q8_0' | 'q4_0'): Float32Array {
  const out = new Float32Array(n);
  backend().dequantizeRows(bytes, fmt, n / QK8_0, QK8_0, out);
  return out;
}

/** ggml's Q8_0: per block of 32, d = amax / 127 (stored f16), q = roundf(x / d). */
export const quantizeQ8_0 = (x: Float32Array): Uint8Array => quantizeFlat(x, 'q8_0');
export const dequantizeQ8_0 = (bytes: Uint8Array, n: number): Float32Array => dequantizeFlat(bytes, n, 'q8_0');
/** ggml's Q4_0: per block of 32, d = (signed value of largest magnitude) / -8, q = min(15, trunc(x / d + 8.5)). */
export const quantizeQ4_0 = (x: Float32Array): Uint8Array => quantizeFlat(x, 'q4_0');
export const dequantizeQ4_0 = (bytes: Uint8Array, n: number): Float32Array => dequantizeFlat(bytes, n, 'q4_0');

export interface GgufTensorIn {
  name: string;
  /** ggml order: dims[0] is the innermost (contiguous) axis, i.e. the reverse of a row-major shape */
  dims: number[];
  type: GgmlType;
  data: Uint8Array;
}

class ByteSink {
  private parts: Uint8Array[] = [];
  size = 0;
  private push(b: Uint8Array): void { this.parts.push(b); this.size += b.byteLength; }
  u32(v: number): void { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); this.push(b); }
  i32(v: number): void { const b = Buffer.alloc(4); b.writeInt32LE(v); this.push(b); }
  u64(v: number): void { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.push(b); }
  str(s: string): void { const b = Buffer.from(s, 'utf8'); this.u64(b.byteLength); this.push(b); }
  raw(b: Uint8Array): void { this.push(b); }
  scalar(type: GgufType, v: number | string | boolean): void {
    const b = Buffer.alloc(8);
    switch (type) {
      case GgufType.UINT8: b.writeUInt8(v as number); return this.push(b.subarray(0, 1));
      case GgufType.INT8: b.writeInt8(v as number); return this.push(b.subarray(0, 1));
      case GgufType.UINT16: b.writeUInt16LE(v as number); return this.push(b.subarray(0, 2));
      case GgufType.INT16: b.writeInt16LE(v as number); return this.push(b.subarray(0, 2));
      case GgufType.UINT32: return this.u32(v as number);
      case GgufType.INT32: return this.i32(v as number);
      case GgufType.FLOAT32: b.writeFloatLE(v as number); return this.push(b.subarray(0, 4));
      case GgufType.BOOL: b.writeUInt8(v ? 1 : 0); return this.push(b.subarray(0, 1));
      case GgufType.STRING: return this.str(v as string);
      case GgufType.UINT64: return this.u64(v as number);
      case GgufType.INT64: b.writeBigInt64LE(BigInt(v as number)); return this.push(b);
      case GgufType.FLOAT64: b.writeDoubleLE(v as number); return this.push(b);
      default: throw new Error(`[gguf] cannot write a scalar of type ${type}`);
    }
  }
  value(v: GgufValue): void {
    this.u32(v.type);
    if (v.type === GgufType.ARRAY) {
      this.u32(v.itemType);
      this.u64(v.value.length);
      for (const x of v.value) this.scalar(v.itemType, x);
    } else this.scalar(v.type, v.value);
  }
  pad(align: number): void { const n = (align - (this.size % align)) % align; if (n) this.push(new Uint8Array(n)); }
  chunks(): Uint8Array[] { return this.parts; }
}

/** A tensor whose bytes come in chunks when the file is written (a writer that never holds the whole tensor). */
export interface GgufTensorStream {
  name: string;
  /** ggml order, as in GgufTensorIn */
  dims: number[];
  type: GgmlType;
  chunks: () => Iterable<Uint8Array>;
}

/** Write a GGUF file atomically. Key/values are written in insertion order; tensors in the given order. */
export function writeGguf(path: string, kv: Map<string, GgufValue>, tensors: GgufTensorIn[]): void {
  for (const t of tensors) {
    const n = t.dims.reduce((p, d) => p * d, 1);
    if (t.data.byteLength !== ggmlBytes(t.type, n))
      throw new Error(`[gguf] ${path}: tensor ${t.name} has ${t.data.byteLength} bytes, ${GgmlType[t.type]} [${t.dims}] needs ${ggmlBytes(t.type, n)}`);
  }
  writeGgufStreamed(path, kv, tensors.map((t) => ({ name: t.name, dims: t.dims, type: t.type, chunks: () => [t.data] })));
}

/**
 * Write a GGUF file atomically from tensor streams: the header (sizes follow from dims and type) first, then each
 * tensor's chunks in order; a tensor whose chunks do not add up to its size aborts the write (no file is left).
 */
export function writeGgufStreamed(path: string, kv: Map<string, GgufValue>, tensors: GgufTensorStream[]): void {
  const head = new ByteSink();
  head.u32(GGUF_MAGIC);
  head.u32(GGUF_VERSION);
  head.u64(tensors.length);
  head.u64(kv.size);
  for (const [k, v] of kv) { head.str(k); head.value(v); }
  const align = GGUF_ALIGNMENT;
  let off = 0;
  const offsets: number[] = [], sizes: number[] = [];
  for (const t of tensors) {
    const bytes = ggmlBytes(t.type, t.dims.reduce((p, d) => p * d, 1));
    head.str(t.name);
    head.u32(t.dims.length);
    for (const d of t.dims) head.u64(d);
    head.u32(t.type);
    head.u64(off);
    offsets.push(off);
    sizes.push(bytes);
    off += bytes;
    off += (align - (off % align)) % align;
  }
  head.pad(align);
  function* all(): Generator<Uint8Array> {
    yield* head.chunks();
    let at = 0;
    for (let i = 0; i < tensors.length; i++) {
      const t = tensors[i]!;
      const gap = offsets[i]! - at;
      if (gap) yield new Uint8Array(gap);
      let got = 0;
      for (const c of t.chunks()) { got += c.byteLength; yield c; }
      if (got !== sizes[i]) throw new Error(`[gguf] ${path}: tensor ${t.name} has ${got} bytes, ${GgmlType[t.type]} [${t.dims}] needs ${sizes[i]}`);
      at = offsets[i]! + got;
    }
    const tail = (align - (at % align)) % align;
    if (tail) yield new Uint8Array(tail);
  }
  atomicWrite(path, all());
}

export interface GgufTensorInfo { name: string; dims: number[]; type: number; offset: number; byteLength: number }
export interface GgufFile { path: string; version: number; kv: Map<string, unknown>; tensors: GgufTensorInfo[]; dataStart: number }

/** Parse and validate a GGUF header (key/values and tensor infos); tensor data is checked to lie in the file. */
export function readGgufHeader(path: string): GgufFile {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    let pos = 0;
    const fail = (at: number, msg: string): never => { throw new Error(`[gguf] ${path}: ${msg} at offset ${at}`); };
    const need = (n: number, what: string): Buffer => {
      if (pos + n > size) fail(pos, `file ends inside ${what} (needs ${n} bytes, ${size - pos} left; truncated?)`);
      const b = Buffer.alloc(n);
      readSync(fd, b, 0, n, pos);
      pos += n;
      return b;
    };
    const rU32 = (w: string) => need(4, w).readUInt32LE(0);
    const rU64 = (w: string) => {
      const at = pos;
      const v = need(8, w).readBigUInt64LE(0);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(at, `${w} ${v} is implausibly large`);
      return Number(v);
    };
    const rStr = (w: string) => {
      const at = pos;
      const n = rU64(`${w} length`);
      if (n > size - pos) fail(at, `${w} length ${n} exceeds the rest of the file`);
      return need(n, w).toString('utf8');
    };
    const rScalar = (t: number, w: string): number | string | boolean => {
      switch (t) {
        case GgufType.UINT8: return need(1, w).readUInt8(0);
        case GgufType.INT8: return need(1, w).readInt8(0);
        case GgufType.UINT16: return need(2, w).readUInt16LE(0);
        case GgufType.INT16: return need(2, w).readInt16LE(0);
        case GgufType.UINT32: return need(4, w).readUInt32LE(0);
        case GgufType.INT32: return need(4, w).readInt32LE(0);
        case GgufType.FLOAT32: return need(4, w).readFloatLE(0);
        case GgufType.BOOL: return need(1, w).readUInt8(0) !== 0;
        case GgufType.STRING: return rStr(w);
        case GgufType.UINT64: return Number(need(8, w).readBigUInt64LE(0));
        case GgufType.INT64: return Number(need(8, w).readBigInt64LE(0));
        case GgufType.FLOAT64: return need(8, w).readDoubleLE(0);
        default: return fail(pos - 4, `${w} has unknown value type ${t}`);
      }
    };
    const magic = rU32('the magic');
    if (magic !== GGUF_MAGIC) fail(0, `not a GGUF file (magic 0x${magic.toString(16)})`);
    const version = rU32('the version');
    if (version < 2 || version > 3) fail(4, `unsupported GGUF version ${version}`);
    const nTensors = rU64('the tensor count'), nKv = rU64('the key/value count');
    // each entry takes at least 8 bytes: counts beyond that are corrupt, not just large
    if (nTensors > size / 8 || nKv > size / 8) fail(8, `tensor count ${nTensors} / key-value count ${nKv} cannot fit in ${size} bytes`);
    const kv = new Map<string, unknown>();
    for (let i = 0; i < nKv; i++) {
      const key = rStr(`key ${i}`);
      const t = rU32(`the type of ${key}`);
      if (t === GgufType.ARRAY) {
        const it = rU32(`the item type of ${key}`);
        const at = pos;
        const n = rU64(`the length of ${key}`);
        if (n > size - pos) fail(at, `${key}: array length ${n} exceeds the rest of the file`);
        const a: unknown[] = new Array(n);
        for (let j = 0; j < n; j++) a[j] = rScalar(it, `${key}[${j}]`);
        kv.set(key, a);
      } else kv.set(key, rScalar(t, key));
    }
    const align = (kv.get('general.alignment') as number | undefined) ?? GGUF_ALIGNMENT;
    const tensors: GgufTensorInfo[] = [];
    for (let i = 0; i < nTensors; i++) {
      const name = rStr(`tensor ${i} name`);
      const at = pos;
      const nd = rU32(`${name} rank`);
      if (nd < 1 || nd > 4) fail(at, `tensor ${name} has rank ${nd}`);
      const dims: number[] = [];
      for (let d = 0; d < nd; d++) dims.push(rU64(`${name} dims`));
      const type = rU32(`${name} type`);
      const offset = rU64(`${name} offset`);
      const n = dims.reduce((p, d) => p * d, 1);
      const byteLength = type in GgmlType ? ggmlBytes(type as GgmlType, n) : -1;
      tensors.push({ name, dims, type, offset, byteLength });
    }
    const dataStart = pos + ((align - (pos % align)) % align);
    for (const t of tensors) {
      if (t.offset % align) fail(dataStart + t.offset, `tensor ${t.name} is not aligned to ${align}`);
      if (t.byteLength >= 0 && dataStart + t.offset + t.byteLength > size)
        fail(dataStart + t.offset, `tensor ${t.name} data ends at byte ${dataStart + t.offset + t.byteLength} past the end of the file (${size} bytes; truncated?)`);
    }
    return { path, version, kv, tensors, dataStart };
  } finally {
    closeSync(fd);
  }
}

/** One tensor's raw bytes. */
export function readGgufTensor(f: GgufFile, name: string): Uint8Array {
  const t = f.tensors.find((x) => x.name === name);
  if (!t) throw new Error(`[gguf] ${f.path}: no tensor ${name}`);
  const fd = openSync(f.path, 'r');
  try {
    const b = new Uint8Array(t.byteLength);
    readSync(fd, b, 0, t.byteLength, f.dataStart + t.offset);
    return b;
  } finally {
    closeSync(fd);
  }
}
