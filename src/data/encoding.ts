// encoding.ts — detects UTF-8, UTF-8 with BOM and GB18030 from a file's first bytes (WHATWG Encoding
// Standard decoders via TextDecoder; Node 20 ships gb18030). Does not transcode files or guess other encodings.

export type Encoding = 'utf-8' | 'utf-8-bom' | 'gb18030';
export const encodings: readonly Encoding[] = ['utf-8', 'utf-8-bom', 'gb18030'];

/** Counts well-formed multi-byte UTF-8 sequences and invalid bytes; a trailing incomplete sequence is ignored. */
export function utf8Stats(b: Uint8Array): { multibyte: number; invalid: number } {
  let multibyte = 0, invalid = 0;
  let i = 0;
  const n = b.length;
  while (i < n) {
    const c = b[i]!;
    if (c < 0x80) { i++; continue; }
    let len = 0;
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) len = 3;
    else if (c >= 0xf0 && c <= 0xf4) len = 4;
    if (len === 0) { invalid++; i++; continue; }
    if (i + len > n) break; // cut at the sample's end, not an error
    let ok = true;
    for (let k = 1; k < len; k++) if ((b[i + k]! & 0xc0) !== 0x80) { ok = false; break; }
    if (ok) { multibyte++; i += len; } else { invalid++; i++; }
  }
  return { multibyte, invalid };
}

function decodesAs(enc: string, b: Uint8Array): boolean {
  try {
    new TextDecoder(enc, { fatal: true }).decode(b, { stream: true });
    return true;
  } catch {
    return false;
  }
}

function replacements(enc: string, b: Uint8Array): number {
  const t = new TextDecoder(enc).decode(b, { stream: true });
  let n = 0;
  for (let i = t.indexOf('\uFFFD'); i >= 0; i = t.indexOf('\uFFFD', i + 1)) n++;
  return n;
}

/**
 * Picks the encoding of a sample (the first 64 KiB is plenty): clean UTF-8 wins, then clean GB18030; when both
 * fail, the one with fewer undecodable sequences, so that a UTF-8 file with one bad byte stays UTF-8 and its bad
 * line is reported instead of the whole file being mis-read.
 */
export function detectEncoding(sample: Uint8Array): Encoding {
  if (sample[0] === 0xef && sample[1] === 0xbb && sample[2] === 0xbf) return 'utf-8-bom';
  const s = utf8Stats(sample);
  if (s.invalid === 0) return 'utf-8';
  if (decodesAs('gb18030', sample)) return 'gb18030';
  return replacements('gb18030', sample) < s.invalid ? 'gb18030' : 'utf-8';
}
/** The WHATWG label for TextDecoder. */
export function decoderLabel(e: Encoding): string {
  return e === 'gb18030' ? 'gb18030' : 'utf-8';
}

export function bomLength(e: Encoding): number {
  return e === 'utf-8-bom' ? 3 : 0;
}
