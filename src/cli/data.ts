// data.ts — `zhongjing data inspect|clean|convert|demo`: the data layer on the command line. Every subcommand
// streams (memory does not grow with the file) and reports records in = out + rejected. Flags and printing only: the
// work is src/data (inspect.ts, convert-files.ts, clean.ts, demo/).
import { access, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import type { Command } from './command.js';
import { formatHelp, parseArgs, UsageError, type FlagSpecs } from './args.js';
import { groupCommand, type Leaf } from './subcommands.js';
import { DataError, formatProblem } from '../data/errors.js';
import { encodings, type Encoding } from '../data/encoding.js';
import { balanced, rejectSummary, type FileReport, type LoadOptions, type OnError } from '../data/load.js';
import { formats, type Format } from '../data/readers.js';
import { parseRoles, parseTurnMap, shapeNames, type DoctorFirst, type ShapeName } from '../data/shapes.js';
import { Cleaner, cleanBalanced, type CleanReport } from '../data/clean.js';
import { outFormats, type OutFormat } from '../data/writers.js';
import { inspectFile, type DataStats } from '../data/inspect.js';
import { convertFiles, type ConvertTally } from '../data/convert-files.js';
import { sizePresets, writeDemo, type DemoSizes } from '../data/demo/index.js';

const loadFlags = {
  format: { type: 'string', help: 'force the file format instead of detecting it', choices: formats },
  encoding: { type: 'string', help: 'force the encoding instead of detecting it', choices: encodings },
  as: { type: 'string', help: 'force a record shape; `text` reads any record as plain text', choices: ['auto', ...shapeNames] },
  map: { type: 'string', help: 'turn lists under other names: speaker=KEY,text=KEY[,turns=KEY,user=a|b,assistant=c]' },
  roles: { type: 'string', help: "speaker labels beyond the built-in ones (医生/大夫/患者/家属/doctor/patient…): '家长=user,主任=assistant'" },
  'doctor-first': { type: 'string', help: 'a dialogue that opens with the doctor: keep that turn (a greeting is a real doctor turn) or drop it', choices: ['keep', 'drop'], default: 'keep' },
  'gold-index': { type: 'string', help: "multiple choice: numeric answers are 0- or 1-based (MedMCQA's cop is always 1-based)", choices: ['0', '1'] },
  'on-error': { type: 'string', help: 'rejected records: fail at the first, skip all, or auto (fail above --max-reject)', choices: ['auto', 'fail', 'skip'], default: 'auto' },
  'max-reject': { type: 'number', help: 'auto policy: largest rejected share that still passes', default: 0.01 },
  'text-unit': { type: 'string', help: 'text files: one record per line or per blank-line paragraph', choices: ['line', 'paragraph'], default: 'line' },
  'max-line-mib': { type: 'number', help: 'longest line / JSON element read, in MiB; a longer one is reported by line and skipped', default: 64 },
} as const satisfies FlagSpecs;

type LoadFlagValues = {
  format?: string; encoding?: string; as?: string; map?: string; roles?: string; 'doctor-first'?: string; 'gold-index'?: string;
  'on-error'?: string; 'max-reject'?: number; 'text-unit'?: string; 'max-line-mib'?: number;
};

function loadOptions(f: LoadFlagValues): LoadOptions {
  const o: LoadOptions = {
    onError: (f['on-error'] ?? 'auto') as OnError,
    maxRejectFraction: f['max-reject'] ?? 0.01,
    textUnit: (f['text-unit'] ?? 'line') as 'line' | 'paragraph',
  };
  if (f['max-line-mib'] !== undefined) {
    if (!(f['max-line-mib'] > 0)) throw new UsageError(`[data] --max-line-mib must be a positive number, got ${f['max-line-mib']}`);
    o.maxLineMib = f['max-line-mib'];
  }
  if (f.format) o.format = f.format as Format;
  if (f.encoding) o.encoding = f.encoding as Encoding;
  if (f.as) o.as = f.as as ShapeName | 'auto';
  if (f.map) {
    try { o.map = parseTurnMap(f.map); } catch (e) { throw new UsageError((e as Error).message); }
  }
  if (f.roles) {
    try { o.roles = parseRoles(f.roles); } catch (e) { throw new UsageError((e as Error).message); }
  }
  if (f['doctor-first']) o.doctorFirst = f['doctor-first'] as DoctorFirst;
  if (f['gold-index'] !== undefined) o.goldIndexBase = Number(f['gold-index']) as 0 | 1;
  return o;
}

async function needFiles(cmd: string, files: string[]): Promise<void> {
  if (files.length === 0) throw new UsageError(`[data ${cmd}] no input file (see \`zhongjing data ${cmd} --help\`)`);
  for (const f of files) {
    try {
      await access(f, constants.R_OK);
    } catch (e) {
      throw new UsageError(`[data ${cmd}] cannot read ${f}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
}

// ---------------------------------------------------------------- inspect

/** What was detected and how speakers were mapped: the lines that let a user check a layout before training on it. */
function layoutLines(r: FileReport): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(r.layouts).sort((a, b) => b[1] - a[1]).slice(0, 8)) out.push(`  detected: ${k} — ${v} records`);
  const labels = Object.entries(r.roleLabels).sort((a, b) => b[1].turns - a[1].turns);
  if (labels.length) out.push(`  speakers: ${labels.slice(0, 16).map(([l, e]) => `${l} → ${e.role} (${e.turns})`).join(', ')}${labels.length > 16 ? ', …' : ''}`);
  if (r.turnsMerged) out.push(`  merged ${r.turnsMerged} consecutive same-speaker turns in ${r.dialoguesMerged} dialogues`);
  if (r.emptyTurnsDropped) out.push(`  dropped ${r.emptyTurnsDropped} empty turns`);
  if (r.doctorFirst.kept) out.push(`  ${r.doctorFirst.kept} dialogues open with the doctor: that turn kept (--doctor-first drop to drop it)`);
  if (r.doctorFirst.dropped) out.push(`  ${r.doctorFirst.dropped} dialogues opened with the doctor: that turn dropped (--doctor-first drop)`);
  return out;
}

function printStats(s: DataStats): void {
  const r = s.report;
  const lines = [`${r.file}`, `  format ${r.format}, encoding ${r.encoding}`, `  ${rejectSummary(r).slice(r.file.length + 2)}`];
  lines.push(`  shapes: ${Object.entries(r.shapes).map(([k, v]) => `${k} ${v}`).join(', ') || '-'}`);
  lines.push(...layoutLines(r));
  if (s.turns.n) {
    lines.push(`  dialogues ${s.turns.n}: turns min ${s.turns.min} / mean ${(s.turns.sum / s.turns.n).toFixed(2)} / max ${s.turns.max}` +
      `${s.prompts ? `; ${s.prompts} end with the patient (prompts without an answer)` : ''}${s.safety ? `; ${s.safety} safety prompts` : ''}`);
    lines.push(`  turns per dialogue: ${Object.entries(s.turns.hist).sort((a, b) => (parseInt(a[0]) || 99) - (parseInt(b[0]) || 99)).map(([k, v]) => `${k}:${v}`).join(' ')}`);
    lines.push(`  roles: ${Object.entries(s.roles).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    const deps = Object.entries(s.departments).sort((a, b) => b[1] - a[1]);
    if (deps.length) lines.push(`  departments (${deps.length}): ${deps.slice(0, 12).map(([k, v]) => `${k} ${v}`).join(', ')}${deps.length > 12 ? ', …' : ''}`);
  }
  if (s.choices.answered + s.choices.missing) lines.push(`  multiple choice: ${s.choices.answered} with an answer, ${s.choices.missing} without (flagged)`);
  if (s.preferences.ranked + s.preferences.unranked) lines.push(`  preference sets: ${s.preferences.ranked} ranked, ${s.preferences.unranked} unranked, ${s.preferences.candidates} candidates`);
  for (const p of r.problems.slice(0, 20)) lines.push(`  rejected ${formatProblem(p)}`);
  if (r.rejected > 20) lines.push(`  … ${r.rejected - 20} more rejected`);
  if (s.error) lines.push(`  FAILED: ${s.error}`);
  console.log(lines.join('\n'));
}

const inspectFlags = { ...loadFlags, json: { type: 'boolean', help: 'print one JSON object per file' } } as const satisfies FlagSpecs;

async function inspect(argv: string[]): Promise<number> {
  const { flags: f, positional } = parseArgs('data inspect', argv, inspectFlags);
  if (f.help) {
    console.log(formatHelp('zhongjing data inspect FILE… [flags]',
      'Detects format and encoding, loads every record, and reports counts, shapes, turns per dialogue, roles,\n' +
      'departments and every rejected record as file:line: field: reason. Streams: memory does not grow with the file.', inspectFlags));
    return 0;
  }
  await needFiles('inspect', positional);
  const o = loadOptions(f);
  let failed = 0;
  for (const file of positional) {
    const s = await inspectFile(file, o);
    if (s.error) failed++;
    if (f.json) {
      const { report, ...rest } = s;
      console.log(JSON.stringify({ ...report, balanced: balanced(report), ...rest, turns: { ...rest.turns, min: rest.turns.n ? rest.turns.min : 0 } }));
    } else printStats(s);
  }
  return failed ? 1 : 0;
}

// ---------------------------------------------------------------- convert

function printUnconvertible(cmd: string, t: ConvertTally): void {
  for (const p of t.problems) console.error(`[data ${cmd}] cannot convert ${p}`);
  if (t.unconvertible > t.problems.length) console.error(`[data ${cmd}] … ${t.unconvertible - t.problems.length} more cannot be converted`);
}

const convertFlags = {
  ...loadFlags,
  to: { type: 'string', help: 'output format', choices: outFormats },
  out: { type: 'string', help: 'output file (written whole or not at all)' },
} as const satisfies FlagSpecs;

async function convert(argv: string[]): Promise<number> {
  const { flags: f, positional } = parseArgs('data convert', argv, convertFlags);
  if (f.help) {
    console.log(formatHelp('zhongjing data convert FILE… --to alpaca|sharegpt|messages|jsonl --out FILE [flags]',
      'Converts records to one format, one JSON object per line. `jsonl` is our native form (messages for\n' +
      'dialogues, the ranking format for preference sets, {text}, multiple choice). Records a format cannot hold are\n' +
      'reported with file:line and counted; with --on-error fail the first one stops the run.', convertFlags));
    return 0;
  }
  await needFiles('convert', positional);
  if (!f.to) throw new UsageError('[data convert] --to is required (alpaca|sharegpt|messages|jsonl)');
  if (!f.out) throw new UsageError('[data convert] --out is required');
  const o = loadOptions(f);
  const { reports, written, tally: t } = await convertFiles('data convert', positional, o, f.out, f.to as OutFormat);
  for (const r of reports) console.error(`[data convert] ${rejectSummary(r)}`);
  printUnconvertible('convert', t);
  console.error(`[data convert] wrote ${written} records to ${f.out}${t.unconvertible ? `; ${t.unconvertible} could not be written as ${f.to}` : ''}`);
  return t.unconvertible && o.onError !== 'skip' ? 1 : 0;
}

// ---------------------------------------------------------------- clean

const cleanFlags = {
  ...loadFlags,
  out: { type: 'string', help: 'output file (written whole or not at all)' },
  to: { type: 'string', help: 'output format', choices: outFormats, default: 'jsonl' },
  normalize: { type: 'boolean', help: 'NFKC + whitespace normalisation (--normalize=false to skip)', default: true },
  dedup: { type: 'boolean', help: 'drop exact duplicates (--dedup=false to keep)', default: true },
  'near-dup': { type: 'boolean', help: 'drop near duplicates (MinHash over character shingles + LSH)' },
  'near-threshold': { type: 'number', help: 'estimated Jaccard similarity that counts as a near duplicate', default: 0.8 },
  'near-max-mib': { type: 'number', help: 'memory cap of the near-dup index; past it records are checked but not indexed', default: 1024 },
  deid: { type: 'boolean', help: 'replace phone numbers, ID numbers, emails, record numbers, marked names' },
  names: { type: 'string', help: 'comma-separated names to replace wherever they occur (with --deid)' },
  'min-chars': { type: 'number', help: 'drop records with fewer characters of text' },
  'max-chars': { type: 'number', help: 'drop records with more characters of text' },
  'min-turns': { type: 'number', help: 'drop dialogues with fewer user+assistant turns' },
  'max-turns': { type: 'number', help: 'drop dialogues with more user+assistant turns' },
  report: { type: 'string', help: 'also write the report as JSON to this file' },
} as const satisfies FlagSpecs;

async function clean(argv: string[]): Promise<number> {
  const { flags: f, positional } = parseArgs('data clean', argv, cleanFlags);
  if (f.help) {
    console.log(formatHelp('zhongjing data clean FILE… --out FILE [flags]',
      'Normalises, de-identifies, filters and deduplicates records, counting each step:\n' +
      'records in = out + dropped per reason (and loading: in = out + rejected).', cleanFlags));
    return 0;
  }
  await needFiles('clean', positional);
  if (!f.out) throw new UsageError('[data clean] --out is required');
  const o = loadOptions(f);
  const cleaner = new Cleaner({
    normalize: f.normalize !== false,
    dedup: f.dedup !== false,
    nearDup: f['near-dup'] ? { threshold: f['near-threshold'] ?? 0.8, maxBytes: (f['near-max-mib'] ?? 1024) * 2 ** 20 } : false,
    deid: f.deid ? { names: f.names ? f.names.split(',').map((x) => x.trim()).filter(Boolean) : [] } : false,
    ...(f['min-chars'] !== undefined ? { minChars: f['min-chars'] } : {}),
    ...(f['max-chars'] !== undefined ? { maxChars: f['max-chars'] } : {}),
    ...(f['min-turns'] !== undefined ? { minTurns: f['min-turns'] } : {}),
    ...(f['max-turns'] !== undefined ? { maxTurns: f['max-turns'] } : {}),
  });
  const { reports, written, tally: t } = await convertFiles('data clean', positional, o, f.out, (f.to ?? 'jsonl') as OutFormat, (r) => cleaner.push(r));
  const cr: CleanReport = cleaner.report;
  for (const r of reports) console.error(`[data clean] load ${rejectSummary(r)}`);
  const d = cr.dropped;
  console.error(`[data clean] ${cr.recordsIn} records in = ${cr.recordsOut} out + dropped: ${Object.entries(d).map(([k, v]) => `${k} ${v}`).join(', ')}` +
    ` (${cleanBalanced(cr) ? 'balanced' : 'NOT BALANCED'})`);
  console.error(`[data clean] normalised ${cr.normalized} records; de-identified ${cr.deidRecords} records: ` +
    Object.entries(cr.deid).map(([k, v]) => `${k} ${v}`).join(', '));
  console.error(`[data clean] dedup index ${(cr.indexBytes / 2 ** 20).toFixed(1)} MiB; wrote ${written} records to ${f.out}`);
  if (cr.nearDupIndexFullAt !== undefined)
    console.error(`[data clean] the near-dup index reached --near-max-mib after ${cr.nearDupIndexFullAt} records; later records were compared with those only`);
  printUnconvertible('clean', t);
  if (f.report) {
    await writeFile(f.report, JSON.stringify({ load: reports, clean: cr, written, unconvertible: t.unconvertible }, null, 1) + '\n');
  }
  return t.unconvertible && o.onError !== 'skip' ? 1 : 0;
}

// ---------------------------------------------------------------- demo

const demoFlags = {
  out: { type: 'string', help: 'directory to write the corpus into' },
  seed: { type: 'number', help: 'generator seed (same seed, same files)', default: 1 },
  size: { type: 'string', help: 'size preset', choices: Object.keys(sizePresets), default: 'small' },
  pretrain: { type: 'number', help: 'override: number of pre-training documents' },
  qa: { type: 'number', help: 'override: number of single-turn Q&A' },
  consultations: { type: 'number', help: 'override: number of multi-turn consultations' },
  safety: { type: 'number', help: 'override: number of adversarial safety prompts' },
  rankings: { type: 'number', help: 'override: number of K=4 ranking sets' },
} as const satisfies FlagSpecs;

async function demo(argv: string[]): Promise<number> {
  const { flags: f, positional } = parseArgs('data demo', argv, demoFlags);
  if (f.help) {
    console.log(formatHelp('zhongjing data demo --out DIR [--seed N] [--size tiny|small|medium|large]',
      'Writes the embedded demo corpus (written for this project from its knowledge base; not medical advice):\n' +
      'pretrain.jsonl, qa.jsonl, consultations.jsonl, safety.jsonl, rankings.jsonl, kb.json, manifest.json,\n' +
      'then reads every file back and validates it.', demoFlags));
    return 0;
  }
  if (positional.length) throw new UsageError(`[data demo] unexpected argument '${positional[0]}' (use --out DIR)`);
  if (!f.out) throw new UsageError('[data demo] --out DIR is required');
  const sizes: DemoSizes = { ...sizePresets[(f.size ?? 'small') as keyof typeof sizePresets] };
  for (const k of ['pretrain', 'qa', 'consultations', 'safety', 'rankings'] as const) {
    const v = f[k];
    if (v !== undefined) {
      if (!Number.isInteger(v) || v < 0) throw new UsageError(`[data demo] --${k} must be a whole number ≥ 0, got ${v}`);
      sizes[k] = v;
    }
  }
  const seed = f.seed ?? 1;
  if (!Number.isInteger(seed)) throw new UsageError(`[data demo] --seed must be an integer, got ${seed}`);
  const { files, problems } = await writeDemo(f.out, seed, sizes);
  for (const [k, v] of Object.entries(files)) console.log(`${f.out}/${k}: ${v} records`);
  if (problems.length) {
    for (const p of problems.slice(0, 20)) console.error(`[data demo] ${p}`);
    return 1;
  }
  console.log(`[data demo] seed ${seed}: every file read back and validated`);
  return 0;
}

// ---------------------------------------------------------------- dispatch

/** A data-layer failure (it already names file:line) ends the subcommand with exit 1 and its name in front. */
function leaf(name: string, summary: string, flags: FlagSpecs, run: (argv: string[]) => Promise<number>): Leaf {
  return {
    summary, flags,
    async run(argv) {
      try {
        return await run(argv);
      } catch (e) {
        if (e instanceof DataError) { console.error(`[data ${name}] ${e.message}`); return 1; }
        throw e;
      }
    },
  };
}

export const dataCommand: Command = groupCommand('data', {
  summary: 'medical dataset formats in, validated and cleaned; the demo corpus out',
  about: 'Every subcommand streams (memory does not grow with the file) and reports records in = out + rejected.',
  subcommands: {
    inspect: leaf('inspect', 'detected format/encoding, counts, turns, roles, departments, rejected records', inspectFlags, inspect),
    clean: leaf('clean', 'normalise, de-identify, filter, deduplicate (exact and near)', cleanFlags, clean),
    convert: leaf('convert', 'convert to alpaca | sharegpt | messages | jsonl', convertFlags, convert),
    demo: leaf('demo', 'write the embedded demo corpus (seeded)', demoFlags, demo),
  },
});
