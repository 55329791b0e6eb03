// choice.ts — multiple-choice records as the field publishes them: options as separate keys (A…F, opa…opf,
// option_a, optionA, option1), as a list (plain, 'A. …'-prefixed, or {key, text} objects) or as a dict; the gold as a
// letter, an option key, the option's text, or an index (MedMCQA's `cop` is 1-based; any other index needs
// --gold-index 0|1). Also names the reserved keys, so eval can tell prediction columns from item fields.
import { RecordError } from '../errors.js';
import type { MultipleChoice } from '../types.js';

type Obj = Record<string, unknown>;
export const LETTERS = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H'];
export const QUESTION_KEYS = ['question', 'Question', 'stem', 'question_text', '题目', '题干'];
export const OPTION_LIST_KEYS = ['options', 'choices', 'option', 'Options', '选项'];
export const GOLD_KEYS = ['answer', 'Answer', 'cop', 'label', 'gold', 'answer_idx', 'correct_answer', 'answerKey', 'answer_key', 'correct', '答案'];
export const SUBJECT_KEYS = ['subject', 'subject_name', 'category', 'exam_type', 'exam_subject', '科目'];
export const ID_KEYS = ['id', 'ID', 'qid', 'question_id', '', 'index'];
export const OTHER_ITEM_KEYS = ['explanation', 'exp', 'analysis', '解析', 'split', 'choice_type', 'topic_name', 'meta_info', 'source'];

/** 'opb' / 'option_b' / 'optionB' / 'choice_b' / 'option2' → 'B'; 'B' → 'B'; anything else → undefined. */
export function optionKeyLetter(k: string): string | undefined {
  if (/^[A-H]$/.test(k)) return k;
  let m = /^(?:op|option_?|choice_?)([a-h])$/i.exec(k);
  if (m) return m[1]!.toUpperCase();
  m = /^(?:option_?|choice_?)([1-8])$/i.exec(k);
  if (m) return LETTERS[Number(m[1]) - 1];
  return undefined;
}

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

function optionText(v: unknown, field: string): string {
  if (typeof v === 'string' || typeof v === 'number') return String(v);
  throw new RecordError(field, `expected option text, got ${typeName(v)}`);
}

const LETTER_PREFIX = /^\s*[(（]?([A-H])[)）]?\s*[.．、:：]\s*/;

/** Options from a list: strings (a leading 'A. ' is removed when every option carries its own letter in order) or objects. */
function fromList(list: unknown[], key: string): { key: string; text: string }[] {
  if (list.every((x) => typeof x === 'string' || typeof x === 'number')) {
    const s = list.map(String);
    const lettered = s.every((x, i) => LETTER_PREFIX.exec(x)?.[1] === LETTERS[i]);
    return s.map((x, i) => ({ key: LETTERS[i]!, text: lettered ? x.replace(LETTER_PREFIX, '') : x }));
  }
  return list.map((x, i) => {
    if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new RecordError(`${key}[${i}]`, `expected option text or {key, text}, got ${typeName(x)}`);
    const o = x as Obj;
    const t = o.text ?? o.value ?? o.content;
    const k = o.key ?? o.label ?? o.letter;
    const letter = typeof k === 'string' ? optionKeyLetter(k.trim().toUpperCase()) ?? optionKeyLetter(k.trim()) : LETTERS[i];
    if (letter !== LETTERS[i]) throw new RecordError(`${key}[${i}]`, `option key ${JSON.stringify(k)} is not ${LETTERS[i]} (options must be in order)`);
    return { key: letter!, text: optionText(t, `${key}[${i}].text`) };
  });
}

/** The options of a record and where they were found, or undefined when it has none. */
export function optionsOf(o: Obj): { options: { key: string; text: string }[]; from: string } | undefined {
  const lk = OPTION_LIST_KEYS.find((k) => Array.isArray(o[k]) || (typeof o[k] === 'object' && o[k] !== null));
  if (lk) {
    const v = o[lk];
    if (Array.isArray(v)) return { options: fromList(v, lk), from: `list '${lk}'` };
    const entries = Object.entries(v as Obj).map(([k, t]) => ({ letter: optionKeyLetter(k) ?? optionKeyLetter(k.toUpperCase()), k, t }));
    const bad = entries.find((e) => !e.letter);
    if (bad) throw new RecordError(`${lk}.${bad.k}`, 'not an option key (A…H, opa…, option_a…)');
    entries.sort((a, b) => a.letter!.localeCompare(b.letter!));
    return { options: entries.map((e) => ({ key: e.letter!, text: optionText(e.t, `${lk}.${e.k}`) })), from: `dict '${lk}'` };
  }
  const keyed = Object.keys(o).map((k) => ({ k, letter: optionKeyLetter(k) })).filter((x) => x.letter && o[x.k] !== undefined);
  if (keyed.length < 2) return undefined;
  const letters = new Set(keyed.map((x) => x.letter));
  if (letters.size !== keyed.length) throw new RecordError('options', `the same option under several keys (${keyed.map((x) => x.k).join(', ')})`);
  keyed.sort((a, b) => a.letter!.localeCompare(b.letter!));
  return { options: keyed.map((x) => ({ key: x.letter!, text: optionText(o[x.k], x.k) })), from: `keys ${keyed.map((x) => x.k).join('/')}` };
}

