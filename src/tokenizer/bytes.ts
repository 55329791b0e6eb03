// bytes.ts — the GPT-2 byte↔unicode table that byte-level BPE vocabularies (GPT-2, Qwen, LLaMA-3) are written in,
// and UTF-8 helpers. No tokenization here.

/**
 * GPT-2's table: printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100.. in byte order, so every
 * token string in a byte-level vocabulary is printable and whitespace-free.
 */
function buildByteToChar(): string[] {
  const out = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    out[b] = String.fromCharCode(printable ? b : 256 + extra++);
  }
  return out;
}

export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();
export const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

/** Token string in the byte-level alphabet for a run of raw bytes. */
export function bytesToTokenString(bytes: ArrayLike<number>): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += BYTE_TO_CHAR[bytes[i]!];
  return s;
}

/** Raw bytes of a byte-level token string, or null when a character is outside the table. */
export function tokenStringToBytes(token: string): number[] | null {
  const out: number[] = [];
  for (const ch of token) {
    const b = CHAR_TO_BYTE.get(ch);
    if (b === undefined) return null;
    out.push(b);
  }
  return out;
}

const encoder = new TextEncoder();
// Non-fatal: invalid sequences (e.g. decoding half a character) become U+FFFD, deterministically.
const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

export function utf8Encode(s: string): Uint8Array {
  return encoder.encode(s);
}

export function utf8Decode(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const ANY_SURROGATE = /[\uD800-\uDFFF]/;

/**
 * UTF-8 cannot carry a lone surrogate, so encoding replaces each with U+FFFD (as TextEncoder and
 * String.prototype.toWellFormed do); decode(encode(x)) === wellFormed(x) for every JS string x.
 */
export function wellFormed(s: string): string {
  return ANY_SURROGATE.test(s) ? s.replace(LONE_SURROGATE, '\uFFFD') : s;
}
