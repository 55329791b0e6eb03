// server.ts — `zhongjing serve`: an OpenAI-compatible chat API (/v1/models, /v1/chat/completions with SSE streaming,
// /health) and the consultation page of src/ui/chat, on the shared HTTP layer (src/http, hono) like the ranking tool.
// It renders the model's own chat template, applies the safety guard around the answer, and hands generation to the
// engine's single worker. The wire format is protocol.ts; the model never runs on this thread.
import { existsSync } from 'node:fs';
import { tokenizerAt } from '../model/load.js';
import type { WeightsOption } from '../model/weights.js';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Context, Hono } from 'hono';
import { BodyTooLarge, createApp, HttpError, listen, requireJson, serveFolder, type Listening, type Timeouts } from '../http/index.js';
import { BUILTIN_TEMPLATES, renderChat } from '../tokenizer/chat.js';
import { describeInjection, findInjection, injectionMarkers } from '../tokenizer/injection.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { Engine, QueueFull, type JobSink } from './engine.js';
import { SafetyGuard, type GuardOptions } from './guard.js';
import { ContextOverflow, fitContext, type FitResult } from './context-window.js';
import type { ChatMessage } from '../tokenizer/chat.js';
import {
  ApiError, chunkBody, completionBody, parseChatRequest, sseData, usage, usageChunkBody,
  type ChatRequest, type OpenAiFinish, type RequestLimits,
} from './protocol.js';
import type { JobSpec, ModelInfo } from './messages.js';

export interface ServeLimits extends RequestLimits {
  /** largest request body, in bytes (413 above it) */
  maxBodyBytes: number;
  /** longest rendered prompt, in tokens (also bounded by the model's context) */
  maxPromptTokens: number;
}

export const defaultLimits: ServeLimits = { maxBodyBytes: 256 * 1024, maxMessages: 200, maxChars: 64 * 1024, maxTokens: 2048, maxPromptTokens: 1 << 20 };

export interface ServeAppOptions {
  /** when set, /v1/* needs `Authorization: Bearer <apiKey>` (the page and /health stay open) */
  apiKey?: string;
  guard?: GuardOptions;
  limits?: Partial<ServeLimits>;
  /** chat template: a built-in name or Jinja source (default: tokenizer_config.json's, else 'ziya') */
  template?: string;
  uiDir?: string;
  /** one line per finished request (default: nothing) */
  log?: (line: string) => void;
  /** the bound address: requests must name it or a loopback name in Host (DNS-rebinding defence) */
  host?: string;
  /** more Host names to accept ('*' = any) */
  allowedHosts?: string[];
}

export interface ServeOptions extends ServeAppOptions {
  modelDir: string;
  /** dtype of the weight matrices (model/weights.ts; default auto) */
  weights?: WeightsOption;
  host?: string;
  port?: number;
  /** requests allowed to wait behind the running batch (429 above) */
  maxQueue?: number;
  /** most requests decoded together in one batch (1 = one at a time) */
  maxBatch?: number;
  /** server-side timeouts (src/http/listen.ts defaults) */
  timeouts?: Partial<Timeouts>;
}

