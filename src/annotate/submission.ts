// submission.ts — checks one annotator's save request against an item: ranking as groups or as ranks 1..K,
// rewrites of existing answers (always top-ranked), comment. Returns a valid ranking record or the reasons it is not.
// Uses the data layer's ranking-format validator; does not touch the database.
import { validateRanking, type RankingCandidate, type RankingRecord } from '../data/ranking-format.js';

export interface Rewrite {
  id: string;
  of: string;
  text: string;
}

export interface Submission {
  ranking: string[][];
  rewrites: Rewrite[];
  comment: string;
}

export interface ItemView {
  extId: string;
  prompt: string;
  history: [string, string][];
  candidates: RankingCandidate[];
  allowTies: boolean;
}

const MAX_TEXT = 20000;
const ID_RE = /^[A-Za-z0-9_.:-]{1,64}$/;

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/** `{ranks: {c0: 1, c1: 1, c2: 3}}` → groups by rank value, best (smallest) first; checks range 1..n. */
function ranksToGroups(ranks: unknown, n: number, bad: (r: string) => void): string[][] | undefined {
  if (typeof ranks !== 'object' || ranks === null || Array.isArray(ranks)) { bad(`ranks: expected an object {candidateId: rank}, got ${typeName(ranks)}`); return; }
  const byRank = new Map<number, string[]>();
  for (const [id, r] of Object.entries(ranks as Record<string, unknown>)) {
    if (typeof r !== 'number' || !Number.isInteger(r)) { bad(`ranks.${id}: expected an integer rank, got ${JSON.stringify(r)}`); continue; }
    if (r < 1 || r > n) { bad(`ranks.${id}: rank ${r} out of range 1..${n} (K = ${n} candidates)`); continue; }
    const g = byRank.get(r) ?? [];
    g.push(id);
    byRank.set(r, g);
  }
  return [...byRank.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
}

/** Every reason the request is invalid, or the record it would store (annotator and meta are added by the caller). */
export function checkSubmission(item: ItemView, body: Record<string, unknown>): { ok: true; sub: Submission; record: RankingRecord } | { ok: false; reasons: string[] } {
  const reasons: string[] = [];
  const bad = (r: string) => reasons.push(r);
  for (const k of Object.keys(body)) if (!['ranking', 'ranks', 'rewrites', 'comment'].includes(k)) bad(`${k}: unknown field (allowed: ranking | ranks, rewrites, comment)`);
  const baseIds = new Set(item.candidates.map((c) => c.id));

  const rewrites: Rewrite[] = [];
  if (body.rewrites !== undefined) {
    if (!Array.isArray(body.rewrites)) bad(`rewrites: expected an array, got ${typeName(body.rewrites)}`);
    else body.rewrites.forEach((w, i) => {
      const f = `rewrites[${i}]`;
      if (typeof w !== 'object' || w === null) { bad(`${f}: expected {id, of, text}`); return; }
      const o = w as Record<string, unknown>;
      if (typeof o.id !== 'string' || !ID_RE.test(o.id)) { bad(`${f}.id: expected 1–64 letters, digits or _.:-, got ${JSON.stringify(o.id)}`); return; }
      if (baseIds.has(o.id) || rewrites.some((x) => x.id === o.id)) { bad(`${f}.id: '${o.id}' is already a candidate id`); return; }
      if (typeof o.of !== 'string' || !baseIds.has(o.of)) { bad(`${f}.of: unknown candidate id ${JSON.stringify(o.of)}`); return; }
      if (rewrites.some((x) => x.of === o.of)) { bad(`${f}.of: candidate '${o.of}' already has a rewrite`); return; }
      if (typeof o.text !== 'string' || o.text.trim() === '') { bad(`${f}.text: expected non-empty text`); return; }
      if (o.text.length > MAX_TEXT) { bad(`${f}.text: longer than ${MAX_TEXT} characters`); return; }
      rewrites.push({ id: o.id, of: o.of, text: o.text });
    });
  }
  const n = item.candidates.length + rewrites.length;

  let ranking: string[][] | undefined;
  if (body.ranking !== undefined && body.ranks !== undefined) bad('ranking, ranks: send one of them, not both');
  else if (body.ranks !== undefined) ranking = ranksToGroups(body.ranks, n, bad);
  else if (body.ranking === undefined) bad('ranking: missing (groups of candidate ids, best first) — or send ranks {id: 1..K}');
  else if (!Array.isArray(body.ranking)) bad(`ranking: expected an array of groups, got ${typeName(body.ranking)}`);
  else {
    ranking = body.ranking as string[][];
    if (ranking.length > n) bad(`ranking: ${ranking.length} groups but only K = ${n} candidates`);
  }

  let comment = '';
  if (body.comment !== undefined) {
    if (typeof body.comment !== 'string') bad(`comment: expected a string, got ${typeName(body.comment)}`);
    else if (body.comment.length > MAX_TEXT) bad(`comment: longer than ${MAX_TEXT} characters`);
    else comment = body.comment;
  }
  if (reasons.length || !ranking) return { ok: false, reasons };

  const candidates: RankingCandidate[] = [
    ...item.candidates.map((c) => ({ ...c })),
    ...rewrites.map((w) => ({ id: w.id, text: w.text, source: 'rewrite', rewriteOf: w.of })),
  ];
  const record: RankingRecord = { id: item.extId, history: item.history, prompt: item.prompt, candidates, ranking };
  if (comment !== '') record.comment = comment;
  for (const p of validateRanking(record)) {
    // an empty ranking is valid in a file (unranked input) but a save must rank everything
    bad(`${p.field}: ${p.reason}`);
  }
  if (ranking.length === 0) bad('ranking: empty — rank every candidate');
  if (!item.allowTies) ranking.forEach((g, i) => {
    if (Array.isArray(g) && g.length > 1) bad(`ranking[${i}]: ties are off in this project, but ${g.join(', ')} share rank ${i + 1}`);
  });
  // a rewrite is the expert's own answer: it goes above everything it was written to improve
  for (const w of rewrites) if (!(Array.isArray(ranking[0]) && ranking[0].includes(w.id))) bad(`ranking: rewrite '${w.id}' must be in the top group`);
  if (reasons.length) return { ok: false, reasons };
  return { ok: true, sub: { ranking, rewrites, comment }, record };
}
