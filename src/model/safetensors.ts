// safetensors.ts — the safetensors format (huggingface/safetensors, docs "format"): an 8-byte little-endian
// header length, a JSON header {name: {dtype, shape, data_offsets}, __metadata__}, then the raw tensor bytes.
// Reads F32 / F16 / BF16 lazily tensor by tensor with positioned reads straight into the destination storage
// (f32, or bf16 kept as bf16: no second copy of a shard or of a tensor), so a large file is streamed, not slurped;
// writes atomically (f32 or bf16 sources), optionally as shards with model.safetensors.index.json.
// Every structural error names the file and the byte offset. Other dtypes (I64, F64, …) are refused by name.
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { atomicWrite, atomicWriteJson } from './atomic.js';
import { fromBf16Array, toBf16Array, toF16Array } from './half.js';
import { f16ToBf16InPlace, upperHalf16, widenInPlace } from './weights.js';

export type StDtype = 'F32' | 'F16' | 'BF16';
const BYTES: Record<StDtype, number> = { F32: 4, F16: 2, BF16: 2 };

export interface StEntry {
  name: string;
  dtype: StDtype;
  shape: number[];
  /** absolute byte offset of the data in the file */
  offset: number;
  byteLength: number;
}

/** Anything that yields named f32 tensors: one file, or a sharded directory. */
export interface TensorSource {
  names(): string[];
  entry(name: string): StEntry & { file: string };
  /** the tensor as f32 (f16 / bf16 widened exactly); writes into `into` when given */
  readF32(name: string, into?: Float32Array): Float32Array;
  /** the tensor into `dst`: f32 (any file dtype, widened in place) or bf16 (BF16 as is, F16 rounded; F32 refused) */
  readInto(name: string, dst: Float32Array | Uint16Array): void;
  close(): void;
}

