// mcq.ts — multiple-choice accuracy in the CMMLU / C-Eval / licensing-exam shapes (the data layer parses them):
// local models pick the option letter of highest log-likelihood; API models answer in text and a strict extractor
// reads one letter (two different letters, or none, is unparseable and counted wrong). Per subject and overall;
// items without a gold answer (C-Eval test) are counted and reported, not scored. No model code here.
import { readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { loadFile, type OnError } from '../data/load.js';
import { formatProblem } from '../data/errors.js';
import type { MultipleChoice } from '../data/types.js';

export interface McqItem extends MultipleChoice {
  id: string;
  subject: string;
  /** dev / val / test when the file or folder says so */
  split?: string;
}

const SPLIT = /(?:^|[_/\\-])(dev|val|test)(?:$|[_/\\.-])/;

function subjectOfFile(file: string): string {
  return basename(file).replace(/\.(csv|tsv|jsonl?|json)$/i, '').replace(/_(dev|val|test)$/i, '');
}

function listFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  const out: string[] = [];
  for (const n of readdirSync(path).sort()) {
    const p = join(path, n);
    if (statSync(p).isDirectory()) out.push(...listFiles(p));
    else if (/\.(csv|tsv|jsonl?|json)$/i.test(n)) out.push(p);
  }
  return out;
}

/**
 * Multiple-choice items from a file or every data file under a folder; subject from the record or the file name.
 * `splits` keeps only files whose path names one of them (e.g. ['val', 'test'] leaves out few-shot dev exemplars);
 * files that name no split are always kept.
 */
export async function loadMcq(path: string, opts: { splits?: string[]; onError?: OnError; problems?: string[] } = {}): Promise<McqItem[]> {
  const out: McqItem[] = [];
  for (const f of listFiles(path)) {
    const subject = subjectOfFile(f);
    const split = SPLIT.exec(f.slice(path.length))?.[1] ?? SPLIT.exec(basename(f))?.[1];
    if (split && opts.splits && !opts.splits.includes(split)) continue;
    const { records, report } = await loadFile(f, { as: 'multiple-choice', ...(opts.onError ? { onError: opts.onError } : {}) });
    opts.problems?.push(...report.problems.map(formatProblem));
    for (const r of records) {
      if (r.kind !== 'choice') throw new Error(`[eval mcq] ${f}:${r.source?.line ?? '?'}: expected a multiple-choice record, got ${r.kind}`);
      const it: McqItem = { ...r, subject: r.subject ?? subject, id: `${subject}${split ? '/' + split : ''}:${r.id ?? r.source?.line}` };
      if (split) it.split = split;
      out.push(it);
    }
  }
  return out;
}

function block(it: MultipleChoice): string {
  return it.question + '\n' + it.options.map((o) => `${o.key}. ${o.text}`).join('\n') + '\n答案：';
}

/**
 * The prompt: a one-line instruction, then `shots` solved exemplars (question, options, 答案：X), then the question and
 * its lettered options ending in '答案：' for the letter to follow. Zero-shot when no exemplars are given.
 */
export function mcqPrompt(it: MultipleChoice, subject = it.subject, shots: MultipleChoice[] = []): string {
  const head = subject ? `以下是关于${subject}的单项选择题，请直接给出正确答案的选项。\n\n` : '以下是单项选择题，请直接给出正确答案的选项。\n\n';
  const solved = shots.filter((s) => s.answer).map((s) => `${block(s)}${s.answer}\n\n`).join('');
  return head + solved + block(it);
}

/** Exemplars per subject (e.g. the dev split) → a prompt function with up to `k` of them, in file order. */
export function fewShotPrompts(exemplars: McqItem[], k: number): (it: McqItem) => string {
  const by = new Map<string, McqItem[]>();
  for (const e of exemplars) if (e.answer) by.set(e.subject, [...(by.get(e.subject) ?? []), e]);
  return (it) => mcqPrompt(it, it.subject, k > 0 ? (by.get(it.subject) ?? []).filter((e) => e.id !== it.id).slice(0, k) : []);
}

// ---------------------------------------------------------------- strict answer extraction

