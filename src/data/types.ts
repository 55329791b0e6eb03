// types.ts — the one internal model every reader converts into: Conversation, PreferenceSet, PlainText,
// MultipleChoice, each carrying where it came from (file:line). No parsing or validation here.

export type Role = 'system' | 'user' | 'assistant';

export interface Turn {
  role: Role;
  text: string;
}

/** Where a record came from: the file and the 1-based line its raw record starts on. */
export interface SourceRef {
  file: string;
  line: number;
}

export interface ConversationMeta {
  id?: string;
  department?: string;
  subDepartment?: string;
  /** the name of the source shape, e.g. 'alpaca', 'sharegpt' — set by the loader */
  shape?: string;
  /** a single-turn safety/adversarial prompt (the CMtMedQA `instruct` variant) */
  safety?: boolean;
  /** any other string fields of the source record worth keeping (title, task, label…) */
  extra?: Record<string, string>;
}

/**
 * Ordered turns. A conversation whose last turn is `user` is a prompt without a reference answer
 * (ChatMed queries, C-Eval-like hidden test labels); it is valid for inspection and evaluation, not for SFT.
 */
export interface Conversation {
  kind: 'conversation';
  turns: Turn[];
  meta: ConversationMeta;
  source?: SourceRef;
}

export interface RankedCandidate {
  id: string;
  text: string;
  source?: string;
  rewriteOf?: string;
}

/** prompt + history + K candidates ranked best group first; a group of several ids is a tie. */
export interface PreferenceSet {
  kind: 'preference';
  id?: string;
  /** earlier turns, alternating user/assistant, before the prompt */
  history: Turn[];
  prompt: string;
  candidates: RankedCandidate[];
  ranking: string[][];
  annotator?: string;
  comment?: string;
  meta?: Record<string, unknown>;
  source?: SourceRef;
}

export interface PlainText {
  kind: 'text';
  text: string;
  meta?: { title?: string };
  source?: SourceRef;
}

export interface MultipleChoice {
  kind: 'choice';
  id?: string;
  question: string;
  /** option letter (A, B, …) → text, in order */
  options: { key: string; text: string }[];
  /** the correct letter, or undefined when the source has no answer (flagged by `answerMissing`) */
  answer?: string;
  answerMissing: boolean;
  explanation?: string;
  subject?: string;
  source?: SourceRef;
}

export type DataRecord = Conversation | PreferenceSet | PlainText | MultipleChoice;
export type RecordKind = DataRecord['kind'];
