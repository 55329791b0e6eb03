// shapes.ts — recognises the record shapes of the field's medical datasets and converts one raw record into the
// internal model (types.ts): alpaca(+history, list-valued, `instruct`), ShareGPT, OpenAI messages, mapped turn
// lists, packed speaker-prefixed strings, input/target, single-turn Q&A, preference pairs, ranking-tool JSON/TSV,
// our ranking format, plain text, multiple choice. Throws RecordError; never guesses a half-parse.
import { RecordError } from './errors.js';
import { rankingToPreferenceSet, validateRanking, type RankingRecord } from './ranking-format.js';
import type { Conversation, ConversationMeta, DataRecord, MultipleChoice, PreferenceSet, Role, Turn } from './types.js';

export const shapeNames = [
  'ranking', 'ranking-tool', 'ranking-tsv', 'preference-pair', 'sharegpt', 'messages', 'mapped-turns',
  'multiple-choice', 'alpaca', 'input-target', 'qa', 'text',
] as const;
export type ShapeName = (typeof shapeNames)[number];

export interface TurnMap {
  /** key of the array of turn objects (default: first array of objects found) */
  turns?: string;
  speaker: string;
  text: string;
  /** extra speaker values meaning user / assistant */
  user?: string[];
  assistant?: string[];
}

export interface ShapeOptions {
  /** 'auto' (default), 'text' (any record as plain text) or one shape forced */
  as?: 'auto' | ShapeName;
  map?: TurnMap;
}

type Obj = Record<string, unknown>;

