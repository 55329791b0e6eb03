// pipeline.ts — the parts of an HF tokenizer around the model: normalizer, pre-tokenizer, decoder, post-processor,
// parsed from their tokenizer.json objects (with the field named on error) and applied. Only the kinds byte-level
// BPE (GPT-2 / Qwen / LLaMA-3) and SentencePiece-style BPE (LLaMA-1/2) files use are supported; others are rejected.

import { CHAR_TO_BYTE, utf8Decode, utf8Encode } from './bytes.js';
import { GPT2_PATTERN, onigToJs, splitIsolated } from './pre-tokenize.js';

type Json = Record<string, unknown>;

export function fail(where: string, msg: string): never {
  throw new Error(`[tokenizer.json] ${where}: ${msg}`);
}
function obj(v: unknown, where: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(where, `expected an object, got ${JSON.stringify(v)?.slice(0, 60)}`);
  return v as Json;
}
function str(v: unknown, where: string): string {
  if (typeof v !== 'string') fail(where, `expected a string, got ${JSON.stringify(v)?.slice(0, 60)}`);
  return v;
}
function arr(v: unknown, where: string): unknown[] {
  if (!Array.isArray(v)) fail(where, `expected an array, got ${JSON.stringify(v)?.slice(0, 60)}`);
  return v;
}
function bool(v: unknown, where: string, dflt: boolean): boolean {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') fail(where, `expected true or false, got ${JSON.stringify(v)}`);
  return v;
}
function pattern(v: unknown, where: string): { regex: RegExp | null; literal: string | null; json: Json } {
  const p = obj(v, where);
  if (typeof p.String === 'string') return { regex: null, literal: p.String, json: p };
  if (typeof p.Regex === 'string') {
    try { return { regex: onigToJs(p.Regex), literal: null, json: p }; } catch (e) { fail(`${where}.Regex`, (e as Error).message); }
  }
  fail(where, 'expected {"String": ...} or {"Regex": ...}');
}

// ---------------- normalizers ----------------

export type Normalizer = (s: string) => string;

export function parseNormalizer(v: unknown, where = 'normalizer'): Normalizer | null {
  if (v === null || v === undefined) return null;
  const o = obj(v, where);
  const type = str(o.type, `${where}.type`);
  switch (type) {
    case 'Sequence': {
      const parts = arr(o.normalizers, `${where}.normalizers`).map((n, i) => parseNormalizer(n, `${where}.normalizers[${i}]`)!);
      return (s) => parts.reduce((acc, f) => f(acc), s);
    }
    case 'Prepend': { const p = str(o.prepend, `${where}.prepend`); return (s) => (s.length ? p + s : s); }
    case 'Replace': {
      const pat = pattern(o.pattern, `${where}.pattern`);
      const content = str(o.content, `${where}.content`);
      if (pat.literal !== null) { const lit = pat.literal; return (s) => s.split(lit).join(content); }
      const re = pat.regex!;
      return (s) => s.replace(re, () => content);
    }
    case 'NFC': case 'NFD': case 'NFKC': case 'NFKD': return (s) => s.normalize(type);
    case 'Lowercase': return (s) => s.toLowerCase();
    default: fail(`${where}.type`, `unsupported normalizer '${type}'`);
  }
}

// ---------------- pre-tokenizers ----------------

/** A split step: pieces in, pieces out. `first` is true for the segment that starts the input (Metaspace "first"). */
type Split = (pieces: string[], first: boolean) => string[];

export interface PreTokenizer {
  split: Split;
  /** a ByteLevel step is present: the model sees UTF-8 bytes */
  byteLevel: boolean;
}

