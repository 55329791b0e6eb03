// inspect.ts — what `zhongjing data inspect` reports about one file, gathered while streaming it (memory does not
// grow with the file): the load report (records in = out + rejected, layouts, speakers), turns per dialogue, roles,
// departments, prompts without an answer, safety prompts, multiple-choice and preference-set counts. No printing here.
import { DataError } from './errors.js';
import { newReport, streamFile, type FileReport, type LoadOptions } from './load.js';
import { sniff } from './readers.js';
import type { DataRecord } from './types.js';

export interface DataStats {
  report: FileReport;
  turns: { min: number; max: number; sum: number; n: number; hist: Record<string, number> };
  roles: Record<string, number>;
  departments: Record<string, number>;
  prompts: number;
  safety: number;
  choices: { answered: number; missing: number };
  preferences: { ranked: number; unranked: number; candidates: number };
  bytes?: number;
  /** why loading stopped early (counts are those up to there) */
  error?: string;
}

const MAX_DEPARTMENTS = 500;

function observe(s: DataStats, r: DataRecord): void {
  if (r.kind === 'conversation') {
    const n = r.turns.length;
    const t = s.turns;
    t.min = Math.min(t.min, n); t.max = Math.max(t.max, n); t.sum += n; t.n++;
    const b = n > 20 ? '>20' : String(n);
    t.hist[b] = (t.hist[b] ?? 0) + 1;
    for (const x of r.turns) s.roles[x.role] = (s.roles[x.role] ?? 0) + 1;
    const d = r.meta.department;
    if (d && (d in s.departments || Object.keys(s.departments).length < MAX_DEPARTMENTS)) s.departments[d] = (s.departments[d] ?? 0) + 1;
    if (r.turns[n - 1]!.role !== 'assistant') s.prompts++;
    if (r.meta.safety) s.safety++;
  } else if (r.kind === 'choice') {
    if (r.answerMissing) s.choices.missing++; else s.choices.answered++;
  } else if (r.kind === 'preference') {
    if (r.ranking.length) s.preferences.ranked++; else s.preferences.unranked++;
    s.preferences.candidates += r.candidates.length;
  }
}

/** The statistics of one file; a failure that stops loading (DataError) is kept in `error`, the counts so far kept. */
export async function inspectFile(path: string, o: LoadOptions): Promise<DataStats> {
  const sn = await sniff(path, o);
  const s: DataStats = {
    report: newReport(path, sn.format, sn.encoding),
    turns: { min: Infinity, max: 0, sum: 0, n: 0, hist: {} }, roles: {}, departments: {}, prompts: 0, safety: 0,
    choices: { answered: 0, missing: 0 }, preferences: { ranked: 0, unranked: 0, candidates: 0 },
  };
  try {
    for await (const r of streamFile(path, o, s.report)) observe(s, r);
  } catch (e) {
    if (!(e instanceof DataError)) throw e;
    s.error = e.message;
  }
  return s;
}