const USER_NAMES = new Set(['user', 'human', 'patient', 'Patient', 'Human', 'USER', '病人', '患者', '用户', 'client', 'customer']);
const ASSISTANT_NAMES = new Set(['assistant', 'gpt', 'bot', 'doctor', 'Doctor', 'model', 'chatgpt', 'Assistant', 'ASSISTANT', '医生', 'AI']);

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A string field, or a one-element list of strings (Huatuo-26M); anything else is a RecordError. */
function str(o: Obj, key: string, opt = false): string | undefined {
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

function roleOf(speaker: unknown, field: string, map?: TurnMap): Role {
  if (typeof speaker !== 'string') throw new RecordError(field, `expected a speaker string, got ${typeName(speaker)}`);
  if (map?.user?.includes(speaker)) return 'user';
  if (map?.assistant?.includes(speaker)) return 'assistant';
  if (USER_NAMES.has(speaker)) return 'user';
  if (ASSISTANT_NAMES.has(speaker)) return 'assistant';
  if (speaker === 'system' || speaker === 'System') return 'system';
  throw new RecordError(field, `unknown speaker '${speaker}' (name it with --map user=${speaker} or assistant=${speaker})`);
}

/**
 * Merges consecutive turns of the same speaker, checks that no turn is empty and that a user speaks before the
 * assistant. A trailing empty assistant slot (BianQue's '医生：' at the end) is removed by the caller, not here.
 */
export function normaliseTurns(turns: Turn[], where = 'turns'): Turn[] {
  const out: Turn[] = [];
  turns.forEach((t, i) => {
    if (t.text.trim() === '') throw new RecordError(`${where}[${i}]`, `empty ${t.role} turn`);
    const last = out[out.length - 1];
    if (last && last.role === t.role) last.text += '\n' + t.text;
    else out.push({ role: t.role, text: t.text });
  });
  const firstNonSystem = out.find((t) => t.role !== 'system');
  if (!firstNonSystem) throw new RecordError(where, 'no user or assistant turn');
  if (firstNonSystem.role !== 'user') throw new RecordError(where, 'the conversation starts with the assistant, not the user');
  if (out.some((t, i) => t.role === 'system' && i > 0)) throw new RecordError(where, 'a system turn after the first turn');
  return out;
}

// Speaker prefixes of packed histories: at the start, or after whitespace (<user>/<bot>) or a line break (Chinese).
// A packed history must open with the patient: a question that starts '医生：…' is a patient addressing the doctor
// (seen in the Toyhom data), not a doctor turn.
const PACKED_START = /^\s*(<user>|病人|患者)\s*[:：]/;
const PACKED_MARK = /(?:^|\s)(<user>|<bot>)\s*[:：]|(?:^|\n)\s*(病人|患者|医生)\s*[:：]/g;

export function isPacked(s: string): boolean {
  return PACKED_START.test(s);
}

/** '病人：…\n医生：…' or ' <user>: … <bot>: …' → turns (an empty final slot is kept as an empty turn). */
export function parsePacked(s: string): Turn[] {
  const marks: { role: Role; start: number; end: number }[] = [];
  for (const m of s.matchAll(PACKED_MARK)) {
    const who = m[1] ?? m[2]!;
    marks.push({ role: who === '<user>' || who === '病人' || who === '患者' ? 'user' : 'assistant', start: m.index!, end: m.index! + m[0].length });
  }
  return marks.map((m, i) => ({ role: m.role, text: s.slice(m.end, i + 1 < marks.length ? marks[i + 1]!.start : s.length).trim() }));
}

function pairsToTurns(h: unknown, field: string): Turn[] {
  if (h === undefined || h === null || h === '') return [];
  if (!Array.isArray(h)) throw new RecordError(field, `expected a list of [patient, doctor] pairs, got ${typeName(h)}`);
  const turns: Turn[] = [];
  h.forEach((p, i) => {
    if (!Array.isArray(p) || p.length !== 2) throw new RecordError(`${field}[${i}]`, `expected a [patient, doctor] pair, got ${Array.isArray(p) ? `${p.length} items` : typeName(p)}`);
    p.forEach((t, j) => {
      if (typeof t !== 'string') throw new RecordError(`${field}[${i}][${j}]`, `expected a string, got ${typeName(t)}`);
      if (t.trim() === '') throw new RecordError(`${field}[${i}][${j}]`, 'empty turn');
    });
    turns.push({ role: 'user', text: p[0] as string }, { role: 'assistant', text: p[1] as string });
  });
  return turns;
}

function meta(o: Obj, shape: string): ConversationMeta {
  const m: ConversationMeta = { shape };
  const id = o.id ?? o._id ?? o.sample_id;
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

function conversation(turns: Turn[], m: ConversationMeta, where = 'turns'): Conversation {
  return { kind: 'conversation', turns: normaliseTurns(turns, where), meta: m };
}

function fromTurnList(list: unknown, field: string, speakerKey: string, textKey: string, map?: TurnMap): Turn[] {
  if (!Array.isArray(list)) throw new RecordError(field, `expected an array of turns, got ${typeName(list)}`);
  if (list.length === 0) throw new RecordError(field, 'no turns');
  return list.map((t, i) => {
    if (!isObj(t)) throw new RecordError(`${field}[${i}]`, `expected an object, got ${typeName(t)}`);
    const text = t[textKey];
    if (typeof text !== 'string') throw new RecordError(`${field}[${i}].${textKey}`, `expected a string, got ${typeName(text)}`);
    return { role: roleOf(t[speakerKey], `${field}[${i}].${speakerKey}`, map), text };
  });
}

const MC_QUESTION = ['question', 'Question'];
const LETTERS = ['A', 'B', 'C', 'D', 'E', 'F'];
const OP_KEYS = ['opa', 'opb', 'opc', 'opd', 'ope', 'opf'];

function multipleChoice(o: Obj): MultipleChoice {
  const qk = MC_QUESTION.find((k) => k in o)!;
  const question = str(o, qk)!;
  if (question.trim() === '') throw new RecordError(qk, 'empty question');
  const keys = 'A' in o ? LETTERS : OP_KEYS;
  const options: { key: string; text: string }[] = [];
  keys.forEach((k, i) => {
    if (!(k in o)) return;
    const t = o[k];
    if (typeof t !== 'string' && typeof t !== 'number') throw new RecordError(k, `expected option text, got ${typeName(t)}`);
    options.push({ key: LETTERS[i]!, text: String(t) });
  });
  if (options.length < 2) throw new RecordError('options', `expected at least 2 options, got ${options.length}`);
  options.forEach((op, i) => { if (op.key !== LETTERS[i]) throw new RecordError(keys[i]!, 'missing option (options must be contiguous)'); });
  const ak = ['answer', 'Answer', 'cop', 'label'].find((k) => k in o);
  const raw = ak ? o[ak] : undefined;
  const mc: MultipleChoice = { kind: 'choice', question, options, answerMissing: true };
  if (raw !== undefined && raw !== null && String(raw).trim() !== '') {
    let a = String(raw).trim();
    const op = OP_KEYS.indexOf(a.toLowerCase());
    if (op >= 0) a = LETTERS[op]!;
    else if (ak === 'cop' && /^[0-9]$/.test(a)) {
      // MedMCQA's cop is 1-based in its releases; 0 is not an option there
      const n = Number(a);
      if (n < 1 || n > options.length) throw new RecordError(ak, `option index ${a} out of range 1..${options.length}`);
      a = LETTERS[n - 1]!;
    }
    a = a.toUpperCase();
    if (!options.some((x) => x.key === a)) throw new RecordError(ak!, `answer '${raw}' is not one of ${options.map((x) => x.key).join('')}`);
    mc.answer = a;
    mc.answerMissing = false;
  }
  const id = o.id ?? o[''];
  if (typeof id === 'string' || typeof id === 'number') mc.id = String(id);
  if (typeof o.explanation === 'string' && o.explanation !== '') mc.explanation = o.explanation;
  if (typeof o.subject === 'string' || typeof o.subject_name === 'string') mc.subject = String(o.subject ?? o.subject_name);
  return mc;
}

function alpaca(o: Obj): Conversation {
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
    const packed = parsePacked(prompt);
    if (packed.length && packed[packed.length - 1]!.role === 'assistant' && packed[packed.length - 1]!.text === '') packed.pop();
    turns.push(...packed);
    prompt = '';
  }
  if (prompt !== '') {
    if (prompt.trim() === '') throw new RecordError(ik, 'empty instruction');
    turns.push({ role: 'user', text: prompt });
  }
  if (output.trim() === '') throw new RecordError('output', 'empty answer');
  turns.push({ role: 'assistant', text: output });
  return conversation(turns, m, ik);
}

function inputTarget(o: Obj): Conversation {
  const input = str(o, 'input')!;
  const target = str(o, 'target', true) ?? '';
  const m = meta(o, 'input-target');
  let turns: Turn[];
  if (isPacked(input)) {
    turns = parsePacked(input);
    if (turns.length && turns[turns.length - 1]!.role === 'assistant' && turns[turns.length - 1]!.text === '') turns.pop();
  } else turns = [{ role: 'user', text: input }];
  // an empty target is a hidden label (PromptCBLUE test): a prompt without an answer, not an empty turn
  if (target.trim() !== '') turns.push({ role: 'assistant', text: target });
  return conversation(turns, m, 'input');
}

const QA_QUESTION = ['query', 'question', 'ask', 'medical_case', 'first_question', 'prompt'];
const QA_ANSWER = ['response', 'answer', 'doctor_diagnosis', 'raw_anwser', 'raw_answer', 'output'];
const CHATMED_WRAP = /^\s*(?:<s>)?\s*问[:：]\s*([\s\S]*?)\s*答[:：]\s*$/;

function qa(o: Obj): Conversation {
  const qk = QA_QUESTION.find((k) => typeof o[k] === 'string' || Array.isArray(o[k]))!;
  let q = str(o, qk)!;
  const w = CHATMED_WRAP.exec(q);
  if (w) q = w[1]!;
  if (q.trim() === '') throw new RecordError(qk, 'empty question');
  const ak = QA_ANSWER.find((k) => k in o);
  const turns: Turn[] = isPacked(q) ? parsePacked(q).filter((t, i, a) => !(i === a.length - 1 && t.role === 'assistant' && t.text === '')) : [{ role: 'user', text: q }];
  if (ak) {
    const a = str(o, ak)!;
    if (a.trim() === '') throw new RecordError(ak, 'empty answer');
    turns.push({ role: 'assistant', text: a });
  }
  return conversation(turns, meta(o, 'qa'), qk);
}

function preferencePair(o: Obj): PreferenceSet {
  const pk = 'question' in o ? 'question' : 'prompt';
  const ck = 'response_chosen' in o ? 'response_chosen' : 'chosen';
  const rk = 'response_rejected' in o ? 'response_rejected' : 'rejected';
  const prompt = str(o, pk)!, chosen = str(o, ck)!, rejected = str(o, rk)!;
  if (prompt.trim() === '') throw new RecordError(pk, 'empty prompt');
  if (chosen.trim() === '') throw new RecordError(ck, 'empty answer');
  if (rejected.trim() === '') throw new RecordError(rk, 'empty answer');
  const s: PreferenceSet = {
    kind: 'preference', history: pairsToTurns(o.history, 'history'), prompt,
    candidates: [{ id: 'chosen', text: chosen, source: 'chosen' }, { id: 'rejected', text: rejected, source: 'rejected' }],
    ranking: chosen === rejected ? [['chosen', 'rejected']] : [['chosen'], ['rejected']],
  };
  if (typeof o.id === 'string' || typeof o.id === 'number') s.id = String(o.id);
  return s;
}

/** The RLHF labelling tool's input: {query, history, response_0..response_K-1}, unranked. */
function rankingTool(o: Obj, key: string | undefined): PreferenceSet {
  const prompt = str(o, 'query')!;
  if (prompt.trim() === '') throw new RecordError('query', 'empty query');
  const candidates = [];
  for (let k = 0; `response_${k}` in o; k++) {
    const t = str(o, `response_${k}`)!;
    if (t.trim() === '') throw new RecordError(`response_${k}`, 'empty response');
    candidates.push({ id: `c${k}`, text: t, source: `response_${k}` });
  }
  const s: PreferenceSet = { kind: 'preference', history: pairsToTurns(o.history, 'history'), prompt, candidates, ranking: [] };
  const id = o.id ?? key;
  if (typeof id === 'string' || typeof id === 'number') s.id = String(id);
  return s;
}

/** The labelling tool's TSV output: id, query, history (JSON text), rank1..rankK, best first. */
function rankingTsv(o: Obj): PreferenceSet {
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
    kind: 'preference', history: pairsToTurns(hist, 'history'), prompt, candidates,
    ranking: candidates.map((c) => [c.id]),
  };
  if (typeof o.id === 'string' && o.id !== '') s.id = o.id;
  return s;
}

