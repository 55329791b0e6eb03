// pairwise.ts — the paper's protocol: for every item, A's answer vs B's under a judge → an Outcome per dimension,
// tallied into win / tie / loss with every failure (missing answer, unparseable verdict, API error) counted beside
// them, and Cohen's κ between two judges. Judges live in judges.ts; drawing is report.ts.
import type { AnswerRecord, Dimension, EvalItem, Outcome, PairVerdict } from './types.js';
import { OUTCOMES, isDecided } from './types.js';
import type { PairJudge } from './judges.js';

export type Tally = Record<Outcome, number> & { total: number };

export interface PairwiseResult {
  a: string;
  b: string;
  judge: string;
  dimensions: Dimension[];
  tallies: Partial<Record<Dimension, Tally>>;
  /** items whose two answer orders disagreed (LLM judge), per dimension; already counted as ties */
  positionConflicts: Partial<Record<Dimension, number>>;
  verdicts: PairVerdict[];
}

export function emptyTally(): Tally {
  const t = { total: 0 } as Tally;
  for (const o of OUTCOMES) t[o] = 0;
  return t;
}

/** Tallies per dimension. A verdict lacking a dimension the judge rules on counts as 'missing' there, never dropped. */
export function tallyVerdicts(verdicts: PairVerdict[], dims: Dimension[]): { tallies: Partial<Record<Dimension, Tally>>; conflicts: Partial<Record<Dimension, number>> } {
  const tallies: Partial<Record<Dimension, Tally>> = {};
  const conflicts: Partial<Record<Dimension, number>> = {};
  for (const d of dims) { tallies[d] = emptyTally(); conflicts[d] = 0; }
  for (const v of verdicts) for (const d of dims) {
    const t = tallies[d]!;
    t[v.outcomes[d] ?? 'missing']++;
    t.total++;
    if (v.positionConflicts?.includes(d)) conflicts[d]!++;
  }
  return { tallies, conflicts };
}

/** win/tie/loss shares over decided items, and the failures as a share of all. */
export function tallyShares(t: Tally): { win: number; tie: number; loss: number; decided: number; failed: number } {
  const decided = t.win + t.tie + t.loss;
  const f = (x: number) => (decided ? x / decided : 0);
  return { win: f(t.win), tie: f(t.tie), loss: f(t.loss), decided, failed: t.total - decided };
}

export interface System { name: string; answers: AnswerRecord[] }

export interface CompareOptions {
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

function answerOf(map: Map<string, AnswerRecord>, id: string): { text?: string; why?: string } {
  const r = map.get(id);
  if (!r) return { why: 'no answer record' };
  if (r.error !== undefined) return { why: `generation failed: ${r.error}` };
  if (typeof r.answer !== 'string' || r.answer.trim() === '') return { why: 'empty answer' };
  return { text: r.answer };
}

/**
 * Judge A against B on every item. An item where either answer is missing, failed or empty is 'missing' on every
 * dimension (the judge is not asked). A judge that throws gives 'error' for that item; the run continues.
 */
export async function comparePairwise(items: EvalItem[], a: System, b: System, judge: PairJudge, opts: CompareOptions = {}): Promise<PairwiseResult> {
  const ma = new Map(a.answers.map((r) => [r.itemId, r])), mb = new Map(b.answers.map((r) => [r.itemId, r]));
  const verdicts: PairVerdict[] = new Array(items.length);
  let next = 0, done = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      const item = items[i]!;
      const xa = answerOf(ma, item.id), xb = answerOf(mb, item.id);
      if (xa.text === undefined || xb.text === undefined) {
        const outcomes: Partial<Record<Dimension, Outcome>> = {};
        for (const d of judge.dimensions) outcomes[d] = 'missing';
        const why = [xa.why ? `A: ${xa.why}` : '', xb.why ? `B: ${xb.why}` : ''].filter(Boolean).join('; ');
        verdicts[i] = { itemId: item.id, outcomes, note: why };
      } else {
        try {
          verdicts[i] = await judge.judge(item, xa.text, xb.text);
        } catch (e) {
          const outcomes: Partial<Record<Dimension, Outcome>> = {};
          for (const d of judge.dimensions) outcomes[d] = 'error';
          verdicts[i] = { itemId: item.id, outcomes, note: `[${judge.name}] ${(e as Error).message}` };
        }
      }
      opts.onProgress?.(++done, items.length);
    }
  };
  const n = Math.max(1, Math.min(opts.concurrency ?? 1, items.length));
  await Promise.all(Array.from({ length: n }, worker));
  return resultOf(a.name, b.name, judge.name, judge.dimensions, verdicts);
}

export function resultOf(a: string, b: string, judge: string, dims: Dimension[], verdicts: PairVerdict[]): PairwiseResult {
  const { tallies, conflicts } = tallyVerdicts(verdicts, dims);
  return { a, b, judge, dimensions: dims, tallies, positionConflicts: conflicts, verdicts };
}

// ---------------------------------------------------------------- agreement

export interface Kappa {
  /** items both judges decided (win/tie/loss) */
  n: number;
  /** items left out because either judge did not decide them (or only one judge saw them) */
  excluded: number;
  observed: number;
  expected: number;
  /** null when undefined (no items, or both judges always gave the same single label: expected agreement 1) */
  kappa: number | null;
}

/** Cohen's κ = (pₒ − pₑ) / (1 − pₑ) over paired labels; pₑ from each rater's marginal label frequencies. */
export function cohenKappa<L>(pairs: [L, L][]): Omit<Kappa, 'excluded'> {
  const n = pairs.length;
  if (n === 0) return { n, observed: 0, expected: 0, kappa: null };
  const ca = new Map<L, number>(), cb = new Map<L, number>();
  let agree = 0;
  for (const [x, y] of pairs) {
    if (x === y) agree++;
    ca.set(x, (ca.get(x) ?? 0) + 1);
    cb.set(y, (cb.get(y) ?? 0) + 1);
  }
  let pe = 0;
  for (const [l, k] of ca) pe += (k / n) * ((cb.get(l) ?? 0) / n);
  const po = agree / n;
  return { n, observed: po, expected: pe, kappa: pe === 1 ? null : (po - pe) / (1 - pe) };
}

/** κ between two judges' verdicts on one dimension, matched by item id; undecided items are excluded and counted. */
export function judgeAgreement(v1: PairVerdict[], v2: PairVerdict[], dim: Dimension): Kappa {
  const m2 = new Map(v2.map((v) => [v.itemId, v]));
  const ids = new Set([...v1.map((v) => v.itemId), ...v2.map((v) => v.itemId)]);
  const pairs: [Outcome, Outcome][] = [];
  let excluded = 0;
  const m1 = new Map(v1.map((v) => [v.itemId, v]));
  for (const id of ids) {
    const a = m1.get(id)?.outcomes[dim], b = m2.get(id)?.outcomes[dim];
    if (isDecided(a) && isDecided(b)) pairs.push([a, b]);
    else excluded++;
  }
  return { ...cohenKappa(pairs), excluded };
}
