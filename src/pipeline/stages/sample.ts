// sample.ts — stage `sample`: K candidate answers per first-turn prompt from the SFT model (or an OpenAI-compatible
// endpoint), written for the rank stage.
import { join } from 'node:path';
import { type RunContext, input, markDone, readJsonl, resetStage, writeJsonl } from '../context.js';
import type { Conversation, RankingRecord } from '../../data/index.js';
import { loadLocalModel } from '../../eval/local-model.js';
import { DATA_FILES } from './data.js';
import { Rng } from '../../util/rng.js';
import { sampleFromEndpoint } from '../../scaleout/endpoint-sampler.js';
import { SAMPLES_FILE, firstTurnPrompts } from '../stage-inputs.js';

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
  const m = model ? await loadLocalModel(model, { template: cfg.tokenizer.template, weights: cfg.model.weights, kvCache: cfg.model.kvCache }) : null;
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
