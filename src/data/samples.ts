// samples.ts — training samples as plain arrays of token ids, independent of the engine: pre-training blocks packed
// with document separators, SFT sequences with a loss mask through an injected chat encoder (the tokenizer issue
// implements the real one), preference pairs from rankings, and a seeded train/dev split that keeps each dialogue
// on one side. No tokenizer, tensors or files here.
import { hash64 } from './minhash.js';
import type { Conversation, DataRecord, PreferenceSet, Role, Turn } from './types.js';

export interface ChatMessage {
  role: Role;
  content: string;
}

/**
 * The one thing SFT needs from a tokenizer: ids of a rendered chat, and which of them the assistant wrote
 * (its content and end-of-turn marker; the role headers and every other turn are false).
 */
export interface ChatEncoder {
  encodeChat(messages: readonly ChatMessage[], opts?: { addGenerationPrompt?: boolean }): { ids: number[]; assistantMask: boolean[] };
}

// ---------------------------------------------------------------- pre-training packing

export interface PackOptions {
  /** tokens per block */
  blockSize: number;
  /** id appended after every document (EOS / document separator) */
  separatorId: number;
  /** what to do with the last partial block: drop it (default) or pad it with padId */
  tail?: 'drop' | 'pad';
  padId?: number;
}

/**
 * Concatenates documents, each followed by the separator, and cuts the stream into fixed blocks (a document may
 * straddle two blocks, as in GPT-style packing). Blocks are yielded as soon as they fill: memory is one block.
 */
export function* packBlocks(docs: Iterable<number[]>, o: PackOptions): Generator<Int32Array> {
  if (!(o.blockSize > 0)) throw new Error(`[packBlocks] blockSize must be > 0, got ${o.blockSize}`);
  let block = new Int32Array(o.blockSize);
  let fill = 0;
  const push = function* (id: number): Generator<Int32Array> {
    block[fill++] = id;
    if (fill === o.blockSize) { yield block; block = new Int32Array(o.blockSize); fill = 0; }
  };
  for (const d of docs) {
    if (d.length === 0) continue;
    for (const id of d) yield* push(id);
    yield* push(o.separatorId);
  }
  if (fill > 0 && o.tail === 'pad') {
    if (o.padId === undefined) throw new Error('[packBlocks] tail: pad needs padId');
    block.fill(o.padId, fill);
    yield block;
  }
}

// ---------------------------------------------------------------- SFT

export interface SftSample {
  ids: number[];
  /** true where the token is a training target */
  lossMask: boolean[];
  /** where it came from, for error messages and split checks */
  source?: string;
}

export interface SftOptions {
  /** loss on every assistant turn (default) or on the last one only */
  lossOn?: 'all' | 'last';
  /** longer samples are dropped (default) or cut at the right end */
  maxTokens?: number;
  truncate?: 'drop' | 'right';
}

export function toMessages(turns: readonly Turn[]): ChatMessage[] {
  return turns.map((t) => ({ role: t.role, content: t.text }));
}

/**
 * One conversation → one sample. Returns null when it cannot train (no final assistant answer, nothing to learn,
 * or too long under truncate: 'drop'); the caller counts those.
 */
export function encodeSft(c: Conversation, enc: ChatEncoder, o: SftOptions = {}): SftSample | null {
  if (c.turns[c.turns.length - 1]?.role !== 'assistant') return null;
  const { ids, assistantMask } = enc.encodeChat(toMessages(c.turns));
  if (ids.length !== assistantMask.length)
    throw new Error(`[encodeSft] encoder returned ${ids.length} ids but ${assistantMask.length} mask entries`);
  let mask = assistantMask.slice();
  if (o.lossOn === 'last') {
    // the last contiguous run of assistant tokens is the last assistant turn
    const last = mask.lastIndexOf(true);
    const only = mask.map(() => false);
    for (let i = last; i >= 0 && mask[i]; i--) only[i] = true;
    mask = only;
  }
  let outIds = ids;
  if (o.maxTokens !== undefined && ids.length > o.maxTokens) {
    if ((o.truncate ?? 'drop') === 'drop') return null;
    outIds = ids.slice(0, o.maxTokens);
    mask = mask.slice(0, o.maxTokens);
  }
  if (!mask.includes(true)) return null;
  const s: SftSample = { ids: outIds, lossMask: mask };
  if (c.source) s.source = `${c.source.file}:${c.source.line}`;
  return s;
}

