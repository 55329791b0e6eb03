// encoding.ts — detects UTF-8, UTF-8 with BOM and GB18030 from a file's first bytes (WHATWG Encoding
// Standard decoders via TextDecoder; Node 20 ships gb18030), only on real evidence: a BOM, a decoding with zero (or
// very few) errors over the sample that also looks like text in that encoding. Otherwise it fails naming the
// candidates and why each was ruled out. UTF-16 (BOM or NUL patterns) is recognised and refused, not read.

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

/** A sample whose encoding cannot be told (or is one we do not read); the message names the candidates. */
export class EncodingUnknown extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EncodingUnknown';
  }
}

/** UTF-16 by BOM, or by NUL bytes in every other position (ASCII text in UTF-16 has a zero high byte). */
export function utf16Of(b: Uint8Array): 'utf-16le' | 'utf-16be' | null {
  if (b[0] === 0xff && b[1] === 0xfe) return 'utf-16le';
  if (b[0] === 0xfe && b[1] === 0xff) return 'utf-16be';
  const n = Math.min(b.length, 4096) & ~1;
  if (n < 8) return null;
  let even = 0, odd = 0;
  for (let i = 0; i < n; i += 2) { if (b[i] === 0) even++; if (b[i + 1] === 0) odd++; }
  const half = n / 2;
  if (odd > 0.3 * half && even < 0.05 * half) return 'utf-16le';
  if (even > 0.3 * half && odd < 0.05 * half) return 'utf-16be';
  return null;
}

/** What a GB18030 decoding of the sample looks like: undecodable sequences, non-ASCII characters, share that are CJK. */
export function gbStats(b: Uint8Array): { errors: number; chars: number; cjkShare: number } {
  const t = new TextDecoder('gb18030').decode(b, { stream: true });
  let errors = 0, chars = 0, cjk = 0;
  for (const ch of t) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80) continue;
    if (c === 0xfffd) { errors++; continue; }
    chars++;
    // CJK ideographs (and extension A), CJK and fullwidth punctuation, general punctuation (“” — …), the middle dot
    if ((c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf) || (c >= 0x3000 && c <= 0x303f) || (c >= 0xff00 && c <= 0xffef) ||
      (c >= 0x2000 && c <= 0x206f) || c === 0xb7) cjk++;
  }
  return { errors, chars, cjkShare: chars ? cjk / chars : 0 };
}

/** 1-based line of the first invalid UTF-8 byte, for messages. */
function firstBadUtf8Line(b: Uint8Array): number {
  let line = 1;
  const d = new TextDecoder('utf-8', { fatal: true });
  let start = 0;
  for (;;) {
    const nl = b.indexOf(0x0a, start);
    try { d.decode(b.subarray(start, nl < 0 ? b.length : nl), { stream: nl < 0 }); } catch { return line; }
    if (nl < 0) return line;
    line++;
    start = nl + 1;
  }
}

/**
 * Picks the encoding of a sample (the first 64 KiB is plenty) on evidence, else throws EncodingUnknown:
 *   - a UTF-8 BOM → utf-8-bom; UTF-16 (BOM or NUL pattern) → refused, naming it;
 *   - valid UTF-8 throughout (pure ASCII included) → utf-8;
 *   - otherwise each candidate must earn it: UTF-8 with ≥ 8 valid multi-byte sequences and at most a quarter as many
 *     invalid ones (a UTF-8 file with a few stray bytes, whose bad lines are then reported); GB18030 with ≥ 4
 *     characters, ≥ 80 % of them CJK, and no undecodable sequence (or ≤ 5 % of ≥ 20). Both earn it → fewer errors wins.
 * A mostly-ASCII file with a few stray high bytes earns neither: it is refused rather than read as garbled text.
 */
export function detectEncoding(sample: Uint8Array): Encoding {
  if (sample[0] === 0xef && sample[1] === 0xbb && sample[2] === 0xbf) return 'utf-8-bom';
  const u16 = utf16Of(sample);
  if (u16) throw new EncodingUnknown(`the file is ${u16.toUpperCase()}${sample[0] === 0xff || sample[0] === 0xfe ? ' (BOM)' : ' (NUL bytes in every other position)'}, which is not read; convert it, e.g. \`iconv -f UTF-16 -t UTF-8\``);
  const u = utf8Stats(sample);
  if (u.invalid === 0) return 'utf-8';
  const g = gbStats(sample);
  const utf8Ok = u.multibyte >= 8 && u.invalid * 4 <= u.multibyte;
  const gbOk = g.chars >= 4 && g.cjkShare >= 0.8 && (g.errors === 0 || (g.chars >= 20 && g.errors * 20 <= g.chars));
  if (utf8Ok && gbOk) return g.errors < u.invalid ? 'gb18030' : 'utf-8';
  if (utf8Ok) return 'utf-8';
  if (gbOk) return 'gb18030';
  throw new EncodingUnknown(
    `cannot tell the encoding: not utf-8 (${u.invalid} invalid byte(s), first on line ${firstBadUtf8Line(sample)}, against ${u.multibyte} valid multi-byte sequence(s)); ` +
    `not gb18030 (${g.errors} undecodable sequence(s), ${g.chars} non-ASCII character(s), ${(g.cjkShare * 100).toFixed(0)} % CJK); ` +
    `pass --encoding utf-8 (bad lines are then reported) or --encoding gb18030`);
}
/** The WHATWG label for TextDecoder. */
export function decoderLabel(e: Encoding): string {
  return e === 'gb18030' ? 'gb18030' : 'utf-8';
}

export function bomLength(e: Encoding): number {
  return e === 'utf-8-bom' ? 3 : 0;
}
