// items.ts — eval sets → EvalItems. A multi-turn dialogue gives one item per doctor turn, each with the TRUE history
// (the paper's last-turn-only setting mostly measures courtesy: 743 of CMtMedQA_test's 1,000 final answers are
// pleasantries). Loading and shape detection are the data layer's (load.ts); nothing is generated or scored here.
import { basename } from 'node:path';
import { loadFile, type FileReport, type LoadOptions } from '../data/load.js';
import { formatProblem } from '../data/errors.js';
import type { Conversation, DataRecord, Turn } from '../data/types.js';
import type { EvalItem } from './types.js';

export type TurnSelection = 'all' | 'last';

export interface ItemOptions {
  /** 'all' (default): every doctor turn; 'last': only the final one (the paper's setting, kept for comparison) */
  turns?: TurnSelection;
}

function dialogueIdOf(c: Conversation, fallback: string): string {
  return c.meta.id ?? fallback;
}

/**
 * Items of one conversation. A trailing patient turn without an answer becomes an item without a reference
 * (prompt-only sets such as ChatMed queries); a doctor turn not preceded by a patient turn cannot be asked and is skipped.
 */
export function itemsOfConversation(c: Conversation, dialogueId: string, opts: ItemOptions = {}): EvalItem[] {
  const out: EvalItem[] = [];
  const t = c.turns;
  let turn = 0;
  for (let i = 0; i < t.length; i++) {
    if (t[i]!.role !== 'user') continue;
    const next = t[i + 1];
    if (next && next.role !== 'assistant') continue;
    const item: EvalItem = {
      id: `${dialogueId}#${turn}`, dialogueId, turn, history: t.slice(0, i).map((x): Turn => ({ ...x })),
      prompt: t[i]!.text, safety: c.meta.safety === true,
    };
    if (next) item.reference = next.text;
    if (c.meta.department) item.department = c.meta.department;
    if (c.source) item.source = c.source;
    out.push(item);
    turn++;
  }
  return opts.turns === 'last' ? out.slice(-1) : out;
}

/**
 * Items of many records (non-conversations are refused: an eval set of rankings or MCQs is a mistake worth naming).
 * Dialogue ids come from the source (`id`) or `file:line`; a repeated id is made unique with `@line`.
 */
export function itemsOfRecords(records: DataRecord[], opts: ItemOptions = {}): EvalItem[] {
  const seen = new Set<string>();
  const out: EvalItem[] = [];
  records.forEach((r, i) => {
    const where = r.source ? `${basename(r.source.file)}:${r.source.line}` : `record ${i}`;
    if (r.kind !== 'conversation') throw new Error(`[eval items] ${where}: expected a dialogue or Q&A record, got a ${r.kind} record`);
    let id = dialogueIdOf(r, where);
    if (seen.has(id)) id = `${id}@${r.source?.line ?? i}`;
    seen.add(id);
    out.push(...itemsOfConversation(r, id, opts));
  });
  return out;
}

export async function loadItems(path: string, opts: ItemOptions & LoadOptions = {}): Promise<EvalItem[]> {
  return (await loadItemsReport(path, opts)).items;
}

/** Items plus the loader's report, and its rejected records as `file:line: field: reason` lines (for reports). */
export async function loadItemsReport(path: string, opts: ItemOptions & LoadOptions = {}): Promise<{ items: EvalItem[]; report: FileReport; problems: string[] }> {
  const { records, report } = await loadFile(path, opts);
  return { items: itemsOfRecords(records, opts), report, problems: report.problems.map(formatProblem) };
}

/** The messages an answerer sees: history then the prompt, as chat roles. */
export function itemMessages(item: EvalItem): Turn[] {
  return [...item.history, { role: 'user', text: item.prompt }];
}
