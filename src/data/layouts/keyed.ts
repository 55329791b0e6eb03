// keyed.ts — converters for the shapes fixed by their key names: alpaca (+history, list-valued, `instruct`),
// input/target, single-turn Q&A, preference pairs, the ranking tool's JSON and TSV. Detection is shapes.ts's; turn
// normalising (and its counting) is turns.ts's. Each converter throws RecordError naming the field.
import { RecordError } from '../errors.js';
import { isPacked, normaliseTurns, pairsToTurns, parsePackedPrompt, type TurnContext } from './turns.js';
import type { Conversation, ConversationMeta, PreferenceSet, Turn } from '../types.js';

export type Obj = Record<string, unknown>;

export function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/** A string field, or a one-element list of strings (Huatuo-26M); anything else is a RecordError. */
export function str(o: Obj, key: string, opt = false): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) {
    if (opt) return undefined;
    throw new RecordError(key, 'missing');
  }
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    if (v.length === 1 && typeof v[0] === 'string') return v[0];
    throw new RecordError(key, `list of ${v.length} values; expected one string (refusing to pick or join)`);
  }
  throw new RecordError(key, `expected a string, got ${typeName(v)}`);
}

/** Pairs for preference sets, whose history is not normalised: an empty turn there is an error, not a drop. */
function strictPairs(h: unknown, field: string): Turn[] {
  const t = pairsToTurns(h, field);
  t.forEach((x, i) => { if (x.text.trim() === '') throw new RecordError(`${field}[${i >> 1}][${i & 1}]`, 'empty turn'); });
  return t;
}

export function meta(o: Obj, shape: string): ConversationMeta {
  const m: ConversationMeta = { shape };
  const id = o.id ?? o._id ?? o.sample_id ?? o.dialogue_id ?? o.dialog_id;
  if ((typeof id === 'string' && id !== '') || typeof id === 'number') m.id = String(id);
  const dep = o.cate1 ?? o.department ?? o.Department ?? o.cate;
  if (typeof dep === 'string' && dep !== '') m.department = dep;
  const sub = o.cate2 ?? o.subDepartment;
  if (typeof sub === 'string' && sub !== '') m.subDepartment = sub;
  if (o.safety === true) m.safety = true;
  const extra: Record<string, string> = {};
  for (const k of ['title', 'label', 'task_type', 'task_dataset', 'source', 'ICD-10', 'type', 'model'])
    if (typeof o[k] === 'string' && o[k] !== '') extra[k] = o[k] as string;
  if (Object.keys(extra).length) m.extra = extra;
  return m;
}

export function conversation(turns: Turn[], m: ConversationMeta, where: string, cx: TurnContext): Conversation {
  return { kind: 'conversation', turns: normaliseTurns(turns, where, cx), meta: m };
}

export function alpaca(o: Obj, cx: TurnContext): Conversation {
  const ik = 'instruction' in o ? 'instruction' : 'instruct';
  const instruction = str(o, ik)!;
  const input = str(o, 'input', true) ?? '';
  const output = str(o, 'output')!;
  if (instruction.trim() === '' && input.trim() === '') throw new RecordError(ik, 'empty instruction');
  const m = meta(o, 'alpaca');
  if (ik === 'instruct') m.safety = true;
  const turns: Turn[] = [];
  const system = str(o, 'system', true);
  if (system && system.trim()) turns.push({ role: 'system', text: system });
  turns.push(...pairsToTurns(o.history, 'history'));
  let prompt = input.trim() ? `${instruction}\n${input}` : instruction;
  if (isPacked(prompt)) {
    turns.push(...parsePackedPrompt(prompt));
    cx.notes.layout = 'alpaca with an inline history in the instruction';
    prompt = '';
  }
  if (prompt !== '') {
    if (prompt.trim() === '') throw new RecordError(ik, 'empty instruction');
    turns.push({ role: 'user', text: prompt });
  }
  if (output.trim() === '') throw new RecordError('output', 'empty answer');
  turns.push({ role: 'assistant', text: output });
  return conversation(turns, m, ik, cx);
}

export function inputTarget(o: Obj, cx: TurnContext): Conversation {
  const input = str(o, 'input')!;
  const target = str(o, 'target', true) ?? '';
  const m = meta(o, 'input-target');
  let turns: Turn[];
  if (isPacked(input)) { turns = parsePackedPrompt(input); cx.notes.layout = 'input-target with an inline history in the input'; }
  else turns = [{ role: 'user', text: input }];
  // an empty target is a hidden label (PromptCBLUE test): a prompt without an answer, not an empty turn
  if (target.trim() !== '') turns.push({ role: 'assistant', text: target });
  return conversation(turns, m, 'input', cx);
}

export const QA_QUESTION = ['query', 'question', 'ask', 'medical_case', 'first_question', 'prompt'];
const QA_ANSWER = ['response', 'answer', 'doctor_diagnosis', 'raw_anwser', 'raw_answer', 'output'];
const CHATMED_WRAP = /^\s*(?:<s>)?\s*问[:：]\s*([\s\S]*?)\s*答[:：]\s*$/;

