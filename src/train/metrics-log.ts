// metrics-log.ts — the training loop's metrics.jsonl: line-atomic appends (a failed write is cut back to the last
// whole line), and the read-back a resume needs (rows up to the resumed step; a torn last line — a crash or a full
// disk mid-append — is trimmed with a notice). Every error names the file. No training logic here.
import { closeSync, existsSync, fstatSync, ftruncateSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';

export type MetricsRow = Record<string, number>;

/** A metrics.jsonl problem, located as file:line. */
export class MetricsFileError extends Error {
  constructor(readonly file: string, message: string, readonly code?: string) {
    super(`[metrics] ${file}: ${message}`);
    this.name = 'MetricsFileError';
  }
}

const ioError = (file: string, what: string, e: unknown) =>
  new MetricsFileError(file, `${what} failed: ${(e as Error).message}`, (e as NodeJS.ErrnoException).code);

/**
 * Appends one row as one line. The line goes out in one write(2) on an O_APPEND descriptor; if that write fails or is
 * short (ENOSPC), the file is truncated back to its size before the append, so it never holds half a line.
 */
export function appendMetricsRow(file: string, row: Record<string, unknown>): void {
  const buf = Buffer.from(JSON.stringify(row) + '\n', 'utf8');
  let fd: number;
  try { fd = openSync(file, 'a'); } catch (e) { throw ioError(file, 'open for append', e); }
  let before = 0;
  try {
    before = fstatSync(fd).size;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
  } catch (e) {
    try { ftruncateSync(fd, before); } catch { /* the append error is the one to report */ }
    throw ioError(file, `appending the row of step ${String(row.step)}`, e);
  } finally {
    closeSync(fd);
  }
}

/** Empties (or creates) the file for a fresh run. */
export function resetMetrics(file: string): void {
  try { writeFileSync(file, ''); } catch (e) { throw ioError(file, 'truncate', e); }
}

function parseRows(file: string, text: string, notices: string[] | null): MetricsRow[] {
  const lines = text.split('\n');
  const endsWhole = text.endsWith('\n');
  if (endsWhole || text === '') lines.pop();
  const rows: MetricsRow[] = [];
  lines.forEach((l, i) => {
    if (l.trim() === '') return;
    const tornCandidate = i === lines.length - 1 && !endsWhole;
    let row: MetricsRow;
    try {
      row = JSON.parse(l) as MetricsRow;
    } catch (e) {
      if (!tornCandidate) throw new MetricsFileError(file, `line ${i + 1}: not a JSON row (${(e as Error).message})`);
      notices?.push(`[metrics] ${file}:${i + 1}: trimmed a torn last line (${l.length} chars, no newline: a crash or a full disk during the append)`);
      return;
    }
    // only the newline was lost: the row itself is whole
    if (tornCandidate) notices?.push(`[metrics] ${file}:${i + 1}: the last line had no newline; kept its row and rewrote the file`);
    rows.push(row);
  });
  return rows;
}

/**
 * The rows a resume from `step` keeps (step ≤ the checkpoint's), rewritten so the file reads as one uninterrupted run.
 * A torn last line is dropped with a notice; a bad line anywhere else is an error naming file:line.
 */
export function truncateMetricsForResume(file: string, step: number, notices: string[]): MetricsRow[] {
  if (!existsSync(file)) return [];
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (e) { throw ioError(file, 'read', e); }
  const rows = parseRows(file, text, notices);
  const keep = rows.filter((r) => typeof r.step === 'number' && r.step <= step);
  try {
    writeFileSync(file, keep.map((r) => JSON.stringify(r) + '\n').join(''));
  } catch (e) {
    throw ioError(file, 'rewrite', e);
  }
  return keep;
}

/** The rows of a metrics file (a torn last line is ignored; any other bad line is an error naming file:line). */
export function readMetricsFile(file: string): MetricsRow[] {
  if (!existsSync(file)) return [];
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (e) { throw ioError(file, 'read', e); }
  return parseRows(file, text, null);
}
