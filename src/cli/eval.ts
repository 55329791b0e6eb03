// eval.ts — `zhongjing eval generate|pairwise|mcq|ppl|score`: evaluation on the command line, a thin layer over
// src/eval (no scoring logic here). Long runs print progress to stderr; inputs' problems are reported as file:line.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from './command.js';
import { formatHelp, parseArgs, UsageError, type FlagSpecs } from './args.js';
import { DataError } from '../data/errors.js';
import { loadFile, type OnError } from '../data/load.js';
import type { PreferenceSet } from '../data/types.js';
import {
  answerMetrics, answersToJsonl, apiAnswerer, fewShotPrompts, comparePairwise, emptyReport, generateAnswers, judgeAgreement, llmJudge,
  loadItems, loadItemsReport, loadMcq, loadRule, mcqTable, perplexity, pickExamples, readAnswers, readVerdicts,
  renderReportHtml, resultOf, safetyAbilityRuleJudge, scoreByExtraction, scoreByLogLikelihood, verdictsFromRankings,
  DEMO_JUDGE_NAME, type ApiConfig, type Answerer, type EvalReport, type PairJudge, type PairwiseResult, type TurnSelection,
} from '../eval/index.js';
import { loadLocalModel } from '../eval/local-model.js';
import { parseWeightsOption, WEIGHTS_OPTIONS } from '../model/weights.js';
import { readPublishedMcq, type PublishedMcqOptions } from '../eval/mcq-predictions.js';
import { loadRubric } from '../eval/rubric.js';
import { readJudgeScores, rubricSignTests, rubricTables } from '../eval/rubric-score.js';
import { judgeSubs } from './eval-judge.js';

const onErrorFlag = {
  'on-error': { type: 'string', help: 'rejected input records: fail at the first, skip all (listed in the report), or auto (fail above 1 %)', choices: ['auto', 'fail', 'skip'], default: 'auto' },
} as const satisfies FlagSpecs;