export function parsePreTokenizer(v: unknown, where = 'pre_tokenizer'): PreTokenizer | null {
  if (v === null || v === undefined) return null;
  const o = obj(v, where);
  const type = str(o.type, `${where}.type`);
  const each = (f: (p: string, first: boolean) => string[]): Split => (pieces, first) => {
    const out: string[] = [];
    for (let i = 0; i < pieces.length; i++) for (const x of f(pieces[i]!, first && i === 0)) out.push(x);
    return out;
  };
  switch (type) {
    case 'Sequence': {
      const steps = arr(o.pretokenizers, `${where}.pretokenizers`).map((p, i) => parsePreTokenizer(p, `${where}.pretokenizers[${i}]`)!);
      return { split: (pieces, first) => steps.reduce((acc, s) => s.split(acc, first), pieces), byteLevel: steps.some((s) => s.byteLevel) };
    }
    case 'Split': {
      const pat = pattern(o.pattern, `${where}.pattern`);
      const behavior = str(o.behavior, `${where}.behavior`);
      if (behavior !== 'Isolated') fail(`${where}.behavior`, `only 'Isolated' is supported, got '${behavior}'`);
      if (bool(o.invert, `${where}.invert`, false)) fail(`${where}.invert`, 'invert: true is not supported');
      const re = pat.regex ?? new RegExp(pat.literal!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gu');
      return { split: each((p) => splitIsolated(p, re)), byteLevel: false };
    }
    case 'ByteLevel': {
      const prefix = bool(o.add_prefix_space, `${where}.add_prefix_space`, false);
      const useRegex = bool(o.use_regex, `${where}.use_regex`, true);
      const re = onigToJs(GPT2_PATTERN);
      return {
        split: each((p) => {
          const s = prefix && !p.startsWith(' ') ? ' ' + p : p;
          return useRegex ? splitIsolated(s, re) : [s];
        }),
        byteLevel: true,
      };
    }
    case 'Metaspace': {
      const rep = str(o.replacement, `${where}.replacement`);
      const scheme = o.prepend_scheme === undefined ? (bool(o.add_prefix_space, `${where}.add_prefix_space`, true) ? 'always' : 'never') : str(o.prepend_scheme, `${where}.prepend_scheme`);
      if (!['always', 'first', 'never'].includes(scheme)) fail(`${where}.prepend_scheme`, `expected always|first|never, got '${scheme}'`);
      const doSplit = bool(o.split, `${where}.split`, true);
      return {
        split: each((p, first) => {
          let s = p.split(' ').join(rep);
          if ((scheme === 'always' || (scheme === 'first' && first)) && !s.startsWith(rep)) s = rep + s;
          if (!doSplit) return [s];
          // split before each replacement character, which stays at the start of the next piece
          const out: string[] = [];
          let start = 0;
          for (let i = 1; i < s.length; i++) if (s.startsWith(rep, i)) { out.push(s.slice(start, i)); start = i; }
          if (s.length) out.push(s.slice(start));
          return out;
        }),
        byteLevel: false,
      };
    }
    case 'Digits': {
      const individual = bool(o.individual_digits, `${where}.individual_digits`, false);
      const re = individual ? /\p{Nd}/gu : /\p{Nd}+/gu;
      return { split: each((p) => splitIsolated(p, re)), byteLevel: false };
    }
    default: fail(`${where}.type`, `unsupported pre-tokenizer '${type}'`);
  }
}

// ---------------- decoders (token list → token list, as HF chains them) ----------------

export type Decoder = (tokens: string[]) => string[];

const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

/** Each token's characters map back through the GPT-2 table; a token with a character outside it (an added token
 * such as '<bot> ') contributes its own UTF-8 bytes, as HF's ByteLevel decoder does. */
export function byteLevelDecode(tokens: string[]): string[] {
  const bytes: number[] = [];
  for (const t of tokens) {
    const mark = bytes.length;
    let ok = true;
    for (const ch of t) {
      const b = CHAR_TO_BYTE.get(ch);
      if (b === undefined) { ok = false; break; }
      bytes.push(b);
    }
    if (!ok) { bytes.length = mark; for (const x of utf8Encode(t)) bytes.push(x); }
  }
  return [utf8Decode(Uint8Array.from(bytes))];
}

export function parseDecoder(v: unknown, where = 'decoder'): Decoder | null {
  if (v === null || v === undefined) return null;
  const o = obj(v, where);
  const type = str(o.type, `${where}.type`);
  switch (type) {
    case 'Sequence': {
      const ds = arr(o.decoders, `${where}.decoders`).map((d, i) => parseDecoder(d, `${where}.decoders[${i}]`)!);
      return (t) => ds.reduce((acc, d) => d(acc), t);
    }
    case 'ByteLevel': return byteLevelDecode;
    case 'Replace': {
      const pat = pattern(o.pattern, `${where}.pattern`);
      const content = str(o.content, `${where}.content`);
      if (pat.literal === null) fail(`${where}.pattern`, 'only String patterns are supported in decoders');
      const lit = pat.literal;
      return (t) => t.map((x) => x.split(lit).join(content));
    }
    case 'ByteFallback': return (tokens) => {
      // runs of <0xNN> become one string when they are valid UTF-8; otherwise each byte becomes U+FFFD (as HF does)
      const out: string[] = [];
      let run: number[] = [];
      const flush = (): void => {
        if (!run.length) return;
        const s = new TextDecoder('utf-8', { fatal: true });
        try { out.push(s.decode(Uint8Array.from(run))); } catch { for (let i = 0; i < run.length; i++) out.push('\uFFFD'); }
        run = [];
      };
      for (const t of tokens) {
        const m = BYTE_TOKEN.exec(t);
        if (m) run.push(parseInt(m[1]!, 16));
        else { flush(); out.push(t); }
      }
      flush();
      return out;
    };
    case 'Fuse': return (t) => [t.join('')];
    case 'Strip': {
      const content = str(o.content, `${where}.content`);
      const start = Number(o.start ?? 0), stop = Number(o.stop ?? 0);
      return (t) => t.map((x) => {
        let s = 0, e = x.length;
        for (let i = 0; i < start && x.startsWith(content, s); i++) s += content.length;
        for (let i = 0; i < stop && e - content.length >= s && x.startsWith(content, e - content.length); i++) e -= content.length;
        return x.slice(s, e);
      });
    }
    case 'Metaspace': {
      const rep = str(o.replacement, `${where}.replacement`);
      const scheme = o.prepend_scheme === undefined ? (bool(o.add_prefix_space, `${where}.add_prefix_space`, true) ? 'always' : 'never') : str(o.prepend_scheme, `${where}.prepend_scheme`);
      return (t) => t.map((x, i) => {
        const s = x.split(rep).join(' ');
        return i === 0 && scheme !== 'never' && s.startsWith(' ') ? s.slice(1) : s;
      });
    }
    default: fail(`${where}.type`, `unsupported decoder '${type}'`);
  }
}

// ---------------- post-processor ----------------

/** Only what adds special tokens around one sequence matters for ids: TemplateProcessing's `single`. */
export interface PostProcessor { prefix: number[]; suffix: number[] }

export function parsePostProcessor(v: unknown, tokenId: (t: string) => number | undefined, where = 'post_processor'): PostProcessor | null {
  if (v === null || v === undefined) return null;
  const o = obj(v, where);
  const type = str(o.type, `${where}.type`);
  if (type === 'ByteLevel') return null; // offsets only
  if (type === 'Sequence') {
    const ps = arr(o.processors, `${where}.processors`).map((p, i) => parsePostProcessor(p, tokenId, `${where}.processors[${i}]`));
    return ps.reduce<PostProcessor | null>((acc, p) => (p ? { prefix: [...(acc?.prefix ?? []), ...p.prefix], suffix: [...(acc?.suffix ?? []), ...p.suffix] } : acc), null);
  }
  if (type !== 'TemplateProcessing') fail(`${where}.type`, `unsupported post-processor '${type}'`);
  const single = arr(o.single, `${where}.single`);
  const out: PostProcessor = { prefix: [], suffix: [] };
  let seen = false;
  single.forEach((item, i) => {
    const it = obj(item, `${where}.single[${i}]`);
    if (it.Sequence) { seen = true; return; }
    const sp = obj(it.SpecialToken, `${where}.single[${i}].SpecialToken`);
    const name = str(sp.id, `${where}.single[${i}].SpecialToken.id`);
    const declared = (o.special_tokens as Record<string, { ids?: unknown }> | undefined)?.[name]?.ids;
    const ids = Array.isArray(declared) ? declared.map(Number) : [tokenId(name)];
    if (ids.some((x) => x === undefined || !Number.isInteger(x))) fail(`${where}.single[${i}].SpecialToken.id`, `'${name}' is not a token`);
    (seen ? out.suffix : out.prefix).push(...(ids as number[]));
  });
  return out;
}
