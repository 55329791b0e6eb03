// readers.ts — streaming readers that turn a file into raw records with their 1-based start line: JSONL
// (RFC 8259 per line), a JSON array or object scanned element by element, CSV (RFC 4180 quoting) / TSV (no
// quoting, IANA text/tab-separated-values), plain text. Format and encoding auto-detected unless given.
// What a record means is not decided here (see shapes.ts).
import { open, readFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { extname } from 'node:path';
import { DataError } from './errors.js';
import { bomLength, decoderLabel, detectEncoding, EncodingUnknown, type Encoding } from './encoding.js';
import { decodedLines, type DecodedLine } from './byte-lines.js';

export type Format = 'json' | 'jsonl' | 'csv' | 'tsv' | 'text';
export const formats: readonly Format[] = ['json', 'jsonl', 'csv', 'tsv', 'text'];

/** One raw record, or one record-level problem (the reader keeps going after it). */
export type RawItem =
  | { line: number; value: unknown; key?: string; error?: undefined }
  | { line: number; error: { field: string; reason: string } };

export interface ReadOptions {
  format?: Format;
  encoding?: Encoding;
  /** text files: one record per non-empty line (default) or per blank-line-separated paragraph */
  textUnit?: 'line' | 'paragraph';
  /** bytes per read; small values exercise chunk boundaries in tests */
  chunkBytes?: number;
  /** longest line (or JSON element) read, in MiB; a longer one is reported by line number and skipped (default 64) */
  maxLineMib?: number;
}

export const DEFAULT_MAX_LINE_MIB = 64;

export interface Sniffed {
  format: Format;
  encoding: Encoding;
}

const SAMPLE_BYTES = 64 * 1024;

async function readSample(path: string): Promise<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    const buf = new Uint8Array(SAMPLE_BYTES);
    const { bytesRead } = await fh.read(buf, 0, SAMPLE_BYTES, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** Format from the extension, then from the content: `.json` files whose lines are each a JSON value are JSONL. */
export function sniffFormat(path: string, sampleText: string): Format {
  const ext = extname(path).toLowerCase();
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.csv') return 'csv';
  if (ext === '.tsv') return 'tsv';
  if (ext === '.txt' || ext === '.md') return 'text';
  const t = sampleText.replace(/^\uFEFF/, '').trimStart();
  if (t.startsWith('[')) return 'json';
  if (t.startsWith('{')) {
    const firstLine = t.slice(0, t.indexOf('\n') < 0 ? t.length : t.indexOf('\n')).trim();
    try {
      JSON.parse(firstLine);
      return 'jsonl'; // a whole object on the first line: JSON Lines (a one-record .json file reads the same)
    } catch {
      return 'json';
    }
  }
  if (ext === '.json') return 'json';
  const firstLine = t.split('\n', 1)[0] ?? '';
  if (firstLine.includes('\t')) return 'tsv';
  return 'text';
}

export async function sniff(path: string, opts: ReadOptions = {}): Promise<Sniffed> {
  const sample = await readSample(path);
  let encoding: Encoding;
  try {
    encoding = opts.encoding ?? detectEncoding(sample);
  } catch (e) {
    if (e instanceof EncodingUnknown) throw new DataError({ file: path, line: 1, field: 'encoding', reason: e.message });
    throw e;
  }
  const text = new TextDecoder(decoderLabel(encoding)).decode(sample.subarray(bomLength(encoding)), { stream: true });
  return { encoding, format: opts.format ?? sniffFormat(path, text) };
}

function lineProblem(l: DecodedLine, encoding: Encoding, o: Required<ReadOptions>): { field: string; reason: string } | null {
  if (l.tooLong) return { field: 'line', reason: `line longer than ${o.maxLineMib} MiB; skipped (raise --max-line-mib to read it)` };
  if (l.bad) return undecodable(encoding);
  return null;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The first string in a record holding a NUL or a lone surrogate (JSON's `\u0000`, `\ud800`): neither is text, both
 * break tokenizers and writers downstream, so the record is reported instead of passing silently.
 */
export function badCharacters(v: unknown, field = 'value', depth = 0): { field: string; reason: string } | null {
  if (typeof v === 'string') {
    const nul = v.indexOf('\u0000');
    if (nul >= 0) return { field, reason: `contains a NUL character (U+0000) at offset ${nul}` };
    const m = LONE_SURROGATE.exec(v);
    if (m) return { field, reason: `contains a lone surrogate U+${m[0].charCodeAt(0).toString(16).toUpperCase()} at offset ${m.index} (not valid Unicode text)` };
    return null;
  }
  if (depth > 64 || v === null || typeof v !== 'object') return null;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) { const r = badCharacters(v[i], `${field}[${i}]`, depth + 1); if (r) return r; }
    return null;
  }
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const kr = badCharacters(k, `${field} key`, depth + 1);
    if (kr) return kr;
    const r = badCharacters(x, field === 'value' ? k : `${field}.${k}`, depth + 1);
    if (r) return r;
  }
  return null;
}

function undecodable(encoding: Encoding): { field: string; reason: string } {
  return { field: 'encoding', reason: `bytes not valid ${decoderLabel(encoding)} (use --encoding to override detection)` };
}

async function* readJsonl(path: string, s: Sniffed, o: Required<ReadOptions>): AsyncGenerator<RawItem> {
  for await (const batch of decodedLines(path, s.encoding, o.chunkBytes, o.maxLineMib * 2 ** 20)) for (const l of batch) {
    const bad = lineProblem(l, s.encoding, o);
    if (bad) { yield { line: l.line, error: bad }; continue; }
    const t = l.text!;
    if (t.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(t);
    } catch (e) {
      yield { line: l.line, error: { field: 'json', reason: `invalid JSON line (${(e as Error).message})` } };
      continue;
    }
    const chars = badCharacters(value);
    yield chars ? { line: l.line, error: chars } : { line: l.line, value };
  }
}

async function* readText(path: string, s: Sniffed, o: Required<ReadOptions>): AsyncGenerator<RawItem> {
  let para: string[] = [];
  let paraLine = 0;
  for await (const batch of decodedLines(path, s.encoding, o.chunkBytes, o.maxLineMib * 2 ** 20)) for (const l of batch) {
    const bad = lineProblem(l, s.encoding, o);
    if (bad) { yield { line: l.line, error: bad }; continue; }
    // a lone CR is an old line break (seen in the GB18030 classics): it splits the line, keeping its LF line number
    if (l.text!.includes('\u0000')) { yield { line: l.line, error: badCharacters(l.text!, 'text')! }; continue; }
    const t = l.text!.includes('\r') ? l.text!.split('\r').filter((x) => x.trim() !== '').join('\n') : l.text!;
    if (o.textUnit === 'line') {
      if (t.trim() !== '') for (const part of t.split('\n')) yield { line: l.line, value: part };
      continue;
    }
    if (t.trim() === '') {
      if (para.length) yield { line: paraLine, value: para.join('\n') };
      para = [];
    } else {
      if (!para.length) paraLine = l.line;
      para.push(t);
    }
  }
  if (para.length) yield { line: paraLine, value: para.join('\n') };
}

/** RFC 4180 fields of one logical row; returns null while a quoted field is still open (continues next line). */
function splitCsv(text: string, delim: string, quoting: boolean): string[] | null {
  const out: string[] = [];
  let i = 0;
  const n = text.length;
  for (;;) {
    if (quoting && text[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) return null;
        v += text.slice(i, q);
        if (text[q + 1] === '"') { v += '"'; i = q + 2; continue; }
        i = q + 1;
        break;
      }
      // text after the closing quote up to the delimiter is kept, as lenient readers do
      const d = text.indexOf(delim, i);
      v += text.slice(i, d < 0 ? n : d);
      out.push(v);
      if (d < 0) return out;
      i = d + 1;
    } else {
      const d = text.indexOf(delim, i);
      out.push(text.slice(i, d < 0 ? n : d));
      if (d < 0) return out;
      i = d + 1;
    }
  }
}

