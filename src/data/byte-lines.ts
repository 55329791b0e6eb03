// byte-lines.ts — a file as decoded lines, streamed in batches, in time linear in the file: the one line reader
// under the JSONL, CSV/TSV and text readers (readers.ts). A bad byte costs its line, a line over the cap is dropped
// as it streams and reported; what a line means is decided by the readers, not here.
import { createReadStream } from 'node:fs';
import { bomLength, decoderLabel, type Encoding } from './encoding.js';

export interface DecodedLine { line: number; text?: string; bad?: boolean; tooLong?: boolean }

/**
 * Byte lines (LF or CRLF), decoded strictly, in batches (one per chunk). The fast path decodes all complete lines
 * of a chunk in one call; only a chunk that fails is decoded line by line, so that a bad byte costs one line, not
 * the file. LF is never part of a multi-byte sequence in UTF-8 or GB18030, so splitting bytes at LF is safe.
 * Linear in the file: the unfinished line is kept as a list of chunks and joined once, when its LF arrives; a line
 * over `maxLineBytes` is dropped as it streams (memory stays at the cap) and reported as tooLong.
 */
export async function* decodedLines(path: string, encoding: Encoding, chunkBytes: number, maxLineBytes: number): AsyncGenerator<DecodedLine[]> {
  const decoder = new TextDecoder(decoderLabel(encoding), { fatal: true, ignoreBOM: true });
  let parts: Buffer[] = [];
  let partsLen = 0;
  let skipping = false; // inside a line already over the cap: bytes are dropped until its LF
  let line = 0;
  let skip = bomLength(encoding);
  const perLine = (b: Buffer, out: DecodedLine[], checkLength: boolean) => {
    let start = 0;
    while (start < b.length) {
      let nl = b.indexOf(0x0a, start);
      if (nl < 0) nl = b.length;
      let end = nl;
      if (end > start && b[end - 1] === 0x0d) end--;
      line++;
      if (checkLength && end - start > maxLineBytes) out.push({ line, tooLong: true });
      else { try { out.push({ line, text: decoder.decode(b.subarray(start, end)) }); } catch { out.push({ line, bad: true }); } }
      start = nl + 1;
    }
  };
  const decodeBlock = (b: Buffer, out: DecodedLine[]) => {
    // b holds whole lines, each terminated by LF except possibly the last one at end of file
    if (b.length > maxLineBytes) { perLine(b, out, true); return; }
    let text: string | null = null;
    try { text = decoder.decode(b); } catch { text = null; }
    if (text !== null) {
      const ps = text.split('\n');
      if (ps[ps.length - 1] === '' && b[b.length - 1] === 0x0a) ps.pop();
      for (const t of ps) out.push({ line: ++line, text: t.endsWith('\r') ? t.slice(0, -1) : t });
      return;
    }
    perLine(b, out, false);
  };
  for await (const chunk of createReadStream(path, { highWaterMark: chunkBytes }) as AsyncIterable<Buffer>) {
    let buf: Buffer = chunk;
    if (skip > 0) { const k = Math.min(skip, buf.length); buf = buf.subarray(k); skip -= k; }
    const out: DecodedLine[] = [];
    if (skipping) {
      const nl = buf.indexOf(0x0a);
      if (nl < 0) continue;
      skipping = false;
      out.push({ line: ++line, tooLong: true });
      buf = buf.subarray(nl + 1);
    }
    const last = buf.lastIndexOf(0x0a);
    if (last < 0) {
      if (partsLen + buf.length > maxLineBytes) { skipping = true; parts = []; partsLen = 0; }
      else if (buf.length) { parts.push(Buffer.from(buf)); partsLen += buf.length; }
      if (out.length) yield out;
      continue;
    }
    const block = parts.length ? Buffer.concat([...parts, buf.subarray(0, last + 1)]) : buf.subarray(0, last + 1);
    parts = [];
    partsLen = 0;
    const tail = buf.subarray(last + 1);
    if (tail.length > maxLineBytes) skipping = true;
    else if (tail.length) { parts.push(Buffer.from(tail)); partsLen = tail.length; }
    decodeBlock(block, out);
    yield out;
  }
  if (skipping) yield [{ line: ++line, tooLong: true }];
  else if (partsLen) {
    const out: DecodedLine[] = [];
    decodeBlock(Buffer.concat(parts), out);
    yield out;
  }
}