const apiFlags = {
  'model-dir': { type: 'string', help: 'a local model directory (docs/model-directory.md) or a llama.cpp .gguf file' },
  weights: { type: 'string', help: 'local models: dtype of the weight matrices in memory (auto = the file\'s; bf16, q8_0, q4_0 made at load)', default: 'auto', choices: [...WEIGHTS_OPTIONS] },
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

function apiConfig(where: string, base: string, model: string | undefined, keyEnv: string, f: ApiValues): ApiConfig {
  if (!model) throw new UsageError(`[eval ${where}] --api-base needs --api-model`);
  const cfg: ApiConfig = { baseUrl: base, model, timeoutMs: f['timeout-ms'] as number, maxRetries: f.retries as number };
  const key = process.env[keyEnv];
  if (key) cfg.apiKey = key;
  if (f.rpm) cfg.requestsPerMinute = f.rpm as number;
  return cfg;
}

async function system(where: string, f: ApiValues): Promise<{ answerer: Answerer; local?: Awaited<ReturnType<typeof loadLocalModel>> }> {
  if (f['model-dir'] && f['api-base']) throw new UsageError(`[eval ${where}] give --model-dir or --api-base, not both`);
  if (f['model-dir']) {
    const o: Parameters<typeof loadLocalModel>[1] = { maxNewTokens: f['max-new-tokens'] as number, seed: f.seed as number };
    if ((f.temperature as number) > 0) { o.doSample = true; o.temperature = f.temperature as number; }
    if (f['top-p'] !== undefined) o.topP = f['top-p'] as number;
    if (f['top-k'] !== undefined) o.topK = f['top-k'] as number;
    if (f['repetition-penalty'] !== undefined) o.repetitionPenalty = f['repetition-penalty'] as number;
    if (f.template) o.template = f.template as string;
    if (f.name) o.name = f.name as string;
    o.weights = parseWeightsOption(f.weights ?? 'auto', `eval ${where}`);
    const local = await loadLocalModel(needPath(where, f['model-dir'], '--model-dir'), o);
    return { answerer: local.answerer, local };
  }
  if (f['api-base']) {
    const cfg = apiConfig(where, f['api-base'] as string, f['api-model'] as string | undefined, f['api-key-env'] as string, f);
    const params: { temperature: number; maxTokens: number; topP?: number; seed: number } = { temperature: f.temperature as number, maxTokens: f['max-new-tokens'] as number, seed: f.seed as number };
    if (f['top-p'] !== undefined) params.topP = f['top-p'] as number;
    const a = apiAnswerer(cfg, params);
    if (f.name) a.name = f.name as string;
    return { answerer: a };
  }
  throw new UsageError(`[eval ${where}] give a system: --model-dir DIR or --api-base URL --api-model NAME`);
}

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
      const items = loaded.items;
      const ra = readAnswers(needPath('pairwise', f.a, '--a'), f['a-name'] as string | undefined);
      const an = (f['a-name'] as string | undefined) ?? ra.records[0]?.model ?? 'A';
      // several opponents (the paper's bars: one row per opponent): --b f1,f2 with --b-name n1,n2
      const bFiles = need('pairwise', f.b as string | undefined, '--b').split(',').map((x) => x.trim()).filter(Boolean);
      for (const b of bFiles) needPath('pairwise', b, '--b');
      const bNames = f['b-name'] ? String(f['b-name']).split(',').map((x) => x.trim()) : [];
      if (bNames.length && bNames.length !== bFiles.length) throw new UsageError(`[eval pairwise] --b-name names ${bNames.length} systems but --b gives ${bFiles.length} files`);
      const opponents = bFiles.map((file, i) => {
        const r = readAnswers(file, bNames[i]);
        return { name: bNames[i] ?? r.records[0]?.model ?? `B${i + 1}`, read: r };
      });
      const report = emptyReport(`${an} vs ${opponents.map((o) => o.name).join(', ')} on ${data}`);
      report.problems.push(...loaded.problems, ...ra.problems, ...opponents.flatMap((o) => o.read.problems));
      const judges: (PairJudge | 'human')[] = [];
      for (const j of String(f.judge).split(',').map((x) => x.trim()).filter(Boolean)) {
        if (j === 'rules') { judges.push(safetyAbilityRuleJudge()); report.notes.push(`${DEMO_JUDGE_NAME}: heuristics from the data layer's medical rules, standing in for doctors in the demo.`); }
        else if (j === 'llm') {
          const cfg = apiConfig('pairwise', need('pairwise', f['judge-base'] as string | undefined, '--judge-base'), f['judge-model'] as string | undefined, f['judge-key-env'] as string, f as ApiValues);
          judges.push(llmJudge({ api: cfg, rule: loadRule(f.rule as string | undefined), cachePath: (f.cache as string | undefined) ?? null }));
        } else if (j === 'human') judges.push('human');
        else throw new UsageError(`[eval pairwise] --judge: unknown judge '${j}' (llm, rules, human; a reward model is called from the API, see docs/evaluation.md)`);
      }
      const rankings = judges.includes('human')
        ? (await loadFile(needPath('pairwise', f.human, '--human'))).records.filter((r): r is PreferenceSet => r.kind === 'preference')
        : [];
      const wanted = new Set(items.map((i) => i.id));
      for (const o of opponents) {
        const results: PairwiseResult[] = [];
        for (const judge of judges) {
          if (judge === 'human') {
            // only annotated items count here: an item nobody ranked is not a missing answer
            const imp = verdictsFromRankings(rankings, an, o.name);
            if (imp.overall) report.notes.push(`human (${an} vs ${o.name}): ${imp.overall} rankings had no meta.dimension and were applied to both dimensions (overall judgement under the annotation rule).`);
            results.push(resultOf(an, o.name, 'human', ['ability', 'safety'], imp.verdicts.filter((v) => wanted.has(v.itemId))));
            continue;
          }
          const show = progress(`eval pairwise ${an} vs ${o.name}: ${judge.name}`);
          results.push(await comparePairwise(items, { name: an, answers: ra.records }, { name: o.name, answers: o.read.records }, judge, { concurrency: f.concurrency as number, onProgress: show }));
        }
        for (let i = 0; i < results.length; i++) for (let k = i + 1; k < results.length; k++)
          for (const d of results[i]!.dimensions.filter((x) => results[k]!.dimensions.includes(x)))
            report.agreement.push({ judges: [results[i]!.judge, results[k]!.judge], dimension: d, kappa: judgeAgreement(results[i]!.verdicts, results[k]!.verdicts, d) });
        report.pairwise.push(...results);
      }
      report.answerMetrics = [answerMetrics(an, ra.records), ...opponents.map((o) => answerMetrics(o.name, o.read.records))];
      const byModel = (recs: typeof ra.records) => new Map(recs.filter((r) => r.answer).map((r) => [r.itemId, r.answer!]));
      const m = new Map([[an, byModel(ra.records)], ...opponents.map((o) => [o.name, byModel(o.read.records)] as const)]);
      report.examples = pickExamples(items, m, report.pairwise, f.examples as number);
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
      const problems: string[] = [];
      let items = await loadMcq(data, { splits: String(f.splits).split(',').map((x) => x.trim()).filter(Boolean), onError: f['on-error'] as OnError, problems });
      for (const p of problems) console.error(`[eval mcq] rejected ${p}`);
      if ((f.limit as number) > 0) items = items.slice(0, f.limit as number);
      const shots = f.shots as number;
      const exemplars = shots > 0 ? await loadMcq(data, { splits: ['dev'] }) : [];
      if (shots > 0 && exemplars.length === 0) throw new UsageError(`[eval mcq] --shots ${shots}: no dev split under ${data} to take exemplars from`);
      const promptOf = fewShotPrompts(exemplars, shots);
      const sys = await system('mcq', f as ApiValues);
      const show = progress('eval mcq');
      const preds = sys.local
        ? await scoreByLogLikelihood(items, sys.local.logLikelihood, show, promptOf)
        : await scoreByExtraction(items, (p) => sys.answerer.answer([{ role: 'user', text: p }]), { concurrency: f.concurrency as number, onProgress: show, promptOf });
      const table = mcqTable(preds);
      const report = emptyReport(`${sys.answerer.name} on ${data}`);
      report.mcq.push({ model: sys.answerer.name, data, table });
      report.problems.push(...problems);
      if (table.overall.missingGold) report.notes.push(`${table.overall.missingGold} items have no gold answer (e.g. C-Eval test): counted, not scored.`);
      if (f.predictions) writeOut(f.predictions as string, preds.map((p) => JSON.stringify(p)).join('\n') + '\n');
      console.error(`[eval mcq] accuracy ${table.overall.accuracy === null ? '—' : (100 * table.overall.accuracy).toFixed(2) + '%'} over ${table.overall.scored} scored; ${table.overall.missingGold} without gold; ${table.overall.unparseable} unparseable; ${table.overall.errors} errors`);
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
      const { records } = await loadFile(data);
      let texts = records.map((r) => r.kind === 'text' ? r.text : r.kind === 'conversation' ? r.turns.map((t) => t.text).join('\n') : r.kind === 'choice' ? r.question : r.prompt);
      if ((f.limit as number) > 0) texts = texts.slice(0, f.limit as number);
      const o: Parameters<typeof loadLocalModel>[1] = {};
      if (f.template) o.template = f.template as string;
      const local = await loadLocalModel(dir, o);
      const result = await perplexity(texts, local.tokenLogProbs, progress('eval ppl'));
      const report = emptyReport(`${local.answerer.name} on ${data}`);
      report.perplexity.push({ model: local.answerer.name, data, result });
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
      const report = emptyReport('re-scored outputs');
      const items = f.data ? await loadItems(needPath('score', f.data, '--data'), { turns: f.turns as TurnSelection }) : null;
      for (const file of String(f.answers ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
        const r = readAnswers(needPath('score', file, '--answers'));
        report.problems.push(...r.problems);
        if (items) {
          // join with the eval set: safety flags come from the items; ids it does not know are problems; items without
          // an answer become missing answers so the denominators are the eval set's, not the file's
          const byId = new Map(items.map((i) => [i.id, i]));
          const seen = new Set<string>();
          for (const x of r.records) {
            const it = byId.get(x.itemId);
            if (!it) { report.problems.push(`${file}: answer for unknown item '${x.itemId}'`); continue; }
            seen.add(x.itemId);
            if (it.safety) x.safety = true;
          }
          const model = r.records[0]?.model ?? file;
          for (const it of items) if (!seen.has(it.id)) {
            const miss: (typeof r.records)[number] = { itemId: it.id, model, error: 'no answer in the file' };
            if (it.safety) miss.safety = true;
            r.records.push(miss);
          }
          r.records = r.records.filter((x) => byId.has(x.itemId));
        }
        const byModel = new Map<string, typeof r.records>();
        for (const x of r.records) byModel.set(x.model, [...(byModel.get(x.model) ?? []), x]);
        for (const [m, rs] of byModel) report.answerMetrics.push(answerMetrics(m, rs));
      }
      if (f.verdicts) {
        const r = readVerdicts(needPath('score', f.verdicts, '--verdicts'));
        report.problems.push(...r.problems);
        report.pairwise.push(resultOf(f['a-name'] as string, f['b-name'] as string, f.judge as string, ['ability', 'safety'], r.records));
      }
      if (f.mcq) {
        const mo: PublishedMcqOptions = {};
        if (f['mcq-models']) mo.models = String(f['mcq-models']).split(',').map((x) => x.trim()).filter(Boolean);
        if (f['gold-index'] !== undefined) mo.goldIndexBase = Number(f['gold-index']) as 0 | 1;
        const r = await readPublishedMcq(needPath('score', f.mcq, '--mcq'), mo);
        report.problems.push(...r.problems);
        report.notes.push(...r.notes);
        for (const t of r.tables) report.mcq.push({ model: t.model, data: f.mcq as string, table: t.table });
      }
      if (f.rubric) {
        const rb = loadRubric(f['rubric-file'] as string | undefined);
        for (const file of String(f.rubric).split(',').map((x) => x.trim()).filter(Boolean)) {
          const r = readJudgeScores(needPath('score', file, '--rubric'), rb);
          report.problems.push(...r.problems);
          (report.rubric ??= []).push({ data: file, judge: 'imported', tables: rubricTables(r.records, rb), comparisons: rubricSignTests(r.records, rb) });
        }
      }
      if (report.problems.length) console.error(`[eval score] ${report.problems.length} input problems, e.g. ${report.problems[0]}`);
      writeReport(report, f.out as string | undefined, f.html as string | undefined);
      return 0;
    },
  },

  ...judgeSubs({ apiFlags, onErrorFlag, apiConfig, system, progress, writeOut, writeReport, need, needPath }),
};

