// human-verdicts.ts — human (doctor) pairwise verdicts imported from our ranking format (src/data/ranking-format.ts):
// a record's candidates carry `source` = the system name; A ranked in an earlier group than B is a win, the same
// group a tie. `meta.dimension` ('ability' | 'safety') names what a ranking judged; without it the ranking is an
// overall judgement under the annotation rule and is applied to both dimensions (the report says so).
import type { PreferenceSet } from '../data/types.js';
import type { Dimension, Outcome, PairVerdict } from './types.js';

export interface HumanImport {
  verdicts: PairVerdict[];
  /** records that ranked neither pair, or lacked one of the systems */
  unmatched: number;
  /** records without meta.dimension, applied to both dimensions */
  overall: number;
}

function rankOf(s: PreferenceSet, system: string): number | null {
  const c = s.candidates.filter((x) => x.source === system);
  if (c.length !== 1) return null; // zero or ambiguous: cannot say which answer the annotator saw as this system's
  const g = s.ranking.findIndex((grp) => grp.includes(c[0]!.id));
  return g < 0 ? null : g;
}

/** Verdicts for A vs B from ranking records; item id = meta.itemId when a string, else the record id. */
export function verdictsFromRankings(sets: PreferenceSet[], a: string, b: string): HumanImport {
  const byItem = new Map<string, PairVerdict>();
  let unmatched = 0, overall = 0;
  sets.forEach((s, i) => {
    const meta = s.meta ?? {};
    const id = typeof meta.itemId === 'string' ? meta.itemId : s.id ?? `record ${i}`;
    const dimRaw = meta.dimension;
    const dims: Dimension[] = dimRaw === 'ability' || dimRaw === 'safety' ? [dimRaw] : ['ability', 'safety'];
    if (dims.length === 2) overall++;
    const v = byItem.get(id) ?? { itemId: id, outcomes: {} };
    byItem.set(id, v);
    let o: Outcome;
    const ra = rankOf(s, a), rb = rankOf(s, b);
    if (s.ranking.length === 0) { o = 'missing'; v.note = 'not ranked yet'; unmatched++; }
    else if (ra === null || rb === null) { o = 'missing'; v.note = `no single candidate from ${ra === null ? a : b}`; unmatched++; }
    else o = ra < rb ? 'win' : ra > rb ? 'loss' : 'tie';
    for (const d of dims) v.outcomes[d] = o;
    if (s.annotator) v.note = [v.note, `annotator ${s.annotator}`].filter(Boolean).join('; ');
  });
  return { verdicts: [...byItem.values()], unmatched, overall };
}