export function qa(o: Obj, cx: TurnContext): Conversation {
  const qk = QA_QUESTION.find((k) => typeof o[k] === 'string' || Array.isArray(o[k]))!;
  let q = str(o, qk)!;
  const w = CHATMED_WRAP.exec(q);
  if (w) q = w[1]!;
  if (q.trim() === '') throw new RecordError(qk, 'empty question');
  const ak = QA_ANSWER.find((k) => k in o);
  let turns: Turn[];
  if (isPacked(q)) { turns = parsePackedPrompt(q); cx.notes.layout = 'qa with an inline history in the question'; }
  else turns = [{ role: 'user', text: q }];
  if (ak) {
    const a = str(o, ak)!;
    if (a.trim() === '') throw new RecordError(ak, 'empty answer');
    turns.push({ role: 'assistant', text: a });
  }
  return conversation(turns, meta(o, 'qa'), qk, cx);
}

export function preferencePair(o: Obj): PreferenceSet {
  const pk = 'question' in o ? 'question' : 'prompt';
  const ck = 'response_chosen' in o ? 'response_chosen' : 'chosen';
  const rk = 'response_rejected' in o ? 'response_rejected' : 'rejected';
  const prompt = str(o, pk)!, chosen = str(o, ck)!, rejected = str(o, rk)!;
  if (prompt.trim() === '') throw new RecordError(pk, 'empty prompt');
  if (chosen.trim() === '') throw new RecordError(ck, 'empty answer');
  if (rejected.trim() === '') throw new RecordError(rk, 'empty answer');
  const s: PreferenceSet = {
    kind: 'preference', history: strictPairs(o.history, 'history'), prompt,
    candidates: [{ id: 'chosen', text: chosen, source: 'chosen' }, { id: 'rejected', text: rejected, source: 'rejected' }],
    ranking: chosen === rejected ? [['chosen', 'rejected']] : [['chosen'], ['rejected']],
  };
  if (typeof o.id === 'string' || typeof o.id === 'number') s.id = String(o.id);
  return s;
}

/** The RLHF labelling tool's input: {query, history, response_0..response_K-1}, unranked. */
export function rankingTool(o: Obj, key: string | undefined): PreferenceSet {
  const prompt = str(o, 'query')!;
  if (prompt.trim() === '') throw new RecordError('query', 'empty query');
  const candidates = [];
  for (let k = 0; `response_${k}` in o; k++) {
    const t = str(o, `response_${k}`)!;
    if (t.trim() === '') throw new RecordError(`response_${k}`, 'empty response');
    candidates.push({ id: `c${k}`, text: t, source: `response_${k}` });
  }
  const s: PreferenceSet = { kind: 'preference', history: strictPairs(o.history, 'history'), prompt, candidates, ranking: [] };
  const id = o.id ?? key;
  if (typeof id === 'string' || typeof id === 'number') s.id = String(id);
  return s;
}

/** The labelling tool's TSV output: id, query, history (JSON text), rank1..rankK, best first. */
export function rankingTsv(o: Obj): PreferenceSet {
  const prompt = str(o, 'query')!;
  let hist: unknown = [];
  const h = o.history;
  if (typeof h === 'string' && h.trim() !== '') {
    try { hist = JSON.parse(h); } catch { throw new RecordError('history', 'not valid JSON text'); }
  } else if (Array.isArray(h)) hist = h;
  const candidates = [];
  for (let k = 1; `rank${k}` in o; k++) {
    const t = str(o, `rank${k}`)!;
    if (t.trim() === '') throw new RecordError(`rank${k}`, 'empty response');
    candidates.push({ id: `c${k - 1}`, text: t, source: `rank${k}` });
  }
  if (candidates.length < 2) throw new RecordError('rank2', 'fewer than 2 ranked responses');
  const s: PreferenceSet = {
    kind: 'preference', history: strictPairs(hist, 'history'), prompt, candidates,
    ranking: candidates.map((c) => [c.id]),
  };
  if (typeof o.id === 'string' && o.id !== '') s.id = o.id;
  return s;
}

/**
 * A record that matches no shape but holds most of one: the missing field named (`instruction: missing`), so the
 * user fixes the field instead of reading "unsupported shape". Undefined when no shape is close.
 */
export function nearMiss(o: Obj): RecordError | undefined {
  const has = (k: string) => o[k] !== undefined;
  if (has('output') && (has('input') || has('history') || has('system'))) return new RecordError('instruction', 'missing (the record has the other alpaca fields: ' + ['input', 'output', 'history', 'system'].filter(has).join(', ') + ')');
  if ((has('instruction') || has('instruct')) && !has('output')) return new RecordError('output', `missing (the record has ${has('instruction') ? 'instruction' : 'instruct'}${has('input') ? ', input' : ''})`);
  if (has('target') && !has('input')) return new RecordError('input', 'missing (the record has target)');
  if ((has('chosen') || has('response_chosen')) && !(has('rejected') || has('response_rejected'))) return new RecordError(has('chosen') ? 'rejected' : 'response_rejected', 'missing (the record has a chosen answer)');
  if ((has('rejected') || has('response_rejected')) && !(has('chosen') || has('response_chosen'))) return new RecordError(has('rejected') ? 'chosen' : 'response_chosen', 'missing (the record has a rejected answer)');
  if (has('candidates') && !has('ranking')) return new RecordError('ranking', 'missing (the record has candidates; [] for not ranked yet)');
  if ((has('opa') && has('opb')) || (has('A') && has('B') && has('answer'))) return new RecordError('question', 'missing (the record has options)');
  return undefined;
}