/** An open safetensors file: header parsed and validated, data read on demand. */
export class SafetensorsFile implements TensorSource {
  readonly entries = new Map<string, StEntry>();
  readonly metadata: Record<string, string> = {};
  private fd: number;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'r');
    try {
      this.parseHeader();
    } catch (e) {
      closeSync(this.fd);
      throw e;
    }
  }

  private fail(offset: number, msg: string): never {
    throw new Error(`[safetensors] ${this.path}: ${msg} at offset ${offset}`);
  }

  private parseHeader(): void {
    const size = fstatSync(this.fd).size;
    if (size < 8) this.fail(0, `file of ${size} bytes is too short for the 8-byte header length`);
    const lenBuf = Buffer.alloc(8);
    readSync(this.fd, lenBuf, 0, 8, 0);
    const n = Number(lenBuf.readBigUInt64LE(0));
    if (n > size - 8) this.fail(0, `header length ${n} exceeds file size ${size}`);
    if (n < 2) this.fail(0, `header length ${n} is too small for a JSON object`);
    const hdr = Buffer.alloc(n);
    readSync(this.fd, hdr, 0, n, 8);
    let json: unknown;
    try {
      json = JSON.parse(hdr.toString('utf8'));
    } catch (e) {
      this.fail(8, `header is not valid JSON (${(e as Error).message})`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) this.fail(8, 'header is not a JSON object');
    const dataStart = 8 + n;
    const dataSize = size - dataStart;
    const list: StEntry[] = [];
    for (const [name, v] of Object.entries(json as Record<string, unknown>)) {
      if (name === '__metadata__') {
        if (typeof v !== 'object' || v === null) this.fail(8, '__metadata__ must be an object of strings');
        for (const [k, s] of Object.entries(v as Record<string, unknown>)) {
          if (typeof s !== 'string') this.fail(8, `__metadata__.${k} must be a string`);
          this.metadata[k] = s;
        }
        continue;
      }
      const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (typeof e !== 'object' || e === null) this.fail(8, `tensor '${name}' has no header object`);
      if (typeof e.dtype !== 'string' || !(e.dtype in BYTES))
        this.fail(8, `tensor '${name}' has dtype ${JSON.stringify(e.dtype)}; supported: F32, F16, BF16`);
      const shape = e.shape;
      if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
        this.fail(8, `tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
      const off = e.data_offsets;
      if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0) || off[0] > off[1])
        this.fail(8, `tensor '${name}' has invalid data_offsets ${JSON.stringify(off)}`);
      const [b, end] = off as [number, number];
      const dtype = e.dtype as StDtype;
      const want = (shape as number[]).reduce((p, d) => p * d, 1) * BYTES[dtype];
      if (end - b !== want)
        this.fail(dataStart + b, `tensor '${name}' spans ${end - b} bytes but ${dtype} ${JSON.stringify(shape)} needs ${want}`);
      if (end > dataSize)
        this.fail(dataStart + b, `tensor '${name}' data ends at byte ${dataStart + end} past the end of the file (${size} bytes; truncated?)`);
      list.push({ name, dtype, shape: shape as number[], offset: dataStart + b, byteLength: want });
    }
    // the format requires the tensors to tile the data area exactly: no holes, no overlaps
    list.sort((a, b) => a.offset - b.offset);
    let at = dataStart;
    for (const e of list) {
      if (e.offset !== at) this.fail(e.offset, `tensor '${e.name}' ${e.offset < at ? 'overlaps the previous tensor' : `leaves a hole after byte ${at}`}`);
      at += e.byteLength;
      this.entries.set(e.name, e);
    }
    if (at !== size) this.fail(at, `${size - at} trailing bytes after the last tensor`);
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  entry(name: string): StEntry & { file: string } {
    const e = this.entries.get(name);
    if (!e) throw new Error(`[safetensors] ${this.path}: no tensor named '${name}'`);
    return { ...e, file: this.path };
  }

  readRaw(name: string): Uint8Array {
    const e = this.entry(name);
    const buf = new Uint8Array(e.byteLength);
    this.readBytes(e, buf);
    return buf;
  }

  readInto(name: string, dst: Float32Array | Uint16Array): void {
    const e = this.entry(name);
    const n = e.byteLength / BYTES[e.dtype];
    if (dst.length !== n) throw new Error(`[safetensors] ${this.path}: '${name}' has ${n} elements, destination ${dst.length}`);
    if (dst instanceof Float32Array) {
      if (e.dtype === 'F32') return this.readBytes(e, new Uint8Array(dst.buffer, dst.byteOffset, e.byteLength));
      const hi = upperHalf16(dst);
      this.readBytes(e, new Uint8Array(hi.buffer, hi.byteOffset, e.byteLength));
      return widenInPlace(dst, e.dtype === 'F16' ? 'f16' : 'bf16');
    }
    if (e.dtype === 'F32') throw new Error(`[safetensors] ${this.path}: '${name}' is F32; read it as f32 and round`);
    this.readBytes(e, new Uint8Array(dst.buffer, dst.byteOffset, e.byteLength));
    if (e.dtype === 'F16') f16ToBf16InPlace(dst);
  }

  private readBytes(e: StEntry, buf: Uint8Array): void {
    let got = 0;
    while (got < e.byteLength) {
      const n = readSync(this.fd, buf, got, e.byteLength - got, e.offset + got);
      if (n === 0) this.fail(e.offset + got, `unexpected end of file reading '${e.name}'`);
      got += n;
    }
  }

  readF32(name: string, into?: Float32Array): Float32Array {
    const e = this.entry(name);
    const n = e.byteLength / BYTES[e.dtype];
    const out = into ?? new Float32Array(n);
    if (out.length !== n) throw new Error(`[safetensors] ${this.path}: '${name}' has ${n} elements, destination ${out.length}`);
    this.readInto(name, out);
    return out;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

export interface NamedArray {
  name: string;
  shape: readonly number[];
  /** f32 values, or bf16 bits (a Uint16Array) */
  data: Float32Array | Uint16Array;
}

/** The bytes of one tensor as `dtype`; a bf16 source is widened or rounded here, one tensor at a time. */
function encode(t: NamedArray, dtype: StDtype): Uint8Array {
  const bytes = (a: Float32Array | Uint16Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  if (t.data instanceof Uint16Array) {
    if (dtype === 'BF16') return bytes(t.data);
    const f = fromBf16Array(t.data);
    return dtype === 'F32' ? bytes(f) : bytes(toF16Array(f));
  }
  if (dtype === 'F32') return bytes(t.data);
  return bytes(dtype === 'F16' ? toF16Array(t.data) : toBf16Array(t.data));
}

/** Write tensors (stored as `dtype`) to one safetensors file, atomically. Tensors are laid out by name. */
export function writeSafetensors(path: string, tensors: NamedArray[], opts: { dtype?: StDtype; metadata?: Record<string, string> } = {}): void {
  const dtype = opts.dtype ?? 'F32';
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (opts.metadata && Object.keys(opts.metadata).length) header.__metadata__ = opts.metadata;
  let off = 0;
  const seen = new Set<string>();
  for (const t of sorted) {
    if (seen.has(t.name)) throw new Error(`[safetensors] ${path}: tensor '${t.name}' given twice`);
    seen.add(t.name);
    const n = t.shape.reduce((p, d) => p * d, 1);
    if (n !== t.data.length) throw new Error(`[safetensors] ${path}: '${t.name}' has ${t.data.length} values for shape [${t.shape.join(',')}]`);
    const bytes = n * BYTES[dtype];
    header[t.name] = { dtype, shape: [...t.shape], data_offsets: [off, off + bytes] };
    off += bytes;
  }
  let json = JSON.stringify(header);
  // pad with spaces so the data starts 8-byte aligned (what the reference writer does)
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const hdr = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hdr.byteLength));
  function* chunks(): Generator<Uint8Array> {
    yield len;
    yield hdr;
    for (const t of sorted) yield encode(t, dtype);
  }
  atomicWrite(path, chunks());
}

export const INDEX_FILE = 'model.safetensors.index.json';

/**
 * Write `<stem>.safetensors`, or shards `<stem>-0000i-of-0000n.safetensors` plus `<stem>.safetensors.index.json`
 * when the tensors exceed maxShardBytes. Stale files of the other layout are removed only after the new files
 * are in place, so an interrupted save leaves a loadable directory.
 */
export function writeSafetensorsDir(dir: string, tensors: NamedArray[], opts: { dtype?: StDtype; maxShardBytes?: number; stem?: string } = {}): string[] {
  const dtype = opts.dtype ?? 'F32';
  const stem = opts.stem ?? 'model';
  const max = opts.maxShardBytes ?? 4 * 1024 ** 3;
  const shards: NamedArray[][] = [[]];
  let size = 0, total = 0;
  for (const t of [...tensors].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const bytes = t.data.length * BYTES[dtype];
    if (size > 0 && size + bytes > max) { shards.push([]); size = 0; }
    shards[shards.length - 1]!.push(t);
    size += bytes;
    total += bytes;
  }
  const indexPath = join(dir, `${stem}.safetensors.index.json`);
  const written: string[] = [];
  const shardRe = new RegExp(`^${stem}-\\d{5}-of-\\d{5}\\.safetensors$`);
  if (shards.length === 1) {
    writeSafetensors(join(dir, `${stem}.safetensors`), shards[0]!, { dtype, metadata: { format: 'pt' } });
    written.push(`${stem}.safetensors`);
    rmSync(indexPath, { force: true });
    for (const f of readdirSync(dir)) if (shardRe.test(f)) rmSync(join(dir, f), { force: true });
    return written;
  }
  const n = shards.length;
  const pad = (i: number) => String(i).padStart(5, '0');
  const weightMap: Record<string, string> = {};
  shards.forEach((list, i) => {
    const file = `${stem}-${pad(i + 1)}-of-${pad(n)}.safetensors`;
    writeSafetensors(join(dir, file), list, { dtype, metadata: { format: 'pt' } });
    for (const t of list) weightMap[t.name] = file;
    written.push(file);
  });
  atomicWriteJson(indexPath, { metadata: { total_size: total }, weight_map: weightMap });
  rmSync(join(dir, `${stem}.safetensors`), { force: true });
  for (const f of readdirSync(dir)) if (shardRe.test(f) && !written.includes(f)) rmSync(join(dir, f), { force: true });
  return written;
}

/** Several files behind one name → file map (a sharded checkpoint). */
class ShardedSource implements TensorSource {
  private files = new Map<string, SafetensorsFile>();
  constructor(private readonly dir: string, private readonly map: Record<string, string>, private readonly indexPath: string) {}
  private file(name: string): SafetensorsFile {
    const f = this.map[name];
    if (!f) throw new Error(`[safetensors] ${this.indexPath}: no tensor named '${name}' in weight_map`);
    let sf = this.files.get(f);
    if (!sf) {
      sf = new SafetensorsFile(join(this.dir, f));
      const missing = Object.entries(this.map).find(([n, file]) => file === f && !sf!.entries.has(n));
      if (missing) throw new Error(`[safetensors] ${this.indexPath}: weight_map puts '${missing[0]}' in ${f}, which lacks it`);
      this.files.set(f, sf);
    }
    return sf;
  }
  names(): string[] { return Object.keys(this.map); }
  entry(name: string) { return this.file(name).entry(name); }
  readF32(name: string, into?: Float32Array) { return this.file(name).readF32(name, into); }
  readInto(name: string, dst: Float32Array | Uint16Array) { this.file(name).readInto(name, dst); }
  close(): void { for (const f of this.files.values()) f.close(); this.files.clear(); }
}

/** Open `<stem>.safetensors.index.json` (sharded) if present, else `<stem>.safetensors`. */
export function openSafetensorsDir(dir: string, stem = 'model'): TensorSource {
  const indexPath = join(dir, `${stem}.safetensors.index.json`);
  if (existsSync(indexPath)) {
    let j: { weight_map?: unknown };
    try {
      j = JSON.parse(readFileSync(indexPath, 'utf8'));
    } catch (e) {
      throw new Error(`[safetensors] ${indexPath}: not valid JSON (${(e as Error).message})`);
    }
    const m = j.weight_map;
    if (typeof m !== 'object' || m === null || !Object.values(m).every((v) => typeof v === 'string' && !v.includes('/') && !v.includes('\\')))
      throw new Error(`[safetensors] ${indexPath}: weight_map must map tensor names to file names in the same folder`);
    return new ShardedSource(dir, m as Record<string, string>, indexPath);
  }
  const single = join(dir, `${stem}.safetensors`);
  if (!existsSync(single)) throw new Error(`[safetensors] ${dir}: neither ${stem}.safetensors nor ${stem}.safetensors.index.json exists`);
  return new SafetensorsFile(single);
}