async function* readDelimited(path: string, s: Sniffed, o: Required<ReadOptions>): AsyncGenerator<RawItem> {
  const delim = s.format === 'tsv' ? '\t' : ',';
  const quoting = s.format === 'csv';
  let header: string[] | null = null;
  let pending = '';
  let pendingLine = 0;
  for await (const batch of decodedLines(path, s.encoding, o.chunkBytes, o.maxLineMib * 2 ** 20)) for (const l of batch) {
    const bad = lineProblem(l, s.encoding, o);
    if (bad) {
      if (pending) { pending = ''; }
      yield { line: l.line, error: bad };
      continue;
    }
    let text = l.text!;
    if (text.includes('\u0000')) { pending = ''; yield { line: l.line, error: badCharacters(text, 'row')! }; continue; }
    if (pending) text = pending + '\n' + text;
    else { pendingLine = l.line; if (text.trim() === '') continue; }
    const fields = splitCsv(text, delim, quoting);
    if (fields === null) { pending = text; continue; }
    pending = '';
    if (!header) {
      header = fields.map((f) => f.trim());
      continue;
    }
    if (fields.length !== header.length) {
      yield { line: pendingLine, error: { field: 'row', reason: `expected ${header.length} fields (header), got ${fields.length}` } };
      continue;
    }
    const rec: Record<string, string> = {};
    header.forEach((h, k) => { rec[h] = fields[k]!; });
    yield { line: pendingLine, value: rec };
  }
  if (pending) yield { line: pendingLine, error: { field: 'row', reason: 'quoted field never closes before end of file' } };
  if (!header) throw new DataError({ file: path, line: 1, field: 'header', reason: 'no header row (empty file?)' });
}

