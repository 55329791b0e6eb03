// protocol.ts — the OpenAI chat-completions wire format as this server speaks it: request validation (every known
// field type-checked, errors naming the field), the error body {error: {message, type, param, code}}, and builders
// for responses and SSE chunks. No HTTP framework and no model here: pure data in, data out.
import type { ChatMessage } from '../tokenizer/chat.js';

/** An error for the client, in OpenAI's shape; `status` is the HTTP status. */
export class ApiError extends Error {
  constructor(readonly status: 400 | 401 | 403 | 404 | 405 | 413 | 415 | 429 | 500 | 503, message: string,
    readonly type = 'invalid_request_error', readonly param: string | null = null, readonly code: string | null = null) {
    super(message);
    this.name = 'ApiError';
  }

  body(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export interface ErrorBody { error: { message: string; type: string; param: string | null; code: string | null } }

/** A validated request: what the engine needs, with sampling fields left undefined when the client gave none. */
export interface ChatRequest {
  model: string | undefined;
  messages: ChatMessage[];
  stream: boolean;
  includeUsage: boolean;
  temperature: number | undefined;
  topP: number | undefined;
  topK: number | undefined;
  maxTokens: number | undefined;
  stop: string[];
  seed: number | undefined;
  repetitionPenalty: number | undefined;
  /** extension (as vLLM's): keep generating past EOS; benchmarks need fixed-length answers */
  ignoreEos: boolean;
}

export interface RequestLimits {
  /** most messages in one request */
  maxMessages: number;
  /** most characters over all message contents (the token limit is checked after rendering) */
  maxChars: number;
  /** largest max_tokens a client may ask for */
  maxTokens: number;
}

const ROLES = new Set(['system', 'user', 'assistant']);
// fields we accept only at the value that means "off": anything else would silently change the semantics
const ONLY_DEFAULT: Record<string, unknown[]> = {
  n: [1], logprobs: [false, null], presence_penalty: [0, null], frequency_penalty: [0, null], tools: [null],
  tool_choice: [null, 'none'], logit_bias: [null], response_format: [null], top_logprobs: [null, 0],
};

const bad = (param: string, message: string): never => {
  throw new ApiError(400, `[serve] ${param}: ${message}`, 'invalid_request_error', param, 'invalid_value');
};
const show = (v: unknown): string => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

function num(body: Record<string, unknown>, key: string, lo: number, hi: number, opts: { int?: boolean; loOpen?: boolean } = {}): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) return bad(key, `expected a number, got ${show(v)}`);
  if (opts.int && !Number.isInteger(v)) return bad(key, `expected an integer, got ${show(v)}`);
  if (v < lo || v > hi || (opts.loOpen && v === lo)) return bad(key, `must be in ${opts.loOpen ? '(' : '['}${lo}, ${hi}], got ${v}`);
  return v;
}

function bool(body: Record<string, unknown>, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') return bad(key, `expected true or false, got ${show(v)}`);
  return v;
}

/** Content is a string or OpenAI's list of parts; only text parts are meaningful to a text model. */
function content(v: unknown, param: string): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    return v.map((p, i) => {
      if (!p || typeof p !== 'object' || (p as { type?: unknown }).type !== 'text' || typeof (p as { text?: unknown }).text !== 'string')
        return bad(`${param}[${i}]`, 'only {"type": "text", "text": string} parts are supported by a text model');
      return (p as { text: string }).text;
    }).join('');
  }
  return bad(param, `expected a string or a list of text parts, got ${show(v)}`);
}

