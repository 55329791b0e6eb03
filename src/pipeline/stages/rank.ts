// rank.ts — stages `sample` and `rank`. sample: K answers per prompt from the SFT model, written in our ranking
// format without rankings (what the ranking tool imports for doctors). rank: in a real run, the experts' rankings
// (our ranking format, exported by the ranking tool); in the demo, a rule-based judge built on the medical rules
// ranks them by safety, then professionalism/fluency — a stand-in for doctors, labelled as such — and the demo
// corpus's candidate sets with controlled flaws are added.
import { join } from 'node:path';
import type { RunContext } from '../context.js';
import { input, markDone, readJsonl, resetStage, writeJsonl } from '../context.js';
import { loadFile, preferenceSetToRanking, rankingToPreferenceSet, type Conversation, type PreferenceSet, type Turn } from '../../data/index.js';
import type { RankingRecord } from '../../data/index.js';
import { ruleAbilityScore, ruleSafetyScore, DEMO_JUDGE_NAME } from '../../eval/judges.js';
import { loadLocalModel } from '../../eval/local-model.js';
import { DATA_FILES } from './data.js';
import { Rng } from '../../util/rng.js';
import { sampleFromEndpoint } from '../../scaleout/endpoint-sampler.js';

export const SAMPLES_FILE = 'candidates.jsonl';
export const RANKINGS_FILE = 'rankings.jsonl';

/** The first patient turn of each conversation (with any system turn before it), as a prompt. */
export function firstTurnPrompts(convs: Conversation[]): { turns: Turn[]; safety: boolean; id: string }[] {
  return convs.map((c, i) => {
    const k = c.turns.findIndex((t) => t.role === 'user');
    return { turns: c.turns.slice(0, k + 1), safety: !!c.meta.safety, id: c.meta.id ?? `conv-${i}` };
  }).filter((p) => p.turns.length > 0 && p.turns.at(-1)!.role === 'user');
}

/** n of xs chosen by a seeded shuffle, kept in their original order. */
function pick<T>(xs: T[], n: number, seed: number): T[] {
  return new Rng(seed).permutation(xs.length).slice(0, Math.min(n, xs.length)).sort((a, b) => a - b).map((i) => xs[i]!);
}

export async function runSample(ctx: RunContext): Promise<Record<string, unknown>> {
  const { cfg } = ctx;
  const ep = cfg.sample.endpoint;
  const model = ep ? null : input(ctx, 'sft', 'model', 'sample');
  const convs = readJsonl<Conversation>(input(ctx, 'data', DATA_FILES.train, 'sample'));
  const dir = resetStage(ctx, 'sample');
  const prompts = pick(firstTurnPrompts(convs), cfg.sample.prompts, cfg.seed + 7);
  const K = cfg.sample.k;
  let answers: string[][] = prompts.map(() => []);
  let source = 'sft-sample';
  if (ep) {
    // the SFT model served elsewhere (the big model from an engine run): K candidates per prompt over HTTP
    const key = process.env[ep.apiKeyEnv];
    const r = await sampleFromEndpoint({ baseUrl: ep.baseUrl, model: ep.model, maxRetries: ep.retries, timeoutMs: ep.timeoutMs, ...(key ? { apiKey: key } : {}) },
      prompts.map((p) => p.turns), { k: K, temperature: cfg.sample.temperature, topP: cfg.sample.topP, maxNewTokens: cfg.sample.maxNewTokens, seed: cfg.seed * 100, concurrency: ep.concurrency, cachePath: ep.cache }, ctx.log);
    answers = r.answers;
    source = `api:${ep.model}`;
  }
  const m = model ? await loadLocalModel(model, { template: cfg.tokenizer.template, weights: cfg.model.weights }) : null;
  for (let k = 0; m && k < K; k++) {
    // candidates are drawn without the repetition penalty the model directory's generation_config.json serves with
    const a = m.answerAll(prompts.map((p) => p.turns), {
      maxNewTokens: cfg.sample.maxNewTokens, doSample: true, temperature: cfg.sample.temperature, topP: cfg.sample.topP, repetitionPenalty: 1, seed: cfg.seed * 100 + k * 7919,
    });
    a.forEach((x, i) => answers[i]!.push(x));
    ctx.log(`[sample] candidate ${k + 1}/${K} for ${prompts.length} prompts`);
  }
  const records: RankingRecord[] = prompts.map((p, i) => ({
    id: `sample-${i}`,
    history: [],
    prompt: p.turns.at(-1)!.text,
    candidates: answers[i]!.map((text, k) => ({ id: `c${k}`, text, source })),
    ranking: [],
    meta: { safety: p.safety, from: p.id },
  }));
  writeJsonl(join(dir, SAMPLES_FILE), records);
  const summary = { prompts: prompts.length, k: K, emptyAnswers: answers.flat().filter((a) => !a).length };
  markDone(ctx, 'sample', summary);
  return summary;
}

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