/**
 * Scans a JSON array (or object) without holding more than one element in memory: tracks strings, escapes and
 * nesting depth, slices out each top-level element and JSON.parses it alone. Object members yield their key.
 */
async function* readJson(path: string, s: Sniffed, o: Required<ReadOptions>): AsyncGenerator<RawItem> {
  const decoder = new TextDecoder(decoderLabel(s.encoding), { fatal: true, ignoreBOM: true });
  let buf = '';
  let pos = 0;
  let line = 1;
  // states: 0 before top, 1 expect element/key or close, 2 in element, 3 expect comma or close, 4 expect colon,
  // 5 done, 6 expect a member value
  let state = 0;
  let top: '[' | '{' = '[';
  let depth = 0, inStr = false, esc = false, scalar = false;
  let elStart = 0, elLine = 0;
  let key: string | undefined;
  let keyMode = false; // the element being scanned is an object key
  let linesAtChunk = 1;
  const fail = (reason: string, at = line): never => { throw new DataError({ file: path, line: at, field: 'json', reason }); };
  const stream = createReadStream(path, { highWaterMark: o.chunkBytes }) as AsyncIterable<Buffer>;
  let skip = bomLength(s.encoding);
  const finish = function* (end: number): Generator<RawItem> {
    const txt = buf.slice(elStart, end);
    if (keyMode) {
      try { key = String(JSON.parse(txt)); } catch { fail(`bad object key ${txt.slice(0, 40)}`, elLine); }
      keyMode = false;
      state = 4;
      return;
    }
    state = 3;
    try {
      const value: unknown = JSON.parse(txt);
      if (key !== undefined && members++ === 0 && (typeof value !== 'object' || value === null || Array.isArray(value))) {
        // `{"instruction": "…", …}`: one record, not a map of records keyed by id
        whole = true;
        return;
      }
      const chars = badCharacters(value);
      if (chars) yield { line: elLine, error: chars };
      else yield key === undefined ? { line: elLine, value } : { line: elLine, value, key };
    } catch (e) {
      yield { line: elLine, error: { field: 'json', reason: `invalid element (${(e as Error).message})` } };
    }
  };
  let members = 0;
  let whole = false;
  scan: for await (let chunk of stream) {
    if (skip > 0) { const k = Math.min(skip, chunk.length); chunk = chunk.subarray(k); skip -= k; }
    let text: string;
    try {
      text = decoder.decode(chunk, { stream: true });
    } catch {
      // locate the bad line: decode this chunk's byte lines one by one
      const d = new TextDecoder(decoderLabel(s.encoding), { fatal: true });
      let at = linesAtChunk, start = 0;
      for (;;) {
        const nl = chunk.indexOf(0x0a, start);
        const seg = chunk.subarray(start, nl < 0 ? chunk.length : nl);
        try { d.decode(seg); } catch { break; }
        if (nl < 0) break;
        at++; start = nl + 1;
      }
      fail(`bytes not valid ${decoderLabel(s.encoding)} (use --encoding to override detection)`, at);
      return;
    }
    // keep only the unfinished element; resume scanning where the previous chunk stopped
    if (state === 2) {
      // UTF-16 code units ≥ bytes/3 for any text, so this bounds the element's bytes by 3× the cap at most
      if (buf.length - elStart > o.maxLineMib * 2 ** 20) fail(`the element starting at line ${elLine} is longer than ${o.maxLineMib} MiB (raise --max-line-mib, or use JSONL)`, elLine);
      pos = buf.length - elStart;
      buf = buf.slice(elStart) + text;
      elStart = 0;
    } else {
      buf = text;
      pos = 0;
    }
    const n = buf.length;
    while (pos < n) {
      const c = buf.charCodeAt(pos);
      if (c === 10) line++;
      if (state === 2) {
        if (inStr) {
          if (esc) esc = false;
          else if (c === 92) esc = true;
          else if (c === 34) { inStr = false; if (depth === 0) { pos++; yield* finish(pos); if (whole) break scan; continue; } }
        } else if (scalar) {
          if (c === 44 || c === 93 || c === 125 || c === 32 || c === 10 || c === 13 || c === 9) {
            if (c === 10) line--; // the delimiter is read again in state 3 and counted there
            yield* finish(pos);
            if (whole) break scan;
            continue;
          }
        } else if (c === 34) inStr = true;
        else if (c === 123 || c === 91) depth++;
        else if (c === 125 || c === 93) {
          depth--;
          if (depth === 0) { pos++; yield* finish(pos); if (whole) break scan; continue; }
        }
        pos++;
        continue;
      }
      if (c === 32 || c === 10 || c === 13 || c === 9) { pos++; continue; }
      const ch = buf[pos]!;
      if (state === 0) {
        if (ch !== '[' && ch !== '{') fail(`expected '[' or '{' at the start, got '${ch}'`);
        top = ch as '[' | '{';
        state = 1;
        pos++;
      } else if (state === 1 || state === 3) {
        if ((ch === ']' && top === '[') || (ch === '}' && top === '{')) { state = 5; pos++; continue; }
        if (state === 3) {
          if (ch !== ',') fail(`expected ',' or '${top === '[' ? ']' : '}'}' after the element that starts at line ${elLine}, got '${ch}'`);
          state = 1; pos++;
          continue;
        }
        // start of an element (or of a key)
        elStart = pos; elLine = line; state = 2; depth = 0; inStr = false; esc = false; scalar = false;
        if (top === '{') {
          if (ch !== '"') fail(`expected a string key, got '${ch}'`);
          keyMode = true;
        }
        if (ch === '"') inStr = true;
        else if (ch === '{' || ch === '[') depth = 1;
        else scalar = true;
        pos++;
      } else if (state === 4) {
        if (ch !== ':') fail(`expected ':' after key '${key}', got '${ch}'`);
        state = 6;
        pos++;
      } else if (state === 6) {
        elStart = pos; elLine = line; state = 2; depth = 0; inStr = false; esc = false; scalar = false;
        if (ch === '"') inStr = true; else if (ch === '{' || ch === '[') depth = 1; else scalar = true;
        pos++;
      } else if (state === 5) {
        fail(`unexpected '${ch}' after the end of the top-level ${top === '[' ? 'array' : 'object'}`);
      }
    }
    linesAtChunk = line;
  }
  if (whole) {
    // a single top-level record: small by nature, so parse it whole (capped to stay honest about memory)
    const bytes = await readFile(path);
    if (bytes.length > 256 * 2 ** 20) fail('a single top-level JSON object larger than 256 MiB is not read whole; use JSONL', 1);
    const text = new TextDecoder(decoderLabel(s.encoding), { fatal: true }).decode(bytes.subarray(bomLength(s.encoding)));
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      fail(`invalid JSON (${(e as Error).message})`, 1);
    }
    const chars = badCharacters(value);
    yield chars ? { line: 1, error: chars } : { line: 1, value };
    return;
  }
  try { decoder.decode(); } catch { fail('file ends inside a multi-byte character'); }
  if (state === 2 && scalar) { yield* finish(buf.length); }
  if (state === 0) fail('empty file: no JSON value', 1);
  if (state !== 5 && state !== 3) {
    if (state === 2) fail(`truncated: the element starting at line ${elLine} never closes`, elLine);
    fail(state === 2
      ? `truncated: the element starting at line ${elLine} never closes`
      : `truncated: the top-level ${top === '[' ? 'array' : 'object'} never closes`);
  }
  if (state === 3) fail(`truncated: the top-level ${top === '[' ? 'array' : 'object'} never closes`);
}

/** Streams raw records of one file. Throws DataError for problems that make the whole file unreadable. */
export async function* readRaw(path: string, opts: ReadOptions = {}): AsyncGenerator<RawItem, void, undefined> {
  const s = await sniff(path, opts);
  const o: Required<ReadOptions> = {
    format: s.format, encoding: s.encoding, textUnit: opts.textUnit ?? 'line', chunkBytes: opts.chunkBytes ?? 1 << 20,
    maxLineMib: opts.maxLineMib ?? DEFAULT_MAX_LINE_MIB,
  };
  if (!(o.maxLineMib > 0)) throw new Error(`[data] maxLineMib must be positive, got ${o.maxLineMib}`);
  if (s.format === 'jsonl') yield* readJsonl(path, s, o);
  else if (s.format === 'json') yield* readJson(path, s, o);
  else if (s.format === 'csv' || s.format === 'tsv') yield* readDelimited(path, s, o);
  else yield* readText(path, s, o);
}
