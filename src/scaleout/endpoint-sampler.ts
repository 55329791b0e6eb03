// endpoint-sampler.ts — K candidate answers per prompt from an OpenAI-compatible server (vLLM, SGLang, llama.cpp
// server, `zhongjing serve`) for the pipeline's `sample` stage: `n = K` per request, several requests in flight,
// the client's retries, and the eval client's JSONL cache (a rerun asks only for what is missing). A server that
// returns fewer than K choices (llama.cpp ignores `n`) is asked again with the next seed until K are in.
import { DiskCache, sha256 } from '../eval/disk-cache.js';
import { ChatClient, type ApiConfig } from '../eval/openai-client.js';
import type { Turn } from '../data/types.js';

export interface EndpointSampling {
  k: number; temperature: number; topP: number; maxNewTokens: number; seed: number;
  concurrency: number; cachePath: string | null;
}

export async function sampleFromEndpoint(api: ApiConfig, prompts: Turn[][], o: EndpointSampling, log: (m: string) => void = () => {}):
  Promise<{ answers: string[][]; requests: number; cached: number }> {
  const client = new ChatClient(api);
  const cache = new DiskCache<string[]>(o.cachePath);
  const answers: string[][] = prompts.map(() => []);
  let cached = 0, next = 0, done = 0;
  const keyOf = (p: Turn[]) => JSON.stringify([api.model, sha256(JSON.stringify(p)), o.k, o.temperature, o.topP, o.maxNewTokens, o.seed]);
  const one = async (i: number) => {
    const key = keyOf(prompts[i]!);
    const hit = cache.get(key);
    if (hit && hit.length >= o.k) { answers[i] = hit.slice(0, o.k); cached++; return; }
    const got: string[] = [];
    const msgs = prompts[i]!.map((t) => ({ role: t.role, content: t.text }));
    for (let attempt = 0; got.length < o.k; attempt++) {
      if (attempt > o.k) throw new Error(`[sample] ${api.baseUrl}: ${got.length} of ${o.k} candidates after ${attempt} requests for prompt ${i}`);
      const r = await client.chat(msgs, { n: o.k - got.length, temperature: o.temperature, topP: o.topP, maxTokens: o.maxNewTokens, seed: o.seed + i * 1009 + attempt * 7919 });
      got.push(...r.choices);
    }
    answers[i] = got.slice(0, o.k);
    cache.set(key, answers[i]!);
  };
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= prompts.length) return;
      await one(i);
      if (++done % 16 === 0 || done === prompts.length) log(`[sample] ${done}/${prompts.length} prompts from ${api.baseUrl} (cached ${cached})`);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, prompts.length)) }, worker));
  return { answers, requests: client.stats.requests, cached };
}
