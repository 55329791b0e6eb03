// rubric-run.ts — rubric judging as calls: what to score (answers joined with their eval set's conversation, or the
// transcripts of an `eval consult` report scored whole), then the judge over every target with its errors and
// unparseable criteria kept as report problems, and the per-criterion tables and sign tests. The judge's prompt and
// parsing are rubric-judge.ts / rubric-parse.ts; tables are rubric-score.ts.
import { readFileSync } from 'node:fs';
import { readAnswers } from './rescore.js';
import { emptyReport, type EvalReport } from './report.js';
import type { Rubric } from './rubric.js';
import type { RubricJudge, RubricTarget } from './rubric-judge.js';
import { rubricSignTests, rubricTables, type RubricItemScore } from './rubric-score.js';
import type { EvalItem } from './types.js';

export interface Targets { targets: RubricTarget[]; problems: string[] }

/** Every answer of the files with its conversation so far; unknown ids and empty answers are problems, not targets. */
export function rubricTargetsFromAnswers(items: EvalItem[], files: string[]): Targets {
  const byId = new Map(items.map((i) => [i.id, i]));
  const targets: RubricTarget[] = [], problems: string[] = [];
  for (const file of files) {
    const r = readAnswers(file);
    problems.push(...r.problems);
    for (const a of r.records) {
      const it = byId.get(a.itemId);
      if (!it) { problems.push(`${file}: answer for unknown item '${a.itemId}'`); continue; }
      if (typeof a.answer !== 'string' || !a.answer.trim()) { problems.push(`${file}: ${a.itemId}: no answer to score`); continue; }
      targets.push({ itemId: a.itemId, model: a.model, context: [...it.history, { role: 'user', text: it.prompt }], answer: a.answer });
    }
  }
  return { targets, problems };
}

/** The transcripts of an `eval consult` JSON report, one target per case and doctor. */
export function rubricTargetsFromConsult(reportFile: string): Targets {
  let j: EvalReport;
  try { j = JSON.parse(readFileSync(reportFile, 'utf8')) as EvalReport; } catch (e) { throw new Error(`[eval rubric] ${reportFile}: not a JSON report (${(e as Error).message})`); }
  const targets: RubricTarget[] = [];
  for (const c of j.consult ?? []) for (const o of c.outcomes) targets.push({ itemId: o.caseId, model: c.summary.doctor, transcript: o.transcript });
  return { targets, problems: [] };
}

export async function runRubric(judge: RubricJudge, rubric: Rubric, data: string, t: Targets,
  o: { concurrency?: number; onProgress?: (done: number, total: number) => void } = {}): Promise<{ report: EvalReport; scores: RubricItemScore[] }> {
  const report = emptyReport(`rubric scores (${rubric.name})`);
  report.problems.push(...t.problems);
  const scores = await judge.scoreAll(t.targets, o);
  for (const s of scores) {
    if (s.error) report.problems.push(`${s.model} ${s.itemId}: judge error: ${s.error}`);
    for (const u of s.parsed.unparseable) report.problems.push(`${s.model} ${s.itemId}: ${u.criterion}: ${u.why}`);
  }
  (report.rubric ??= []).push({ data, judge: judge.name, tables: rubricTables(scores, rubric), comparisons: rubricSignTests(scores, rubric) });
  return { report, scores };
}
