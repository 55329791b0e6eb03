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
  /** optional: several items in one call (a local model's left-padded batch); used when batchSize > 1 */
  answerBatch?(batch: Turn[][]): Promise<string[]>;
}

export interface GenerateProgress { done: number; total: number; cached: number; errors: number }

export interface GenerateOptions {
  /** JSONL answer cache; null/undefined = no cache */
  cachePath?: string | null;
  /** answers in flight at once (API answerers; local models run one at a time anyway) */
  concurrency?: number;
  /** items per answerBatch call when the answerer has one (default 1: one item per call) */
  batchSize?: number;
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
  const pending: number[] = [];
  const recordOf = (item: EvalItem): AnswerRecord => {
    const rec: AnswerRecord = { itemId: item.id, model: answerer.name, prompt: item.prompt };
    if (item.safety) rec.safety = true;
    return rec;
  };
  const finish = (i: number, rec: AnswerRecord) => {
    out[i] = rec;
    p.done++;
    opts.onProgress?.({ ...p });
  };
  // cached answers first: a resumed run reports them at once and only the rest is generated
  items.forEach((item, i) => {
    const hit = cache.get(answerKey(answerer.name, item));
    if (hit && hit.context === contextHash(item)) {
      const rec = recordOf(item);
      rec.answer = hit.answer;
      p.cached++;
      finish(i, rec);
    } else pending.push(i);
  });
  const one = async (i: number) => {
    const item = items[i]!, rec = recordOf(item);
    try {
      rec.answer = await answerer.answer(itemMessages(item));
      cache.set(answerKey(answerer.name, item), { answer: rec.answer, context: contextHash(item) });
    } catch (e) {
      rec.error = (e as Error).message;
      p.errors++;
    }
    finish(i, rec);
  };
  const batchSize = Math.max(1, opts.batchSize ?? 1);
  const groups: number[][] = [];
  for (let k = 0; k < pending.length; k += batchSize) groups.push(pending.slice(k, k + batchSize));
  let next = 0;
  const worker = async () => {
    for (;;) {
      const g = groups[next++];
      if (!g) return;
      if (g.length === 1 || !answerer.answerBatch) { for (const i of g) await one(i); continue; }
      let answers: string[] | null = null;
      try {
        answers = await answerer.answerBatch(g.map((i) => itemMessages(items[i]!)));
        if (answers.length !== g.length) throw new Error(`[eval generate] answerBatch returned ${answers.length} answers for ${g.length} items`);
      } catch {
        answers = null; // a failed batch is retried item by item, so one bad item cannot sink its neighbours
      }
      if (!answers) { for (const i of g) await one(i); continue; }
      g.forEach((i, k) => {
        const item = items[i]!, rec = recordOf(item);
        rec.answer = answers![k]!;
        cache.set(answerKey(answerer.name, item), { answer: rec.answer, context: contextHash(item) });
        finish(i, rec);
      });
    }
  };
  const n = Math.max(1, Math.min(opts.concurrency ?? 1, groups.length));
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
