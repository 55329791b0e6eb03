// server.ts — `zhongjing serve`: an OpenAI-compatible chat API (/v1/models, /v1/chat/completions with SSE streaming,
// /health) and the consultation page of src/ui/chat, on the shared HTTP layer (src/http, hono) like the ranking tool.
// This file starts the engine (the model runs in its worker, never on this thread) and listens; the app and its
// routes are app.ts, prompt building prompt.ts, the two response modes respond.ts, the wire format protocol.ts.
import { tokenizerAt } from '../model/load.js';
import type { WeightsOption } from '../model/weights.js';
import type { KvCacheDType } from '../model/kv-cache.js';
import type { Hono } from 'hono';
import { listen, type Listening, type Timeouts } from '../http/index.js';
import { Engine } from './engine.js';
import { createServeApp, type ServeAppOptions } from './app.js';

export { createServeApp, defaultChatUiDir, type EngineLike, type ServeAppOptions } from './app.js';
export { defaultLimits, servedTemplate, type ServeLimits } from './prompt.js';

export interface ServeOptions extends ServeAppOptions {
  modelDir: string;
  /** dtype of the weight matrices (model/weights.ts; default auto) */
  weights?: WeightsOption;
  /** what the decoding KV cache holds keys and values as (model/kv-cache.ts; default f32) */
  kvCache?: KvCacheDType;
  host?: string;
  port?: number;
  /** requests allowed to wait behind the running batch (429 above) */
  maxQueue?: number;
  /** most requests decoded together in one batch (1 = one at a time) */
  maxBatch?: number;
  /** server-side timeouts (src/http/listen.ts defaults) */
  timeouts?: Partial<Timeouts>;
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
    ...(opts.kvCache ? { kvCache: opts.kvCache } : {}),
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
