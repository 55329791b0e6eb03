// app.ts — the serving app: limits, guard and template chosen once, then the middleware (errors in the OpenAI shape,
// rejected requests logged, the Bearer key) and the routes: /health, /v1/models, /v1/chat/completions (chat-route.ts),
// 405 for a known route asked with the wrong method, and the consultation page of src/ui/chat. No sockets here
// (server.ts listens); the engine is anything with Engine's info, stats and submit, so tests can hand in a stub.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Hono } from 'hono';
import { createApp, requireJson, serveFolder } from '../http/index.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { Engine } from './engine.js';
import { SafetyGuard, type GuardOptions } from './guard.js';
import { apiErrorResponse, bearerAuth, errorResponse } from './http-errors.js';
import { defaultLimits, promptBuilder, servedTemplate, type ServeLimits } from './prompt.js';
import { ApiError } from './protocol.js';
import { chatCompletions } from './chat-route.js';

/** What the routes use of the engine. */
export type EngineLike = Pick<Engine, 'info' | 'stats' | 'submit'>;

export interface ServeAppOptions {
  /** when set, /v1/* needs `Authorization: Bearer <apiKey>` (the page and /health stay open) */
  apiKey?: string;
  guard?: GuardOptions;
  limits?: Partial<ServeLimits>;
  /** chat template: a built-in name or Jinja source (default: tokenizer_config.json's, else 'ziya') */
  template?: string;
  uiDir?: string;
  /** one line per finished or rejected request (default: nothing) */
  log?: (line: string) => void;
  /** the bound address: requests must name it or a loopback name in Host (DNS-rebinding defence) */
  host?: string;
  /** more Host names to accept ('*' = any) */
  allowedHosts?: string[];
}

/** The page folder src/ui/chat, found relative to this file whether it runs from dist/src or src. */
export function defaultChatUiDir(): string {
  for (const rel of ['../../../src/ui/chat/', '../ui/chat/']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new Error('[serve] cannot find the page folder src/ui/chat');
}

// a known route asked with the wrong method: 405 naming the methods it takes
const METHODS: Record<string, string> = { '/v1/chat/completions': 'POST', '/v1/models': 'GET' };

export function createServeApp(engine: EngineLike, tok: Tokenizer, opts: ServeAppOptions = {}): Hono {
  const info = engine.info;
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

  app.onError((e, c) => {
    const r = apiErrorResponse(e, c);
    // a rejected request is logged with its status and reason, so an operator can see why clients fail
    log(`${new Date().toISOString()} rejected ${c.req.method} ${new URL(c.req.url).pathname} ${r.status} ${e instanceof Error ? e.message : String(e)}`);
    return r;
  });
  app.notFound((c) => errorResponse(c, new ApiError(404, `[serve] no route for ${c.req.method} ${new URL(c.req.url).pathname}`, 'invalid_request_error', null, 'not_found')));
  if (opts.apiKey) app.use('/v1/*', bearerAuth(opts.apiKey));

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

  const prepare = promptBuilder(tok, template, info, limits, guard);
  app.post('/v1/chat/completions', requireJson(), chatCompletions({ engine, guard, limits, prepare, log }));

  app.all('/v1/*', (c) => {
    const path = new URL(c.req.url).pathname.replace(/\/+$/, '');
    const allow = METHODS[path] ?? (path.startsWith('/v1/models/') ? 'GET' : undefined);
    if (allow && c.req.method !== allow) {
      c.header('Allow', allow);
      throw new ApiError(405, `[serve] ${path} takes ${allow}, not ${c.req.method}`, 'invalid_request_error', null, 'method_not_allowed');
    }
    throw new ApiError(c.req.method === 'GET' || c.req.method === 'POST' ? 404 : 405, `[serve] no route for ${c.req.method} ${new URL(c.req.url).pathname}`, 'invalid_request_error', null, 'not_found');
  });
  app.use('/*', serveFolder(opts.uiDir ?? defaultChatUiDir(), '/'));
  return app;
}