const TURN_LIST_KEYS = ['conversations', 'messages', 'conversation'];

function turnListKey(v: Obj): string | undefined {
  return TURN_LIST_KEYS.find((k) => Array.isArray(v[k]));
}

/** Which shape a raw record has, or undefined. Order matters: more specific shapes first. */
export function detectShape(v: unknown, map?: TurnMap): ShapeName | undefined {
  if (typeof v === 'string') return 'text';
  if (!isObj(v)) return undefined;
  if ('candidates' in v && 'ranking' in v) return 'ranking';
  if ('query' in v && 'response_0' in v) return 'ranking-tool';
  if ('query' in v && 'rank1' in v) return 'ranking-tsv';
  if (('question' in v || 'prompt' in v) && ('response_chosen' in v || 'chosen' in v) && ('response_rejected' in v || 'rejected' in v)) return 'preference-pair';
  if (map) return 'mapped-turns';
  const tk = turnListKey(v);
  if (tk) {
    const first = (v[tk] as unknown[]).find(isObj);
    if (first && 'from' in first && 'value' in first) return 'sharegpt';
    if (first && 'role' in first && 'content' in first) return 'messages';
  }
  if (MC_QUESTION.some((k) => k in v) && (('A' in v && 'B' in v) || ('opa' in v && 'opb' in v))) return 'multiple-choice';
  if (('instruction' in v || 'instruct' in v) && 'output' in v) return 'alpaca';
  if ('input' in v && 'target' in v) return 'input-target';
  if (QA_QUESTION.some((k) => typeof v[k] === 'string' || (Array.isArray(v[k]) && (v[k] as unknown[]).length === 1))) return 'qa';
  if (typeof v.text === 'string' || typeof v.content === 'string') return 'text';
  return undefined;
}

