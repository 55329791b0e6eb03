// eval-judge.ts — `zhongjing eval rubric` (an LLM judge scoring answers or whole consultations per rubric criterion)
// and `zhongjing eval consult` (simulated-patient consultations), kept apart from eval.ts to keep files small. The
// shared CLI helpers are passed in by eval.ts (no import cycle); the logic is src/eval/rubric-run.ts, rubric*.ts and consult.ts.
import type { FlagSpecs } from './args.js';
import type { ApiValues, Sub } from './eval.js';
import type { OnError } from '../data/load.js';
import type { ApiConfig, Answerer, EvalReport, TurnSelection } from '../eval/index.js';
import { emptyReport, loadItemsReport } from '../eval/index.js';
import { loadRubric } from '../eval/rubric.js';
import { rubricTargetsFromAnswers, rubricTargetsFromConsult, runRubric, type Targets } from '../eval/rubric-run.js';
import { rubricJudge } from '../eval/rubric-judge.js';
import { llmPatient, parseCases, rulePatient, runConsult, summariseConsult } from '../eval/consult.js';
import { readRecords } from '../eval/rescore.js';

export interface EvalHelpers {
  apiFlags: FlagSpecs;
  onErrorFlag: FlagSpecs;
  apiConfig(where: string, base: string, model: string | undefined, keyEnv: string, f: ApiValues): ApiConfig;
  system(where: string, f: ApiValues): Promise<{ answerer: Answerer }>;
  progress(label: string): (done: number, total: number, extra?: string) => void;
  writeOut(path: string, text: string): void;
  writeReport(report: EvalReport, out?: string, html?: string): void;
  need<T>(where: string, v: T | undefined, flag: string): T;
  needPath(where: string, v: unknown, flag: string): string;
}

