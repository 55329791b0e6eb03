// data-export.ts — the recipe's datasets in LLaMA-Factory's formats, plus dataset_info.json declaring each file
// (v0.9.3 schema, lf-keys.ts): pre-training text, SFT dialogues as ShareGPT (loss on every doctor turn), reward-model /
// DPO pairs from the rankings (ties give no pair: samples.ts pairsFromRanking), KTO labels and PPO prompts.
// The records come from our own data stage (the same loading, cleaning and split); nothing is re-parsed here.
import { join } from 'node:path';
import { mkdirSync, rmSync } from 'node:fs';
import { atomicWriteJson } from '../model/atomic.js';
import type { PipelineConfig } from '../pipeline/config.js';
import { readJsonl, writeJsonl, type RunContext } from '../pipeline/context.js';
import { DATA_FILES, runData } from '../pipeline/stages/data.js';
import { firstTurnPrompts } from '../pipeline/stage-inputs.js';
import { pairsFromRanking, type Conversation, type PreferenceSet, type Turn } from '../data/index.js';

export const DATASETS = {
  pt: 'zj_pretrain', sft: 'zj_sft_train', sftDev: 'zj_sft_dev', pairs: 'zj_pairs', kto: 'zj_kto', ppo: 'zj_ppo_prompts',
} as const;

export interface DataExport {
  info: Record<string, Record<string, unknown>>;
  counts: Record<string, number>;
  /** dialogues changed to fit (a trailing patient turn without an answer is cut) */
  trimmed: number;
}

const FROM = { user: 'human', assistant: 'gpt', system: 'system' } as const;

/** A dialogue as ShareGPT turns; the roles must alternate patient/doctor after an optional system turn. */
function sharegpt(c: Conversation, where: string): { conversations: { from: string; value: string }[]; trimmed: boolean } {
  const turns = [...c.turns];
  let trimmed = false;
  while (turns.length && turns.at(-1)!.role !== 'assistant') { turns.pop(); trimmed = true; }
  const body = turns[0]?.role === 'system' ? turns.slice(1) : turns;
  body.forEach((t, i) => {
    if (t.role !== (i % 2 === 0 ? 'user' : 'assistant'))
      throw new Error(`[export recipe] ${where}: turn ${i + 1} is '${t.role}'; LLaMA-Factory's sharegpt needs patient/doctor turns alternating from the patient`);
  });
  return { conversations: turns.map((t) => ({ from: FROM[t.role], value: t.text })), trimmed };
}

function historyPairs(turns: Turn[], where: string): [string, string][] {
  const h = turns.filter((t) => t.role !== 'system');
  const out: [string, string][] = [];
  for (let i = 0; i < h.length; i += 2) {
    if (h[i]!.role !== 'user' || h[i + 1]?.role !== 'assistant') throw new Error(`[export recipe] ${where}: history does not alternate patient/doctor`);
    out.push([h[i]!.text, h[i + 1]!.text]);
  }
  return out;
}

const srcOf = (c: { source?: { file: string; line: number } }, fallback: string) => (c.source ? `${c.source.file}:${c.source.line}` : fallback);

/** Run our data stage into `work` (then `afterData` in that run), then write the engine's files into `dataDir`. */
export async function exportData(cfg: PipelineConfig, dataDir: string, work: string, quiet: boolean,
  afterData?: (ctx: RunContext) => Promise<void>): Promise<DataExport> {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const ctx: RunContext = { cfg, root: work, quiet, log: (m) => { if (!quiet) process.stderr.write(`${m}\n`); } };
  await runData(ctx);
  if (afterData) await afterData(ctx); // later stages of our own run on the same data (vocab-extend.ts)
  const d = join(work, 'data');
  const pretrain = readJsonl<{ text: string }>(join(d, DATA_FILES.pretrain));
  const train = readJsonl<Conversation>(join(d, DATA_FILES.train));
  const dev = readJsonl<Conversation>(join(d, DATA_FILES.dev));
  const sets = readJsonl<PreferenceSet>(join(d, DATA_FILES.rankings));
  let trimmed = 0;
  const sft = (cs: Conversation[], name: string) => cs.map((c, i) => {
    const r = sharegpt(c, srcOf(c, `${name}[${i}]`));
    if (r.trimmed) trimmed++;
    return { conversations: r.conversations };
  }).filter((r) => r.conversations.some((t) => t.from === 'gpt'));
  const pairs: { prompt: string; chosen: string; rejected: string; history: [string, string][] }[] = [];
  const kto: { instruction: string; output: string; kto_tag: boolean; history: [string, string][] }[] = [];
  sets.forEach((s, i) => {
    const where = srcOf(s, `rankings[${i}]`);
    const history = historyPairs(s.history, where);
    for (const p of pairsFromRanking(s)) pairs.push({ prompt: s.prompt, chosen: p.chosen, rejected: p.rejected, history });
    if (s.ranking.length >= 2) {
      const text = new Map(s.candidates.map((c) => [c.id, c.text]));
      for (const id of s.ranking[0]!) kto.push({ instruction: s.prompt, output: text.get(id)!, kto_tag: true, history });
      for (const id of s.ranking.at(-1)!) kto.push({ instruction: s.prompt, output: text.get(id)!, kto_tag: false, history });
    }
  });
  const prompts = firstTurnPrompts(train).map((p) => ({
    instruction: p.turns.at(-1)!.text, system: p.turns[0]!.role === 'system' ? p.turns[0]!.text : '',
  }));
  const files: Record<string, unknown[]> = {
    [DATASETS.pt]: pretrain.map((t) => ({ text: t.text })), [DATASETS.sft]: sft(train, 'train'), [DATASETS.sftDev]: sft(dev, 'dev'),
    [DATASETS.pairs]: pairs, [DATASETS.kto]: kto, [DATASETS.ppo]: prompts,
  };
  const sharegptTags = { role_tag: 'from', content_tag: 'value', user_tag: 'human', assistant_tag: 'gpt', system_tag: 'system' };
  const info: Record<string, Record<string, unknown>> = {
    [DATASETS.pt]: { file_name: `${DATASETS.pt}.jsonl`, columns: { prompt: 'text' } },
    [DATASETS.sft]: { file_name: `${DATASETS.sft}.jsonl`, formatting: 'sharegpt', columns: { messages: 'conversations' }, tags: sharegptTags },
    [DATASETS.sftDev]: { file_name: `${DATASETS.sftDev}.jsonl`, formatting: 'sharegpt', columns: { messages: 'conversations' }, tags: sharegptTags },
    [DATASETS.pairs]: { file_name: `${DATASETS.pairs}.jsonl`, ranking: true, columns: { prompt: 'prompt', chosen: 'chosen', rejected: 'rejected', history: 'history' } },
    [DATASETS.kto]: { file_name: `${DATASETS.kto}.jsonl`, columns: { prompt: 'instruction', response: 'output', kto_tag: 'kto_tag', history: 'history' } },
    [DATASETS.ppo]: { file_name: `${DATASETS.ppo}.jsonl`, columns: { prompt: 'instruction', system: 'system' } },
  };
  for (const [name, rows] of Object.entries(files)) writeJsonl(join(dataDir, `${name}.jsonl`), rows);
  atomicWriteJson(join(dataDir, 'dataset_info.json'), info);
  rmSync(work, { recursive: true, force: true });
  return { info, counts: Object.fromEntries(Object.entries(files).map(([k, v]) => [k, v.length])), trimmed };
}
