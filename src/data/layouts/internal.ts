// internal.ts — our own internal records written as JSON (the pipeline's runs/*/data/*.jsonl: {kind: 'conversation',
// turns, meta}, {kind: 'preference', history, prompt, candidates, ranking}, {kind: 'choice', …}, {kind: 'text'}) read
// back as they are, with the same checks as any other source. The other layouts live beside this file.
import { RecordError } from '../errors.js';
import { validateRanking, type RankingRecord } from '../ranking-format.js';
import type { ConversationMeta, PreferenceSet, Role, Turn } from '../types.js';

type Obj = Record<string, unknown>;
const KINDS = ['conversation', 'preference', 'text', 'choice'];

export function isInternal(o: Obj): boolean {
  if (typeof o.kind !== 'string' || !KINDS.includes(o.kind)) return false;
  if (o.kind === 'conversation') return Array.isArray(o.turns);
  if (o.kind === 'preference') return Array.isArray(o.candidates) && 'prompt' in o;
  if (o.kind === 'text') return 'text' in o;
  return 'question' in o;
}

const ROLES: Role[] = ['system', 'user', 'assistant'];

export function internalTurns(list: unknown, field: string): Turn[] {
  if (!Array.isArray(list)) throw new RecordError(field, 'expected a list of {role, text} turns');
  return list.map((t, i) => {
    const x = t as Obj;
    if (typeof x !== 'object' || x === null || !ROLES.includes(x.role as Role)) throw new RecordError(`${field}[${i}].role`, `expected system, user or assistant, got ${JSON.stringify(x?.role)}`);
    if (typeof x.text !== 'string') throw new RecordError(`${field}[${i}].text`, 'expected a string');
    return { role: x.role as Role, text: x.text };
  });
}

export function internalMeta(v: unknown): ConversationMeta {
  const m: ConversationMeta = {};
  if (typeof v !== 'object' || v === null) return m;
  const o = v as Obj;
  for (const k of ['id', 'department', 'subDepartment'] as const) if (typeof o[k] === 'string') m[k] = o[k] as string;
  if (o.safety === true) m.safety = true;
  if (typeof o.extra === 'object' && o.extra !== null) {
    const e: Record<string, string> = {};
    for (const [k, x] of Object.entries(o.extra as Obj)) if (typeof x === 'string') e[k] = x;
    if (Object.keys(e).length) m.extra = e;
  }
  return m;
}

/** A PreferenceSet as written by JSON.stringify, checked with the ranking format's validator. */
export function internalPreference(o: Obj): PreferenceSet {
  const history = internalTurns(o.history ?? [], 'history');
  const pairs: [string, string][] = [];
  for (let i = 0; i < history.length; i += 2) {
    const u = history[i]!, a = history[i + 1];
    if (u.role !== 'user' || a?.role !== 'assistant') throw new RecordError(`history[${i}]`, 'expected alternating user/assistant turns');
    pairs.push([u.text, a.text]);
  }
  const rr: Obj = { id: typeof o.id === 'string' && o.id ? o.id : 'unnamed', history: pairs, prompt: o.prompt, candidates: o.candidates, ranking: o.ranking };
  for (const k of ['annotator', 'comment', 'meta']) if (o[k] !== undefined) rr[k] = o[k];
  const p = validateRanking(rr);
  if (p.length) throw new RecordError(p[0]!.field, p[0]!.reason + (p.length > 1 ? ` (+${p.length - 1} more problems)` : ''));
  const r = rr as unknown as RankingRecord;
  const s: PreferenceSet = { kind: 'preference', history, prompt: r.prompt, candidates: r.candidates, ranking: r.ranking };
  if (typeof o.id === 'string') s.id = o.id;
  if (typeof o.annotator === 'string') s.annotator = o.annotator;
  if (typeof o.comment === 'string') s.comment = o.comment;
  if (typeof o.meta === 'object' && o.meta !== null) s.meta = o.meta as Record<string, unknown>;
  return s;
}
