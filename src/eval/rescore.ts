// rescore.ts — reads other systems' outputs so published runs can be checked with the same tables: answer files
// (JSONL or a JSON array; our AnswerRecord or {id, output|response|prediction}), judge-verdict files and MCQ
// prediction files. Every bad record is located as file:line and counted, never silently dropped or made a tie.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { extractChoice, type McqPrediction } from './mcq.js';
import type { AnswerRecord, Dimension, Outcome, PairVerdict } from './types.js';

interface Located { value: unknown; where: string }

/** Records of a JSONL file or a JSON array file, each with `file:line` (array members: `file:#index`). */
export function readRecords(path: string): Located[] {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) { throw new Error(`[eval rescore] ${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`); }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const t = text.trimStart();
  if (t.startsWith('[')) {
    let j: unknown;
    try { j = JSON.parse(text); } catch (e) { throw new Error(`[eval rescore] ${path}: not valid JSON (${(e as Error).message})`); }
    return (j as unknown[]).map((value, i) => ({ value, where: `${path}:#${i}` }));
  }
  const out: Located[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try { out.push({ value: JSON.parse(line), where: `${path}:${i + 1}` }); } catch (e) {
      throw new Error(`[eval rescore] ${path}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
  });
  return out;
}

const ID_KEYS = ['itemId', 'id', 'item_id', 'question_id'];
const ANSWER_KEYS = ['answer', 'output', 'response', 'prediction', 'model_output'];

function pick(o: Record<string, unknown>, keys: string[]): unknown {
  for (const k of keys) if (o[k] !== undefined && o[k] !== null) return o[k];
  return undefined;
}

export interface ReadReport<T> { records: T[]; problems: string[] }

/** Another system's answers. A record without an id is a problem; one without an answer becomes a missing answer. */
export function readAnswers(path: string, model?: string): ReadReport<AnswerRecord> {
  const records: AnswerRecord[] = [], problems: string[] = [];
  for (const { value, where } of readRecords(path)) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) { problems.push(`${where}: expected an object`); continue; }
    const o = value as Record<string, unknown>;
    const id = pick(o, ID_KEYS);
    if (typeof id !== 'string' && typeof id !== 'number') { problems.push(`${where}: no item id (${ID_KEYS.join('|')})`); continue; }
    const r: AnswerRecord = { itemId: String(id), model: typeof o.model === 'string' ? o.model : model ?? basename(path) };
    if (model) r.model = model;
    const a = pick(o, ANSWER_KEYS);
    if (typeof a === 'string') r.answer = a;
    else if (Array.isArray(a) && a.length === 1 && typeof a[0] === 'string') r.answer = a[0];
    else r.error = typeof o.error === 'string' ? o.error : `${where}: no answer (${ANSWER_KEYS.join('|')})`;
    if (o.safety === true) r.safety = true;
    if (typeof o.prompt === 'string') r.prompt = o.prompt;
    records.push(r);
  }
  return { records, problems };
}

const OUTCOME_WORDS: Record<string, Outcome> = {
  win: 'win', tie: 'tie', loss: 'loss', lose: 'loss', a: 'win', b: 'loss', draw: 'tie',
  unparseable: 'unparseable', error: 'error', missing: 'missing',
};

/** One dimension's value: an outcome word (from A's side; 'A'/'B' name the better system) or {a, b} scores. */
export function outcomeOf(v: unknown, tieMargin = 0): Outcome | null {
  if (v === undefined || v === null) return 'missing';
  if (typeof v === 'string') return OUTCOME_WORDS[v.trim().toLowerCase()] ?? null;
  if (typeof v === 'object' && !Array.isArray(v)) {
    const s = v as { a?: unknown; b?: unknown };
    if (typeof s.a === 'number' && typeof s.b === 'number' && Number.isFinite(s.a) && Number.isFinite(s.b))
      return s.a - s.b > tieMargin ? 'win' : s.b - s.a > tieMargin ? 'loss' : 'tie';
  }
  return null;
}

/** Judge verdicts: {itemId|id, ability?, safety?} per line. Unreadable values are 'unparseable' and listed. */
export function readVerdicts(path: string, dims: Dimension[] = ['ability', 'safety']): ReadReport<PairVerdict> {
  const records: PairVerdict[] = [], problems: string[] = [];
  for (const { value, where } of readRecords(path)) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) { problems.push(`${where}: expected an object`); continue; }
    const o = value as Record<string, unknown>;
    const id = pick(o, ID_KEYS);
    if (typeof id !== 'string' && typeof id !== 'number') { problems.push(`${where}: no item id (${ID_KEYS.join('|')})`); continue; }
    const v: PairVerdict = { itemId: String(id), outcomes: {} };
    for (const d of dims) {
      const x = outcomeOf(o[d]);
      if (x === null) { v.outcomes[d] = 'unparseable'; problems.push(`${where}: ${d}: cannot read ${JSON.stringify(o[d])} as win/tie/loss`); }
      else v.outcomes[d] = x;
    }
    if (typeof o.note === 'string') v.note = o.note;
    records.push(v);
  }
  return { records, problems };
}

/** MCQ predictions: {id, subject, gold|answer, prediction (a letter or free text, read strictly)}. */
export function readMcqPredictions(path: string): ReadReport<McqPrediction> {
  const records: McqPrediction[] = [], problems: string[] = [];
  for (const { value, where } of readRecords(path)) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) { problems.push(`${where}: expected an object`); continue; }
    const o = value as Record<string, unknown>;
    const id = pick(o, ID_KEYS);
    const p: McqPrediction = { id: id === undefined ? where : String(id), subject: typeof o.subject === 'string' ? o.subject : 'unknown', status: 'ok' };
    const gold = pick(o, ['gold', 'answer', 'label']);
    if (typeof gold === 'string' && /^[A-Z]$/.test(gold.trim().toUpperCase())) p.gold = gold.trim().toUpperCase();
    const pred = pick(o, ['prediction', 'pred', 'output', 'response']);
    if (typeof pred !== 'string') { p.status = 'error'; p.note = `${where}: no prediction`; }
    else {
      p.raw = pred;
      const keys = Array.isArray(o.options) ? (o.options as unknown[]).map((_, i) => String.fromCharCode(65 + i)) : ['A', 'B', 'C', 'D', 'E'];
      const x = extractChoice(pred, keys);
      if ('letter' in x) p.prediction = x.letter; else { p.status = 'unparseable'; p.note = `${where}: ${x.why}`; }
    }
    records.push(p);
  }
  return { records, problems };
}
