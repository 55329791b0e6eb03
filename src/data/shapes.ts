// shapes.ts — recognises the record shapes of the field's medical datasets and converts one raw record into the
// internal model (types.ts), saying what it detected and how it mapped speakers (LayoutNotes). Named shapes are
// converted in layouts/keyed.ts; dialogues under any key names in layouts/turn-objects.ts, prefixed.ts, case-qa.ts;
// multiple choice in layouts/choice.ts. Throws RecordError; an ambiguous layout names the flag that decides.
import { RecordError } from './errors.js';
import { rankingToPreferenceSet, validateRanking, type RankingRecord } from './ranking-format.js';
import { isChoice, toChoice } from './layouts/choice.js';
import { caseQaTurns, describeCaseQa, findCaseQa } from './layouts/case-qa.js';
import { internalMeta, internalPreference, internalTurns, isInternal } from './layouts/internal.js';
import { alpaca, conversation, inputTarget, meta, nearMiss, preferencePair, qa, QA_QUESTION, rankingTool, rankingTsv, typeName, type Obj } from './layouts/keyed.js';
import { findPrefixedList, prefixedTurns } from './layouts/prefixed.js';
import { roleOfLabel, type RoleLabels, type RoleTable } from './layouts/roles.js';
import { describeTurnObjects, findTurnObjects } from './layouts/turn-objects.js';
import { isPacked, noteLabel, parsePackedPrompt, turnContext, type DoctorFirst, type LayoutNotes, type TurnContext } from './layouts/turns.js';
import type { DataRecord, MultipleChoice, Role, Turn } from './types.js';

export { isPacked, parsePacked, normaliseTurns, type LayoutNotes, type DoctorFirst } from './layouts/turns.js';
export { parseRoles, type RoleLabels } from './layouts/roles.js';

