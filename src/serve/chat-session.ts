// chat-session.ts — one consultation with a model in this process, turn by turn, as `zhongjing chat` runs it: typed
// turn markers refused, the safety guard on the patient's words before any length handling, the context window
// (context-window.ts, the server's own), streamed text that never shows a partial or invalid UTF-8 sequence, and the
// count of invalid sequences left out. It keeps what the model saw and what the patient saw (for a transcript).
// No terminal, no files: the caller writes the text and the notices where it likes.
import type { LlamaForCausalLM } from '../model/llama.js';
import { generate, type GenerateOptions } from '../model/generate.js';
import { renderChat, type ChatMessage } from '../tokenizer/chat.js';
import { describeInjection, findInjection, injectionMarkers } from '../tokenizer/injection.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { ContextOverflow, describeFit, fitContext } from './context-window.js';
import type { SafetyGuard } from './guard.js';

/** A turn that was not taken (it is not added to the conversation); the message says why and what to change. */
export class TurnRefused extends Error {}

export interface ChatSessionOptions {
  model: LlamaForCausalLM;
  tok: Tokenizer;
  template: string;
  guard: SafetyGuard;
  /** sampling and length for every answer; the seed is advanced per turn */
  sampling: Omit<GenerateOptions, 'onToken' | 'eosTokenIds' | 'decode'>;
  eosTokenIds: number[];
  system?: string;
}

export interface TurnResult {
  /** the model's answer as kept in the conversation (invalid sequences left out) */
  text: string;
  /** invalid UTF-8 sequences left out of the answer */
  invalidUtf8: number;
}

/** The text of ids, holding back a trailing incomplete UTF-8 sequence (shown once the next token completes it). */
function stableText(tok: Tokenizer, ids: number[]): string {
  let t = tok.decode(ids, { skipSpecialTokens: true });
  while (t.endsWith('\uFFFD')) t = t.slice(0, -1);
  return t.replaceAll('\uFFFD', '');
}

export class ChatSession {
  /** what the model said and was told (without the guard's words) */
  readonly messages: ChatMessage[] = [];
  /** what the patient saw, for a transcript */
  readonly shown: ChatMessage[] = [];
  private readonly markers: ReturnType<typeof injectionMarkers>;
  private readonly eos: Set<number>;

  constructor(private readonly o: ChatSessionOptions) {
    this.markers = injectionMarkers(o.tok, o.template);
    this.eos = new Set(o.eosTokenIds);
    if (o.system !== undefined) {
      const why = this.refusal(o.system, 0);
      if (why) throw new TurnRefused(why.replace('messages[0].content', '--system'));
      this.messages.push({ role: 'system', content: o.system });
      this.shown.push({ role: 'system', content: o.system });
    }
  }

  /** typed text must stay text: a turn marker or special token in it would forge a turn of the conversation */
  private refusal(content: string, index: number): string | null {
    const inj = findInjection([{ content }], this.markers);
    return inj ? `[chat] refused: ${describeInjection({ ...inj, index })}` : null;
  }

  /**
   * Answers one patient turn: `write` gets the text as it becomes final (the guard's urgent message first),
   * `notice` a line when earlier turns were left out or the reply budget shrank. Throws TurnRefused.
   */
  answer(content: string, write: (s: string) => void, notice: (line: string) => void = () => {}): TurnResult {
    const { o, messages, eos } = this;
    const why = this.refusal(content, messages.length);
    if (why) throw new TurnRefused(why);
    messages.push({ role: 'user', content });
    // the guard reads the patient's words before any length handling can leave them out
    const verdict = o.guard.check(messages);
    const maxPositions = o.model.config.maxPositions;
    const encode = (ms: ChatMessage[]) => o.tok.encode(renderChat(o.tok, o.template, ms, { addGenerationPrompt: true }));
    let fit;
    try {
      fit = fitContext(messages, { maxPositions, maxNewTokens: o.sampling.maxNewTokens, encode });
    } catch (e) {
      messages.pop();
      if (e instanceof ContextOverflow) throw new TurnRefused(`[chat] that message is ${e.promptTokens} tokens with the template; this model's context is ${maxPositions} — send it shorter (it was not added to the conversation)`);
      throw e;
    }
    const n = describeFit(fit, o.sampling.maxNewTokens);
    if (n) notice(`[chat] ${n}`);
    this.shown.push({ role: 'user', content });
    if (verdict.prefix) write(verdict.prefix);
    let shownText = '';
    const out: number[] = [];
    const r = generate(o.model, [fit.ids], {
      ...o.sampling, maxNewTokens: fit.maxNewTokens, seed: (o.sampling.seed ?? 0) + messages.length, eosTokenIds: [...eos],
      decode: (ids) => o.tok.decode(ids, { skipSpecialTokens: true }),
      onToken: (e) => {
        if (eos.has(e.id)) return;
        out.push(e.id);
        const t = stableText(o.tok, out);
        if (t.startsWith(shownText)) { write(t.slice(shownText.length)); shownText = t; }
      },
    });
    const rawText = o.tok.decode(r.ids[0]!.filter((id) => !eos.has(id)), { skipSpecialTokens: true });
    const invalidUtf8 = rawText.split('\uFFFD').length - 1;
    const text = rawText.replaceAll('\uFFFD', '');
    write((text.startsWith(shownText) ? text.slice(shownText.length) : '') + '\n');
    if (invalidUtf8) notice(`[chat] ${invalidUtf8} invalid UTF-8 sequence${invalidUtf8 === 1 ? '' : 's'} left out of the answer`);
    messages.push({ role: 'assistant', content: text });
    this.shown.push({ role: 'assistant', content: verdict.prefix + text });
    return { text, invalidUtf8 };
  }
}