/** All string leaves of a value, in order: how `--as text` reads a record of any shape. */
function allText(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') { if (v.trim()) out.push(v); }
  else if (Array.isArray(v)) v.forEach((x) => allText(x, out));
  else if (isObj(v)) Object.values(v).forEach((x) => allText(x, out));
  return out;
}

export function describeKeys(v: unknown): string {
  if (isObj(v)) return `keys: ${Object.keys(v).slice(0, 12).join(', ') || '(none)'}`;
  const t = typeName(v);
  return `${/^[aeiou]/.test(t) ? 'an' : 'a'} ${t} at the top of the record`;
}

export class UnsupportedShape extends RecordError {
  constructor(v: unknown) {
    super('shape', `unsupported shape (${describeKeys(v)}); read it with --as text, map turns with --map, or see docs/data-formats.md`);
  }
}

/** One raw record → one internal record. `key` is the member name when the file is a JSON object. */
export function toRecord(v: unknown, key?: string, opts: ShapeOptions = {}): { record: DataRecord; shape: ShapeName } {
  const forced = opts.as && opts.as !== 'auto' ? opts.as : undefined;
  if (forced === 'text') {
    const t = allText(v).join('\n');
    if (t.trim() === '') throw new RecordError('text', 'no text');
    return { record: { kind: 'text', text: t }, shape: 'text' };
  }
  const shape = forced ?? detectShape(v, opts.map);
  if (!shape) throw new UnsupportedShape(v);
  if (typeof v === 'string') {
    if (shape !== 'text') throw new RecordError('record', `a bare string cannot be read as ${shape}`);
    if (v.trim() === '') throw new RecordError('text', 'empty text');
    return { record: { kind: 'text', text: v }, shape };
  }
  if (!isObj(v)) throw new UnsupportedShape(v);
  switch (shape) {
    case 'ranking': {
      const p = validateRanking(v);
      if (p.length) throw new RecordError(p[0]!.field, p[0]!.reason + (p.length > 1 ? ` (+${p.length - 1} more problems)` : ''));
      return { record: rankingToPreferenceSet(v as unknown as RankingRecord), shape };
    }
    case 'ranking-tool': return { record: rankingTool(v, key), shape };
    case 'ranking-tsv': return { record: rankingTsv(v), shape };
    case 'preference-pair': return { record: preferencePair(v), shape };
    case 'sharegpt':
    case 'messages': {
      const k = turnListKey(v);
      if (!k) throw new RecordError('conversations', `no list of turns (expected one of ${TURN_LIST_KEYS.join(', ')})`);
      const [sp, tx] = shape === 'sharegpt' ? ['from', 'value'] : ['role', 'content'];
      return { record: conversation(fromTurnList(v[k], k, sp, tx), meta(v, shape), k), shape };
    }
    case 'mapped-turns': {
      const map = opts.map;
      if (!map) throw new RecordError('map', 'mapped-turns needs --map speaker=…,text=…');
      const k = map.turns ?? Object.keys(v).find((x) => Array.isArray(v[x]) && (v[x] as unknown[]).some(isObj));
      if (!k) throw new RecordError('turns', `no array of turn objects found (${describeKeys(v)}); name it with --map turns=KEY`);
      return { record: conversation(fromTurnList(v[k], k, map.speaker, map.text, map), meta(v, shape), k), shape };
    }
    case 'multiple-choice': return { record: multipleChoice(v), shape };
    case 'alpaca': return { record: alpaca(v), shape };
    case 'input-target': return { record: inputTarget(v), shape };
    case 'qa': return { record: qa(v), shape };
    case 'text': {
      const t = typeof v.text === 'string' ? v.text : v.content;
      if (typeof t !== 'string' || t.trim() === '') throw new RecordError('text', 'empty text');
      const r: DataRecord = { kind: 'text', text: t };
      if (typeof v.title === 'string') r.meta = { title: v.title };
      return { record: r, shape };
    }
  }
}

/** Parses `speaker=role,text=content,turns=dialog,user=病人|患者,assistant=医生`. */
export function parseTurnMap(s: string): TurnMap {
  const m: Partial<TurnMap> = {};
  for (const part of s.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) throw new Error(`[data] --map: expected key=value, got '${part}'`);
    const k = part.slice(0, eq).trim(), val = part.slice(eq + 1).trim();
    if (k === 'speaker' || k === 'text' || k === 'turns') m[k] = val;
    else if (k === 'user' || k === 'assistant') m[k] = val.split('|');
    else throw new Error(`[data] --map: unknown key '${k}' (speaker, text, turns, user, assistant)`);
  }
  if (!m.speaker || !m.text) throw new Error('[data] --map needs at least speaker=KEY,text=KEY');
  return m as TurnMap;
}
