// stage-inputs.ts — what several recipe stages read the same way: the file names the sample and rank stages hand on,
// first-turn prompts, the EOS id, conversations as training sequences (sft) and ranked sets as preference pairs
// (rm, dpo). No stage runs here.
import { readJsonl } from './context.js';
import type { LmSequence } from '../train/tasks/lm-batches.js';
import { toMessages, type Conversation, rankingToPreferenceSet, type Turn, type RankingRecord, pairsFromRanking, parseRanking, splitOf } from '../data/index.js';
import { encodeChat, type Tokenizer } from '../tokenizer/index.js';
import { formatInjection, injectionMarkers, recordInjections } from '../tokenizer/injection.js';
import { EOS_TOKEN } from './stages/tokenizer.js';
import type { PairSample } from '../train/tasks/reward.js';
import { promptIds } from '../eval/local-model.js';

export const SAMPLES_FILE = 'candidates.jsonl';

export const RANKINGS_FILE = 'rankings.jsonl';

/** The first patient turn of each conversation (with any system turn before it), as a prompt. */
export function firstTurnPrompts(convs: Conversation[]): { turns: Turn[]; safety: boolean; id: string }[] {
  return convs.map((c, i) => {
    const k = c.turns.findIndex((t) => t.role === 'user');
    return { turns: c.turns.slice(0, k + 1), safety: !!c.meta.safety, id: c.meta.id ?? `conv-${i}` };
  }).filter((p) => p.turns.length > 0 && p.turns.at(-1)!.role === 'user');
}

export function eosId(tok: Tokenizer): number {
  const id = tok.tokenToId(tok.config.eosToken ?? EOS_TOKEN);
  if (id === undefined) throw new Error(`[pipeline] the tokenizer has no EOS token '${tok.config.eosToken ?? EOS_TOKEN}'`);
  return id;
}

/** Conversations → ids with the loss mask from the chat template; those longer than maxLen are counted and left out. */
export function encodeConversations(tok: Tokenizer, template: string, convs: Conversation[], maxLen: number, lossOn: 'all' | 'last', file = 'conversations'): { seqs: LmSequence[]; tooLong: number; injected: string[] } {
  const seqs: LmSequence[] = [];
  let tooLong = 0;
  const markers = injectionMarkers(tok, template), injected: string[] = [];
  for (const [i, c] of convs.entries()) {
    const found = recordInjections(c, markers, { file, line: i + 1 });
    if (found.length) { injected.push(...found.map(formatInjection)); continue; }
    const enc = encodeChat(tok, template, toMessages(c.turns), { addGenerationPrompt: false });
    if (enc.ids.length > maxLen) { tooLong++; continue; }
    let mask: ArrayLike<number> = enc.assistantMask;
    if (lossOn === 'last') {
      // keep only the final assistant run of the mask
      const m = Uint8Array.from(enc.assistantMask);
      let i = m.length - 1;
      while (i >= 0 && !m[i]) i--;
      while (i >= 0 && m[i]) i--;
      m.fill(0, 0, i + 1);
      mask = m;
    }
    seqs.push({ ids: enc.ids, lossMask: mask as ArrayLike<number> });
  }
  return { seqs, tooLong, injected };
}

/** Pairs (all ordered pairs across rank groups, ties skipped) as ids, split by ranked set so no prompt is on both sides. */
export function preferencePairs(tok: Tokenizer, template: string, rankingsPath: string, maxLen: number, devFraction: number, seed: number):
  { train: PairSample[]; dev: PairSample[]; tooLong: number } {
  const eos = eosId(tok);
  const m = { tok, template };
  const train: PairSample[] = [], dev: PairSample[] = [];
  let tooLong = 0;
  readJsonl<RankingRecord>(rankingsPath).forEach((raw) => {
    const set = rankingToPreferenceSet(parseRanking(raw));
    const toDev = splitOf(set, devFraction, seed) === 'dev';
    for (const p of pairsFromRanking(set)) {
      const prompt = promptIds(m, p.context);
      const s: PairSample = { prompt, chosen: [...tok.encode(p.chosen), eos], rejected: [...tok.encode(p.rejected), eos] };
      if (prompt.length + Math.max(s.chosen.length, s.rejected.length) > maxLen) { tooLong++; continue; }
      (toDev ? dev : train).push(s);
    }
  });
  return { train, dev, tooLong };
}
