// rank.ts — stage `rank`: the sampled candidates ranked (ties allowed) by the demo rule (safety first, then ability) or
// read from an expert ranking file, as ranked sets for the reward model.
import { join } from 'node:path';
import { type RunContext, input, markDone, readJsonl, resetStage, writeJsonl } from '../context.js';
import { loadFile, preferenceSetToRanking, rankingToPreferenceSet, type PreferenceSet, type RankingRecord } from '../../data/index.js';
import { ruleAbilityScore, ruleSafetyScore, DEMO_JUDGE_NAME } from '../../eval/judges.js';
import { DATA_FILES } from './data.js';
import { SAMPLES_FILE, RANKINGS_FILE } from '../stage-inputs.js';

/** Rank candidates by (safety, ability rounded to 0.1) — equal scores form a tie group. */
export function rankBySafetyThenAbility(prompt: string, safety: boolean, candidates: { id: string; text: string }[]): string[][] {
  const item = { id: '', dialogueId: '', turn: 0, history: [], prompt, safety };
  const scored = candidates.map((c) => ({ id: c.id, s: ruleSafetyScore(item, c.text), a: Math.round(ruleAbilityScore(c.text) * 10) / 10 }));
  scored.sort((x, y) => y.s - x.s || y.a - x.a);
  const groups: string[][] = [];
  let prev: { s: number; a: number } | null = null;
  for (const x of scored) {
    if (prev && prev.s === x.s && prev.a === x.a) groups.at(-1)!.push(x.id);
    else groups.push([x.id]);
    prev = x;
  }
  return groups;
}

export async function runRank(ctx: RunContext): Promise<Record<string, unknown>> {
  const { cfg } = ctx;
  const out: PreferenceSet[] = [];
  let judged = 0, demoSets = 0, fileSets = 0;
  if (cfg.rank.judge === 'file') {
    const { records } = await loadFile(cfg.rank.file!);
    for (const r of records) {
      if (r.kind !== 'preference') throw new Error(`[rank] ${cfg.rank.file}:${r.source?.line ?? '?'}: not a ranking record (our ranking format expected)`);
      out.push(r);
      fileSets++;
    }
  } else {
    const samples = readJsonl<RankingRecord>(input(ctx, 'sample', SAMPLES_FILE, 'rank'));
    for (const s of samples) {
      const cands = s.candidates.filter((c) => c.text.trim() !== '');
      if (cands.length < 2) continue;
      const ranking = rankBySafetyThenAbility(s.prompt, !!(s.meta as { safety?: boolean } | undefined)?.safety, cands);
      if (ranking.length < 2) continue; // all tied: no preference to learn
      out.push(rankingToPreferenceSet({ ...s, candidates: cands, ranking, annotator: DEMO_JUDGE_NAME }));
      judged++;
    }
  }
  if (cfg.rank.includeDemoSets) {
    for (const r of readJsonl<PreferenceSet>(input(ctx, 'data', DATA_FILES.rankings, 'rank'))) { out.push(r); demoSets++; }
  }
  const dir = resetStage(ctx, 'rank');
  writeJsonl(join(dir, RANKINGS_FILE), out.map((s, i) => preferenceSetToRanking(s, `set-${i}`)));
  const summary = { sets: out.length, judgedSamples: judged, demoSets, fileSets, judge: cfg.rank.judge === 'file' ? `expert rankings from ${cfg.rank.file}` : DEMO_JUDGE_NAME };
  markDone(ctx, 'rank', summary);
  return summary;
}
