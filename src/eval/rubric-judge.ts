// rubric-judge.ts — an LLM judge over the OpenAI chat-completions API that scores one answer in its context, or one
// whole consultation, on every criterion of a rubric. Replies are cached raw (a fixed parser re-reads them for free)
// and parsed strictly by rubric-parse.ts; a failed call is an error, never a score. Aggregation is rubric-score.ts's.
import { DiskCache, sha256 } from './disk-cache.js';
import { ChatClient, type ApiConfig } from './openai-client.js';
import { parseScoreText } from './rubric-parse.js';
import { rubricSystemPrompt, type Rubric } from './rubric.js';
import type { RubricItemScore } from './rubric-score.js';
import type { Turn } from '../data/types.js';

/** What one judge call grades: an answer after its conversation, or a whole consultation. */
export type RubricTarget =
  | { itemId: string; model: string; context: Turn[]; answer: string }
  | { itemId: string; model: string; transcript: Turn[] };

const who = (t: Turn) => (t.role === 'user' ? 'Patient' : t.role === 'assistant' ? 'Doctor' : 'System');

export function rubricUserPrompt(t: RubricTarget): string {
  if ('transcript' in t) {
    return `Grade the doctor over this whole consultation:\n\n${t.transcript.filter((x) => x.role !== 'system').map((x) => `${who(x)}: ${x.text}`).join('\n')}`;
  }
  const ctx = t.context.filter((x) => x.role !== 'system');
  const last = ctx[ctx.length - 1];
  const before = last?.role === 'user' ? ctx.slice(0, -1) : ctx;
  const lines: string[] = [];
  if (before.length) lines.push('Conversation so far:', ...before.map((x) => `${who(x)}: ${x.text}`), '');
  if (last?.role === 'user') lines.push(`Patient's latest message: ${last.text}`, '');
  lines.push(`[Doctor's reply to grade]\n${t.answer}`);
  return lines.join('\n');
}

export interface RubricJudgeOptions {
  api: ApiConfig;
  rubric: Rubric;
  cachePath?: string | null;
  temperature?: number;
  maxTokens?: number;
}

export interface RubricJudge {
  name: string;
  client: ChatClient;
  cache: DiskCache<string>;
  score(t: RubricTarget): Promise<RubricItemScore>;
  scoreAll(ts: RubricTarget[], o?: { concurrency?: number; onProgress?: (done: number, total: number) => void }): Promise<RubricItemScore[]>;
}

export function rubricJudge(o: RubricJudgeOptions): RubricJudge {
  const client = new ChatClient(o.api);
  const cache = new DiskCache<string>(o.cachePath ?? null);
  const system = rubricSystemPrompt(o.rubric);
  const empty = () => ({ scores: {}, missing: o.rubric.criteria.map((c) => c.id), outOfRange: [], unparseable: [] });
  const score = async (t: RubricTarget): Promise<RubricItemScore> => {
    const user = rubricUserPrompt(t);
    const key = sha256(JSON.stringify(['rubric', o.api.model, system, user, o.temperature ?? 0]));
    let raw = cache.get(key);
    if (raw === undefined) {
      try {
        const params: { temperature: number; maxTokens?: number } = { temperature: o.temperature ?? 0 };
        if (o.maxTokens !== undefined) params.maxTokens = o.maxTokens;
        raw = (await client.chat([{ role: 'system', content: system }, { role: 'user', content: user }], params)).content;
        cache.set(key, raw);
      } catch (e) {
        return { itemId: t.itemId, model: t.model, parsed: empty(), error: (e as Error).message };
      }
    }
    return { itemId: t.itemId, model: t.model, parsed: parseScoreText(raw, o.rubric), raw };
  };
  return {
    name: `llm:${o.api.model}`, client, cache, score,
    async scoreAll(ts, opts = {}) {
      const out: RubricItemScore[] = new Array(ts.length);
      let next = 0, done = 0;
      const worker = async () => {
        for (;;) {
          const i = next++;
          if (i >= ts.length) return;
          out[i] = await score(ts[i]!);
          opts.onProgress?.(++done, ts.length);
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 1, ts.length)) }, worker));
      return out;
    },
  };
}
