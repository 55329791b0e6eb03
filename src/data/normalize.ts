// normalize.ts — text normalisation for cleaning: Unicode NFKC (UAX #15) except the full-width CJK punctuation
// that Chinese text is written with, zero-width characters removed, whitespace collapsed. Applied to every text
// field of a record. Does not touch meaning (no traditional→simplified, no spelling fixes).
import type { DataRecord } from './types.js';

// NFKC would turn '，？！：；（）' into ASCII; Chinese training text keeps its own punctuation, so those are exempt.
const KEEP = /[\uFF01\uFF08\uFF09\uFF0C\uFF1A\uFF1B\uFF1F]/;
const SPLIT = /([\uFF01\uFF08\uFF09\uFF0C\uFF1A\uFF1B\uFF1F]+)/;
const ZERO_WIDTH = /[\u200B-\u200D\u2060\uFEFF\u00AD]/g;

export function normalizeText(s: string): string {
  let t = KEEP.test(s) ? s.split(SPLIT).map((p, i) => (i % 2 ? p : p.normalize('NFKC'))).join('') : s.normalize('NFKC');
  t = t.replace(ZERO_WIDTH, '').replace(/\r\n?/g, '\n');
  // NFKC maps U+3000 (ideographic space) to ' ', so one rule covers both
  t = t.replace(/[^\S\n]+/g, ' ').replace(/ *\n */g, '\n').replace(/\n{3,}/g, '\n\n');
  return t.trim();
}

/** Applies `f` to every text field of a record, in place; returns the record. */
export function mapTexts<T extends DataRecord>(r: T, f: (s: string) => string): T {
  switch (r.kind) {
    case 'conversation': for (const t of r.turns) t.text = f(t.text); break;
    case 'preference':
      r.prompt = f(r.prompt);
      for (const t of r.history) t.text = f(t.text);
      for (const c of r.candidates) c.text = f(c.text);
      break;
    case 'text': r.text = f(r.text); break;
    case 'choice':
      r.question = f(r.question);
      for (const o of r.options) o.text = f(o.text);
      if (r.explanation !== undefined) r.explanation = f(r.explanation);
      break;
  }
  return r;
}

/** The text a record is compared by for deduplication (roles kept, so Q and A swapped is not a duplicate). */
export function dedupKey(r: DataRecord): string {
  switch (r.kind) {
    case 'conversation': return r.turns.map((t) => `${t.role[0]}:${t.text}`).join('\n');
    case 'preference': return [r.history.map((t) => t.text).join('\n'), r.prompt, ...r.candidates.map((c) => c.text)].join('\n');
    case 'text': return r.text;
    case 'choice': return [r.question, ...r.options.map((o) => o.text)].join('\n');
  }
}

/** Characters of all text fields: what length filters measure. */
export function textLength(r: DataRecord): number {
  let n = 0;
  mapTexts(r, (s) => { n += s.length; return s; }); // identity map: measures without copying
  return n;
}
