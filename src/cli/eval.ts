// eval.ts — `zhongjing eval generate|pairwise|mcq|ppl|score`: evaluation on the command line, a thin layer over
// src/eval (no scoring logic here). Long runs print progress to stderr; inputs' problems are reported as file:line.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from './command.js';
import { UsageError, type FlagSpecs } from './args.js';
import { flagLeaf, groupCommand } from './subcommands.js';
import { DataError } from '../data/errors.js';
import type { OnError } from '../data/load.js';
import {
  answersToJsonl, generateAnswers, llmJudge, loadItems, loadItemsReport, loadRule, readAnswers, renderReportHtml, safetyAbilityRuleJudge,
  type ApiConfig, type EvalReport, type TurnSelection,
} from '../eval/index.js';
import { loadLocalModel } from '../eval/local-model.js';
import { humanJudgeFrom, judgeAnswerSets, type AnyJudge } from '../eval/compare-models.js';
import { openSystem, type OpenedSystem, type SamplingSpec, type SystemSpec } from '../eval/systems.js';
import { runMcq, runPerplexity } from '../eval/benchmark-runs.js';
import { scoreOutputs, type ScoreOutputsOptions } from '../eval/score-outputs.js';
import { parseWeightsOption, WEIGHTS_OPTIONS } from '../model/weights.js';
import { KV_CACHE_FLAG } from './decode-flags.js';
import type { KvCacheDType } from '../model/kv-cache.js';
import { judgeSubs } from './eval-judge.js';

const onErrorFlag = {
  'on-error': { type: 'string', help: 'rejected input records: fail at the first, skip all (listed in the report), or auto (fail above 1 %)', choices: ['auto', 'fail', 'skip'], default: 'auto' },
} as const satisfies FlagSpecs;

const apiFlags = {
  'model-dir': { type: 'string', help: 'a local model directory (docs/model-directory.md) or a llama.cpp .gguf file' },
  weights: { type: 'string', help: 'local models: dtype of the weight matrices in memory (auto = the file\'s; bf16, q8_0, q4_0 made at load)', default: 'auto', choices: [...WEIGHTS_OPTIONS] },
  'kv-cache': { ...KV_CACHE_FLAG, help: `local models: ${KV_CACHE_FLAG.help}` },
  'api-base': { type: 'string', help: 'an OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1' },
  'api-model': { type: 'string', help: 'model name sent to the endpoint' },
  'api-key-env': { type: 'string', help: 'environment variable holding the API key', default: 'OPENAI_API_KEY' },
  name: { type: 'string', help: 'system name in caches and reports (default local:DIR or api:MODEL)' },
  'timeout-ms': { type: 'number', help: 'per-request timeout', default: 60000 },
  retries: { type: 'number', help: 'retries on 429/5xx/timeouts (exponential back-off with jitter)', default: 4 },
  rpm: { type: 'number', help: 'request starts per minute (0 = unlimited)', default: 0 },
  concurrency: { type: 'number', help: 'API requests in flight', default: 4 },
  'max-new-tokens': { type: 'number', help: 'answer length limit', default: 256 },
  temperature: { type: 'number', help: 'sampling temperature (0 = greedy)', default: 0 },
  'top-p': { type: 'number', help: 'nucleus sampling mass (1 = off)' },
  'top-k': { type: 'number', help: 'local models: top-k (0 = off)' },
  'repetition-penalty': { type: 'number', help: 'local models: HF repetition penalty (1 = off)' },
  seed: { type: 'number', help: 'sampling seed', default: 0 },
  template: { type: 'string', help: 'local models: chat template ziya|chatml|default or Jinja source' },
} as const satisfies FlagSpecs;

export type ApiValues = Partial<Record<keyof typeof apiFlags, string | number | boolean>>;

