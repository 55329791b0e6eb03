// convert-files.ts — files in, one output file out, streaming: every record loaded (load.ts), optionally transformed
// (the cleaner), written in the chosen format (writers.ts) to FILE.partial-PID and renamed only once all went well,
// so the output is whole or absent. Records the format cannot hold are counted with file:line, and the load policy
// applies to them as to rejected input. What `zhongjing data convert` and `data clean` share; no printing here.
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { DataError, RecordError } from './errors.js';
import { newReport, streamFile, type FileReport, type LoadOptions } from './load.js';
import { sniff } from './readers.js';
import { toLine, type OutFormat } from './writers.js';
import type { DataRecord } from './types.js';

/** Records the output format could not hold: their count, the first 20 as `file:line: field: reason`, and where the first was. */
export interface ConvertTally { unconvertible: number; problems: string[]; first?: { file: string; line: number } }

/** Writes `out` whole or not at all: `write` emits lines into a temporary file that is renamed at the end. */
export async function writeLinesAtomic(where: string, out: string, write: (emit: (line: string) => Promise<void>) => Promise<void>): Promise<void> {
  const tmp = `${out}.partial-${process.pid}`;
  const ws = createWriteStream(tmp);
  let failure: Error | null = null;
  ws.on('error', (e) => { failure = e; });
  try {
    await once(ws, 'open');
  } catch (e) {
    throw new Error(`[${where}] cannot write ${out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const emit = async (line: string) => {
    if (failure) throw failure;
    if (!ws.write(line + '\n')) await once(ws, 'drain');
  };
  try {
    await write(emit);
    ws.end();
    await once(ws, 'finish');
    await rename(tmp, out);
  } catch (e) {
    ws.destroy();
    await rm(tmp, { force: true });
    throw e;
  }
}

/** The load policy applied to records the output format cannot hold: too many and nothing is written. */
function checkUnconvertible(t: ConvertTally, total: number, o: LoadOptions, to: string): void {
  const frac = o.maxRejectFraction ?? 0.01;
  if (o.onError === 'auto' && t.unconvertible > 0 && t.unconvertible > frac * total) {
    throw new DataError({
      file: t.first?.file ?? '?', line: t.first?.line ?? 0, field: 'policy',
      reason: `${t.unconvertible} of ${total} records cannot be written as ${to} (> ${(frac * 100).toFixed(0)} %; nothing written); first: ${t.problems[0]?.slice(t.problems[0].indexOf(': ') + 2)}`,
    });
  }
}

function convertLine(r: DataRecord, fmt: OutFormat, i: number, t: ConvertTally, o: LoadOptions): string | null {
  try {
    return toLine(r, fmt, i);
  } catch (e) {
    if (!(e instanceof RecordError)) throw e;
    t.unconvertible++;
    const msg = `${r.source?.file ?? '?'}:${r.source?.line ?? 0}: ${e.field}: ${e.reason}`;
    if (t.problems.length < 20) t.problems.push(msg);
    t.first ??= { file: r.source?.file ?? '?', line: r.source?.line ?? 0 };
    if (o.onError === 'fail') throw new DataError({ file: r.source?.file ?? '?', line: r.source?.line ?? 0, field: e.field, reason: e.reason });
    return null;
  }
}

export interface ConvertResult {
  /** one load report per input file */
  reports: FileReport[];
  written: number;
  tally: ConvertTally;
}

/**
 * Streams `files` into `out` as `to`. `transform` may drop a record (null) or change it; `where` prefixes errors.
 * `index` of toLine counts every record that reached the writer, written or not (alpaca ids stay stable).
 */
export async function convertFiles(where: string, files: string[], o: LoadOptions, out: string, to: OutFormat,
  transform: (r: DataRecord) => DataRecord | null = (r) => r): Promise<ConvertResult> {
  const tally: ConvertTally = { unconvertible: 0, problems: [] };
  const reports: FileReport[] = [];
  let written = 0;
  await writeLinesAtomic(where, out, async (emit) => {
    for (const file of files) {
      const s = await sniff(file, o);
      const rep = newReport(file, s.format, s.encoding);
      reports.push(rep);
      for await (const r of streamFile(file, o, rep)) {
        const c = transform(r);
        if (!c) continue;
        const line = convertLine(c, to, written + tally.unconvertible, tally, o);
        if (line !== null) { await emit(line); written++; }
      }
    }
    checkUnconvertible(tally, written + tally.unconvertible, o, to);
  });
  return { reports, written, tally };
}