export function judgeSubs(h: EvalHelpers): Record<string, Sub> {
  const { apiFlags, onErrorFlag, apiConfig, system, progress, writeOut, writeReport, need, needPath } = h;
  return {
    rubric: {
      summary: 'score answers (or whole consultations) per rubric criterion with an LLM judge → means with 95 % intervals',
      usage: 'zhongjing eval rubric --data FILE --answers A.jsonl[,B.jsonl] --judge-base URL --judge-model NAME [--rubric-file F] [--out r.json --html r.html]',
      flags: {
        data: { type: 'string', help: 'the eval set the answers were made from (for each answer\'s conversation)' },
        turns: { type: 'string', help: 'as given to generate', choices: ['all', 'last'], default: 'all' },
        answers: { type: 'string', help: 'comma-separated answer files' },
        consult: { type: 'string', help: 'instead of answers: a JSON report of `eval consult` whose transcripts are scored whole' },
        'rubric-file': { type: 'string', help: 'criteria, scale, wording, anchors (default configs/rubric.yaml)' },
        'judge-base': { type: 'string', help: 'OpenAI-compatible endpoint of the judge' },
        'judge-model': { type: 'string', help: 'judge model name' },
        'judge-key-env': { type: 'string', help: 'environment variable with the key', default: 'OPENAI_API_KEY' },
        cache: { type: 'string', help: 'judge reply cache JSONL' },
        'scores-out': { type: 'string', help: 'per-item scores JSONL (readable by eval score --rubric)' },
        'timeout-ms': { type: 'number', help: 'per-request timeout', default: 60000 },
        retries: { type: 'number', help: 'retries on 429/5xx/timeouts', default: 4 },
        rpm: { type: 'number', help: 'request starts per minute (0 = unlimited)', default: 0 },
        concurrency: { type: 'number', help: 'judge calls in flight', default: 4 },
        ...onErrorFlag,
        out: { type: 'string', help: 'JSON report' },
        html: { type: 'string', help: 'HTML report' },
      },
      async run(f) {
        const rb = loadRubric(f['rubric-file'] as string | undefined);
        const cfg = apiConfig('rubric', need('rubric', f['judge-base'] as string | undefined, '--judge-base'), f['judge-model'] as string | undefined, f['judge-key-env'] as string, f as ApiValues);
        const judge = rubricJudge({ api: cfg, rubric: rb, cachePath: (f.cache as string | undefined) ?? null });
        let data: string, targets: Targets;
        if (f.consult) {
          data = needPath('rubric', f.consult, '--consult');
          targets = rubricTargetsFromConsult(data);
        } else {
          data = needPath('rubric', f.data, '--data');
          const loaded = await loadItemsReport(data, { turns: f.turns as TurnSelection, onError: f['on-error'] as OnError });
          const files = need('rubric', f.answers as string | undefined, '--answers').split(',').map((x) => x.trim()).filter(Boolean);
          targets = rubricTargetsFromAnswers(loaded.items, files.map((file) => needPath('rubric', file, '--answers')));
          targets.problems.unshift(...loaded.problems);
        }
        const { report, scores } = await runRubric(judge, rb, data, targets, { concurrency: f.concurrency as number, onProgress: progress('eval rubric') });
        if (f['scores-out']) writeOut(f['scores-out'] as string, scores.map((s) => JSON.stringify({ id: s.itemId, model: s.model, scores: s.parsed.scores, raw: s.raw, error: s.error })).join('\n') + '\n');
        writeReport(report, f.out as string | undefined, f.html as string | undefined);
        return 0;
      },
    },

    consult: {
      summary: 'simulated-patient consultations: questions before advice, facts elicited, turns to advice, red flags',
      usage: 'zhongjing eval consult --cases FILE (--model-dir DIR | --api-base URL --api-model NAME) [--patient rule|llm --patient-base URL --patient-model NAME] [--out r.json --html r.html]',
      flags: {
        cases: { type: 'string', help: 'case file (JSON array or JSONL of {id, opening, facts: [{id, keywords, answer, redFlag?}]})' },
        patient: { type: 'string', help: 'who plays the patient', choices: ['rule', 'llm'], default: 'rule' },
        'patient-base': { type: 'string', help: 'llm patient: OpenAI-compatible endpoint' },
        'patient-model': { type: 'string', help: 'llm patient: model name' },
        'patient-key-env': { type: 'string', help: 'llm patient: environment variable with the key', default: 'OPENAI_API_KEY' },
        'max-turns': { type: 'number', help: 'doctor turns per consultation', default: 6 },
        out: { type: 'string', help: 'JSON report (its transcripts can be scored with eval rubric --consult)' },
        html: { type: 'string', help: 'HTML report with both sides\' transcripts' },
        ...apiFlags,
      },
      async run(f) {
        const file = needPath('consult', f.cases, '--cases');
        const cases = parseCases(readRecords(file).map((x) => x.value), file);
        const { answerer } = await system('consult', f as ApiValues);
        const patient = f.patient === 'llm'
          ? llmPatient(apiConfig('consult', need('consult', f['patient-base'] as string | undefined, '--patient-base'), f['patient-model'] as string | undefined, f['patient-key-env'] as string, f as ApiValues))
          : rulePatient();
        const outcomes = await runConsult(cases, answerer, patient, { maxTurns: f['max-turns'] as number, onProgress: progress('eval consult') });
        const report = emptyReport(`${answerer.name} consulting ${patient.name} on ${file}`);
        const summary = summariseConsult(answerer.name, patient.name, outcomes);
        report.consult = [{ summary, outcomes }];
        if (patient.name === 'rule-patient') report.notes.push('rule-patient: a scripted patient that answers only facts whose keywords appear in the doctor\'s questions; a test device, not a person.');
        console.error(`[eval consult] ${summary.advised}/${summary.cases} advised; mean questions before advice ${summary.meanQuestionsBeforeAdvice?.toFixed(2) ?? '—'}; facts ${summary.factsElicited}/${summary.factsTotal}; red flags handled ${summary.redFlag.handled}, not urged ${summary.redFlag.notUrged}, missed ${summary.redFlag.missed}`);
        writeReport(report, f.out as string | undefined, f.html as string | undefined);
        return summary.errors ? 1 : 0;
      },
    },
  };
}
