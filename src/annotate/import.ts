// import.ts — reads candidate sets (our ranking format with `ranking: []`, or the RLHF labelling tool's
// {id: {query, history, response_0..}} JSON) through the data layer's loader and checks all of them before the
// store writes anything: a bad file is rejected whole, with file:line reasons, and the project is left as it was
// (importIntoProject). Does not assign items (store.next does).
import { basename } from 'node:path';
import { streamFile, newReport } from '../data/load.js';
import { DataError, formatProblem } from '../data/errors.js';
import { preferenceSetToRanking, validateRanking, type RankingRecord } from '../data/ranking-format.js';
import type { Project, Store } from './store.js';

/** The keyboard ranks with the keys 1..9. */
export const MAX_K = 9;

export class ImportError extends Error {
  constructor(readonly problems: string[]) {
    const shown = problems.slice(0, 30);
    super(`[annotate/import] nothing imported; ${problems.length} problem(s):\n  ${shown.join('\n  ')}${problems.length > shown.length ? `\n  … and ${problems.length - shown.length} more` : ''}`);
    this.name = 'ImportError';
  }
}

export interface Parsed { record: RankingRecord; origin: string }

/** Every candidate set of the file, or ImportError listing every problem. `taken` ids already exist. */
export async function readCandidateSets(path: string, taken: ReadonlySet<string> = new Set()): Promise<Parsed[]> {
  const problems: string[] = [];
  const out: Parsed[] = [];
  const seen = new Map<string, number>();
  const report = newReport(path, 'json', 'utf-8');
  const at = (line: number, field: string, reason: string) => problems.push(formatProblem({ file: path, line, field, reason }));
  try {
    for await (const r of streamFile(path, { onError: 'skip', keepProblems: Number.MAX_SAFE_INTEGER }, report)) {
      const line = r.source.line;
      if (r.kind !== 'preference') { at(line, 'record', `a ${r.kind} record, not a candidate set (expected {id, history, prompt, candidates, ranking: []} or {query, history, response_0, …})`); continue; }
      if (r.ranking.length > 0) { at(line, 'ranking', 'already ranked; import takes unranked candidate sets (ranking: [])'); continue; }
      let rec: RankingRecord;
      try {
        rec = preferenceSetToRanking(r, `${basename(path)}:${line}`);
      } catch (e) {
        at(line, 'history', (e as Error).message);
        continue;
      }
      const probs = validateRanking(rec);
      for (const p of probs) at(line, p.field, p.reason);
      if (probs.length) continue;
      if (rec.candidates.length > MAX_K) { at(line, 'candidates', `${rec.candidates.length} candidates; at most ${MAX_K} (keys 1..${MAX_K})`); continue; }
      if (taken.has(rec.id)) { at(line, 'id', `'${rec.id}' is already in the project`); continue; }
      const first = seen.get(rec.id);
      if (first !== undefined) { at(line, 'id', `duplicate id '${rec.id}' (first on line ${first})`); continue; }
      seen.set(rec.id, line);
      out.push({ record: rec, origin: `${basename(path)}:${line}` });
    }
  } catch (e) {
    if (!(e instanceof DataError)) throw e;
    problems.push(e.message);
  }
  // the loader's own rejections (bad JSON, wrong types…) come with their lines in the report
  for (const p of report.problems) problems.push(formatProblem(p));
  if (problems.length === 0 && out.length === 0) problems.push(`${path}:1: file: no candidate sets found`);
  if (problems.length) throw new ImportError([...new Set(problems)]);
  return out;
}

export async function importFile(store: Store, path: string, project: Project): Promise<number> {
  const sets = await readCandidateSets(path, store.existingIds(project));
  return store.insertItems(project, sets);
}

export interface ProjectSpec { name: string; perItem?: number; allowTies?: boolean }

/**
 * `annotate import`: reads and checks the whole file first, then creates or updates the project and inserts the
 * items in one transaction. Nothing changes — not the project's settings, not its existence — unless all of it does.
 */
export async function importIntoProject(store: Store, path: string, spec: ProjectSpec): Promise<{ project: Project; count: number }> {
  store.checkProjectSpec(spec.name, spec.perItem);
  const existing = store.findProject(spec.name);
  const sets = await readCandidateSets(path, existing ? store.existingIds(existing) : new Set());
  return store.importProject(spec.name, spec.perItem, spec.allowTies, sets);
}