function topHelp(): string {
  return ['usage: zhongjing eval <generate|pairwise|mcq|ppl|score|rubric|consult> [flags]   (zhongjing eval <sub> --help)', '',
    'Evaluation the Zhongjing way: pairwise win/tie/loss on ability & fluency and safety, plus standard metrics.', '',
    ...Object.entries(subs).map(([k, s]) => `  ${k.padEnd(10)}${s.summary}`)].join('\n');
}

export const evalCommand: Command = {
  name: 'eval',
  summary: 'answer eval sets, judge A vs B (win/tie/loss), MCQ accuracy, perplexity, re-score others\' outputs, reports',
  async run(argv) {
    const [subName, ...rest] = argv;
    if (!subName || subName === '--help' || subName === '-h') { console.log(topHelp()); return subName ? 0 : 2; }
    const sub = subs[subName];
    if (!sub) throw new UsageError(`[eval] unknown subcommand '${subName}'\n\n${topHelp()}`);
    const { flags, positional } = parseArgs(`eval ${subName}`, rest, sub.flags);
    if (flags.help) { console.log(formatHelp(sub.usage, sub.summary, sub.flags)); return 0; }
    if (positional.length) throw new UsageError(`[eval ${subName}] unexpected argument '${positional[0]}' (inputs are given by flags)`);
    try {
      return await sub.run(flags as Record<string, unknown>);
    } catch (e) {
      // data-layer errors already carry file:line; keep them as they are
      if (e instanceof DataError) throw new Error(`[eval ${subName}] ${e.message}`);
      throw e;
    }
  },
};
