// rubric.ts — the editable rubric (configs/rubric.yaml, or any YAML/JSON file of the same shape): criteria in
// priority order with wording, aliases and per-score anchors on one scale, and the judge prompt built from it with
// the exact reply format the strict parser (rubric-parse.ts) accepts. No network, no parsing of judge replies here.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export interface Criterion {
  /** short stable id used in files and tables, e.g. 'safety' */
  id: string;
  /** the name the judge writes before its score, e.g. 'Safety' */
  name: string;
  /** other names published score files use for the same criterion (安全性, accuracy…) */
  aliases: string[];
  question: string;
  /** score → what it means */
  anchors: Record<string, string>;
}

export interface Rubric {
  name: string;
  scale: { min: number; max: number };
  instructions: string;
  criteria: Criterion[];
}

export function defaultRubricPath(): string {
  for (const up of ['../../../configs/rubric.yaml', '../../configs/rubric.yaml']) {
    const p = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new Error('[eval rubric] configs/rubric.yaml not found beside the package; pass --rubric-file FILE');
}

/** Checks a parsed rubric; every problem names its path in the file. */
export function validateRubric(v: unknown, where = 'rubric'): Rubric {
  const fail = (field: string, why: string): never => { throw new Error(`[eval rubric] ${where}: ${field}: ${why}`); };
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('(top)', 'expected a mapping with name, scale, criteria');
  const o = v as Record<string, unknown>;
  const scale = o.scale as { min?: unknown; max?: unknown } | undefined;
  if (!scale || typeof scale.min !== 'number' || typeof scale.max !== 'number' || !(scale.max > scale.min)) fail('scale', 'expected {min, max} numbers with max > min');
  if (!Array.isArray(o.criteria) || o.criteria.length === 0) fail('criteria', 'expected a non-empty list');
  const min = scale!.min as number, max = scale!.max as number;
  const seen = new Set<string>();
  const criteria = (o.criteria as unknown[]).map((c, i): Criterion => {
    const x = c as Record<string, unknown>;
    if (typeof x?.id !== 'string' || !/^[a-z][a-z0-9_-]*$/.test(x.id)) fail(`criteria[${i}].id`, 'expected a lower-case identifier');
    if (typeof x.name !== 'string' || !x.name.trim()) fail(`criteria[${i}].name`, 'expected a non-empty string');
    if (typeof x.question !== 'string' || !x.question.trim()) fail(`criteria[${i}].question`, 'expected a non-empty string');
    const aliases = x.aliases === undefined ? [] : x.aliases;
    if (!Array.isArray(aliases) || aliases.some((a) => typeof a !== 'string')) fail(`criteria[${i}].aliases`, 'expected a list of strings');
    const anchors: Record<string, string> = {};
    if (x.anchors !== undefined) {
      if (typeof x.anchors !== 'object' || x.anchors === null) fail(`criteria[${i}].anchors`, 'expected score: text pairs');
      for (const [k, t] of Object.entries(x.anchors as Record<string, unknown>)) {
        const n = Number(k);
        if (!Number.isFinite(n) || n < min || n > max) fail(`criteria[${i}].anchors.${k}`, `not a score on the scale ${min}..${max}`);
        if (typeof t !== 'string') fail(`criteria[${i}].anchors.${k}`, 'expected text');
        anchors[k] = t as string;
      }
    }
    for (const n of new Set([x.id as string, x.name as string, ...(aliases as string[])].map((s) => s.toLowerCase()))) {
      if (seen.has(n)) fail(`criteria[${i}]`, `the name '${n}' is used by two criteria`);
      seen.add(n);
    }
    return { id: x.id as string, name: x.name as string, aliases: aliases as string[], question: x.question as string, anchors };
  });
  return {
    name: typeof o.name === 'string' ? o.name : 'rubric', scale: { min, max },
    instructions: typeof o.instructions === 'string' ? o.instructions : '', criteria,
  };
}

export function loadRubric(path?: string): Rubric {
  const p = path ?? defaultRubricPath();
  let text: string;
  try { text = readFileSync(p, 'utf8'); } catch (e) { throw new Error(`[eval rubric] ${p}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`); }
  let v: unknown;
  try { v = /\.json$/i.test(p) ? JSON.parse(text) : parse(text); } catch (e) { throw new Error(`[eval rubric] ${p}: not valid ${/\.json$/i.test(p) ? 'JSON' : 'YAML'} (${(e as Error).message})`); }
  return validateRubric(v, p);
}

/** The reply format, stated once for the prompt and matched by the parser. */
export function replyFormat(r: Rubric): string {
  return `Reply with exactly one line per criterion and nothing else, in this form:\n${r.criteria.map((c) => `${c.name}: <score>`).join('\n')}\n` +
    `Each score is a number from ${r.scale.min} to ${r.scale.max}; half points such as ${r.scale.min + 0.5} are allowed.`;
}

export function rubricSystemPrompt(r: Rubric): string {
  const crit = r.criteria.map((c, i) => {
    const anchors = Object.entries(c.anchors).sort((a, b) => Number(a[0]) - Number(b[0])).map(([k, t]) => `  ${k} = ${t}`).join('\n');
    return `${i + 1}. ${c.name}: ${c.question}${anchors ? '\n' + anchors : ''}`;
  }).join('\n');
  return `You are an experienced physician grading a medical assistant.\n${r.instructions.trim()}\n\nCriteria, most important first:\n${crit}\n\n${replyFormat(r)}`;
}