/** Validates a parsed JSON body; throws ApiError(400) naming the first bad field. Unknown fields are ignored. */
export function parseChatRequest(body: Record<string, unknown>, limits: RequestLimits): ChatRequest {
  const model = body.model;
  if (model !== undefined && model !== null && typeof model !== 'string') bad('model', `expected a string, got ${show(model)}`);
  const raw = body.messages;
  if (raw === undefined) bad('messages', 'is required');
  if (!Array.isArray(raw)) return bad('messages', `expected a list of {role, content}, got ${show(raw)}`);
  if (raw.length === 0) bad('messages', 'must hold at least one message');
  if (raw.length > limits.maxMessages) bad('messages', `at most ${limits.maxMessages} messages per request, got ${raw.length}`);
  let chars = 0;
  const messages: ChatMessage[] = raw.map((m: unknown, i: number) => {
    const p = `messages[${i}]`;
    if (!m || typeof m !== 'object' || Array.isArray(m)) return bad(p, `expected {role, content}, got ${show(m)}`);
    const { role, content: c } = m as { role?: unknown; content?: unknown };
    if (typeof role !== 'string' || !ROLES.has(role)) return bad(`${p}.role`, `must be one of system|user|assistant, got ${show(role)}`);
    const text = content(c, `${p}.content`);
    chars += text.length;
    return { role, content: text };
  });
  if (chars > limits.maxChars)
    throw new ApiError(400, `[serve] messages: ${chars} characters in all, the limit is ${limits.maxChars}`, 'invalid_request_error', 'messages', 'context_length_exceeded');
  if (messages[messages.length - 1]!.role === 'assistant') bad('messages', 'the last message must be the user\'s (or system\'s): continuing an assistant turn is not supported');
  if (!messages.some((m) => m.role === 'user')) bad('messages', 'needs at least one user message');
  if (messages.every((m) => m.content.trim() === '')) bad('messages', 'every message is empty');

  for (const [k, ok] of Object.entries(ONLY_DEFAULT)) {
    if (body[k] !== undefined && !ok.includes(body[k])) bad(k, `not supported by this server (only ${ok.filter((x) => x !== null).map(show).join(' or ') || 'leaving it out'}), got ${show(body[k])}`);
  }
  const stream = bool(body, 'stream') ?? false;
  let includeUsage = false;
  const so = body.stream_options;
  if (so !== undefined && so !== null) {
    if (typeof so !== 'object' || Array.isArray(so)) bad('stream_options', `expected an object, got ${show(so)}`);
    includeUsage = bool(so as Record<string, unknown>, 'include_usage') ?? false;
  }
  const maxA = num(body, 'max_tokens', 1, limits.maxTokens, { int: true });
  const maxB = num(body, 'max_completion_tokens', 1, limits.maxTokens, { int: true });
  if (maxA !== undefined && maxB !== undefined && maxA !== maxB) bad('max_completion_tokens', `disagrees with max_tokens (${maxB} vs ${maxA})`);
  let stop: string[] = [];
  const s = body.stop;
  if (typeof s === 'string') stop = [s];
  else if (Array.isArray(s)) stop = s.map((x, i) => (typeof x === 'string' ? x : bad(`stop[${i}]`, `expected a string, got ${show(x)}`)));
  else if (s !== undefined && s !== null) bad('stop', `expected a string or a list of up to 4 strings, got ${show(s)}`);
  if (stop.length > 4) bad('stop', `at most 4 stop strings, got ${stop.length}`);
  if (stop.some((x) => x === '')) bad('stop', 'stop strings must not be empty');
  return {
    model: typeof model === 'string' ? model : undefined,
    messages, stream, includeUsage,
    temperature: num(body, 'temperature', 0, 2),
    topP: num(body, 'top_p', 0, 1, { loOpen: true }),
    topK: num(body, 'top_k', 0, 1e6, { int: true }),
    maxTokens: maxA ?? maxB,
    stop,
    seed: num(body, 'seed', -(2 ** 53), 2 ** 53, { int: true }),
    repetitionPenalty: num(body, 'repetition_penalty', 0, 10, { loOpen: true }),
    ignoreEos: bool(body, 'ignore_eos') ?? false,
  };
}

export type OpenAiFinish = 'stop' | 'length';

export interface Usage { prompt_tokens: number; completion_tokens: number; total_tokens: number }

export function usage(prompt: number, completion: number): Usage {
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

export function completionBody(id: string, created: number, model: string, content: string, finish: OpenAiFinish, u: Usage, extra: Record<string, unknown>) {
  return {
    id, object: 'chat.completion', created, model,
    choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: finish }],
    usage: u,
    ...extra,
  };
}

/** One `chat.completion.chunk`: a delta, or (with `finish`) the closing chunk with an empty delta. */
export function chunkBody(id: string, created: number, model: string, delta: { role?: 'assistant'; content?: string }, finish: OpenAiFinish | null = null) {
  return { id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] };
}

/** The usage chunk sent last when `stream_options.include_usage` is set: no choices, only usage. */
export function usageChunkBody(id: string, created: number, model: string, u: Usage) {
  return { id, object: 'chat.completion.chunk', created, model, choices: [], usage: u };
}

export function sseData(v: unknown): string {
  return `data: ${typeof v === 'string' ? v : JSON.stringify(v)}\n\n`;
}
