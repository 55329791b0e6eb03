// turns.ts — what every dialogue layout ends in: the turn normaliser (empty turns dropped, a speaker's consecutive
// turns merged, an opening doctor turn kept or dropped — each counted in LayoutNotes for the report), packed
// histories in one string ('病人：…\n医生：…', ' <user>: … <bot>: …') and [patient, doctor] pair lists.
// Which layout a record has is decided elsewhere (shapes.ts, turn-objects.ts, prefixed.ts, case-qa.ts).
import { RecordError } from '../errors.js';
import { roleTable, type RoleTable } from './roles.js';
import type { Role, Turn } from '../types.js';

/** What converting one record did to its turns; summed into the file report and shown by `data inspect`. */
export interface LayoutNotes {
  /** how the turns were found, e.g. "turn objects under 'dialog' (speaker 'speaker', text 'sentence')" */
  layout?: string;
  /** turns merged into the previous turn of the same speaker */
  merged: number;
  /** empty turns dropped */
  emptyDropped: number;
  /** the dialogue opened with the doctor: that turn was kept (default) or dropped */
  leadingDoctor?: 'kept' | 'dropped';
  /** speaker label → role, with how many turns carried it */
  labels: Record<string, { role: Role; turns: number }>;
}

export type DoctorFirst = 'keep' | 'drop';

export interface TurnContext {
  notes: LayoutNotes;
  doctorFirst: DoctorFirst;
  roles: RoleTable;
}

export function newNotes(): LayoutNotes {
  return { merged: 0, emptyDropped: 0, labels: {} };
}

export function turnContext(o: { doctorFirst?: DoctorFirst; roles?: Record<string, Role> } = {}): TurnContext {
  return { notes: newNotes(), doctorFirst: o.doctorFirst ?? 'keep', roles: roleTable(o.roles) };
}

export function noteLabel(n: LayoutNotes, label: string, role: Role): void {
  const e = n.labels[label] ?? (n.labels[label] = { role, turns: 0 });
  e.turns++;
}

/**
 * Drops empty turns, merges consecutive turns of one speaker (joined with a newline), and handles a dialogue that
 * opens with the doctor: a greeting is a real doctor turn, so by default it is kept as a leading assistant turn;
 * with doctorFirst 'drop' the leading doctor turns go. Everything is counted in cx.notes. A dialogue with no patient
 * turn, or a system turn after the start, is an error.
 */
export function normaliseTurns(turns: Turn[], where: string, cx: TurnContext): Turn[] {
  const out: Turn[] = [];
  for (const t of turns) {
    if (t.text.trim() === '') { cx.notes.emptyDropped++; continue; }
    const last = out[out.length - 1];
    if (last && last.role === t.role) { last.text += '\n' + t.text; cx.notes.merged++; }
    else out.push({ role: t.role, text: t.text });
  }
  if (!out.some((t) => t.role !== 'system')) throw new RecordError(where, turns.length ? 'no user or assistant turn (all turns empty)' : 'no turns');
  if (out.some((t, i) => t.role === 'system' && i > 0)) throw new RecordError(where, 'a system turn after the first turn');
  if (!out.some((t) => t.role === 'user')) throw new RecordError(where, 'no patient (user) turn');
  const first = out.findIndex((t) => t.role !== 'system');
  if (out[first]!.role === 'assistant') {
    if (cx.doctorFirst === 'drop') {
      cx.notes.leadingDoctor = 'dropped';
      out.splice(first, 1);
    } else cx.notes.leadingDoctor = 'kept';
  }
  return out;
}

// Speaker prefixes of packed histories: at the start, or after whitespace (<user>/<bot>) or a line break (Chinese).
// A packed history must open with the patient: a question that starts '医生：…' is a patient addressing the doctor
// (seen in the Toyhom data), not a doctor turn.
const PACKED_START = /^\s*(<user>|病人|患者|家属)\s*[:：]/;
const PACKED_MARK = /(?:^|\s)(<user>|<bot>)\s*[:：]|(?:^|\n)\s*(病人|患者|家属|医生|大夫)\s*[:：]/g;

export function isPacked(s: string): boolean {
  return PACKED_START.test(s);
}

/** '病人：…\n医生：…' or ' <user>: … <bot>: …' → turns (an empty final slot is kept as an empty turn). */
export function parsePacked(s: string): Turn[] {
  const marks: { role: Role; start: number; end: number }[] = [];
  for (const m of s.matchAll(PACKED_MARK)) {
    const who = m[1] ?? m[2]!;
    marks.push({ role: who === '<bot>' || who === '医生' || who === '大夫' ? 'assistant' : 'user', start: m.index!, end: m.index! + m[0].length });
  }
  return marks.map((m, i) => ({ role: m.role, text: s.slice(m.end, i + 1 < marks.length ? marks[i + 1]!.start : s.length).trim() }));
}

/** parsePacked without the trailing empty doctor slot (BianQue's '…\n医生：' marks where the answer goes). */
export function parsePackedPrompt(s: string): Turn[] {
  const t = parsePacked(s);
  if (t.length && t[t.length - 1]!.role === 'assistant' && t[t.length - 1]!.text === '') t.pop();
  return t;
}

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/** [[patient, doctor], …] → turns. Empty strings become empty turns, which the normaliser drops and counts. */
export function pairsToTurns(h: unknown, field: string): Turn[] {
  if (h === undefined || h === null || h === '') return [];
  if (!Array.isArray(h)) throw new RecordError(field, `expected a list of [patient, doctor] pairs, got ${typeName(h)}`);
  const turns: Turn[] = [];
  h.forEach((p, i) => {
    if (!Array.isArray(p) || p.length !== 2) throw new RecordError(`${field}[${i}]`, `expected a [patient, doctor] pair, got ${Array.isArray(p) ? `${p.length} items` : typeName(p)}`);
    p.forEach((t, j) => {
      if (typeof t !== 'string') throw new RecordError(`${field}[${i}][${j}]`, `expected a string, got ${typeName(t)}`);
    });
    turns.push({ role: 'user', text: p[0] as string }, { role: 'assistant', text: p[1] as string });
  });
  return turns;
}
