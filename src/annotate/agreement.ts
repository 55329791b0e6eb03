// agreement.ts — inter-annotator agreement over rankings with ties: Kendall's τ-b for one pair of annotators on
// one item, Krippendorff's α with the ordinal metric over all (item, candidate) units, and the per-item report.
// Pure functions over rankings (groups of ids, best first); no database. Derivations: docs/annotate.md.

/** candidate id → 0-based group index (equal index = tie) */
function groupIndex(groups: string[][]): Map<string, number> {
  const m = new Map<string, number>();
  groups.forEach((g, i) => g.forEach((id) => m.set(id, i)));
  return m;
}

/**
 * Kendall's τ-b over the candidates both rankings contain: (C − D) / √((n0 − n1)(n0 − n2)), with n1, n2 the pairs
 * tied in the first and second ranking. Undefined (null) when either ranking ties everything, or < 2 shared ids.
 */
export function kendallTauB(a: string[][], b: string[][], only?: ReadonlySet<string>): number | null {
  const ra = groupIndex(a), rb = groupIndex(b);
  const ids = [...ra.keys()].filter((id) => rb.has(id) && (!only || only.has(id)));
  let s = 0, n1 = 0, n2 = 0;
  const n0 = (ids.length * (ids.length - 1)) / 2;
  for (let i = 0; i < ids.length; i++) {
    for (let j = i + 1; j < ids.length; j++) {
      const dx = Math.sign(ra.get(ids[i]!)! - ra.get(ids[j]!)!);
      const dy = Math.sign(rb.get(ids[i]!)! - rb.get(ids[j]!)!);
      if (dx === 0) n1++;
      if (dy === 0) n2++;
      s += dx * dy;
    }
  }
  const den = Math.sqrt((n0 - n1) * (n0 - n2));
  return den === 0 ? null : s / den;
}

/** candidate id → mid-rank (1-based; a tie of two for the top shares 1.5): the value α compares. */
export function midRanks(groups: string[][]): Map<string, number> {
  const m = new Map<string, number>();
  let before = 0;
  for (const g of groups) {
    for (const id of g) m.set(id, before + (g.length + 1) / 2);
    before += g.length;
  }
  return m;
}

/**
 * Krippendorff's α, ordinal metric. `units` holds each unit's values (one per coder who coded it; units with fewer
 * than two are not pairable and dropped). δ²(c, k) = (Σ_{g=c..k} n_g − (n_c + n_k)/2)² over the sorted distinct
 * values, n_g their frequencies among pairable values. α = 1 − (n − 1) Σ o_ck δ²_ck / Σ n_c n_k δ²_ck.
 * null when there is nothing to compare or no variation at all.
 */
export function krippendorffAlphaOrdinal(units: number[][]): number | null {
  const pairable = units.filter((u) => u.length >= 2);
  const values = [...new Set(pairable.flat())].sort((x, y) => x - y);
  const V = values.length;
  if (V === 0) return null;
  const at = new Map(values.map((v, i) => [v, i]));
  // coincidence matrix: each ordered pair of values within a unit counts 1 / (m_u − 1)
  const o: number[][] = values.map(() => new Array<number>(V).fill(0));
  for (const u of pairable) {
    const w = 1 / (u.length - 1);
    for (let i = 0; i < u.length; i++)
      for (let j = 0; j < u.length; j++) if (i !== j) o[at.get(u[i]!)!]![at.get(u[j]!)!]! += w;
  }
  const nc = o.map((row) => row.reduce((x, y) => x + y, 0));
  const n = nc.reduce((x, y) => x + y, 0);
  const cum = [0];
  for (const x of nc) cum.push(cum[cum.length - 1]! + x);
  const delta2 = (c: number, k: number) => {
    const lo = Math.min(c, k), hi = Math.max(c, k);
    const s = cum[hi + 1]! - cum[lo]! - (nc[lo]! + nc[hi]!) / 2;
    return s * s;
  };
  let dObs = 0, dExp = 0;
  for (let c = 0; c < V; c++) for (let k = 0; k < V; k++) {
    if (c === k) continue;
    const d = delta2(c, k);
    dObs += o[c]![k]! * d;
    dExp += nc[c]! * nc[k]! * d;
  }
  if (dExp === 0) return null;
  return 1 - ((n - 1) * dObs) / dExp;
}

export interface AnnotatedRanking {
  itemId: string;
  annotator: string;
  ranking: string[][];
  /** ids every annotator of the item saw: rewrites are personal and left out of agreement */
  baseIds: ReadonlySet<string>;
}

export interface PairTau { a: string; b: string; tau: number | null }
export interface ItemAgreement { itemId: string; annotators: string[]; pairs: PairTau[]; meanTau: number | null }
export interface AgreementReport {
  alphaOrdinal: number | null;
  /** items with two or more saved rankings */
  itemsCompared: number;
  meanTau: number | null;
  /** every compared item, most disagreement (lowest mean τ-b) first; items whose τ is undefined come last */
  items: ItemAgreement[];
}

export function agreementReport(rows: AnnotatedRanking[]): AgreementReport {
  const byItem = new Map<string, AnnotatedRanking[]>();
  for (const r of rows) byItem.set(r.itemId, [...(byItem.get(r.itemId) ?? []), r]);
  const units: number[][] = [];
  const items: ItemAgreement[] = [];
  for (const [itemId, rs] of byItem) {
    if (rs.length < 2) continue;
    const base = rs[0]!.baseIds;
    // ranks among the shared candidates only, so a rewrite on top does not shift everyone else by one
    const restricted = rs.map((r) => r.ranking.map((g) => g.filter((id) => base.has(id))).filter((g) => g.length > 0));
    const mids = restricted.map(midRanks);
    for (const id of base) units.push(mids.map((m) => m.get(id)).filter((v): v is number => v !== undefined));
    const pairs: PairTau[] = [];
    for (let i = 0; i < rs.length; i++) for (let j = i + 1; j < rs.length; j++)
      pairs.push({ a: rs[i]!.annotator, b: rs[j]!.annotator, tau: kendallTauB(restricted[i]!, restricted[j]!, base) });
    const defined = pairs.map((p) => p.tau).filter((t): t is number => t !== null);
    items.push({ itemId, annotators: rs.map((r) => r.annotator), pairs, meanTau: defined.length ? defined.reduce((x, y) => x + y, 0) / defined.length : null });
  }
  items.sort((x, y) => (x.meanTau ?? Infinity) - (y.meanTau ?? Infinity) || x.itemId.localeCompare(y.itemId));
  const taus = items.map((i) => i.meanTau).filter((t): t is number => t !== null);
  return {
    alphaOrdinal: krippendorffAlphaOrdinal(units), itemsCompared: items.length,
    meanTau: taus.length ? taus.reduce((x, y) => x + y, 0) / taus.length : null, items,
  };
}
