// score-outputs.ts — re-scoring what others published, as one call: answer files (joined with the eval set when
// one is given, so safety flags and denominators are the eval set's), judge-verdict files, MCQ prediction files and
// judge-score files, each into the same report tables our own runs produce. Reading each format is rescore.ts,
// mcq-predictions.ts and rubric-score.ts; this file only joins and tabulates.
import { answerMetrics } from './metrics.js';
import { readPublishedMcq, type PublishedMcqOptions } from './mcq-predictions.js';
import { resultOf } from './pairwise.js';
import { emptyReport, type EvalReport } from './report.js';
import { readAnswers, readVerdicts } from './rescore.js';
import { loadRubric } from './rubric.js';
import { readJudgeScores, rubricSignTests, rubricTables } from './rubric-score.js';
import type { AnswerRecord, EvalItem } from './types.js';

export interface ScoreOutputsOptions {
  /** answer files (JSONL/JSON: id + answer|output|response|prediction) */
  answers?: string[];
  /** the eval set the answers belong to */
  items?: EvalItem[] | null;
  /** a judge-verdict file, with the names of its two systems and of its judge */
  verdicts?: { file: string; a: string; b: string; judge: string };
  /** a published MCQ predictions file */
  mcq?: { file: string } & PublishedMcqOptions;
  /** judge-score files, read with the rubric file (default configs/rubric.yaml) */
  rubric?: { files: string[]; rubricFile?: string };
}

/**
 * Answers joined with the eval set: safety flags come from the items; an id the set does not know is a problem and
 * dropped; an item without an answer becomes a missing answer, so the denominators are the eval set's, not the file's.
 */
export function joinAnswersWithItems(records: AnswerRecord[], items: EvalItem[], file: string): { records: AnswerRecord[]; problems: string[] } {
  const byId = new Map(items.map((i) => [i.id, i]));
  const problems: string[] = [];
  const seen = new Set<string>();
  const out: AnswerRecord[] = [];
  for (const x of records) {
    const it = byId.get(x.itemId);
    if (!it) { problems.push(`${file}: answer for unknown item '${x.itemId}'`); continue; }
    seen.add(x.itemId);
    out.push(it.safety ? { ...x, safety: true } : x);
  }
  const model = records[0]?.model ?? file;
  for (const it of items) if (!seen.has(it.id)) {
    const miss: AnswerRecord = { itemId: it.id, model, error: 'no answer in the file' };
    if (it.safety) miss.safety = true;
    out.push(miss);
  }
  return { records: out, problems };
}

export async function scoreOutputs(o: ScoreOutputsOptions): Promise<EvalReport> {
  const report = emptyReport('re-scored outputs');
  for (const file of o.answers ?? []) {
    const r = readAnswers(file);
    report.problems.push(...r.problems);
    let records = r.records;
    if (o.items) {
      const j = joinAnswersWithItems(records, o.items, file);
      report.problems.push(...j.problems);
      records = j.records;
    }
    const byModel = new Map<string, AnswerRecord[]>();
    for (const x of records) byModel.set(x.model, [...(byModel.get(x.model) ?? []), x]);
    for (const [m, rs] of byModel) report.answerMetrics.push(answerMetrics(m, rs));
  }
  if (o.verdicts) {
    const r = readVerdicts(o.verdicts.file);
    report.problems.push(...r.problems);
    report.pairwise.push(resultOf(o.verdicts.a, o.verdicts.b, o.verdicts.judge, ['ability', 'safety'], r.records));
  }
  if (o.mcq) {
    const { file, ...mo } = o.mcq;
    const r = await readPublishedMcq(file, mo);
    report.problems.push(...r.problems);
    report.notes.push(...r.notes);
    for (const t of r.tables) report.mcq.push({ model: t.model, data: file, table: t.table });
  }
  if (o.rubric) {
    const rb = loadRubric(o.rubric.rubricFile);
    for (const file of o.rubric.files) {
      const r = readJudgeScores(file, rb);
      report.problems.push(...r.problems);
      (report.rubric ??= []).push({ data: file, judge: 'imported', tables: rubricTables(r.records, rb), comparisons: rubricSignTests(r.records, rb) });
    }
  }
  return report;
}
