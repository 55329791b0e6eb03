// rubric-parse.ts — strict reading of rubric scores: a judge's text reply ("Safety: 4", "专业性：3.5/5", one per line)
// or a published scores object ({"safety": 4}). Whole and half points only; a value off the scale is out of range,
// a criterion never scored is missing, a criterion with two different values or a non-number is unparseable — each
// counted per criterion, never guessed or clamped. Aggregation is rubric-score.ts's.
import type { Criterion, Rubric } from './rubric.js';

export interface ParsedScores {
  /** criterion id → score, for the criteria that were read cleanly */
  scores: Record<string, number>;
  missing: string[];
  outOfRange: { criterion: string; value: number }[];
  unparseable: { criterion: string; why: string }[];
}

function lookup(r: Rubric): (name: string) => Criterion | undefined {
  const m = new Map<string, Criterion>();
  for (const c of r.criteria) for (const n of [c.id, c.name, ...c.aliases]) m.set(n.trim().toLowerCase(), c);
  return (name) => m.get(name.replace(/\*\*/g, '').trim().toLowerCase());
}

/** A score value: a number or numeric string, optionally 'n/max' where max is the scale's top. */
function scoreValue(v: unknown, r: Rubric): { value: number } | { why: string } {
  let s: string;
  if (typeof v === 'number') s = String(v);
  else if (typeof v === 'string') s = v.trim();
  else return { why: `expected a number, got ${v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v}` };
  const m = /^(-?\d+(?:\.\d+)?)(?:\s*\/\s*(\d+(?:\.\d+)?))?$/.exec(s);
  if (!m) return { why: `'${s.slice(0, 20)}' is not a score` };
  if (m[2] !== undefined && Number(m[2]) !== r.scale.max) return { why: `'${s}' is out of ${m[2]}, the scale's top is ${r.scale.max}` };
  const x = Number(m[1]);
  if (!Number.isInteger(x * 2)) return { why: `${x} is not a whole or half point` };
  return { value: x };
}

function finish(r: Rubric, found: Map<string, number[]>, bad: Map<string, string>): ParsedScores {
  const p: ParsedScores = { scores: {}, missing: [], outOfRange: [], unparseable: [] };
  for (const c of r.criteria) {
    const why = bad.get(c.id);
    const vals = [...new Set(found.get(c.id) ?? [])];
    if (why) p.unparseable.push({ criterion: c.id, why });
    else if (vals.length > 1) p.unparseable.push({ criterion: c.id, why: `several values (${vals.join(', ')})` });
    else if (vals.length === 0) p.missing.push(c.id);
    else if (vals[0]! < r.scale.min || vals[0]! > r.scale.max) p.outOfRange.push({ criterion: c.id, value: vals[0]! });
    else p.scores[c.id] = vals[0]!;
  }
  return p;
}

// 'Name: value' on its own line; markdown bold and list marks around the name are tolerated. After the value only
// a separator and a comment may follow ('Safety: 4 — no harm'), so 'Safety: 4 out of 5, maybe 3' is unparseable.
const HEAD = /^\s*(?:[-*•]\s+|\d+[.)、]\s*)?\**([^:：\n*]{1,40}?)\**\s*[:：]\s*(.*)$/;
const VALUE = /^\**\s*(-?\d+(?:\.\d+)?(?:\s*\/\s*\d+(?:\.\d+)?)?)\s*\**\s*(.*)$/;
const TAIL_OK = /^(?:$|[—–\-(（，,;；。.])/;

/** Scores from a judge's text reply. Lines that name no criterion are ignored (a judge may add a reason line). */
export function parseScoreText(text: string, r: Rubric): ParsedScores {
  const find = lookup(r);
  const found = new Map<string, number[]>(), bad = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const h = HEAD.exec(line);
    if (!h) continue;
    const c = find(h[1]!);
    if (!c) continue;
    const m = VALUE.exec(h[2]!);
    let v: { value: number } | { why: string };
    if (!m) v = { why: `'${h[2]!.trim().slice(0, 20)}' is not a score` };
    else if (!TAIL_OK.test(m[2]!)) v = { why: `text after the score: '${m[2]!.slice(0, 20)}'` };
    else v = scoreValue(m[1]!, r);
    if ('why' in v) { if (!bad.has(c.id)) bad.set(c.id, v.why); continue; }
    found.set(c.id, [...(found.get(c.id) ?? []), v.value]);
  }
  return finish(r, found, bad);
}

/** Scores from a published object ({"safety": 4, "专业性": "3.5"}); keys that name no criterion are ignored. */
export function parseScoreObject(o: Record<string, unknown>, r: Rubric): ParsedScores {
  const find = lookup(r);
  const found = new Map<string, number[]>(), bad = new Map<string, string>();
  for (const [k, v] of Object.entries(o)) {
    const c = find(k);
    if (!c) continue;
    const x = scoreValue(v, r);
    if ('why' in x) { if (!bad.has(c.id)) bad.set(c.id, x.why); continue; }
    found.set(c.id, [...(found.get(c.id) ?? []), x.value]);
  }
  return finish(r, found, bad);
}
