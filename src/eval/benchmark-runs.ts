// benchmark-runs.ts — the standard metrics over one opened system, as calls that return a report: multiple-choice
// accuracy (log-likelihood of each option for a local model, strict answer extraction for an endpoint; few-shot
// exemplars from the dev split) and perplexity / bits per character on held-out text. Scoring itself is mcq.ts and
// perplexity.ts; opening the system is systems.ts.
import { loadFile, type OnError } from '../data/load.js';
import type { DataRecord } from '../data/types.js';
import { fewShotPrompts, loadMcq, mcqTable, scoreByExtraction, scoreByLogLikelihood, type McqPrediction } from './mcq.js';
import { perplexity, type PerplexityResult } from './perplexity.js';
import { emptyReport, type EvalReport } from './report.js';
import type { LocalModel } from './local-model.js';
import type { OpenedSystem } from './systems.js';

type Progress = (done: number, total: number) => void;

export interface McqRunOptions {
  /** a CSV/JSONL file or a folder of them (subject = file name) */
  data: string;
  /** splits to score (files naming dev/val/test) */
  splits: string[];
  /** solved exemplars per prompt from the dev split of the same subject (0 = zero-shot) */
  shots?: number;
  /** only the first N items (0 = all) */
  limit?: number;
  onError?: OnError;
  /** endpoints: requests in flight */
  concurrency?: number;
  onProgress?: Progress;
}

export async function runMcq(sys: OpenedSystem, o: McqRunOptions): Promise<{ report: EvalReport; predictions: McqPrediction[] }> {
  const problems: string[] = [];
  let items = await loadMcq(o.data, { splits: o.splits, ...(o.onError ? { onError: o.onError } : {}), problems });
  if ((o.limit ?? 0) > 0) items = items.slice(0, o.limit);
  const shots = o.shots ?? 0;
  const exemplars = shots > 0 ? await loadMcq(o.data, { splits: ['dev'] }) : [];
  if (shots > 0 && exemplars.length === 0) throw new Error(`[eval mcq] ${shots} shots: no dev split under ${o.data} to take exemplars from`);
  const promptOf = fewShotPrompts(exemplars, shots);
  const predictions = sys.local
    ? await scoreByLogLikelihood(items, sys.local.logLikelihood, o.onProgress, promptOf)
    : await scoreByExtraction(items, (p) => sys.answerer.answer([{ role: 'user', text: p }]), {
      ...(o.concurrency !== undefined ? { concurrency: o.concurrency } : {}), ...(o.onProgress ? { onProgress: o.onProgress } : {}), promptOf,
    });
  const table = mcqTable(predictions);
  const report = emptyReport(`${sys.answerer.name} on ${o.data}`);
  report.mcq.push({ model: sys.answerer.name, data: o.data, table });
  report.problems.push(...problems);
  if (table.overall.missingGold) report.notes.push(`${table.overall.missingGold} items have no gold answer (e.g. C-Eval test): counted, not scored.`);
  return { report, predictions };
}

/** The text of a record as held-out text: text as it is, dialogues' turns joined by newlines, a question, a prompt. */
export function heldOutText(r: DataRecord): string {
  return r.kind === 'text' ? r.text : r.kind === 'conversation' ? r.turns.map((t) => t.text).join('\n') : r.kind === 'choice' ? r.question : r.prompt;
}

export async function runPerplexity(local: LocalModel, data: string, o: { limit?: number; onProgress?: Progress } = {}): Promise<{ report: EvalReport; result: PerplexityResult }> {
  const { records } = await loadFile(data);
  let texts = records.map(heldOutText);
  if ((o.limit ?? 0) > 0) texts = texts.slice(0, o.limit);
  const result = await perplexity(texts, local.tokenLogProbs, o.onProgress);
  const report = emptyReport(`${local.answerer.name} on ${data}`);
  report.perplexity.push({ model: local.answerer.name, data, result });
  return { report, result };
}
