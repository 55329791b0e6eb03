// export.ts — saved annotations out: our ranking format (ties, rewrites with rewriteOf, annotator, comment), the
// preference pairs for the reward model / DPO (every ordered pair across groups; ties give no pair), and the original
// labelling tool's TSV, which can hold neither ties nor rewrites: what it flattens is counted and reported.
// Returns text; writing files is the caller's (CLI, HTTP).
import { rankingToPreferenceSet, validateRanking, type RankingRecord } from '../data/ranking-format.js';
import { pairsFromRanking } from '../data/samples.js';
import type { Project, Store } from './store.js';

export type ExportFormat = 'ranking' | 'pairs' | 'tsv';
export const exportFormats: readonly ExportFormat[] = ['ranking', 'pairs', 'tsv'];

export function rankingRecords(store: Store, p: Project): RankingRecord[] {
  return store.doneAnnotations(p).map((a) => {
    const r: RankingRecord = {
      id: a.item.extId, history: a.item.history, prompt: a.item.prompt,
      candidates: [
        ...a.item.candidates.map((c) => ({ ...c })),
        ...a.rewrites.map((w) => ({ id: w.id, text: w.text, source: 'rewrite', rewriteOf: w.of })),
      ],
      ranking: a.ranking, annotator: a.annotator,
    };
    if (a.comment !== '') r.comment = a.comment;
    r.meta = { ...(a.item.meta ?? {}), project: p.name, savedAt: a.savedAt };
    // saves were validated on the way in; this guards against a schema drift writing files rm/dpo then reject
    const probs = validateRanking(r);
    if (probs.length) throw new Error(`[annotate/export] stored annotation of '${r.id}' by ${a.annotator} is invalid: ${probs.map((x) => `${x.field}: ${x.reason}`).join('; ')}`);
    return r;
  });
}

export interface PreferencePairRow {
  /** `<item id>/<annotator>/<n>`: unique per file */
  id: string;
  history: [string, string][];
  prompt: string;
  chosen: string;
  rejected: string;
  /** how many groups apart the two answers were ranked (1 = adjacent) */
  gap: number;
  annotator?: string;
}

/**
 * All ordered pairs across groups, better first; members of one group (a tie) are never paired. The pairing itself
 * is the data layer's pairsFromRanking, the project's one definition of RM/DPO pairs; this only shapes the rows so the loader
 * reads them back as `preference-pair` records.
 */
export function toPairs(records: RankingRecord[]): PreferencePairRow[] {
  const out: PreferencePairRow[] = [];
  for (const r of records) {
    pairsFromRanking(rankingToPreferenceSet(r), { marginScale: 1 }).forEach((p, k) => {
      const row: PreferencePairRow = {
        id: `${r.id}/${r.annotator ?? ''}/${k}`, history: r.history, prompt: r.prompt,
        chosen: p.chosen, rejected: p.rejected, gap: p.margin,
      };
      if (r.annotator !== undefined) row.annotator = r.annotator;
      out.push(row);
    });
  }
  return out;
}

export interface TsvResult {
  text: string;
  rows: number;
  /** records that had at least one tie, broken here by candidate order */
  tiesBroken: number;
  /** rewrites left out (the TSV has no column for them) */
  rewritesDropped: number;
  /** comments left out */
  commentsDropped: number;
  /** fields whose line breaks became a literal \\n and tabs a space */
  fieldsEscaped: number;
}

/** TSV as the original tool and our reader take it: no quoting, so a tab or line break would split the row. */
function tsvField(s: string, count: () => void): string {
  if (!/[\t\n\r]/.test(s)) return s;
  count();
  return s.replace(/\r\n|\r|\n/g, '\\n').replace(/\t/g, ' ');
}

/** The original tool's `id, query, history, rank1..rankK` (best first; history as JSON text). */
export function toTsv(records: RankingRecord[]): TsvResult {
  const perItem = new Map<string, number>();
  for (const r of records) perItem.set(r.id, (perItem.get(r.id) ?? 0) + 1);
  let tiesBroken = 0, rewritesDropped = 0, commentsDropped = 0, K = 0;
  const rows: string[][] = [];
  for (const r of records) {
    const rewrites = new Set(r.candidates.filter((c) => c.source === 'rewrite' && c.rewriteOf !== undefined).map((c) => c.id));
    rewritesDropped += rewrites.size;
    if (r.comment) commentsDropped++;
    const order = new Map(r.candidates.map((c, i) => [c.id, i]));
    const groups = r.ranking.map((g) => g.filter((id) => !rewrites.has(id))).filter((g) => g.length);
    if (groups.some((g) => g.length > 1)) tiesBroken++;
    const flat = groups.flatMap((g) => [...g].sort((a, b) => order.get(a)! - order.get(b)!));
    const text = new Map(r.candidates.map((c) => [c.id, c.text]));
    K = Math.max(K, flat.length);
    // one column has no room for the annotator: ids stay unique by carrying it when an item has several
    const id = perItem.get(r.id)! > 1 ? `${r.id}@${r.annotator ?? ''}` : r.id;
    rows.push([id, r.prompt, JSON.stringify(r.history), ...flat.map((x) => text.get(x)!)]);
  }
  const header = ['id', 'query', 'history', ...Array.from({ length: K }, (_, i) => `rank${i + 1}`)];
  let fieldsEscaped = 0;
  const text = [header, ...rows].map((row) => row.map((f) => tsvField(f, () => fieldsEscaped++)).join('\t')).join('\n') + '\n';
  return { text, rows: rows.length, tiesBroken, rewritesDropped, commentsDropped, fieldsEscaped };
}

export function exportText(store: Store, p: Project, fmt: ExportFormat): { text: string; count: number; notice?: string } {
  const recs = rankingRecords(store, p);
  if (fmt === 'ranking') return { text: recs.map((r) => JSON.stringify(r) + '\n').join(''), count: recs.length };
  if (fmt === 'pairs') {
    const pairs = toPairs(recs);
    return { text: pairs.map((r) => JSON.stringify(r) + '\n').join(''), count: pairs.length };
  }
  const t = toTsv(recs);
  const notice = `[annotate/export] the TSV format holds neither ties, rewrites, comments nor line breaks: ties broken by candidate order in ${t.tiesBroken} of ${t.rows} rows, ${t.rewritesDropped} rewrite(s) and ${t.commentsDropped} comment(s) dropped, ${t.fieldsEscaped} field(s) with line breaks written with a literal \\n (use --format ranking to keep them)`;
  return { text: t.text, count: t.rows, notice };
}
