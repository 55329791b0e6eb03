// mcq-predictions.ts — published multiple-choice prediction files re-scored exactly: gold as a letter, option key,
// option text or index (the data layer's layouts/choice.ts), options as keys, a list or a dict, and predictions
// either one column per model (column name = model), a {model: prediction} dict, or long rows with a model field.
// null / "None" / unreadable predictions count as wrong and are listed. Tables come from mcq.ts's mcqTable.
import { basename } from 'node:path';
import { readRaw, sniff } from '../data/readers.js';
import { RecordError } from '../data/errors.js';
import {
  GOLD_KEYS, ID_KEYS, LETTERS, OPTION_LIST_KEYS, OTHER_ITEM_KEYS, QUESTION_KEYS, SUBJECT_KEYS, optionKeyLetter, optionsOf, resolveChoice,
} from '../data/layouts/choice.js';
import { extractChoice, mcqTable, type McqPrediction, type McqTable } from './mcq.js';

type Obj = Record<string, unknown>;

const LONG_MODEL_KEYS = ['model', 'model_name', 'system'];
const LONG_PRED_KEYS = ['prediction', 'pred', 'model_answer', 'model_output', 'output', 'response'];
const DICT_PRED_KEYS = ['predictions', 'preds', 'model_predictions'];
const NONE = /^(?:none|null|nan|n\/a|na|-|)$/i;

export interface PublishedMcqOptions {
  /** prediction columns to read (default: detected) */
  models?: string[];
  /** numeric gold/predictions: 0- or 1-based */
  goldIndexBase?: 0 | 1;
}

export interface PublishedMcq {
  tables: { model: string; table: McqTable }[];
  /** located problems: unreadable gold, null/unparseable predictions (each counted wrong), rejected rows */
  problems: string[];
  /** how the file was read: which columns were taken as models, which were left out and why */
  notes: string[];
}

const reserved = (k: string) => QUESTION_KEYS.includes(k) || OPTION_LIST_KEYS.includes(k) || GOLD_KEYS.includes(k) || SUBJECT_KEYS.includes(k)
  || ID_KEYS.includes(k) || OTHER_ITEM_KEYS.includes(k) || optionKeyLetter(k) !== undefined || DICT_PRED_KEYS.includes(k) || LONG_MODEL_KEYS.includes(k);

/** Whether a value reads as a choice at all (a letter, an option key, an option's text, or a sentence naming one). */
function choiceLike(v: unknown, keys: string[], texts: string[]): boolean {
  if (typeof v !== 'string') return false;
  const s = v.trim();
  if (NONE.test(s)) return false;
  return /^[A-H]$/i.test(s) || optionKeyLetter(s) !== undefined || texts.includes(s) || 'letter' in extractChoice(s, keys);
}

interface Row { where: string; o: Obj; options: { key: string; text: string }[] }

/** One prediction value → the McqPrediction fields; every failure is named in `note`. */
function predictionOf(v: unknown, row: Row, p: McqPrediction, base: 0 | 1 | undefined): void {
  const keys = row.options.map((x) => x.key);
  if (v === undefined || v === null || (typeof v === 'string' && NONE.test(v.trim()))) {
    p.status = 'unparseable';
    p.note = `no prediction (${v === undefined ? 'absent' : JSON.stringify(v)})`;
    return;
  }
  p.raw = typeof v === 'string' ? v : JSON.stringify(v);
  try {
    const l = resolveChoice(v, row.options, 'prediction', base === undefined ? {} : { goldIndexBase: base });
    if (l) { p.prediction = l; return; }
  } catch (e) {
    if (!(e instanceof RecordError)) throw e;
    if (typeof v !== 'string') { p.status = 'unparseable'; p.note = e.reason; return; }
  }
  const x = extractChoice(String(v), keys);
  if ('letter' in x) p.prediction = x.letter;
  else { p.status = 'unparseable'; p.note = x.why; }
}

