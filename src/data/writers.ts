// writers.ts — internal records → the field's formats, one JSON object per line: alpaca (+history; the safety
// variant keyed `instruct` as in CMtMedQA), ShareGPT, OpenAI messages, and `jsonl` (our native form per kind:
// messages for conversations, the ranking format for preference sets). Refuses what a format cannot express.
import { RecordError } from './errors.js';
import { preferenceSetToRanking } from './ranking-format.js';
import type { Conversation, DataRecord } from './types.js';

export type OutFormat = 'alpaca' | 'sharegpt' | 'messages' | 'jsonl';
export const outFormats: readonly OutFormat[] = ['alpaca', 'sharegpt', 'messages', 'jsonl'];

function metaFields(c: Conversation): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (c.meta.id !== undefined) o.id = c.meta.id;
  if (c.meta.department !== undefined) o.department = c.meta.department;
  if (c.meta.subDepartment !== undefined) o.subDepartment = c.meta.subDepartment;
  if (c.meta.extra) for (const [k, v] of Object.entries(c.meta.extra)) if (!(k in o)) o[k] = v;
  return o;
}

function alpaca(c: Conversation): Record<string, unknown> {
  const turns = c.turns;
  const sys = turns[0]?.role === 'system' ? turns[0].text : undefined;
  const body = sys === undefined ? turns : turns.slice(1);
  if (body[body.length - 1]?.role !== 'assistant')
    throw new RecordError('turns', 'alpaca needs a final doctor answer; this conversation ends with the patient (use --to messages)');
  const history: [string, string][] = [];
  for (let i = 0; i + 2 < body.length; i += 2) history.push([body[i]!.text, body[i + 1]!.text]);
  const o: Record<string, unknown> = metaFields(c);
  o[c.meta.safety ? 'instruct' : 'instruction'] = body[body.length - 2]!.text;
  o.input = '';
  o.output = body[body.length - 1]!.text;
  if (history.length) o.history = history;
  if (sys !== undefined) o.system = sys;
  return o;
}

const SHAREGPT_FROM = { user: 'human', assistant: 'gpt', system: 'system' } as const;

/** One record as one JSON-serialisable object in `fmt`; throws RecordError when the format cannot hold it. */
export function toOutput(r: DataRecord, fmt: OutFormat, index: number): Record<string, unknown> {
  if (r.kind === 'conversation') {
    if (fmt === 'alpaca') return alpaca(r);
    const o: Record<string, unknown> = fmt === 'sharegpt'
      ? { conversations: r.turns.map((t) => ({ from: SHAREGPT_FROM[t.role], value: t.text })) }
      : { messages: r.turns.map((t) => ({ role: t.role, content: t.text })) };
    if (r.meta.safety) o.safety = true;
    return { ...metaFields(r), ...o };
  }
  if (fmt !== 'jsonl') throw new RecordError('record', `a ${r.kind} record cannot be written as ${fmt} (use --to jsonl)`);
  switch (r.kind) {
    case 'preference': {
      try {
        return preferenceSetToRanking(r, `p${index}`) as unknown as Record<string, unknown>;
      } catch (e) {
        throw new RecordError('history', (e as Error).message);
      }
    }
    case 'text': return r.meta?.title ? { title: r.meta.title, text: r.text } : { text: r.text };
    case 'choice': {
      const o: Record<string, unknown> = {};
      if (r.id !== undefined) o.id = r.id;
      o.question = r.question;
      for (const op of r.options) o[op.key] = op.text;
      o.answer = r.answer ?? '';
      if (r.explanation !== undefined) o.explanation = r.explanation;
      if (r.subject !== undefined) o.subject = r.subject;
      return o;
    }
  }
}

export function toLine(r: DataRecord, fmt: OutFormat, index: number): string {
  return JSON.stringify(toOutput(r, fmt, index));
}