export const shapeNames = [
  'internal', 'ranking', 'ranking-tool', 'ranking-tsv', 'preference-pair', 'sharegpt', 'messages', 'mapped-turns',
  'case-qa', 'turn-objects', 'prefixed-turns', 'multiple-choice', 'alpaca', 'input-target', 'qa', 'inline-history', 'text',
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
  /** speaker labels beyond the built-in ones (`--roles 家长=user`) */
  roles?: RoleLabels;
  /** a dialogue that opens with the doctor: keep that turn (default) or drop it */
  doctorFirst?: DoctorFirst;
  /** multiple choice: base of numeric gold indices (MedMCQA's `cop` is always 1-based) */
  goldIndexBase?: 0 | 1;
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const TURN_LIST_KEYS = ['conversations', 'messages', 'conversation'];
const DIALOGUE_STRING_KEYS = ['dialogue', 'dialog', 'conversation', 'history', 'text', 'content', '对话'];

function turnListKey(v: Obj): string | undefined {
  return TURN_LIST_KEYS.find((k) => Array.isArray(v[k]));
}

/** The key of a string that is a whole inline history ('病人：…\n医生：…' or '<user>: … <bot>: …'), if any. */
function inlineHistoryKey(v: Obj): string | undefined {
  return DIALOGUE_STRING_KEYS.find((k) => typeof v[k] === 'string' && isPacked(v[k] as string) && parsePackedPrompt(v[k] as string).some((t) => t.role === 'assistant'));
}

/**
 * Which shape a raw record has, or undefined. Order matters: more specific shapes first. Throws RecordError when
 * a record clearly holds a dialogue but its layout is ambiguous (the message names the deciding flag).
 */
export function detectShape(v: unknown, map?: TurnMap, roles: RoleTable = turnContext().roles): ShapeName | undefined {
  if (typeof v === 'string') return 'text';
  if (Array.isArray(v)) {
    if (findPrefixedList(v, roles) === null) return 'prefixed-turns';
    if (map) return 'mapped-turns';
    return findTurnObjects(v, roles) ? 'turn-objects' : undefined;
  }
  if (!isObj(v)) return undefined;
  if (isInternal(v)) return 'internal';
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
  if (findCaseQa(v)) return 'case-qa';
  if (findTurnObjects(v, roles)) return 'turn-objects';
  if (findPrefixedList(v, roles) !== undefined) return 'prefixed-turns';
  if (isChoice(v)) return 'multiple-choice';
  if (('instruction' in v || 'instruct' in v) && 'output' in v) return 'alpaca';
  if ('input' in v && 'target' in v) return 'input-target';
  if (QA_QUESTION.some((k) => typeof v[k] === 'string' || (Array.isArray(v[k]) && (v[k] as unknown[]).length === 1))) return 'qa';
  if (inlineHistoryKey(v)) return 'inline-history';
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

/** Turn objects → turns through the role table (or a --map's extra labels), counting every label used. */
function fromTurnList(list: unknown, field: string, speakerKey: string, textKey: string, cx: TurnContext, map?: TurnMap): Turn[] {
  if (!Array.isArray(list)) throw new RecordError(field, `expected an array of turns, got ${typeName(list)}`);
  if (list.length === 0) throw new RecordError(field, 'no turns');
  return list.map((t, i) => {
    if (!isObj(t)) throw new RecordError(`${field}[${i}]`, `expected an object, got ${typeName(t)}`);
    const text = t[textKey] ?? '';
    if (typeof text !== 'string') throw new RecordError(`${field}[${i}].${textKey}`, `expected a string, got ${typeName(text)}`);
    const sp = t[speakerKey];
    let role: Role;
    if (typeof sp === 'string' && map?.user?.includes(sp)) role = 'user';
    else if (typeof sp === 'string' && map?.assistant?.includes(sp)) role = 'assistant';
    else role = roleOfLabel(cx.roles, sp, `${field}[${i}].${speakerKey}`);
    noteLabel(cx.notes, sp as string, role);
    return { role, text };
  });
}

function multipleChoice(o: Obj, opts: ShapeOptions): MultipleChoice {
  return toChoice(o, opts.goldIndexBase === undefined ? {} : { goldIndexBase: opts.goldIndexBase });
}

function convert(v: unknown, shape: ShapeName, key: string | undefined, opts: ShapeOptions, cx: TurnContext): DataRecord {
  if (Array.isArray(v)) {
    if (shape === 'prefixed-turns') {
      const { turns, labels } = prefixedTurns(v as string[], 'record', cx.roles);
      labels.forEach((l, i) => noteLabel(cx.notes, l, turns[i]!.role));
      cx.notes.layout = 'role-prefixed strings as the record';
      return conversation(turns, { shape }, 'record', cx);
    }
    if (shape === 'turn-objects' || shape === 'mapped-turns') {
      const l = shape === 'mapped-turns' ? { listKey: null, speakerKey: opts.map!.speaker, textKey: opts.map!.text } : findTurnObjects(v, cx.roles);
      if (!l) throw new RecordError('record', 'no turn objects');
      cx.notes.layout = describeTurnObjects(l);
      return conversation(fromTurnList(v, 'record', l.speakerKey, l.textKey, cx, opts.map), { shape }, 'record', cx);
    }
    throw new RecordError('record', `a list cannot be read as ${shape}`);
  }
  if (!isObj(v)) throw new UnsupportedShape(v);
  switch (shape) {
    case 'internal': {
      cx.notes.layout = `our internal ${v.kind} record`;
      if (v.kind === 'conversation') {
        const turns = internalTurns(v.turns, 'turns');
        turns.forEach((t) => noteLabel(cx.notes, t.role, t.role));
        return conversation(turns, { ...internalMeta(v.meta), shape }, 'turns', cx);
      }
      if (v.kind === 'preference') return internalPreference(v);
      if (v.kind === 'text') {
        if (typeof v.text !== 'string' || v.text.trim() === '') throw new RecordError('text', 'empty text');
        return { kind: 'text', text: v.text };
      }
      const opts2 = Array.isArray(v.options) ? { ...v, options: (v.options as unknown[]).map((x) => (isObj(x) ? { key: x.key, text: x.text } : x)) } : v;
      return multipleChoice(opts2, opts);
    }
    case 'ranking': {
      const p = validateRanking(v);
      if (p.length) throw new RecordError(p[0]!.field, p[0]!.reason + (p.length > 1 ? ` (+${p.length - 1} more problems)` : ''));
      return rankingToPreferenceSet(v as unknown as RankingRecord);
    }
    case 'ranking-tool': return rankingTool(v, key);
    case 'ranking-tsv': return rankingTsv(v);
    case 'preference-pair': return preferencePair(v);
    case 'sharegpt':
    case 'messages': {
      const k = turnListKey(v);
      if (!k) throw new RecordError('conversations', `no list of turns (expected one of ${TURN_LIST_KEYS.join(', ')})`);
      const [sp, tx] = shape === 'sharegpt' ? ['from', 'value'] : ['role', 'content'];
      return conversation(fromTurnList(v[k], k, sp, tx, cx), meta(v, shape), k, cx);
    }
    case 'mapped-turns': {
      const map = opts.map;
      if (!map) throw new RecordError('map', 'mapped-turns needs --map speaker=…,text=…');
      const k = map.turns ?? Object.keys(v).find((x) => Array.isArray(v[x]) && (v[x] as unknown[]).some(isObj));
      if (!k) throw new RecordError('turns', `no array of turn objects found (${describeKeys(v)}); name it with --map turns=KEY`);
      cx.notes.layout = `turn objects under '${k}' mapped by --map (speaker '${map.speaker}', text '${map.text}')`;
      return conversation(fromTurnList(v[k], k, map.speaker, map.text, cx, map), meta(v, shape), k, cx);
    }
    case 'turn-objects': {
      const l = findTurnObjects(v, cx.roles);
      if (!l) throw new RecordError('turns', `no list of turn objects with speaker labels (${describeKeys(v)})`);
      cx.notes.layout = describeTurnObjects(l);
      return conversation(fromTurnList(v[l.listKey!], l.listKey!, l.speakerKey, l.textKey, cx), meta(v, shape), l.listKey!, cx);
    }
    case 'prefixed-turns': {
      const k = findPrefixedList(v, cx.roles);
      if (typeof k !== 'string') throw new RecordError('turns', `no list of role-prefixed strings (${describeKeys(v)})`);
      const { turns, labels } = prefixedTurns(v[k] as string[], k, cx.roles);
      labels.forEach((l, i) => noteLabel(cx.notes, l, turns[i]!.role));
      cx.notes.layout = `role-prefixed strings under '${k}'`;
      return conversation(turns, meta(v, shape), k, cx);
    }
    case 'case-qa': {
      const l = findCaseQa(v);
      if (!l) throw new RecordError('QA_pairs', 'no case description with question/answer pairs');
      cx.notes.layout = describeCaseQa(l);
      return conversation(caseQaTurns(v, l), meta(v, shape), l.listKey, cx);
    }
    case 'inline-history': {
      const k = inlineHistoryKey(v);
      if (!k) throw new RecordError('text', 'no inline history (a string opening with 病人：/患者：/<user>:)');
      cx.notes.layout = `inline history in '${k}'`;
      return conversation(parsePackedPrompt(v[k] as string), meta(v, shape), k, cx);
    }
    case 'multiple-choice': return multipleChoice(v, opts);
    case 'alpaca': return alpaca(v, cx);
    case 'input-target': return inputTarget(v, cx);
    case 'qa': return qa(v, cx);
    case 'text': {
      const t = typeof v.text === 'string' ? v.text : v.content;
      if (typeof t !== 'string' || t.trim() === '') throw new RecordError('text', 'empty text');
      const r: DataRecord = { kind: 'text', text: t };
      if (typeof v.title === 'string') r.meta = { title: v.title };
      return r;
    }
  }
}

/** One raw record → one internal record. `key` is the member name when the file is a JSON object. */
export function toRecord(v: unknown, key?: string, opts: ShapeOptions = {}): { record: DataRecord; shape: ShapeName; notes: LayoutNotes } {
  const cx = turnContext({ ...(opts.doctorFirst ? { doctorFirst: opts.doctorFirst } : {}), ...(opts.roles ? { roles: opts.roles } : {}) });
  const forced = opts.as && opts.as !== 'auto' ? opts.as : undefined;
  if (forced === 'text') {
    const t = allText(v).join('\n');
    if (t.trim() === '') throw new RecordError('text', 'no text');
    return { record: { kind: 'text', text: t }, shape: 'text', notes: cx.notes };
  }
  const shape = forced ?? detectShape(v, opts.map, cx.roles);
  if (!shape) throw nearMiss(isObj(v) ? v : {}) ?? new UnsupportedShape(v);
  if (typeof v === 'string') {
    if (shape !== 'text') throw new RecordError('record', `a bare string cannot be read as ${shape}`);
    if (v.trim() === '') throw new RecordError('text', 'empty text');
    return { record: { kind: 'text', text: v }, shape, notes: cx.notes };
  }
  return { record: convert(v, shape, key, opts, cx), shape, notes: cx.notes };
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