const PATTERNS: RegExp[] = [
  /^\s*[(（]?([A-Z])[)）]?\s*(?:[.．、:：。,，\s]|$)/,
  /答案(?:是|为|应为|应该是|选)?\s*[:：]?\s*[(（]?([A-Z])(?![A-Za-z])/g,
  /(?:选择|选项|应选|选)\s*[(（]?([A-Z])(?![A-Za-z])/g,
  /([A-Z])\s*(?:项|选项)?\s*(?:正确|是正确的|为正确答案)/g,
];

/** One option letter from a free-text answer, or why not. Letters outside the item's options are refused. */
export function extractChoice(text: string, keys: string[]): { letter: string } | { why: string } {
  const found = new Set<string>();
  for (const re of PATTERNS) {
    if (re.global) for (const m of text.matchAll(re)) found.add(m[1]!);
    else { const m = re.exec(text); if (m) found.add(m[1]!); }
  }
  if (found.size === 0) return { why: 'no option letter found' };
  if (found.size > 1) return { why: `several letters (${[...found].join(', ')})` };
  const l = [...found][0]!;
  if (!keys.includes(l)) return { why: `letter ${l} is not an option (${keys.join('')})` };
  return { letter: l };
}

// ---------------------------------------------------------------- scoring

export type LogLikelihoodFn = (prompt: string, continuation: string) => number | Promise<number>;
export type AskFn = (prompt: string) => Promise<string>;

export interface McqPrediction {
  id: string;
  subject: string;
  /** gold letter, absent when the source has none */
  gold?: string;
  prediction?: string;
  status: 'ok' | 'unparseable' | 'error';
  /** the model's text (extraction) or per-option log-likelihoods */
  raw?: string;
  note?: string;
}

function base(it: McqItem): McqPrediction {
  const p: McqPrediction = { id: it.id, subject: it.subject, status: 'ok' };
  if (!it.answerMissing && it.answer) p.gold = it.answer;
  return p;
}

/** Local models: the letter whose continuation after the prompt is most likely (first one on an exact tie). */
export async function scoreByLogLikelihood(items: McqItem[], ll: LogLikelihoodFn, onProgress?: (d: number, n: number) => void, promptOf: (it: McqItem) => string = (it) => mcqPrompt(it)): Promise<McqPrediction[]> {
  const out: McqPrediction[] = [];
  for (const it of items) {
    const p = base(it);
    try {
      const prompt = promptOf(it);
      const scores: number[] = [];
      for (const o of it.options) scores.push(await ll(prompt, o.key));
      if (scores.some((s) => !Number.isFinite(s))) { p.status = 'error'; p.note = 'non-finite log-likelihood'; }
      else {
        let best = 0;
        for (let k = 1; k < scores.length; k++) if (scores[k]! > scores[best]!) best = k;
        p.prediction = it.options[best]!.key;
      }
      p.raw = it.options.map((o, k) => `${o.key}:${scores[k]!.toFixed(3)}`).join(' ');
    } catch (e) {
      p.status = 'error';
      p.note = (e as Error).message;
    }
    out.push(p);
    onProgress?.(out.length, items.length);
  }
  return out;
}

/** API models: ask, then extract one letter strictly. */
export async function scoreByExtraction(items: McqItem[], ask: AskFn, opts: { concurrency?: number; onProgress?: (d: number, n: number) => void; promptOf?: (it: McqItem) => string } = {}): Promise<McqPrediction[]> {
  const promptOf = opts.promptOf ?? ((it: McqItem) => mcqPrompt(it));
  const out: McqPrediction[] = new Array(items.length);
  let next = 0, done = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      const it = items[i]!;
      const p = base(it);
      try {
        const text = await ask(promptOf(it));
        p.raw = text;
        const x = extractChoice(text, it.options.map((o) => o.key));
        if ('letter' in x) p.prediction = x.letter;
        else { p.status = 'unparseable'; p.note = x.why; }
      } catch (e) {
        p.status = 'error';
        p.note = (e as Error).message;
      }
      out[i] = p;
      opts.onProgress?.(++done, items.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 1, items.length)) }, worker));
  return out;
}

export interface McqRow {
  subject: string;
  items: number;
  /** items with a gold answer: the accuracy denominator */
  scored: number;
  missingGold: number;
  correct: number;
  /** scored items whose answer could not be read / whose call failed (counted wrong) */
  unparseable: number;
  errors: number;
  accuracy: number | null;
}

export interface McqTable {
  rows: McqRow[];
  overall: McqRow;
  /** mean of per-subject accuracies over subjects with scored items */
  macroAccuracy: number | null;
}

function row(subject: string, ps: McqPrediction[]): McqRow {
  const scored = ps.filter((p) => p.gold !== undefined);
  const correct = scored.filter((p) => p.status === 'ok' && p.prediction === p.gold).length;
  return {
    subject, items: ps.length, scored: scored.length, missingGold: ps.length - scored.length, correct,
    unparseable: scored.filter((p) => p.status === 'unparseable').length,
    errors: scored.filter((p) => p.status === 'error').length,
    accuracy: scored.length ? correct / scored.length : null,
  };
}

export function mcqTable(preds: McqPrediction[]): McqTable {
  const by = new Map<string, McqPrediction[]>();
  for (const p of preds) by.set(p.subject, [...(by.get(p.subject) ?? []), p]);
  const rows = [...by.keys()].sort().map((s) => row(s, by.get(s)!));
  const accs = rows.map((r) => r.accuracy).filter((a): a is number => a !== null);
  return { rows, overall: row('overall', preds), macroAccuracy: accs.length ? accs.reduce((a, b) => a + b, 0) / accs.length : null };
}
