// stats.ts — the statistics every evaluation report carries: percentile-bootstrap confidence intervals (Efron &
// Tibshirani 1993, ch. 13) for means and proportions, and the exact two-sided sign test for paired comparisons
// (wins vs losses, ties left out). Seeded, so a report is reproducible. No I/O and no report drawing here.
import { Rng } from '../util/rng.js';

export interface Interval {
  /** the statistic on the data as observed */
  estimate: number;
  lo: number;
  hi: number;
  /** confidence level, e.g. 0.95 */
  level: number;
  n: number;
}

export interface BootstrapOptions {
  /** resamples (default 2000) */
  resamples?: number;
  /** default 0.95 */
  level?: number;
  /** default 1 */
  seed?: number;
}

/** The q-quantile of sorted values with linear interpolation between order statistics (type 7, R's default). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) throw new Error('[stats] quantile of no values');
  const h = (n - 1) * q, lo = Math.floor(h), hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/**
 * Percentile bootstrap interval of the mean. Null for no values. With one distinct value the interval is that value.
 * Resampling draws indices with a seeded generator, so the same values give the same interval everywhere.
 */
export function bootstrapMean(values: readonly number[], o: BootstrapOptions = {}): Interval | null {
  const n = values.length;
  if (n === 0) return null;
  for (const v of values) if (!Number.isFinite(v)) throw new Error(`[stats] bootstrapMean: non-finite value ${v}`);
  const B = o.resamples ?? 2000, level = o.level ?? 0.95;
  if (!(Number.isInteger(B) && B >= 1)) throw new Error(`[stats] resamples must be a positive integer, got ${B}`);
  if (!(level > 0 && level < 1)) throw new Error(`[stats] level must be in (0, 1), got ${level}`);
  const rng = new Rng(o.seed ?? 1);
  const means = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += values[rng.int(n)]!;
    means[b] = s / n;
  }
  means.sort();
  const est = values.reduce((a, x) => a + x, 0) / n;
  return { estimate: est, lo: quantile(means, (1 - level) / 2), hi: quantile(means, 1 - (1 - level) / 2), level, n };
}

/** Bootstrap interval of a proportion k/n (the mean of k ones and n−k zeros). Null when n = 0. */
export function bootstrapProportion(k: number, n: number, o: BootstrapOptions = {}): Interval | null {
  if (!(Number.isInteger(k) && Number.isInteger(n) && k >= 0 && k <= n)) throw new Error(`[stats] bootstrapProportion: need 0 ≤ k ≤ n integers, got ${k}/${n}`);
  if (n === 0) return null;
  const v = new Array<number>(n).fill(0);
  for (let i = 0; i < k; i++) v[i] = 1;
  return bootstrapMean(v, o);
}

/** log C(n, k) by summing logs (exact enough for n up to millions; no gamma function needed). */
function logChoose(n: number, k: number): number {
  k = Math.min(k, n - k);
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log(n - k + i) - Math.log(i);
  return s;
}

export interface SignTest {
  wins: number;
  losses: number;
  /** ties are not evidence either way in a sign test: reported, not used */
  ties: number;
  /** exact two-sided p-value under H0: P(win) = P(loss) = 1/2 among decided pairs; 1 when nothing was decided */
  p: number;
}

/**
 * Exact two-sided sign test: p = min(1, 2·P(X ≤ min(w, l))) with X ~ Binomial(w + l, 1/2). For w = 8, l = 2:
 * P(X ≤ 2) = 56/1024, p = 0.109375.
 */
export function signTest(wins: number, losses: number, ties = 0): SignTest {
  for (const [k, v] of [['wins', wins], ['losses', losses], ['ties', ties]] as const)
    if (!(Number.isInteger(v) && v >= 0)) throw new Error(`[stats] signTest: ${k} must be a whole number ≥ 0, got ${v}`);
  const n = wins + losses;
  if (n === 0) return { wins, losses, ties, p: 1 };
  const m = Math.min(wins, losses);
  let tail = 0;
  for (let i = 0; i <= m; i++) tail += Math.exp(logChoose(n, i) - n * Math.LN2);
  return { wins, losses, ties, p: Math.min(1, 2 * tail) };
}

/** '0.62 [0.55, 0.70]' for reports; '—' for null. */
export function formatInterval(iv: Interval | null, digits = 2, scale = 1): string {
  if (!iv) return '—';
  const f = (x: number) => (x * scale).toFixed(digits);
  return `${f(iv.estimate)} [${f(iv.lo)}, ${f(iv.hi)}]`;
}
