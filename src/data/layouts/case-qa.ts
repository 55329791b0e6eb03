// case-qa.ts — clinical-case sets (a case description plus an ordered list of question/answer pairs, as in CMB-Clin's
// description + QA_pairs) → one multi-turn conversation: the case and the first question open it, each answer is a
// doctor turn, each later question a patient-side turn. Detection needs both a case text and a list of pairs.
import { RecordError } from '../errors.js';
import type { Turn } from '../types.js';

type Obj = Record<string, unknown>;
const CASE_KEYS = ['description', 'case', 'case_description', 'medical_record', 'clinical_case', 'background', 'context', '病例', '病历', '病例摘要', '病历摘要', '病情描述'];
const PAIR_LIST_KEYS = ['QA_pairs', 'qa_pairs', 'qa', 'QA', 'qas', 'questions', 'qa_list', '问答'];
const Q_KEYS = ['question', 'q', 'query', '问题'];
const A_KEYS = ['answer', 'solution', 'a', 'response', 'reference', '答案'];

export interface CaseQaLayout { caseKey: string; listKey: string; qKey: string; aKey?: string }

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function findCaseQa(o: Obj): CaseQaLayout | undefined {
  const caseKey = CASE_KEYS.find((k) => typeof o[k] === 'string');
  const listKey = PAIR_LIST_KEYS.find((k) => Array.isArray(o[k]) && (o[k] as unknown[]).length > 0 && (o[k] as unknown[]).every(isObj));
  if (!caseKey || !listKey) return undefined;
  const keys = new Set((o[listKey] as Obj[]).flatMap((p) => Object.keys(p)));
  const qKey = Q_KEYS.find((k) => keys.has(k)), aKey = A_KEYS.find((k) => keys.has(k));
  if (!qKey) return undefined;
  return aKey ? { caseKey, listKey, qKey, aKey } : { caseKey, listKey, qKey };
}

/** The turns: [case + q1, a1, q2, a2, …]. A pair without a question or answer string is an error at its index. */
export function caseQaTurns(o: Obj, l: CaseQaLayout): Turn[] {
  const c = (o[l.caseKey] as string).trim();
  if (c === '') throw new RecordError(l.caseKey, 'empty case description');
  const turns: Turn[] = [];
  (o[l.listKey] as Obj[]).forEach((p, i) => {
    if (!l.aKey) throw new RecordError(`${l.listKey}[${i}]`, `answer missing (none of ${A_KEYS.join(', ')})`);
    const q = p[l.qKey], a = p[l.aKey];
    if (typeof q !== 'string') throw new RecordError(`${l.listKey}[${i}].${l.qKey}`, q === undefined ? 'missing' : `expected a string, got ${q === null ? 'null' : typeof q}`);
    if (typeof a !== 'string') throw new RecordError(`${l.listKey}[${i}].${l.aKey}`, a === undefined ? 'missing' : `expected a string, got ${a === null ? 'null' : typeof a}`);
    turns.push({ role: 'user', text: i === 0 ? `${c}\n${q}` : q }, { role: 'assistant', text: a });
  });
  return turns;
}

export function describeCaseQa(l: CaseQaLayout): string {
  return `case '${l.caseKey}' + question/answer pairs under '${l.listKey}' (${l.qKey}/${l.aKey ?? '?'})`;
}
