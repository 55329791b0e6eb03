// pre-tokenize.ts — the split that runs before BPE: the Qwen2 regex we train with (llama.cpp pre type "qwen2"),
// GPT-2's regex for loaded ByteLevel(use_regex) files, and the whitespace class both use.
// No vocabulary here; the pipeline that strings these together lives in pipeline.ts.

/**
 * The pre-tokenizer we train with is Qwen2's, exactly as Qwen2's tokenizer.json writes it (Rust/Oniguruma syntax):
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * It never relies on spaces, keeps a Han run together (BPE then learns the words inside it), isolates each digit and
 * splits punctuation from letters. llama.cpp recognises it as `tokenizer.ggml.pre = "qwen2"` (LLAMA_VOCAB_PRE_TYPE_QWEN2),
 * so a GGUF export of a tokenizer trained here tokenizes identically in llama.cpp / ollama.
 */
export const QWEN2_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
export const QWEN2_LLAMA_CPP_PRE = 'qwen2';

/** GPT-2's pattern (ByteLevel pre-tokenizer with use_regex: true). */
export const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

// Oniguruma's (and llama.cpp's) \s is Unicode White_Space; JS's \s differs (adds U+FEFF, lacks U+0085), so we spell it out.
const WS = '\\t\\n\\v\\f\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000';

/**
 * Translates the few Oniguruma constructs HF pre-tokenizer patterns use into a JS `u` regex:
 * \s / \S (in and out of classes) and case-insensitive groups `(?i:...)` over ASCII letters, which Node 20 lacks.
 * Anything else is passed through and must already be valid JS.
 */
export function onigToJs(pattern: string): RegExp {
  let out = '';
  let inClass = false;
  let ci = 0; // depth inside (?i: ... ) groups
  const groupStack: boolean[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      const n = pattern[i + 1];
      i++;
      if (n === 's') out += inClass ? WS : `[${WS}]`;
      else if (n === 'S') {
        if (inClass) throw new Error(`[pre-tokenize] \\S inside a character class is not supported: ${pattern}`);
        out += `[^${WS}]`;
      } else out += '\\' + (n ?? '');
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') { inClass = true; out += c; if (pattern[i + 1] === '^') { out += '^'; i++; } continue; }
    if (c === '(') {
      if (pattern.startsWith('(?i:', i)) { groupStack.push(true); ci++; out += '(?:'; i += 3; continue; }
      groupStack.push(false);
      out += c;
      continue;
    }
    if (c === ')') { if (groupStack.pop()) ci--; out += c; continue; }
    if (ci > 0 && /[a-zA-Z]/.test(c)) { out += `[${c.toLowerCase()}${c.toUpperCase()}]`; continue; }
    out += c;
  }
  return new RegExp(out, 'gu');
}

/** HF's Split with behaviour Isolated: every match is a piece, and so is any text between matches (the patterns above
 * cover every character, so for them the gaps never occur). */
export function splitIsolated(text: string, re: RegExp): string[] {
  const out: string[] = [];
  re.lastIndex = 0;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    if (m[0].length === 0) { re.lastIndex++; continue; }
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(m[0]);
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** The Qwen2 split, compiled once. `String.prototype.match` with a global regex is V8's fast path for counting. */
export const QWEN2_REGEX = onigToJs(QWEN2_PATTERN);

export function qwen2Split(text: string): string[] {
  return text.match(QWEN2_REGEX) ?? [];
}
