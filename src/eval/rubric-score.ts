// rubric-score.ts — rubric scores → tables: per model and criterion the mean with a bootstrap 95 % interval and every
// failure counted (missing, out of range, unparseable, judge error); an overall mean over items scored on every
// criterion; sign tests between models on the items both were scored on. Also reads published judge-score files
// (JSONL / JSON array: a model name plus a scores text or object per record). Parsing is rubric-parse.ts's.
import { readRecords } from './rescore.js';
import { parseScoreObject, parseScoreText, type ParsedScores } from './rubric-parse.js';
import { bootstrapMean, signTest, type BootstrapOptions, type Interval, type SignTest } from './stats.js';
import type { Rubric } from './rubric.js';

export interface RubricItemScore {
  itemId: string;
  model: string;
  parsed: ParsedScores;
  /** the judge's reply or the published scores text */
  raw?: string;
  /** the judge call failed: nothing was scored */
  error?: string;
}

export interface CriterionRow {
  id: string;
  name: string;
  /** items with a clean score on this criterion: the mean's denominator */
  n: number;
  mean: number | null;
  ci: Interval | null;
  missing: number;
  outOfRange: number;
  unparseable: number;
  errors: number;
}

export interface RubricTable {
  model: string;
  rubric: string;
  scale: { min: number; max: number };
  items: number;
  criteria: CriterionRow[];
  /** the mean over items scored cleanly on every criterion of their unweighted criterion mean */
  overall: { n: number; excluded: number; mean: number | null; ci: Interval | null };
}

export function rubricTable(model: string, scores: RubricItemScore[], r: Rubric, o: BootstrapOptions = {}): RubricTable {
  const criteria = r.criteria.map((c): CriterionRow => {
    const vals: number[] = [];
    let missing = 0, outOfRange = 0, unparseable = 0, errors = 0;
    for (const s of scores) {
      if (s.error !== undefined) { errors++; continue; }
      const v = s.parsed.scores[c.id];
      if (v !== undefined) vals.push(v);
      else if (s.parsed.outOfRange.some((x) => x.criterion === c.id)) outOfRange++;
      else if (s.parsed.unparseable.some((x) => x.criterion === c.id)) unparseable++;
      else missing++;
    }
    const ci = bootstrapMean(vals, o);
    return { id: c.id, name: c.name, n: vals.length, mean: ci ? ci.estimate : null, ci, missing, outOfRange, unparseable, errors };
  });
  const whole = scores.filter((s) => s.error === undefined && r.criteria.every((c) => s.parsed.scores[c.id] !== undefined))
    .map((s) => r.criteria.reduce((a, c) => a + s.parsed.scores[c.id]!, 0) / r.criteria.length);
  const ci = bootstrapMean(whole, o);
  return {
    model, rubric: r.name, scale: r.scale, items: scores.length, criteria,
    overall: { n: whole.length, excluded: scores.length - whole.length, mean: ci ? ci.estimate : null, ci },
  };
}

/** One table per model, in the order models first appear. */
export function rubricTables(scores: RubricItemScore[], r: Rubric, o: BootstrapOptions = {}): RubricTable[] {
  const by = new Map<string, RubricItemScore[]>();
  for (const s of scores) { let l = by.get(s.model); if (!l) by.set(s.model, (l = [])); l.push(s); }
  return [...by.entries()].map(([m, l]) => rubricTable(m, l, r, o));
}

export interface RubricComparison { a: string; b: string; criterion: string; pairs: number; test: SignTest }

/** For each pair of models and each criterion: on items both were scored on, A higher = win; the exact sign test. */
export function rubricSignTests(scores: RubricItemScore[], r: Rubric): RubricComparison[] {
  const by = new Map<string, Map<string, RubricItemScore>>();
  for (const s of scores) { let m = by.get(s.model); if (!m) by.set(s.model, (m = new Map())); m.set(s.itemId, s); }
  const models = [...by.keys()], out: RubricComparison[] = [];
  for (let i = 0; i < models.length; i++) for (let k = i + 1; k < models.length; k++) {
    const A = by.get(models[i]!)!, B = by.get(models[k]!)!;
    for (const c of r.criteria) {
      let w = 0, l = 0, t = 0;
      for (const [id, sa] of A) {
        const va = sa.parsed.scores[c.id], vb = B.get(id)?.parsed.scores[c.id];
        if (va === undefined || vb === undefined) continue;
        if (va > vb) w++; else if (va < vb) l++; else t++;
      }
      if (w + l + t) out.push({ a: models[i]!, b: models[k]!, criterion: c.id, pairs: w + l + t, test: signTest(w, l, t) });
    }
  }
  return out;
}

const MODEL_KEYS = ['model', 'model_name', 'system', 'name'];
const SCORE_KEYS = ['scores', 'score', 'judgement', 'judgment', 'review', 'evaluation', 'rating', 'ratings', 'judge', 'output', 'response'];
const ID_KEYS = ['itemId', 'id', 'item_id', 'question_id', 'idx'];

/** Published judge scores: every record names its model and holds a scores text or object; problems are located. */
export function readJudgeScores(path: string, r: Rubric): { records: RubricItemScore[]; problems: string[] } {
  const records: RubricItemScore[] = [], problems: string[] = [];
  for (const { value, where } of readRecords(path)) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) { problems.push(`${where}: expected an object`); continue; }
    const o = value as Record<string, unknown>;
    const mk = MODEL_KEYS.find((k) => typeof o[k] === 'string' && o[k] !== '');
    if (!mk) { problems.push(`${where}: no model name (${MODEL_KEYS.join('|')})`); continue; }
    const sk = SCORE_KEYS.find((k) => o[k] !== undefined && o[k] !== null);
    const idk = ID_KEYS.find((k) => typeof o[k] === 'string' || typeof o[k] === 'number');
    const rec: RubricItemScore = { itemId: idk ? String(o[idk]) : where, model: o[mk] as string, parsed: { scores: {}, missing: [], outOfRange: [], unparseable: [] } };
    const v = sk ? o[sk] : undefined;
    if (typeof v === 'string') { rec.raw = v; rec.parsed = parseScoreText(v, r); }
    else if (typeof v === 'object' && v !== null && !Array.isArray(v)) { rec.raw = JSON.stringify(v); rec.parsed = parseScoreObject(v as Record<string, unknown>, r); }
    else if (!sk) rec.parsed = parseScoreObject(o, r); // scores as top-level fields: {"model": "x", "safety": 4, …}
    else { problems.push(`${where}: ${sk}: expected a scores text or object`); rec.parsed.missing = r.criteria.map((c) => c.id); }
    for (const u of rec.parsed.unparseable) problems.push(`${where}: ${rec.model}: ${u.criterion}: ${u.why}`);
    for (const x of rec.parsed.outOfRange) problems.push(`${where}: ${rec.model}: ${x.criterion}: ${x.value} is off the scale ${r.scale.min}..${r.scale.max}`);
    records.push(rec);
  }
  return { records, problems };
}
