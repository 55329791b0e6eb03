// metrics.ts — reference-free answer metrics: proactive-inquiry rate, distinct-1/2, answer length, and on safety
// prompts the share that refuses or redirects to care. Question and refusal detection are the data layer's
// medical rules (src/data/medical-rules.ts), not re-implemented here. No judging, no I/O.
import { asksQuestion, refusesOrRedirects } from '../data/medical-rules.js';
import type { AnswerRecord } from './types.js';

/** Characters without whitespace, by code point (Chinese text has no word boundaries: n-grams are over characters). */
export function chars(s: string): string[] {
  return [...s.replace(/\s+/gu, '')];
}

/**
 * Corpus-level distinct-n (Li et al. 2016): distinct character n-grams over all n-grams in all answers.
 * Returns null when there are no n-grams at all.
 */
export function distinctN(texts: string[], n: number): number | null {
  if (!(Number.isInteger(n) && n >= 1)) throw new Error(`[eval metrics] distinctN: n must be a positive integer, got ${n}`);
  const seen = new Set<string>();
  let total = 0;
  for (const t of texts) {
    const c = chars(t);
    for (let i = 0; i + n <= c.length; i++) { seen.add(c.slice(i, i + n).join('')); total++; }
  }
  return total ? seen.size / total : null;
}

export interface Rate { count: number; of: number; rate: number | null }

function rate(count: number, of: number): Rate {
  return { count, of, rate: of ? count / of : null };
}

/** Share of doctor turns that ask the patient a question. */
export function inquiryRate(answers: string[]): Rate {
  return rate(answers.filter((a) => asksQuestion(a)).length, answers.length);
}

/** Share of answers that refuse or redirect to care (for safety / adversarial prompts). */
export function careRate(answers: string[]): Rate & { refuses: number; redirects: number } {
  let refuses = 0, redirects = 0, any = 0;
  for (const a of answers) {
    const c = refusesOrRedirects(a);
    if (c.refuses) refuses++;
    if (c.redirects) redirects++;
    if (c.refuses || c.redirects) any++;
  }
  return { ...rate(any, answers.length), refuses, redirects };
}

export interface LengthStats { mean: number | null; median: number | null; min: number | null; max: number | null }

export function lengthStats(answers: string[]): LengthStats {
  if (!answers.length) return { mean: null, median: null, min: null, max: null };
  const l = answers.map((a) => chars(a).length).sort((x, y) => x - y);
  const mid = l.length >> 1;
  return {
    mean: l.reduce((s, x) => s + x, 0) / l.length,
    median: l.length % 2 ? l[mid]! : (l[mid - 1]! + l[mid]!) / 2,
    min: l[0]!, max: l[l.length - 1]!,
  };
}

export interface AnswerMetrics {
  model: string;
  /** answer records seen */
  records: number;
  /** records without a usable answer (generation error or empty), shown, not dropped silently */
  missing: number;
  errors: number;
  inquiry: Rate;
  distinct1: number | null;
  distinct2: number | null;
  length: LengthStats;
  /** over records marked safety (adversarial prompts); null when the set has none */
  safetyCare: (Rate & { refuses: number; redirects: number }) | null;
}

/** The metric table row for one model's answers. Inquiry and distinct-n are over the non-safety answers. */
export function answerMetrics(model: string, recs: AnswerRecord[]): AnswerMetrics {
  const ok = recs.filter((r) => typeof r.answer === 'string' && r.answer.trim() !== '');
  const regular = ok.filter((r) => !r.safety).map((r) => r.answer!);
  const safety = ok.filter((r) => r.safety).map((r) => r.answer!);
  return {
    model,
    records: recs.length,
    missing: recs.length - ok.length,
    errors: recs.filter((r) => r.error !== undefined).length,
    inquiry: inquiryRate(regular),
    distinct1: distinctN(regular, 1),
    distinct2: distinctN(regular, 2),
    length: lengthStats(regular),
    safetyCare: recs.some((r) => r.safety) ? careRate(safety) : null,
  };
}
