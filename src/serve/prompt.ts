// prompt.ts — a validated chat request to the worker's job: the model's own chat template rendered (BOS added when
// the tokenizer wants it), turn-marker injection refused, the context window fitted (oldest turns first, then the
// reply budget), sampling taken from the request or else generation_config.json. No HTTP and no model run here.
import { randomBytes } from 'node:crypto';
import { BUILTIN_TEMPLATES, renderChat, type ChatMessage } from '../tokenizer/chat.js';
import { describeInjection, findInjection, injectionMarkers } from '../tokenizer/injection.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { ContextOverflow, fitContext, type FitResult } from './context-window.js';
import type { SafetyGuard } from './guard.js';
import type { JobSpec, ModelInfo } from './messages.js';
import { ApiError, type ChatRequest, type RequestLimits } from './protocol.js';

export interface ServeLimits extends RequestLimits {
  /** largest request body, in bytes (413 above it) */
  maxBodyBytes: number;
  /** longest rendered prompt, in tokens (also bounded by the model's context) */
  maxPromptTokens: number;
}

export const defaultLimits: ServeLimits = { maxBodyBytes: 256 * 1024, maxMessages: 200, maxChars: 64 * 1024, maxTokens: 2048, maxPromptTokens: 1 << 20 };

/** The template the model was trained with: tokenizer_config.json's chat_template (which may name a built-in), else Zhongjing's. */
export function servedTemplate(tok: Tokenizer, override?: string): string {
  if (override) return override;
  const t = tok.config.chatTemplate;
  if (t === null) return 'ziya';
  return BUILTIN_TEMPLATES[t.trim()] ? t.trim() : 'default';
}

export interface PreparedJob {
  spec: JobSpec;
  /** earlier turns left out to fit the context */
  truncatedTurns: number;
  /** the reply budget was cut below what was asked */
  budgetShrunk: boolean;
}

export type PromptBuilder = (r: ChatRequest) => PreparedJob;

/** The builder for one served model; 400 (OpenAI shape) when a request cannot be rendered or cannot fit. */
export function promptBuilder(tok: Tokenizer, template: string, info: ModelInfo, limits: ServeLimits, guard: SafetyGuard): PromptBuilder {
  // the rendered prompt is tokenized with special tokens parsed (the template's own markers must be), and a
  // plain-text template's markers (`<human>:`) need no special token at all: a client could otherwise end a turn or
  // fake an earlier doctor turn by typing the marker's text into a message
  const markers = injectionMarkers(tok, template);
  const g = info.generation;
  const bos = info.bosTokenId;
  const encode = (ms: ChatMessage[]): number[] => {
    const ids = tok.encode(renderChat(tok, template, ms, { addGenerationPrompt: true }));
    return bos !== undefined && tok.config.addBosToken && ids[0] !== bos ? [bos, ...ids] : ids;
  };
  const promptCap = Math.min(limits.maxPromptTokens, info.maxPositions - 1);
  return (r) => {
    const inj = findInjection(r.messages, markers);
    if (inj) throw new ApiError(400, `[serve] ${describeInjection(inj)}`, 'invalid_request_error', `messages[${inj.index}].content`, 'invalid_value');
    const asked = r.maxTokens ?? Math.min(g.maxNewTokens ?? 512, limits.maxTokens);
    let fit: FitResult;
    try {
      // the guard's own words in earlier answers are not the model's: they are taken out before rendering
      const messages = r.messages.map((m) => (m.role === 'assistant' ? { role: m.role, content: guard.strip(m.content) } : m));
      // the oldest turns go before the reply budget shrinks (src/serve/context-window.ts)
      fit = fitContext(messages, { maxPositions: Math.min(info.maxPositions, promptCap + asked), maxNewTokens: asked, encode });
    } catch (e) {
      if (e instanceof ContextOverflow)
        throw new ApiError(400, `[serve] the latest message alone is ${e.promptTokens} tokens; this model's context is ${info.maxPositions} and the server allows ${promptCap} for the prompt — shorten it`, 'invalid_request_error', 'messages', 'context_length_exceeded');
      throw new ApiError(400, `[serve] messages cannot be rendered with the model's chat template: ${(e as Error).message}`, 'invalid_request_error', 'messages');
    }
    const ids = fit.ids;
    if (ids.length > limits.maxPromptTokens)
      throw new ApiError(400, `[serve] the prompt is ${ids.length} tokens even with earlier turns left out; the server allows ${promptCap}`, 'invalid_request_error', 'messages', 'context_length_exceeded');
    const spec: JobSpec = {
      ids,
      maxNewTokens: fit.maxNewTokens,
      eosTokenIds: r.ignoreEos ? [] : info.eosTokenIds,
      stop: r.stop,
      seed: r.seed ?? randomBytes(4).readUInt32LE(0),
      // OpenAI's temperature 0 is greedy; without one, the model directory's generation_config decides
      doSample: r.temperature !== undefined ? r.temperature > 0 : (g.doSample ?? false),
    };
    const temperature = r.temperature ?? g.temperature, topP = r.topP ?? g.topP, topK = r.topK ?? g.topK;
    const penalty = r.repetitionPenalty ?? g.repetitionPenalty;
    if (temperature !== undefined) spec.temperature = temperature;
    if (topP !== undefined) spec.topP = topP;
    if (topK !== undefined) spec.topK = topK;
    if (penalty !== undefined) spec.repetitionPenalty = penalty;
    return { spec, truncatedTurns: fit.truncatedTurns, budgetShrunk: fit.budgetShrunk };
  };
}
