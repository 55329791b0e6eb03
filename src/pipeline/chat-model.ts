// chat-model.ts — a model directory plus its tokenizer and template, answering conversations in batches with
// the KV-cache generator. The pipeline's sample, ppo and eval stages (and the report's examples) go through here.
import type { ModelDir } from '../model/model-dir.js';
import { loadModel, tokenizerOf } from '../model/load.js';
import type { WeightsOption } from '../model/weights.js';
import { generate, type SamplingOptions } from '../model/generate.js';
import { renderChat, type Tokenizer } from '../tokenizer/index.js';
import type { Turn } from '../data/index.js';
import { toMessages } from '../data/index.js';

export interface ChatModel {
  md: ModelDir;
  tok: Tokenizer;
  template: string;
  eos: number[];
}

/** `weights`: dtype of the weight matrices (model/weights.ts); inference only, so anything the kernels take. */
export async function openChatModel(dir: string, template: string, weights: WeightsOption = 'auto'): Promise<ChatModel> {
  const md = loadModel(dir, { weights });
  const tok = await tokenizerOf(md);
  if (!tok) throw new Error(`[pipeline] ${dir} has no tokenizer.json`);
  return { md, tok, template, eos: md.eosTokenIds };
}

/** ids of the conversation rendered up to the assistant's turn (the serving prompt). */
export function promptIds(m: Pick<ChatModel, 'tok' | 'template'>, turns: Turn[]): number[] {
  return m.tok.encode(renderChat(m.tok, m.template, toMessages(turns), { addGenerationPrompt: true }));
}

export function decodeAnswer(m: Pick<ChatModel, 'tok' | 'eos'>, ids: number[]): string {
  return m.tok.decode(ids.filter((id) => !m.eos.includes(id)), { skipSpecialTokens: true }).trim();
}

export interface AnswerOptions extends SamplingOptions {
  maxNewTokens: number;
  seed?: number;
  batchSize?: number;
}

/** Answers to each conversation (each ending with the patient's turn). */
export function answerAll(m: ChatModel, convs: Turn[][], o: AnswerOptions): string[] {
  const out: string[] = [];
  const bs = o.batchSize ?? 8;
  for (let i = 0; i < convs.length; i += bs) {
    const prompts = convs.slice(i, i + bs).map((c) => promptIds(m, c));
    const g = generate(m.md.model, prompts, { ...o, eosTokenIds: m.eos, seed: (o.seed ?? 0) + i });
    out.push(...g.ids.map((ids) => decodeAnswer(m, ids)));
  }
  return out;
}
