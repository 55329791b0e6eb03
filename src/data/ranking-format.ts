// ranking-format.ts — THE ranking file format (one JSON object per line), defined once: the types, a hand-written
// validator with precise field paths, and conversion to/from the internal PreferenceSet. The sampling and ranking
// steps write it, the ranking tool imports/exports it, rm/dpo read it, evaluation imports it as human verdicts.
// Documented in docs/data-formats.md. Does not read files (load.ts does) or build training pairs (samples.ts).
import type { PreferenceSet, Turn } from './types.js';

export const RANKING_FORMAT_VERSION = 1;

export interface RankingCandidate {
  /** unique within the record, e.g. "c0" */
  id: string;
  text: string;
  /** who produced it: a model name, "human", "rewrite", "demo:unsafe"… */
  source: string;
  /** id of the candidate this one is an expert rewrite of */
  rewriteOf?: string;
}

export interface RankingRecord {
  id: string;
  /** earlier turns as [patient, doctor] pairs, oldest first */
  history: [string, string][];
  /** the patient turn the candidates answer */
  prompt: string;
  candidates: RankingCandidate[];
  /**
   * best group first; a group of several ids is a tie. Every candidate appears exactly once.
   * An empty array means "not ranked yet" (annotation input); nothing else may be partial.
   */
  ranking: string[][];
  annotator?: string;
  comment?: string;
  meta?: Record<string, unknown>;
}

export interface FieldProblem {
  field: string;
  reason: string;
}

const KNOWN_KEYS = new Set(['id', 'history', 'prompt', 'candidates', 'ranking', 'annotator', 'comment', 'meta']);
const CAND_KEYS = new Set(['id', 'text', 'source', 'rewriteOf']);

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/** Every problem of a would-be ranking record; [] means valid. Unknown keys are errors (misspellings). */
export function validateRanking(v: unknown): FieldProblem[] {
  const p: FieldProblem[] = [];
  const bad = (field: string, reason: string) => p.push({ field, reason });
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    bad('record', `expected an object, got ${typeName(v)}`);
    return p;
  }
  const r = v as Record<string, unknown>;
  for (const k of Object.keys(r)) if (!KNOWN_KEYS.has(k)) bad(k, `unknown key (allowed: ${[...KNOWN_KEYS].join(', ')})`);
  if (typeof r.id !== 'string' || r.id === '') bad('id', `expected a non-empty string, got ${typeName(r.id)}`);
  if (typeof r.prompt !== 'string' || r.prompt.trim() === '') bad('prompt', `expected a non-empty string, got ${typeName(r.prompt)}`);
  if (!Array.isArray(r.history)) bad('history', `expected an array of [patient, doctor] pairs, got ${typeName(r.history)}`);
  else r.history.forEach((h, i) => {
    if (!Array.isArray(h) || h.length !== 2) bad(`history[${i}]`, 'expected a [patient, doctor] pair');
    else h.forEach((t, j) => {
      if (typeof t !== 'string' || t.trim() === '') bad(`history[${i}][${j}]`, `expected a non-empty string, got ${typeName(t)}`);
    });
  });
  for (const k of ['annotator', 'comment'] as const)
    if (r[k] !== undefined && typeof r[k] !== 'string') bad(k, `expected a string, got ${typeName(r[k])}`);
  if (r.meta !== undefined && (typeof r.meta !== 'object' || r.meta === null || Array.isArray(r.meta)))
    bad('meta', `expected an object, got ${typeName(r.meta)}`);
  const ids = new Set<string>();
  if (!Array.isArray(r.candidates) || r.candidates.length < 2) {
    bad('candidates', Array.isArray(r.candidates) ? `expected at least 2 candidates, got ${r.candidates.length}`
      : `expected an array, got ${typeName(r.candidates)}`);
  } else {
    r.candidates.forEach((c, i) => {
      const f = `candidates[${i}]`;
      if (typeof c !== 'object' || c === null || Array.isArray(c)) { bad(f, `expected an object, got ${typeName(c)}`); return; }
      const o = c as Record<string, unknown>;
      for (const k of Object.keys(o)) if (!CAND_KEYS.has(k)) bad(`${f}.${k}`, 'unknown key (allowed: id, text, source, rewriteOf)');
      if (typeof o.id !== 'string' || o.id === '') bad(`${f}.id`, `expected a non-empty string, got ${typeName(o.id)}`);
      else if (ids.has(o.id)) bad(`${f}.id`, `duplicate candidate id '${o.id}'`);
      else ids.add(o.id);
      if (typeof o.text !== 'string' || o.text.trim() === '') bad(`${f}.text`, `expected a non-empty string, got ${typeName(o.text)}`);
      if (typeof o.source !== 'string') bad(`${f}.source`, `expected a string, got ${typeName(o.source)}`);
      if (o.rewriteOf !== undefined && typeof o.rewriteOf !== 'string') bad(`${f}.rewriteOf`, `expected a string, got ${typeName(o.rewriteOf)}`);
    });
    r.candidates.forEach((c, i) => {
      const o = c as Record<string, unknown> | null;
      if (o && typeof o.rewriteOf === 'string') {
        if (!ids.has(o.rewriteOf)) bad(`candidates[${i}].rewriteOf`, `refers to unknown candidate '${o.rewriteOf}'`);
        else if (o.rewriteOf === o.id) bad(`candidates[${i}].rewriteOf`, 'a candidate cannot be a rewrite of itself');
      }
    });
  }
  if (!Array.isArray(r.ranking)) bad('ranking', `expected an array of groups of candidate ids, got ${typeName(r.ranking)}`);
  else if (r.ranking.length > 0) {
    const seen = new Set<string>();
    r.ranking.forEach((g, i) => {
      if (!Array.isArray(g) || g.length === 0) { bad(`ranking[${i}]`, 'expected a non-empty array of candidate ids'); return; }
      g.forEach((id, j) => {
        const f = `ranking[${i}][${j}]`;
        if (typeof id !== 'string') bad(f, `expected a candidate id string, got ${typeName(id)}`);
        else if (!ids.has(id)) bad(f, `unknown candidate id '${id}'`);
        else if (seen.has(id)) bad(f, `candidate '${id}' ranked more than once`);
        else seen.add(id);
      });
    });
    const missing = [...ids].filter((id) => !seen.has(id));
    if (missing.length) bad('ranking', `candidates not ranked: ${missing.join(', ')} (every candidate exactly once, or [] for unranked)`);
  }
  return p;
}