export function isChoice(o: Obj): boolean {
  if (!QUESTION_KEYS.some((k) => k in o)) return false;
  if (OPTION_LIST_KEYS.some((k) => typeof o[k] === 'object' && o[k] !== null)) return true;
  return Object.keys(o).filter((k) => optionKeyLetter(k)).length >= 2;
}

export interface GoldOptions {
  /** base of numeric gold indices outside MedMCQA's `cop` (which is 1-based) */
  goldIndexBase?: 0 | 1;
}

/**
 * A gold (or predicted) value → an option letter. Returns null for an empty value (no answer). Throws RecordError
 * with the reason for anything else that names no single option.
 */
export function resolveChoice(raw: unknown, options: { key: string; text: string }[], field: string, o: GoldOptions = {}): string | null {
  if (raw === undefined || raw === null) return null;
  const keys = options.map((x) => x.key);
  if (typeof raw === 'number' || (typeof raw === 'string' && /^\s*\d+\s*$/.test(raw))) {
    const n = Number(raw);
    const base = field === 'cop' ? 1 : o.goldIndexBase;
    if (base === undefined) throw new RecordError(field, `numeric answer ${n}: is it 0- or 1-based? pass --gold-index 0 or --gold-index 1`);
    const i = n - base;
    if (!(Number.isInteger(i) && i >= 0 && i < options.length)) throw new RecordError(field, `option index ${n} out of range ${base}..${options.length - 1 + base}`);
    return keys[i]!;
  }
  if (typeof raw !== 'string') throw new RecordError(field, `expected a letter, option key, option text or index, got ${typeName(raw)}`);
  const s = raw.trim();
  if (s === '') return null;
  const up = s.toUpperCase();
  if (/^[A-Z]$/.test(up)) {
    if (!keys.includes(up)) throw new RecordError(field, `answer '${raw}' is not one of ${keys.join('')}`);
    return up;
  }
  const k = optionKeyLetter(s) ?? optionKeyLetter(s.toLowerCase());
  if (k) {
    if (!keys.includes(k)) throw new RecordError(field, `answer '${raw}' names option ${k}, not one of ${keys.join('')}`);
    return k;
  }
  const byText = options.filter((x) => x.text.trim() === s);
  if (byText.length === 1) return byText[0]!.key;
  if (byText.length > 1) throw new RecordError(field, `answer text '${s}' matches options ${byText.map((x) => x.key).join(', ')}`);
  const lp = LETTER_PREFIX.exec(s);
  if (lp && keys.includes(lp[1]!)) {
    const rest = s.replace(LETTER_PREFIX, '').trim();
    const opt = options.find((x) => x.key === lp[1]);
    if (rest === '' || opt!.text.trim() === rest) return lp[1]!;
  }
  if (/^[A-H]{2,}$/.test(up)) throw new RecordError(field, `several answers (${up}): a multi-select item, not single choice`);
  throw new RecordError(field, `answer '${s.slice(0, 40)}' is not a letter, option key, option text or index`);
}

function pickKey(o: Obj, keys: string[]): string | undefined {
  return keys.find((k) => k in o);
}

export function toChoice(o: Obj, opts: GoldOptions = {}): MultipleChoice {
  const qk = pickKey(o, QUESTION_KEYS)!;
  const q = o[qk];
  if (typeof q !== 'string') throw new RecordError(qk, q === undefined || q === null ? 'missing' : `expected a string, got ${typeName(q)}`);
  if (q.trim() === '') throw new RecordError(qk, 'empty question');
  const found = optionsOf(o);
  if (!found) throw new RecordError('options', 'missing (no A…/opa…/option_a keys and no options list)');
  const { options } = found;
  if (options.length < 2) throw new RecordError('options', `expected at least 2 options, got ${options.length}`);
  options.forEach((op, i) => { if (op.key !== LETTERS[i]) throw new RecordError(`option ${LETTERS[i]}`, 'missing option (options must be contiguous)'); });
  const mc: MultipleChoice = { kind: 'choice', question: q, options, answerMissing: true };
  const ak = pickKey(o, GOLD_KEYS);
  const a = ak ? resolveChoice(o[ak], options, ak, opts) : null;
  if (a) { mc.answer = a; mc.answerMissing = false; }
  const idk = pickKey(o, ID_KEYS);
  const id = idk === undefined ? undefined : o[idk];
  if (typeof id === 'string' || typeof id === 'number') mc.id = String(id);
  const ex = o.explanation ?? o.exp ?? o.analysis ?? o['解析'];
  if (typeof ex === 'string' && ex !== '') mc.explanation = ex;
  const sk = pickKey(o, SUBJECT_KEYS);
  if (sk && (typeof o[sk] === 'string' || typeof o[sk] === 'number') && String(o[sk]) !== '') mc.subject = String(o[sk]);
  return mc;
}
