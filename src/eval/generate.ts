// generate.ts — runs an answerer (local model, API, or anything with `answer(messages)`) over EvalItems with an
// on-disk cache keyed by (model, item, turn) so an interrupted run resumes. Failures are recorded as errors and
// never cached (a rerun retries them). It does not know how answers are produced: see local-model.ts, api-answerer.
import { DiskCache, sha256 } from './disk-cache.js';
import { itemMessages } from './items.js';
import { ChatClient, type ApiConfig, type ChatParams } from './openai-client.js';
import type { Turn } from '../data/types.js';
import type { AnswerRecord, EvalItem } from './types.js';

export interface Answerer {
  /** a stable name: part of the cache key, so two models never share answers */
  name: string;
  answer(messages: Turn[]): Promise<string>;
}

export interface GenerateProgress { done: number; total: number; cached: number; errors: number }

export interface GenerateOptions {
  /** JSONL answer cache; null/undefined = no cache */
  cachePath?: string | null;
  /** answers in flight at once (API answerers; local models run one at a time anyway) */
  concurrency?: number;
  onProgress?: (p: GenerateProgress) => void;
}

interface CachedAnswer { answer: string; context: string }

/** The cache key: model, item, turn. The context hash rides along so a changed history is not served a stale answer. */
export function answerKey(model: string, item: EvalItem): string {
  return JSON.stringify([model, item.dialogueId, item.turn]);
}

function contextHash(item: EvalItem): string {
  return sha256(JSON.stringify(itemMessages(item))).slice(0, 16);
}

export async function generateAnswers(items: EvalItem[], answerer: Answerer, opts: GenerateOptions = {}): Promise<AnswerRecord[]> {
  const cache = new DiskCache<CachedAnswer>(opts.cachePath ?? null);
  const out: AnswerRecord[] = new Array(items.length);
  const p: GenerateProgress = { done: 0, total: items.length, cached: 0, errors: 0 };
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      const item = items[i]!;
      const rec: AnswerRecord = { itemId: item.id, model: answerer.name, prompt: item.prompt };
      if (item.safety) rec.safety = true;
      const key = answerKey(answerer.name, item), ctx = contextHash(item);
      const hit = cache.get(key);
      if (hit && hit.context === ctx) {
        rec.answer = hit.answer;
        p.cached++;
      } else {
        try {
          rec.answer = await answerer.answer(itemMessages(item));
          cache.set(key, { answer: rec.answer, context: ctx });
        } catch (e) {
          rec.error = (e as Error).message;
          p.errors++;
        }
      }
      out[i] = rec;
      p.done++;
      opts.onProgress?.({ ...p });
    }
  };
  const n = Math.max(1, Math.min(opts.concurrency ?? 1, items.length));
  await Promise.all(Array.from({ length: n }, worker));
  return out;
}

/** An answerer over any OpenAI-compatible endpoint. */
export function apiAnswerer(cfg: ApiConfig, params: ChatParams = {}, system?: string): Answerer & { client: ChatClient } {
  const client = new ChatClient(cfg);
  return {
    name: `api:${cfg.model}`,
    client,
    async answer(messages) {
      const msgs = messages.map((t) => ({ role: t.role, content: t.text }));
      if (system && !msgs.some((m) => m.role === 'system')) msgs.unshift({ role: 'system', content: system });
      return (await client.chat(msgs, params)).content;
    },
  };
}

/** Answers as JSONL (one AnswerRecord per line). */
export function answersToJsonl(rs: AnswerRecord[]): string {
  return rs.map((r) => JSON.stringify(r)).join('\n') + (rs.length ? '\n' : '');
}
