// compare-models.ts — pairwise comparison as one call: system A's answers against one or more opponents' on the same
// eval set, each judged by every given judge (an LLM, the demo rules, a reward model, or human rankings), with the
// agreement between judges, answer metrics and examples, returned as an EvalReport ready to render. judgeAnswerSets
// starts from answers already made (`zhongjing eval pairwise`); compareModels generates them first (the pipeline's
// final report: the final model vs its SFT model, the paper's RLHF ablation in miniature).
import { join } from 'node:path';
import { loadFile } from '../data/load.js';
import type { PreferenceSet } from '../data/types.js';
import { generateAnswers, type Answerer } from './generate.js';
import { verdictsFromRankings } from './human-verdicts.js';
import { comparePairwise, judgeAgreement, resultOf, type PairwiseResult } from './pairwise.js';
import { answerMetrics } from './metrics.js';
import { emptyReport, pickExamples, type EvalReport } from './report.js';
import { DEMO_JUDGE_NAME, type PairJudge } from './judges.js';
import type { AnswerRecord, EvalItem } from './types.js';

/** Doctors' rankings (our ranking format, candidates' `source` = system names) used as a judge. */
export interface HumanJudge { human: PreferenceSet[] }

export type AnyJudge = PairJudge | HumanJudge;

/** The ranking sets of a file (any format the data layer reads) as a judge; other records are ignored. */
export async function humanJudgeFrom(path: string): Promise<HumanJudge> {
  return { human: (await loadFile(path)).records.filter((r): r is PreferenceSet => r.kind === 'preference') };
}

export interface AnswerSet { name: string; answers: AnswerRecord[] }

export interface JudgeAnswerSetsOptions {
  items: EvalItem[];
  /** the system under test: first in every bar */
  a: AnswerSet;
  /** one row of bars per opponent */
  opponents: AnswerSet[];
  judges: AnyJudge[];
  title?: string;
  /** example items in the report (default 6) */
  examples?: number;
  /** items judged in parallel by a model judge */
  concurrency?: number;
  /** problems found while reading the inputs, carried into the report */
  problems?: string[];
  /** per judged pair: which pair and judge, items done of total */
  onProgress?: (at: { a: string; b: string; judge: string }, done: number, total: number) => void;
}

const DEMO_NOTE = `${DEMO_JUDGE_NAME}: a rule-based stand-in for doctors built on the data layer's medical rules; its verdicts are heuristics.`;

const isHuman = (j: AnyJudge): j is HumanJudge => 'human' in j;

export async function judgeAnswerSets(o: JudgeAnswerSetsOptions): Promise<EvalReport> {
  const report = emptyReport(o.title ?? `${o.a.name} vs ${o.opponents.map((x) => x.name).join(', ')}`);
  report.problems.push(...(o.problems ?? []));
  if (o.judges.some((j) => !isHuman(j) && j.name === DEMO_JUDGE_NAME)) report.notes.push(DEMO_NOTE);
  const wanted = new Set(o.items.map((i) => i.id));
  for (const b of o.opponents) {
    const results: PairwiseResult[] = [];
    for (const j of o.judges) {
      if (isHuman(j)) {
        // only annotated items count here: an item nobody ranked is not a missing answer
        const imp = verdictsFromRankings(j.human, o.a.name, b.name);
        if (imp.overall) report.notes.push(`human (${o.a.name} vs ${b.name}): ${imp.overall} rankings had no meta.dimension and were applied to both dimensions (overall judgement under the annotation rule).`);
        results.push(resultOf(o.a.name, b.name, 'human', ['ability', 'safety'], imp.verdicts.filter((v) => wanted.has(v.itemId))));
        continue;
      }
      results.push(await comparePairwise(o.items, o.a, b, j, {
        ...(o.concurrency !== undefined ? { concurrency: o.concurrency } : {}),
        onProgress: (d, n) => o.onProgress?.({ a: o.a.name, b: b.name, judge: j.name }, d, n),
      }));
    }
    // agreement between every two judges of the same pair, on the dimensions both judged
    for (let i = 0; i < results.length; i++) for (let k = i + 1; k < results.length; k++)
      for (const d of results[i]!.dimensions.filter((x) => results[k]!.dimensions.includes(x)))
        report.agreement.push({ judges: [results[i]!.judge, results[k]!.judge], dimension: d, kappa: judgeAgreement(results[i]!.verdicts, results[k]!.verdicts, d) });
    report.pairwise.push(...results);
  }
  const systems = [o.a, ...o.opponents];
  report.answerMetrics = systems.map((s) => answerMetrics(s.name, s.answers));
  const byModel = new Map(systems.map((s) => [s.name, new Map(s.answers.filter((r) => r.answer !== undefined).map((r) => [r.itemId, r.answer!]))]));
  report.examples = pickExamples(o.items, byModel, report.pairwise, o.examples ?? 6);
  return report;
}

export interface CompareModelsOptions {
  items: EvalItem[];
  /** the system under test (first in every bar) and its opponent */
  a: Answerer;
  b: Answerer;
  judges: PairJudge[];
  /** answers are cached here as answers.jsonl (resume); none when absent */
  cacheDir?: string | null;
  title?: string;
  examples?: number;
  onProgress?: (stage: string, done: number, total: number) => void;
}

export async function compareModels(o: CompareModelsOptions): Promise<EvalReport & { answers: Record<string, AnswerRecord[]> }> {
  const cachePath = o.cacheDir ? join(o.cacheDir, 'answers.jsonl') : null;
  const ans: Record<string, AnswerRecord[]> = {};
  for (const s of [o.a, o.b]) {
    ans[s.name] = await generateAnswers(o.items, s, { cachePath, onProgress: (p) => o.onProgress?.(`answers ${s.name}`, p.done, p.total) });
  }
  const report = await judgeAnswerSets({
    items: o.items, a: { name: o.a.name, answers: ans[o.a.name]! }, opponents: [{ name: o.b.name, answers: ans[o.b.name]! }],
    judges: o.judges, title: o.title ?? `${o.a.name} vs ${o.b.name}`, examples: o.examples ?? 6,
    onProgress: (at, d, n) => o.onProgress?.(`judge ${at.judge}`, d, n),
  });
  return { ...report, answers: ans };
}