/** Validates and converts; throws with every problem listed. */
export function parseRanking(v: unknown): RankingRecord {
  const p = validateRanking(v);
  if (p.length) throw new Error(`[ranking-format] ${p.map((x) => `${x.field}: ${x.reason}`).join('; ')}`);
  return v as RankingRecord;
}

export function historyToTurns(h: [string, string][]): Turn[] {
  const t: Turn[] = [];
  for (const [u, a] of h) t.push({ role: 'user', text: u }, { role: 'assistant', text: a });
  return t;
}

export function rankingToPreferenceSet(r: RankingRecord): PreferenceSet {
  const s: PreferenceSet = {
    kind: 'preference', id: r.id, history: historyToTurns(r.history), prompt: r.prompt,
    candidates: r.candidates.map((c) => ({ ...c })), ranking: r.ranking.map((g) => [...g]),
  };
  if (r.annotator !== undefined) s.annotator = r.annotator;
  if (r.comment !== undefined) s.comment = r.comment;
  if (r.meta !== undefined) s.meta = r.meta;
  return s;
}

/**
 * PreferenceSet → ranking record. The history must alternate user/assistant starting with the user;
 * a set that cannot be expressed as [patient, doctor] pairs throws.
 */
export function preferenceSetToRanking(s: PreferenceSet, fallbackId: string): RankingRecord {
  const pairs: [string, string][] = [];
  const h = s.history.filter((t) => t.role !== 'system');
  for (let i = 0; i < h.length; i += 2) {
    const u = h[i]!, a = h[i + 1];
    if (u.role !== 'user' || !a || a.role !== 'assistant')
      throw new Error(`[ranking-format] history of '${s.id ?? fallbackId}' does not alternate patient/doctor from the start`);
    pairs.push([u.text, a.text]);
  }
  const r: RankingRecord = {
    id: s.id ?? fallbackId, history: pairs, prompt: s.prompt,
    candidates: s.candidates.map((c) => {
      const o: RankingCandidate = { id: c.id, text: c.text, source: c.source ?? '' };
      if (c.rewriteOf !== undefined) o.rewriteOf = c.rewriteOf;
      return o;
    }),
    ranking: s.ranking.map((g) => [...g]),
  };
  if (s.annotator !== undefined) r.annotator = s.annotator;
  if (s.comment !== undefined) r.comment = s.comment;
  if (s.meta !== undefined) r.meta = s.meta;
  return r;
}
