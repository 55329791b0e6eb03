// load.ts — file → validated internal records, streaming, with the rejection policy and a report in which
// records in = records out + rejected always holds. Reading is readers.ts; shapes are shapes.ts.
import { DataError, RecordError, formatProblem, type Problem } from './errors.js';
import { readRaw, sniff, type Format, type ReadOptions } from './readers.js';
import { toRecord, UnsupportedShape, type ShapeOptions } from './shapes.js';
import type { Encoding } from './encoding.js';
import type { LayoutNotes } from './layouts/turns.js';
import type { DataRecord, RecordKind, Role } from './types.js';

export type OnError = 'fail' | 'skip' | 'auto';

export interface LoadOptions extends ReadOptions, ShapeOptions {
  /** fail: stop at the first rejected record; skip: keep going; auto (default): fail when > maxRejectFraction */
  onError?: OnError;
  maxRejectFraction?: number;
  /** how many problems the report keeps verbatim (all are counted) */
  keepProblems?: number;
}

export interface FileReport {
  file: string;
  format: Format;
  encoding: Encoding;
  recordsIn: number;
  recordsOut: number;
  rejected: number;
  problems: Problem[];
  shapes: Record<string, number>;
  kinds: Partial<Record<RecordKind, number>>;
  /** how dialogues were found (layout description → records), e.g. turn objects under 'dialog' (speaker …, text …) */
  layouts: Record<string, number>;
  /** speaker label → role and the turns that carried it (at most MAX_LABELS labels are kept) */
  roleLabels: Record<string, { role: Role; turns: number }>;
  /** turns merged into the previous turn of the same speaker, and in how many dialogues */
  turnsMerged: number;
  dialoguesMerged: number;
  emptyTurnsDropped: number;
  /** dialogues that opened with the doctor: that turn kept (default) or dropped (--doctor-first drop) */
  doctorFirst: { kept: number; dropped: number };
}

const MAX_LABELS = 200;

/** Adds one record's layout notes to the file report. */
export function addNotes(r: FileReport, n: LayoutNotes): void {
  if (n.layout) r.layouts[n.layout] = (r.layouts[n.layout] ?? 0) + 1;
  for (const [label, e] of Object.entries(n.labels)) {
    const x = r.roleLabels[label];
    if (x) x.turns += e.turns;
    else if (Object.keys(r.roleLabels).length < MAX_LABELS) r.roleLabels[label] = { ...e };
  }
  r.turnsMerged += n.merged;
  if (n.merged) r.dialoguesMerged++;
  r.emptyTurnsDropped += n.emptyDropped;
  if (n.leadingDoctor) r.doctorFirst[n.leadingDoctor]++;
}

export function newReport(file: string, format: Format, encoding: Encoding): FileReport {
  return {
    file, format, encoding, recordsIn: 0, recordsOut: 0, rejected: 0, problems: [], shapes: {}, kinds: {},
    layouts: {}, roleLabels: {}, turnsMerged: 0, dialoguesMerged: 0, emptyTurnsDropped: 0, doctorFirst: { kept: 0, dropped: 0 },
  };
}

/** The invariant every report must satisfy; asserted at the end of every load. */
export function balanced(r: FileReport): boolean {
  return r.recordsIn === r.recordsOut + r.rejected;
}

export function rejectSummary(r: FileReport): string {
  const pct = r.recordsIn ? ((100 * r.rejected) / r.recordsIn).toFixed(2) : '0.00';
  return `${r.file}: ${r.recordsIn} records in = ${r.recordsOut} out + ${r.rejected} rejected (${pct} %)`;
}

/**
 * Streams the records of one file. `report` is filled as it goes (pass one from newReport or let it be made).
 * Throws DataError: for a file-level problem, on the first rejection under 'fail', at the end under 'auto' when too
 * many were rejected, and at once when the first record has an unsupported shape (never half-parsed).
 */
export async function* streamFile(path: string, opts: LoadOptions = {}, report?: FileReport): AsyncGenerator<DataRecord & { source: { file: string; line: number } }> {
  const s = await sniff(path, opts);
  const rep = report ?? newReport(path, s.format, s.encoding);
  rep.format = s.format; rep.encoding = s.encoding;
  const onError = opts.onError ?? 'auto';
  const maxFrac = opts.maxRejectFraction ?? 0.01;
  const keep = opts.keepProblems ?? 1000;
  let seenGood = false;
  const reject = (line: number, field: string, reason: string) => {
    const p: Problem = { file: path, line, field, reason };
    rep.rejected++;
    if (rep.problems.length < keep) rep.problems.push(p);
    if (onError === 'fail') throw new DataError(p);
  };
  for await (const item of readRaw(path, { ...opts, format: s.format, encoding: s.encoding })) {
    rep.recordsIn++;
    if (item.error) { reject(item.line, item.error.field, item.error.reason); continue; }
    try {
      const { record, shape, notes } = toRecord(item.value, item.key, opts);
      addNotes(rep, notes);
      record.source = { file: path, line: item.line };
      if (record.kind === 'conversation') record.meta.shape = shape;
      rep.recordsOut++;
      rep.shapes[shape] = (rep.shapes[shape] ?? 0) + 1;
      rep.kinds[record.kind] = (rep.kinds[record.kind] ?? 0) + 1;
      seenGood = true;
      yield record as DataRecord & { source: { file: string; line: number } };
    } catch (e) {
      if (!(e instanceof RecordError)) throw e;
      if (e instanceof UnsupportedShape && !seenGood) {
        rep.rejected++;
        throw new DataError({ file: path, line: item.line, field: e.field, reason: e.reason });
      }
      reject(item.line, e.field, e.reason);
    }
  }
  if (!balanced(rep)) throw new Error(`[data] internal: ${rejectSummary(rep)} does not balance`);
  if (onError === 'auto' && rep.rejected > 0 && rep.rejected > maxFrac * rep.recordsIn) {
    const first = rep.problems[0];
    throw new DataError({
      file: path, line: first?.line ?? 0, field: 'policy',
      reason: `${rep.rejected} of ${rep.recordsIn} records rejected (> ${(maxFrac * 100).toFixed(0)} %; use --on-error skip to keep the rest); first: ${first ? formatProblem(first) : '?'}`,
    });
  }
}

/** Loads a whole file into memory: for tests and small files. */
export async function loadFile(path: string, opts: LoadOptions = {}): Promise<{ records: DataRecord[]; report: FileReport }> {
  const s = await sniff(path, opts);
  const report = newReport(path, s.format, s.encoding);
  const records: DataRecord[] = [];
  for await (const r of streamFile(path, opts, report)) records.push(r);
  return { records, report };
}
