// context-window.ts — fits a conversation into a model's context for chat, serve and the web page alike: when the
// rendered history plus the reply budget do not fit, the oldest complete turns go first (the system prompt always
// stays, and the patient's first complaint stays while it fits), and the reply budget shrinks only as a last resort.
// It renders nothing itself: the caller's `encode` turns messages into prompt ids (template, BOS and all).
import type { ChatMessage } from '../tokenizer/chat.js';

export interface FitOptions {
  /** the model's context in tokens (prompt + reply) */
  maxPositions: number;
  /** the reply budget wanted */
  maxNewTokens: number;
  /** smallest reply budget worth generating for (default 1) */
  minNewTokens?: number;
  /** messages → prompt ids, exactly as generation will see them */
  encode: (messages: ChatMessage[]) => number[];
}

export interface FitResult {
  /** the messages the prompt was rendered from (a subsequence of the input) */
  messages: ChatMessage[];
  ids: number[];
  maxNewTokens: number;
  /** complete earlier turns left out (a turn = a user message and the answers after it) */
  truncatedTurns: number;
  /** true when the reply budget had to shrink below what was asked */
  budgetShrunk: boolean;
}

export class ContextOverflow extends Error {
  constructor(readonly promptTokens: number, readonly maxPositions: number) {
    super(`[context] the latest message alone renders to ${promptTokens} tokens; this model's context is ${maxPositions} — shorten it`);
  }
}

/** Leading system messages, then turns: each starts at a user message (an opening assistant greeting is its own turn). */
function split(messages: ChatMessage[]): { system: ChatMessage[]; turns: ChatMessage[][] } {
  let i = 0;
  while (i < messages.length && messages[i]!.role === 'system') i++;
  const system = messages.slice(0, i);
  const turns: ChatMessage[][] = [];
  for (; i < messages.length; i++) {
    const m = messages[i]!;
    if (m.role === 'user' || turns.length === 0) turns.push([m]);
    else turns[turns.length - 1]!.push(m);
  }
  return { system, turns };
}

/** A sentence for people, '' when nothing was cut. */
export function describeFit(r: FitResult, asked: number): string {
  const parts: string[] = [];
  if (r.truncatedTurns) parts.push(`${r.truncatedTurns} earlier turn${r.truncatedTurns === 1 ? '' : 's'} left out of the model's view to fit its context`);
  if (r.budgetShrunk) parts.push(`the reply is limited to ${r.maxNewTokens} tokens (asked ${asked})`);
  return parts.join('; ');
}

export function fitContext(messages: ChatMessage[], o: FitOptions): FitResult {
  const minNew = Math.max(1, o.minNewTokens ?? 1);
  const { system, turns } = split(messages);
  const build = (keep: ChatMessage[][]): ChatMessage[] => [...system, ...keep.flat()];
  const fits = (ids: number[], budget: number) => ids.length + budget <= o.maxPositions;
  const full = o.encode(messages);
  if (fits(full, o.maxNewTokens) || turns.length <= 1) return finish(messages, full, 0);

  // candidates from most to least history: first complaint + the newest k turns, then the newest k turns alone;
  // the latest turn (the one being answered) is never dropped
  const last = turns.length - 1;
  let best: { msgs: ChatMessage[]; ids: number[]; dropped: number } | null = null;
  // keep the first complaint while it fits: drop turns 1, 2, … until it does
  for (let from = 2; from <= last; from++) {
    const keep = [turns[0]!, ...turns.slice(from)];
    const msgs = build(keep);
    const ids = o.encode(msgs);
    if (fits(ids, o.maxNewTokens)) { best = { msgs, ids, dropped: from - 1 }; break; }
  }
  if (!best) {
    for (let from = 1; from <= last; from++) {
      const msgs = build(turns.slice(from));
      const ids = o.encode(msgs);
      if (fits(ids, o.maxNewTokens) || from === last) { best = { msgs, ids, dropped: from }; break; }
    }
  }
  return finish(best!.msgs, best!.ids, best!.dropped);

  function finish(msgs: ChatMessage[], ids: number[], dropped: number): FitResult {
    const room = o.maxPositions - ids.length;
    if (room < minNew) throw new ContextOverflow(ids.length, o.maxPositions);
    const budget = Math.min(o.maxNewTokens, room);
    return { messages: msgs, ids, maxNewTokens: budget, truncatedTurns: dropped, budgetShrunk: budget < o.maxNewTokens };
  }
}
