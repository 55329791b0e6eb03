// systems.ts — the system under evaluation, opened from a typed description: a local model directory or llama.cpp
// GGUF file (loaded here, answers generated in-process, log-likelihoods available) or an OpenAI-compatible endpoint.
// No flag parsing here: src/cli/eval.ts turns flags into a SystemSpec.
import { apiAnswerer, type Answerer } from './generate.js';
import { loadLocalModel, type LocalModel, type LocalModelOptions } from './local-model.js';
import type { ApiConfig } from './openai-client.js';

export interface SamplingSpec {
  maxNewTokens: number;
  /** 0 = greedy */
  temperature: number;
  topP?: number;
  /** local models only */
  topK?: number;
  /** local models only (HF repetition penalty; 1 = off) */
  repetitionPenalty?: number;
  seed: number;
}

export type SystemSpec =
  | { kind: 'local'; dir: string; sampling: SamplingSpec; template?: string; weights?: LocalModelOptions['weights']; kvCache?: LocalModelOptions['kvCache']; name?: string }
  | { kind: 'api'; api: ApiConfig; sampling: SamplingSpec; name?: string };

export interface OpenedSystem {
  answerer: Answerer;
  /** set for local models: what only a model in memory gives (log-likelihoods, token log-probs) */
  local?: LocalModel;
}

export async function openSystem(s: SystemSpec): Promise<OpenedSystem> {
  const p = s.sampling;
  if (s.kind === 'local') {
    const o: LocalModelOptions = { maxNewTokens: p.maxNewTokens, seed: p.seed };
    if (p.temperature > 0) { o.doSample = true; o.temperature = p.temperature; }
    if (p.topP !== undefined) o.topP = p.topP;
    if (p.topK !== undefined) o.topK = p.topK;
    if (p.repetitionPenalty !== undefined) o.repetitionPenalty = p.repetitionPenalty;
    if (s.template) o.template = s.template;
    if (s.name) o.name = s.name;
    if (s.weights) o.weights = s.weights;
    if (s.kvCache) o.kvCache = s.kvCache;
    const local = await loadLocalModel(s.dir, o);
    return { answerer: local.answerer, local };
  }
  const params: { temperature: number; maxTokens: number; topP?: number; seed: number } = { temperature: p.temperature, maxTokens: p.maxNewTokens, seed: p.seed };
  if (p.topP !== undefined) params.topP = p.topP;
  const a = apiAnswerer(s.api, params);
  if (s.name) a.name = s.name;
  return { answerer: a };
}