export interface SftCounts {
  recordsIn: number;
  samples: number;
  skipped: { notConversation: number; noAnswer: number; tooLong: number };
}

/**
 * Streams conversations into SFT samples, counting why anything was skipped (records in = samples + skipped):
 * a record that is not a conversation, one that ends with the patient, or one too long under truncate: 'drop'.
 */
export function* encodeSftAll(records: Iterable<DataRecord>, enc: ChatEncoder, o: SftOptions = {}, counts?: SftCounts): Generator<SftSample> {
  const c = counts ?? { recordsIn: 0, samples: 0, skipped: { notConversation: 0, noAnswer: 0, tooLong: 0 } };
  for (const r of records) {
    c.recordsIn++;
    if (r.kind !== 'conversation') { c.skipped.notConversation++; continue; }
    if (r.turns[r.turns.length - 1]?.role !== 'assistant') { c.skipped.noAnswer++; continue; }
    const s = encodeSft(r, enc, o);
    // with an answer, null means too long (dropped) or truncated down to no target: both are length problems
    if (!s) { c.skipped.tooLong++; continue; }
    c.samples++;
    yield s;
  }
}

// ---------------------------------------------------------------- preference pairs

export interface PreferencePair {
  /** turns before the answers, ending with the patient's prompt */
  context: Turn[];
  chosen: string;
  rejected: string;
  /** group distance (1 = adjacent groups) × marginScale; 0 without margins */
  margin: number;
  setId?: string;
}

/**
 * All ordered pairs across ranking groups: every candidate of a better group against every candidate of a worse
 * one; ties (same group) give no pair; unranked sets give none.
 */
export function pairsFromRanking(s: PreferenceSet, o: { marginScale?: number; minGap?: number } = {}): PreferencePair[] {
  const byId = new Map(s.candidates.map((c) => [c.id, c.text]));
  const context: Turn[] = [...s.history, { role: 'user', text: s.prompt }];
  const out: PreferencePair[] = [];
  for (let i = 0; i < s.ranking.length; i++) {
    for (let j = i + 1; j < s.ranking.length; j++) {
      if (j - i < (o.minGap ?? 1)) continue;
      for (const a of s.ranking[i]!) for (const b of s.ranking[j]!) {
        const p: PreferencePair = { context, chosen: byId.get(a)!, rejected: byId.get(b)!, margin: (j - i) * (o.marginScale ?? 0) };
        if (s.id !== undefined) p.setId = s.id;
        out.push(p);
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- split

/** The identity of the dialogue a record belongs to: its id, else its opening patient turn. */
export function dialogueKey(r: DataRecord): string {
  switch (r.kind) {
    case 'conversation': return r.meta.id !== undefined ? `id:${r.meta.id}` : `u:${r.turns.find((t) => t.role === 'user')?.text ?? ''}`;
    case 'preference': return r.id !== undefined ? `id:${r.id}` : `u:${r.history[0]?.text ?? r.prompt}`;
    case 'text': return `t:${r.text.slice(0, 200)}`;
    case 'choice': return r.id !== undefined ? `id:${r.id}` : `q:${r.question}`;
  }
}

/**
 * 'train' or 'dev' for a record, decided by a seeded hash of its dialogue key: deterministic, streaming, and every
 * record of one dialogue lands on the same side. The dev share is devFraction in expectation.
 */
export function splitOf(r: DataRecord, devFraction: number, seed: number, key: (r: DataRecord) => string = dialogueKey): 'train' | 'dev' {
  const [h] = hash64(`${seed}\u0000${key(r)}`);
  return h / 2 ** 32 < devFraction ? 'dev' : 'train';
}

export function splitRecords<T extends DataRecord>(rs: Iterable<T>, devFraction: number, seed: number): { train: T[]; dev: T[] } {
  const out = { train: [] as T[], dev: [] as T[] };
  for (const r of rs) out[splitOf(r, devFraction, seed)].push(r);
  return out;
}