export function apiConfig(where: string, base: string, model: string | undefined, keyEnv: string, f: ApiValues): ApiConfig {
  if (!model) throw new UsageError(`[eval ${where}] --api-base needs --api-model`);
  const cfg: ApiConfig = { baseUrl: base, model, timeoutMs: f['timeout-ms'] as number, maxRetries: f.retries as number };
  const key = process.env[keyEnv];
  if (key) cfg.apiKey = key;
  if (f.rpm) cfg.requestsPerMinute = f.rpm as number;
  return cfg;
}

/** The system flags as a SystemSpec (src/eval/systems.ts): exactly one of --model-dir or --api-base. */
function systemSpec(where: string, f: ApiValues): SystemSpec {
  if (f['model-dir'] && f['api-base']) throw new UsageError(`[eval ${where}] give --model-dir or --api-base, not both`);
  const sampling: SamplingSpec = { maxNewTokens: f['max-new-tokens'] as number, temperature: f.temperature as number, seed: f.seed as number };
  if (f['top-p'] !== undefined) sampling.topP = f['top-p'] as number;
  if (f['top-k'] !== undefined) sampling.topK = f['top-k'] as number;
  if (f['repetition-penalty'] !== undefined) sampling.repetitionPenalty = f['repetition-penalty'] as number;
  const name = f.name ? { name: f.name as string } : {};
  if (f['model-dir']) {
    return {
      kind: 'local', dir: needPath(where, f['model-dir'], '--model-dir'), sampling, ...name,
      weights: parseWeightsOption(f.weights ?? 'auto', `eval ${where}`), kvCache: (f['kv-cache'] ?? 'f32') as KvCacheDType, ...(f.template ? { template: f.template as string } : {}),
    };
  }
  if (f['api-base']) return { kind: 'api', api: apiConfig(where, f['api-base'] as string, f['api-model'] as string | undefined, f['api-key-env'] as string, f), sampling, ...name };
  throw new UsageError(`[eval ${where}] give a system: --model-dir DIR or --api-base URL --api-model NAME`);
}

const system = (where: string, f: ApiValues): Promise<OpenedSystem> => openSystem(systemSpec(where, f));

/** Progress on stderr: a rewritten line on a terminal (at most ~5 per second), every 10 % in logs, and the end. */
function progress(label: string): (done: number, total: number, extra?: string) => void {
  let last = 0, lastDecile = 0;
  return (done, total, extra = '') => {
    if (process.stderr.isTTY) {
      const now = Date.now();
      if (done < total && now - last < 200) return;
      last = now;
      process.stderr.write(`\r[${label}] ${done}/${total}${extra}   ` + (done === total ? '\n' : ''));
      return;
    }
    const decile = Math.floor((10 * done) / Math.max(1, total));
    if (decile > lastDecile || done === total) {
      lastDecile = decile;
      process.stderr.write(`[${label}] ${done}/${total}${extra}\n`);
    }
  };
}

function writeOut(path: string, text: string): void {
  mkdirSync(dirname(resolve(path)), { recursive: true });
  writeFileSync(path, text);
  console.error(`[eval] wrote ${path}`);
}

function writeReport(report: EvalReport, out?: string, html?: string): void {
  if (out) writeOut(out, JSON.stringify(report, null, 1) + '\n');
  if (html) writeOut(html, renderReportHtml(report));
  if (!out && !html) console.log(JSON.stringify(report, null, 1));
}

function need<T>(where: string, v: T | undefined, flag: string): T {
  if (v === undefined || v === '') throw new UsageError(`[eval ${where}] ${flag} is required (see \`zhongjing eval ${where} --help\`)`);
  return v;
}

/** A required input path that must exist: named in the error with its flag, before any work starts. */
function needPath(where: string, v: unknown, flag: string): string {
  const p = need(where, v as string | undefined, flag);
  if (!existsSync(p)) throw new UsageError(`[eval ${where}] ${flag} ${p}: no such file or folder`);
  return p;
}

/** A comma-separated flag value as its non-empty items. */
const list = (s: string): string[] => s.split(',').map((x) => x.trim()).filter(Boolean);