/** The page folder src/ui/chat, found relative to this file whether it runs from dist/src or src. */
export function defaultChatUiDir(): string {
  for (const rel of ['../../../src/ui/chat/', '../ui/chat/']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new Error('[serve] cannot find the page folder src/ui/chat');
}

/** The template the model was trained with: tokenizer_config.json's chat_template (which may name a built-in), else Zhongjing's. */
export function servedTemplate(tok: Tokenizer, override?: string): string {
  if (override) return override;
  const t = tok.config.chatTemplate;
  if (t === null) return 'ziya';
  return BUILTIN_TEMPLATES[t.trim()] ? t.trim() : 'default';
}

function keyMatches(given: string, want: string): boolean {
  const a = Buffer.from(given), b = Buffer.from(want);
  return a.length === b.length && timingSafeEqual(a, b);
}

function errorResponse(c: Context, e: ApiError): Response {
  return c.json(e.body(), e.status);
}

export function createServeApp(engine: Engine, tok: Tokenizer, opts: ServeAppOptions = {}): Hono {
  const info: ModelInfo = engine.info;
  // a max_tokens cap above the model's context could never be honoured: the cap is the context at most
  const limits: ServeLimits = { ...defaultLimits, ...opts.limits };
  limits.maxTokens = Math.max(1, Math.min(limits.maxTokens, info.maxPositions - 1));
  const guard = new SafetyGuard(opts.guard);
  const template = servedTemplate(tok, opts.template);
  const created = Math.floor(Date.now() / 1000);
  const log = opts.log ?? (() => {});
  const app = createApp({
    maxBodyBytes: limits.maxBodyBytes,
    hosts: { ...(opts.host ? { bound: opts.host } : {}), ...(opts.allowedHosts ? { allowed: opts.allowedHosts } : {}) },
  });

  // every error of the shared layer (size, URL, Host, content type) answers in the OpenAI shape too
  app.onError((e, c) => {
    const r = onError(e, c);
    // a rejected request is logged with its status and reason, so an operator can see why clients fail
    log(`${new Date().toISOString()} rejected ${c.req.method} ${new URL(c.req.url).pathname} ${r.status} ${e instanceof Error ? e.message : String(e)}`);
    return r;
  });
  const onError = (e: unknown, c: Context): Response => {
    if (e instanceof ApiError) return errorResponse(c, e);
    if (e instanceof BodyTooLarge) {
      // the rest of the body is never read, so this connection cannot carry another request
      c.header('connection', 'close');
      return errorResponse(c, new ApiError(413, `[serve] request body larger than the limit of ${e.limitBytes} bytes`, 'invalid_request_error', null, 'request_too_large'));
    }
    if (e instanceof HttpError) {
      const status = ([400, 403, 404, 405, 415] as const).find((x) => x === e.status) ?? 400;
      return errorResponse(c, new ApiError(status, e.message, 'invalid_request_error', null, status === 415 ? 'unsupported_media_type' : status === 403 ? 'forbidden' : null));
    }
    if (e instanceof URIError) return errorResponse(c, new ApiError(400, `[serve] malformed percent-encoding in the URL: ${e.message}`));
    console.error(e);
    return errorResponse(c, new ApiError(500, '[serve] internal error (see the server log)', 'server_error'));
  };
  app.notFound((c) => errorResponse(c, new ApiError(404, `[serve] no route for ${c.req.method} ${new URL(c.req.url).pathname}`, 'invalid_request_error', null, 'not_found')));

  if (opts.apiKey) {
    const want = opts.apiKey;
    app.use('/v1/*', async (c, next) => {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '');
      if (!m || !keyMatches(m[1]!, want)) {
        c.header('WWW-Authenticate', 'Bearer');
        throw new ApiError(401, m ? '[serve] incorrect API key' : '[serve] missing API key (send `Authorization: Bearer <key>`)', 'invalid_request_error', null, 'invalid_api_key');
      }
      await next();
    });
  }

  app.get('/health', (c) => {
    const s = engine.stats();
    const ok = s.state === 'ready';
    return c.json({
      status: ok ? 'ok' : s.state, model: info.name, authRequired: Boolean(opts.apiKey),
      safety: { guard: guard.enabled, disclaimer: guard.disclaimer },
      engine: s, limits: { maxTokens: limits.maxTokens, maxPositions: info.maxPositions, maxBodyBytes: limits.maxBodyBytes },
    }, ok ? 200 : 503);
  });

  const modelCard = () => ({ id: info.name, object: 'model', created, owned_by: 'zhongjing' });
  app.get('/v1/models', (c) => c.json({ object: 'list', data: [modelCard()] }));
  app.get('/v1/models/:id', (c) => {
    if (c.req.param('id') !== info.name) throw new ApiError(404, `[serve] no model '${c.req.param('id')}' (this server has '${info.name}')`, 'invalid_request_error', 'model', 'model_not_found');
    return c.json(modelCard());
  });

  // the rendered prompt is tokenized with special tokens parsed (the template's own markers must be), and a
  // plain-text template's markers (`<human>:`) need no special token at all: a client could otherwise end a turn or
  // fake an earlier doctor turn by typing the marker's text into a message
  const markers = injectionMarkers(tok, template);

  /** Prompt ids and the job for a validated request; 400 when it cannot fit the model's context. */
  const prepare = (r: ChatRequest): { spec: JobSpec; truncatedTurns: number; budgetShrunk: boolean } => {
    const inj = findInjection(r.messages, markers);
    if (inj) throw new ApiError(400, `[serve] ${describeInjection(inj)}`, 'invalid_request_error', `messages[${inj.index}].content`, 'invalid_value');
    const g = info.generation;
    const bos = info.bosTokenId;
    const encode = (ms: ChatMessage[]): number[] => {
      const ids = tok.encode(renderChat(tok, template, ms, { addGenerationPrompt: true }));
      return bos !== undefined && tok.config.addBosToken && ids[0] !== bos ? [bos, ...ids] : ids;
    };
    const promptCap = Math.min(limits.maxPromptTokens, info.maxPositions - 1);
    const asked = r.maxTokens ?? Math.min(g.maxNewTokens ?? 512, limits.maxTokens);
    let fit: FitResult;
    try {
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

  const finishOf = (f: string): OpenAiFinish => (f === 'length' ? 'length' : 'stop');

  app.post('/v1/chat/completions', requireJson(), async (c) => {
    const t0 = performance.now();
    // touching the signal early makes the node adapter abort it when the client goes away
    const signal = c.req.raw.signal;
    const raw = await c.req.text();
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch (e) {
      throw new ApiError(400, `[serve] request body is not valid JSON: ${(e as Error).message}`, 'invalid_request_error', null, 'invalid_json');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, '[serve] request body must be a JSON object', 'invalid_request_error', null, 'invalid_json');
    const req = parseChatRequest(body as Record<string, unknown>, limits);
    if (req.model !== undefined && req.model !== info.name && req.model !== '')
      throw new ApiError(404, `[serve] no model '${req.model}' (this server has '${info.name}'; see /v1/models)`, 'invalid_request_error', 'model', 'model_not_found');
    // the guard looks at the patient's words before any length handling can leave a turn out
    const verdict = guard.check(req.messages);
    const { spec, truncatedTurns, budgetShrunk } = prepare(req);
    const context = { truncated_turns: truncatedTurns, reply_budget_shrunk: budgetShrunk };
    const id = `chatcmpl-${randomBytes(12).toString('hex')}`;
    const now = Math.floor(Date.now() / 1000);
    const promptTokens = spec.ids.length;
    const safety = { urgent: verdict.urgent, flags: verdict.flags };
    const done = (status: string, tokens: number) => log(`${new Date().toISOString()} chat ${id} ${status} prompt=${promptTokens}${truncatedTurns ? ` truncated_turns=${truncatedTurns}` : ''} completion=${tokens} ${(performance.now() - t0).toFixed(0)}ms${verdict.urgent ? ` urgent=${verdict.flags.join(',')}` : ''}`);
    const submit = (sink: JobSink) => {
      try {
        return engine.submit(spec, sink);
      } catch (e) {
        if (e instanceof QueueFull) {
          c.header('Retry-After', String(e.retryAfterS));
          throw new ApiError(429, `[serve] ${engine.stats().queued} requests are already waiting; retry after ${e.retryAfterS} s`, 'rate_limit_error', null, 'rate_limit_exceeded');
        }
        throw new ApiError(503, (e as Error).message, 'server_error', null, 'unavailable');
      }
    };

    if (!req.stream) {
      let text = '';
      return await new Promise<Response>((resolve, reject) => {
        try {
          const h = submit({
            onDelta: (d) => { text += d; },
            onDone: (r) => {
              done(r.finish, r.tokens);
              // a cancelled job's client has gone; nobody reads this
              if (r.finish === 'cancelled') { resolve(new Response(null, { status: 499 })); return; }
              resolve(c.json(completionBody(id, now, info.name, verdict.prefix + text + verdict.suffix, finishOf(r.finish), usage(promptTokens, r.tokens), { safety, ...context, invalid_utf8: r.invalidUtf8 ?? 0 })));
            },
            onError: (msg) => { done('error', 0); resolve(errorResponse(c, new ApiError(500, msg, 'server_error'))); },
          });
          if (signal.aborted) h.cancel();
          else signal.addEventListener('abort', () => h.cancel(), { once: true });
        } catch (e) {
          reject(e);
        }
      });
    }

    const enc = new TextEncoder();
    let ctrl!: ReadableStreamDefaultController<Uint8Array>;
    let open = true;
    let cancel = () => {};
    const stream = new ReadableStream<Uint8Array>({
      start(k) { ctrl = k; },
      cancel() { open = false; cancel(); },
    });
    const send = (v: unknown) => { if (open) ctrl.enqueue(enc.encode(sseData(v))); };
    const end = () => { if (open) { open = false; ctrl.close(); } };
    // the urgent message goes out first, before the request even waits for the model
    send({ ...chunkBody(id, now, info.name, { role: 'assistant', content: verdict.prefix }), ...context });
    let h;
    try {
      h = submit({
        onDelta: (d) => send(chunkBody(id, now, info.name, { content: d })),
        onDone: (r) => {
          done(r.finish, r.tokens);
          if (r.finish === 'cancelled') { end(); return; }
          if (verdict.suffix) send(chunkBody(id, now, info.name, { content: verdict.suffix }));
          send(chunkBody(id, now, info.name, {}, finishOf(r.finish)));
          if (req.includeUsage) send(usageChunkBody(id, now, info.name, usage(promptTokens, r.tokens)));
          send('[DONE]');
          end();
        },
        onError: (msg) => {
          done('error', 0);
          send(new ApiError(500, msg, 'server_error').body());
          send('[DONE]');
          end();
        },
      });
    } catch (e) {
      end();
      throw e;
    }
    cancel = () => h.cancel();
    if (signal.aborted) h.cancel();
    else signal.addEventListener('abort', () => h.cancel(), { once: true });
    return new Response(stream, {
      headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no', 'x-request-id': id },
    });
  });

  // a known route asked with the wrong method: 405 naming the methods it takes
  const allowed: Record<string, string> = { '/v1/chat/completions': 'POST', '/v1/models': 'GET' };
  app.all('/v1/*', (c) => {
    const path = new URL(c.req.url).pathname.replace(/\/+$/, '');
    const allow = allowed[path] ?? (path.startsWith('/v1/models/') ? 'GET' : undefined);
    if (allow && c.req.method !== allow) {
      c.header('Allow', allow);
      throw new ApiError(405, `[serve] ${path} takes ${allow}, not ${c.req.method}`, 'invalid_request_error', null, 'method_not_allowed');
    }
    throw new ApiError(c.req.method === 'GET' || c.req.method === 'POST' ? 404 : 405, `[serve] no route for ${c.req.method} ${new URL(c.req.url).pathname}`, 'invalid_request_error', null, 'not_found');
  });
  app.use('/*', serveFolder(opts.uiDir ?? defaultChatUiDir(), '/'));
  return app;
}

export interface Serving extends Listening {
  engine: Engine;
  app: Hono;
  /** stops generation, then the socket; resolves when both are down */
  close(graceMs?: number): Promise<void>;
}

/** Loads the model in the worker, then listens (127.0.0.1 and a free port unless told otherwise). */
export async function serveModel(opts: ServeOptions): Promise<Serving> {
  const engine = await Engine.start({
    modelDir: opts.modelDir,
    ...(opts.weights ? { weights: opts.weights } : {}),
    ...(opts.maxQueue !== undefined ? { maxQueue: opts.maxQueue } : {}),
    ...(opts.maxBatch !== undefined ? { maxBatch: opts.maxBatch } : {}),
  });
  try {
    const tok = await tokenizerAt(engine.info.dir);
    const app = createServeApp(engine, tok, opts);
    const l = await listen(app.fetch, { host: opts.host ?? '127.0.0.1', port: opts.port ?? 0, ...(opts.timeouts ? { timeouts: opts.timeouts } : {}) });
    return {
      ...l, engine, app,
      async close(graceMs?: number) {
        // ending the jobs first lets every open stream finish, so the socket can close promptly
        await engine.close();
        await l.close(graceMs);
      },
    };
  } catch (e) {
    await engine.close();
    throw e;
  }
}
