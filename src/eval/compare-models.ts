// compare-models.ts — the one call the training pipeline makes for its final report: answer an eval set with two
// systems (e.g. the final model vs its SFT model: the paper's RLHF ablation in miniature), judge them pairwise with
// each given judge, add answer metrics, judge agreement and examples, and return an EvalReport ready to render.
import { join } from 'node:path';
import { generateAnswers, type Answerer } from './generate.js';
import { comparePairwise, judgeAgreement, type PairwiseResult } from './pairwise.js';
import { answerMetrics } from './metrics.js';
import { emptyReport, pickExamples, type EvalReport } from './report.js';
import { DEMO_JUDGE_NAME, type PairJudge } from './judges.js';
import type { AnswerRecord, EvalItem } from './types.js';

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
  const report = emptyReport(o.title ?? `${o.a.name} vs ${o.b.name}`);
  const results: PairwiseResult[] = [];
  for (const j of o.judges) {
    results.push(await comparePairwise(o.items, { name: o.a.name, answers: ans[o.a.name]! }, { name: o.b.name, answers: ans[o.b.name]! }, j,
      { onProgress: (d, n) => o.onProgress?.(`judge ${j.name}`, d, n) }));
    if (j.name === DEMO_JUDGE_NAME) report.notes.push(`${DEMO_JUDGE_NAME}: a rule-based stand-in for doctors built on the data layer's medical rules; its verdicts are heuristics.`);
  }
  report.pairwise = results;
  for (let i = 0; i < results.length; i++) for (let k = i + 1; k < results.length; k++)
    for (const d of results[i]!.dimensions.filter((x) => results[k]!.dimensions.includes(x)))
      report.agreement.push({ judges: [results[i]!.judge, results[k]!.judge], dimension: d, kappa: judgeAgreement(results[i]!.verdicts, results[k]!.verdicts, d) });
  report.answerMetrics = [o.a, o.b].map((s) => answerMetrics(s.name, ans[s.name]!));
  const byModel = new Map<string, Map<string, string>>();
  for (const [m, rs] of Object.entries(ans)) byModel.set(m, new Map(rs.filter((r) => r.answer !== undefined).map((r) => [r.itemId, r.answer!])));
  report.examples = pickExamples(o.items, byModel, results, o.examples ?? 6);
  return { ...report, answers: ans };
}