// ---------------------------------------------------------------- subcommands

export interface Sub { summary: string; usage: string; flags: FlagSpecs; run(f: Record<string, unknown>): Promise<number> }

const subs: Record<string, Sub> = {
  generate: {
    summary: 'answer every doctor turn of an eval set (true history), cached and resumable',
    usage: 'zhongjing eval generate --data FILE (--model-dir DIR | --api-base URL --api-model NAME) --out answers.jsonl',
    flags: {
      data: { type: 'string', help: 'eval set (CMtMedQA_test.json, huatuo26M_test.json, any dialogue/Q&A file)' },
      out: { type: 'string', help: 'answers JSONL to write' },
      cache: { type: 'string', help: 'answer cache JSONL keyed by (model, item, turn); reruns resume from it' },
      turns: { type: 'string', help: 'which doctor turns to answer', choices: ['all', 'last'], default: 'all' },
      limit: { type: 'number', help: 'only the first N items (0 = all)', default: 0 },
      'batch-size': { type: 'number', help: 'local models: prompts per left-padded generation batch', default: 1 },
      ...onErrorFlag,
      ...apiFlags,
    },
    async run(f) {
      const data = needPath('generate', f.data, '--data'), out = need('generate', f.out as string | undefined, '--out');
      const loaded = await loadItemsReport(data, { turns: f.turns as TurnSelection, onError: f['on-error'] as OnError });
      let items = loaded.items;
      const records = new Set(items.map((i) => i.dialogueId)).size;
      console.error(`[eval generate] ${data}: ${items.length} items (doctor turns) from ${records} records (dialogues and single prompts), ${items.filter((i) => i.safety).length} safety prompts`);
      for (const p of loaded.problems) console.error(`[eval generate] rejected ${p}`);
      if ((f.limit as number) > 0) items = items.slice(0, f.limit as number);
      const { answerer } = await system('generate', f as ApiValues);
      const show = progress('eval generate');
      const recs = await generateAnswers(items, answerer, {
        cachePath: (f.cache as string | undefined) ?? null, concurrency: f['model-dir'] ? 1 : f.concurrency as number, batchSize: f['batch-size'] as number,
        onProgress: (p) => show(p.done, p.total, ` (cached ${p.cached}, errors ${p.errors})`),
      });
      writeOut(out, answersToJsonl(recs));
      const errors = recs.filter((r) => r.error !== undefined).length;
      if (errors) console.error(`[eval generate] ${errors} of ${recs.length} items failed (recorded in ${out} with their error; rerun to retry)`);
      return errors ? 1 : 0;
    },
  },

  pairwise: {
    summary: 'judge A vs B per item on ability & fluency and safety → win/tie/loss report',
    usage: 'zhongjing eval pairwise --data FILE --a A.jsonl --b B.jsonl --judge llm|rules|human [...] --out report.json --html report.html',
    flags: {
      data: { type: 'string', help: 'the eval set the answers were made from' },
      turns: { type: 'string', help: 'as given to generate', choices: ['all', 'last'], default: 'all' },
      a: { type: 'string', help: 'answers JSONL of system A (the system under test)' },
      b: { type: 'string', help: 'answers JSONL of the opponent(s), comma-separated for several' },
      'a-name': { type: 'string', help: 'name of A in the report (default: from the file)' },
      'b-name': { type: 'string', help: 'opponent name(s), comma-separated like --b (default: from the files)' },
      judge: { type: 'string', help: 'comma-separated judges: llm, rules (demo stand-in for doctors), human', default: 'rules' },
      'judge-base': { type: 'string', help: 'llm judge: OpenAI-compatible endpoint' },
      'judge-model': { type: 'string', help: 'llm judge: model name' },
      'judge-key-env': { type: 'string', help: 'llm judge: environment variable with the key', default: 'OPENAI_API_KEY' },
      rule: { type: 'string', help: 'annotation rule file (default configs/judge-rule.md)' },
      cache: { type: 'string', help: 'llm judge: reply cache JSONL' },
      human: { type: 'string', help: 'human verdicts: ranking-format JSONL whose candidates have source = system names' },
      'timeout-ms': { type: 'number', help: 'llm judge: per-request timeout', default: 60000 },
      retries: { type: 'number', help: 'llm judge: retries on 429/5xx/timeouts', default: 4 },
      rpm: { type: 'number', help: 'llm judge: request starts per minute (0 = unlimited)', default: 0 },
      concurrency: { type: 'number', help: 'items judged in parallel', default: 4 },
      examples: { type: 'number', help: 'example items in the report', default: 6 },
      ...onErrorFlag,
      out: { type: 'string', help: 'JSON report' },
      html: { type: 'string', help: 'self-contained HTML report' },
    },
    async run(f) {
      const data = needPath('pairwise', f.data, '--data');
      const loaded = await loadItemsReport(data, { turns: f.turns as TurnSelection, onError: f['on-error'] as OnError });
      const ra = readAnswers(needPath('pairwise', f.a, '--a'), f['a-name'] as string | undefined);
      // several opponents (the paper's bars: one row per opponent): --b f1,f2 with --b-name n1,n2
      const bFiles = list(need('pairwise', f.b as string | undefined, '--b'));
      for (const b of bFiles) needPath('pairwise', b, '--b');
      const bNames = f['b-name'] ? list(String(f['b-name'])) : [];
      if (bNames.length && bNames.length !== bFiles.length) throw new UsageError(`[eval pairwise] --b-name names ${bNames.length} systems but --b gives ${bFiles.length} files`);
      const opponents = bFiles.map((file, i) => ({ file, read: readAnswers(file, bNames[i]) }));
      const judges: AnyJudge[] = [];
      for (const j of list(String(f.judge))) {
        if (j === 'rules') judges.push(safetyAbilityRuleJudge());
        else if (j === 'llm') {
          const cfg = apiConfig('pairwise', need('pairwise', f['judge-base'] as string | undefined, '--judge-base'), f['judge-model'] as string | undefined, f['judge-key-env'] as string, f as ApiValues);
          judges.push(llmJudge({ api: cfg, rule: loadRule(f.rule as string | undefined), cachePath: (f.cache as string | undefined) ?? null }));
        } else if (j === 'human') judges.push(await humanJudgeFrom(needPath('pairwise', f.human, '--human')));
        else throw new UsageError(`[eval pairwise] --judge: unknown judge '${j}' (llm, rules, human; a reward model is called from the API, see docs/evaluation.md)`);
      }
      const a = { name: (f['a-name'] as string | undefined) ?? ra.records[0]?.model ?? 'A', answers: ra.records };
      const bs = opponents.map((o, i) => ({ name: bNames[i] ?? o.read.records[0]?.model ?? `B${i + 1}`, answers: o.read.records }));
      const bars = new Map<string, ReturnType<typeof progress>>();
      const report = await judgeAnswerSets({
        items: loaded.items, a, opponents: bs, judges, title: `${a.name} vs ${bs.map((o) => o.name).join(', ')} on ${data}`,
        examples: f.examples as number, concurrency: f.concurrency as number,
        problems: [...loaded.problems, ...ra.problems, ...opponents.flatMap((o) => o.read.problems)],
        onProgress: (at, d, n) => {
          const label = `eval pairwise ${at.a} vs ${at.b}: ${at.judge}`;
          if (!bars.has(label)) bars.set(label, progress(label));
          bars.get(label)!(d, n);
        },
      });
      for (const r of report.pairwise) for (const d of r.dimensions) {
        const t = r.tallies[d]!;
        console.error(`[eval pairwise] ${r.a} vs ${r.b}, ${r.judge}, ${d}: win ${t.win} tie ${t.tie} loss ${t.loss} | unparseable ${t.unparseable} error ${t.error} missing ${t.missing} of ${t.total}`);
      }
      writeReport(report, f.out as string | undefined, f.html as string | undefined);
      return 0;
    },
  },

  mcq: {
    summary: 'multiple-choice accuracy per subject (CMMLU / C-Eval / exam shapes): log-likelihood or strict extraction',
    usage: 'zhongjing eval mcq --data DIR|FILE (--model-dir DIR | --api-base URL --api-model NAME) [--out report.json --html report.html]',
    flags: {
      data: { type: 'string', help: 'a CSV/JSONL file or a folder of them (subject = file name)' },
      splits: { type: 'string', help: 'comma-separated splits to keep (files naming dev/val/test); dev = few-shot exemplars', default: 'val,test' },
      shots: { type: 'number', help: 'solved exemplars per prompt, taken from the dev split of the same subject (0 = zero-shot)', default: 0 },
      limit: { type: 'number', help: 'only the first N items (0 = all)', default: 0 },
      predictions: { type: 'string', help: 'write per-item predictions JSONL here' },
      ...onErrorFlag,
      out: { type: 'string', help: 'JSON report' },
      html: { type: 'string', help: 'HTML report' },
      ...apiFlags,
    },
    async run(f) {
      const data = needPath('mcq', f.data, '--data');
      const sys = await system('mcq', f as ApiValues);
      const { report, predictions } = await runMcq(sys, {
        data, splits: list(String(f.splits)), shots: f.shots as number, limit: f.limit as number,
        onError: f['on-error'] as OnError, concurrency: f.concurrency as number, onProgress: progress('eval mcq'),
      });
      for (const p of report.problems) console.error(`[eval mcq] rejected ${p}`);
      if (f.predictions) writeOut(f.predictions as string, predictions.map((p) => JSON.stringify(p)).join('\n') + '\n');
      const o = report.mcq[0]!.table.overall;
      console.error(`[eval mcq] accuracy ${o.accuracy === null ? '—' : (100 * o.accuracy).toFixed(2) + '%'} over ${o.scored} scored; ${o.missingGold} without gold; ${o.unparseable} unparseable; ${o.errors} errors`);
      writeReport(report, f.out as string | undefined, f.html as string | undefined);
      return 0;
    },
  },

  ppl: {
    summary: 'perplexity and bits per character of a local model on held-out text',
    usage: 'zhongjing eval ppl --data FILE --model-dir DIR [--out report.json]',
    flags: {
      data: { type: 'string', help: 'held-out text (text lines, or dialogues whose turns are joined)' },
      'model-dir': apiFlags['model-dir'],
      template: apiFlags.template,
      limit: { type: 'number', help: 'only the first N texts (0 = all)', default: 0 },
      out: { type: 'string', help: 'JSON report' },
      html: { type: 'string', help: 'HTML report' },
    },
    async run(f) {
      const data = needPath('ppl', f.data, '--data');
      const dir = needPath('ppl', f['model-dir'], '--model-dir');
      const local = await loadLocalModel(dir, f.template ? { template: f.template as string } : {});
      const { report, result } = await runPerplexity(local, data, { limit: f.limit as number, onProgress: progress('eval ppl') });
      console.error(`[eval ppl] perplexity ${result.perplexity?.toFixed(3)}, bits/char ${result.bitsPerChar?.toFixed(4)} over ${result.tokens} tokens, ${result.chars} chars`);
      writeReport(report, f.out as string | undefined, f.html as string | undefined);
      return 0;
    },
  },

  score: {
    summary: "re-score others' outputs: answer files, judge-verdict files or MCQ predictions → the same tables",
    usage: 'zhongjing eval score [--answers F1,F2] [--verdicts FILE --a-name A --b-name B] [--mcq FILE] [--out report.json --html report.html]',
    flags: {
      answers: { type: 'string', help: 'comma-separated answer files (JSONL/JSON: id + answer|output|response|prediction)' },
      data: { type: 'string', help: 'answers: the eval set, to mark safety prompts and count items nobody answered' },
      turns: { type: 'string', help: 'answers: doctor turns of --data, as given to generate', choices: ['all', 'last'], default: 'all' },
      verdicts: { type: 'string', help: 'judge verdicts (JSONL: id, ability, safety as win/tie/loss, A/B, or {a,b} scores)' },
      'a-name': { type: 'string', help: 'verdicts: name of system A', default: 'A' },
      'b-name': { type: 'string', help: 'verdicts: name of system B', default: 'B' },
      judge: { type: 'string', help: 'verdicts: judge name for the report', default: 'imported' },
      rubric: { type: 'string', help: 'comma-separated published judge-score files (JSONL/JSON: model + scores text or object)' },
      'rubric-file': { type: 'string', help: 'rubric: criteria and scale (default configs/rubric.yaml)' },
      mcq: { type: 'string', help: 'published MCQ predictions (CSV/JSONL/JSON): one column per model, a predictions dict, or rows with a model field' },
      'mcq-models': { type: 'string', help: 'mcq: comma-separated prediction columns (default: detected)' },
      'gold-index': { type: 'string', help: 'mcq: numeric answers are 0- or 1-based (cop is always 1-based)', choices: ['0', '1'] },
      out: { type: 'string', help: 'JSON report' },
      html: { type: 'string', help: 'HTML report' },
    },
    async run(f) {
      if (!f.answers && !f.verdicts && !f.mcq && !f.rubric) throw new UsageError('[eval score] nothing to score: give --answers, --verdicts, --mcq or --rubric');
      const o: ScoreOutputsOptions = {
        answers: list(String(f.answers ?? '')).map((file) => needPath('score', file, '--answers')),
        items: f.data ? await loadItems(needPath('score', f.data, '--data'), { turns: f.turns as TurnSelection }) : null,
      };
      if (f.verdicts) o.verdicts = { file: needPath('score', f.verdicts, '--verdicts'), a: f['a-name'] as string, b: f['b-name'] as string, judge: f.judge as string };
      if (f.mcq) {
        o.mcq = { file: needPath('score', f.mcq, '--mcq') };
        if (f['mcq-models']) o.mcq.models = list(String(f['mcq-models']));
        if (f['gold-index'] !== undefined) o.mcq.goldIndexBase = Number(f['gold-index']) as 0 | 1;
      }
      if (f.rubric) o.rubric = { files: list(String(f.rubric)).map((file) => needPath('score', file, '--rubric')), ...(f['rubric-file'] ? { rubricFile: f['rubric-file'] as string } : {}) };
      const report = await scoreOutputs(o);
      if (report.problems.length) console.error(`[eval score] ${report.problems.length} input problems, e.g. ${report.problems[0]}`);
      writeReport(report, f.out as string | undefined, f.html as string | undefined);
      return 0;
    },
  },

  ...judgeSubs({ apiFlags, onErrorFlag, apiConfig, system, progress, writeOut, writeReport, need, needPath }),
};

export const evalCommand: Command = groupCommand('eval', {
  summary: 'answer eval sets, judge A vs B (win/tie/loss), MCQ accuracy, perplexity, re-score others\' outputs, reports',
  about: 'Evaluation the Zhongjing way: pairwise win/tie/loss on ability & fluency and safety, plus standard metrics.',
  subcommands: Object.fromEntries(Object.entries(subs).map(([name, sub]) => [name, flagLeaf({
    path: ['eval', name], usage: sub.usage, summary: sub.summary, flags: sub.flags,
    async run(f) {
      try {
        return await sub.run(f);
      } catch (e) {
        // data-layer errors already carry file:line; keep them as they are
        if (e instanceof DataError) throw new Error(`[eval ${name}] ${e.message}`);
        throw e;
      }
    },
  })])),
});