/** Reads a published predictions file (JSONL, JSON array, CSV or TSV) into one MCQ table per model. */
export async function readPublishedMcq(path: string, o: PublishedMcqOptions = {}): Promise<PublishedMcq> {
  const problems: string[] = [], notes: string[] = [];
  const rows: Row[] = [];
  const s = await sniff(path);
  for await (const it of readRaw(path, s)) {
    const where = `${path}:${it.line}`;
    if (it.error) { problems.push(`${where}: ${it.error.field}: ${it.error.reason}`); continue; }
    if (typeof it.value !== 'object' || it.value === null || Array.isArray(it.value)) { problems.push(`${where}: expected an object`); continue; }
    const ob = it.value as Obj;
    let options: { key: string; text: string }[];
    try { options = optionsOf(ob)?.options ?? LETTERS.slice(0, 5).map((key) => ({ key, text: '' })); } catch (e) {
      if (!(e instanceof RecordError)) throw e;
      problems.push(`${where}: ${e.field}: ${e.reason}`);
      continue;
    }
    rows.push({ where, o: ob, options });
  }
  // which models: long rows (a model field), a predictions dict, or prediction columns
  const long = rows.length > 0 && rows.every((r) => LONG_MODEL_KEYS.some((k) => typeof r.o[k] === 'string') && LONG_PRED_KEYS.some((k) => k in r.o));
  const dictKey = DICT_PRED_KEYS.find((k) => rows.some((r) => typeof r.o[k] === 'object' && r.o[k] !== null));
  let columns: string[] = [];
  if (!long && !dictKey) {
    if (o.models) columns = o.models;
    else {
      const cand = [...new Set(rows.flatMap((r) => Object.keys(r.o)))].filter((k) => !reserved(k));
      for (const k of cand) {
        const vals = rows.map((r) => r.o[k]).filter((v) => !(v === null || v === undefined || (typeof v === 'string' && NONE.test(v.trim()))));
        const ok = rows.filter((r) => choiceLike(r.o[k], r.options.map((x) => x.key), r.options.map((x) => x.text.trim()))).length;
        if (vals.length && 2 * ok >= vals.length) columns.push(k);
        else notes.push(`column '${k}' not read as a model's predictions (${vals.length ? `${ok} of ${vals.length} values name an option` : 'all empty'}; name it with --mcq-models to force)`);
      }
    }
    if (!columns.length) throw new Error(`[eval mcq] ${path}: no prediction column found (${notes.join('; ') || 'no columns beside the item fields'}); name them with --mcq-models`);
    notes.push(`prediction columns read as models: ${columns.join(', ')}`);
  } else notes.push(long ? 'long rows: one prediction per row, model from its model field' : `predictions from the '${dictKey}' dict, one model per key`);
  const dictModels = dictKey ? [...new Set(rows.flatMap((r) => (typeof r.o[dictKey] === 'object' && r.o[dictKey] !== null ? Object.keys(r.o[dictKey] as Obj) : [])))] : [];
  const byModel = new Map<string, McqPrediction[]>();
  const add = (model: string, p: McqPrediction) => { let l = byModel.get(model); if (!l) byModel.set(model, (l = [])); l.push(p); };
  for (const row of rows) {
    const r = row.o;
    const idk = ID_KEYS.find((k) => r[k] !== undefined && r[k] !== null && r[k] !== '');
    const sk = SUBJECT_KEYS.find((k) => typeof r[k] === 'string' && r[k] !== '');
    const base: McqPrediction = { id: idk ? String(r[idk]) : row.where, subject: sk ? String(r[sk]) : 'all', status: 'ok' };
    const gk = GOLD_KEYS.find((k) => k in r);
    if (gk) {
      try {
        const g = resolveChoice(r[gk], row.options, gk, o.goldIndexBase === undefined ? {} : { goldIndexBase: o.goldIndexBase });
        if (g) base.gold = g;
      } catch (e) {
        if (!(e instanceof RecordError)) throw e;
        problems.push(`${row.where}: ${e.field}: ${e.reason} (gold unreadable: the item is not scored)`);
      }
    }
    const emit = (model: string, v: unknown) => {
      const p: McqPrediction = { ...base };
      predictionOf(v, row, p, o.goldIndexBase);
      if (p.status !== 'ok' && p.gold !== undefined) problems.push(`${row.where}: ${model}: ${p.note} — counted wrong`);
      add(model, p);
    };
    if (long) emit(String(LONG_MODEL_KEYS.map((k) => r[k]).find((x) => typeof x === 'string')), r[LONG_PRED_KEYS.find((k) => k in r)!]);
    else if (dictKey) {
      const d = r[dictKey];
      if (typeof d !== 'object' || d === null) { problems.push(`${row.where}: ${dictKey}: expected a {model: prediction} object`); continue; }
      for (const m of dictModels) emit(m, (d as Obj)[m]);
    } else for (const c of columns) emit(c, r[c]);
  }
  if (!rows.length) notes.push(`${basename(path)}: no rows`);
  return { tables: [...byModel.entries()].map(([model, preds]) => ({ model, table: mcqTable(preds) })), problems, notes };
}
