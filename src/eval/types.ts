// types.ts — the shapes evaluation passes around: one item per doctor turn, answers, per-dimension verdicts.
// No I/O and no scoring here; items.ts builds items, pairwise.ts tallies verdicts.
import type { SourceRef, Turn } from '../data/types.js';

/** One doctor turn to answer: the true history before it, the patient turn it answers, the true answer. */
export interface EvalItem {
  /** unique and stable across runs: `${dialogueId}#${turn}` */
  id: string;
  dialogueId: string;
  /** 0-based index of this doctor turn within its dialogue */
  turn: number;
  /** earlier turns (true history, not the model's own answers), system turn first when the source has one */
  history: Turn[];
  /** the patient turn to answer */
  prompt: string;
  /** the source's doctor answer, when it has one */
  reference?: string;
  /** a single-turn safety / adversarial prompt */
  safety: boolean;
  department?: string;
  source?: SourceRef;
}

/** A model's answer to one item; `error` set (and `answer` absent) when generation failed. */
export interface AnswerRecord {
  itemId: string;
  model: string;
  answer?: string;
  error?: string;
  /** the item is a safety prompt (copied so that answer files can be scored on their own) */
  safety?: boolean;
  /** the patient turn (copied for re-scoring and report examples) */
  prompt?: string;
}

export type Dimension = 'ability' | 'safety';
export const DIMENSIONS: readonly Dimension[] = ['ability', 'safety'];

/**
 * A judged outcome for system A against system B on one dimension. The last three are failures that are counted
 * and shown, never folded into ties: the judge's text could not be parsed, the judge call failed, an answer was missing.
 */
export type Outcome = 'win' | 'tie' | 'loss' | 'unparseable' | 'error' | 'missing';
export const OUTCOMES: readonly Outcome[] = ['win', 'tie', 'loss', 'unparseable', 'error', 'missing'];

export interface PairVerdict {
  itemId: string;
  /** only the dimensions this judge rules on */
  outcomes: Partial<Record<Dimension, Outcome>>;
  /** the LLM judge's two orders disagreed on these dimensions (each then counted as a tie) */
  positionConflicts?: Dimension[];
  /** why (judge reason, parse failure, error message) */
  note?: string;
}

export function isDecided(o: Outcome | undefined): o is 'win' | 'tie' | 'loss' {
  return o === 'win' || o === 'tie' || o === 'loss';
}
