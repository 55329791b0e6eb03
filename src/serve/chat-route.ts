// chat-route.ts — POST /v1/chat/completions: the body parsed and checked (protocol.ts), the guard's verdict on the
// patient's words, the prompt built (prompt.ts), the job queued on the engine, and the answer sent back whole or
// streamed (respond.ts). One log line per finished request.
import { randomBytes } from 'node:crypto';
import type { Context } from 'hono';
import { QueueFull, type JobSink } from './engine.js';
import type { SafetyGuard } from './guard.js';
import type { PromptBuilder, ServeLimits } from './prompt.js';
import { ApiError, parseChatRequest } from './protocol.js';
import { completionResponse, streamResponse, type Answering } from './respond.js';
import type { EngineLike } from './app.js';

export interface ChatRouteDeps {
  engine: EngineLike;
  guard: SafetyGuard;
  limits: ServeLimits;
  prepare: PromptBuilder;
  log: (line: string) => void;
}

async function jsonBody(c: Context): Promise<Record<string, unknown>> {
  const raw = await c.req.text();
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch (e) {
    throw new ApiError(400, `[serve] request body is not valid JSON: ${(e as Error).message}`, 'invalid_request_error', null, 'invalid_json');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, '[serve] request body must be a JSON object', 'invalid_request_error', null, 'invalid_json');
  return body as Record<string, unknown>;
}

export function chatCompletions(d: ChatRouteDeps): (c: Context) => Promise<Response> {
  const info = d.engine.info;
  return async (c) => {
    const t0 = performance.now();
    // touching the signal early makes the node adapter abort it when the client goes away
    const signal = c.req.raw.signal;
    const req = parseChatRequest(await jsonBody(c), d.limits);
    if (req.model !== undefined && req.model !== info.name && req.model !== '')
      throw new ApiError(404, `[serve] no model '${req.model}' (this server has '${info.name}'; see /v1/models)`, 'invalid_request_error', 'model', 'model_not_found');
    // the guard looks at the patient's words before any length handling can leave a turn out
    const verdict = d.guard.check(req.messages);
    const { spec, truncatedTurns, budgetShrunk } = d.prepare(req);
    const id = `chatcmpl-${randomBytes(12).toString('hex')}`;
    const a: Answering = {
      id, created: Math.floor(Date.now() / 1000), model: info.name, verdict,
      context: { truncated_turns: truncatedTurns, reply_budget_shrunk: budgetShrunk },
      promptTokens: spec.ids.length, includeUsage: req.includeUsage, signal,
      done: (status, tokens) => d.log(`${new Date().toISOString()} chat ${id} ${status} prompt=${spec.ids.length}${truncatedTurns ? ` truncated_turns=${truncatedTurns}` : ''} completion=${tokens} ${(performance.now() - t0).toFixed(0)}ms${verdict.urgent ? ` urgent=${verdict.flags.join(',')}` : ''}`),
      submit: (sink: JobSink) => {
        try {
          return d.engine.submit(spec, sink);
        } catch (e) {
          if (e instanceof QueueFull) {
            c.header('Retry-After', String(e.retryAfterS));
            throw new ApiError(429, `[serve] ${d.engine.stats().queued} requests are already waiting; retry after ${e.retryAfterS} s`, 'rate_limit_error', null, 'rate_limit_exceeded');
          }
          throw new ApiError(503, (e as Error).message, 'server_error', null, 'unavailable');
        }
      },
    };
    return req.stream ? streamResponse(a) : completionResponse(c, a);
  };
}
