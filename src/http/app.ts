// app.ts — the shared HTTP layer's core: one app factory (hono) with JSON errors, a request size limit and
// HttpError for handlers to throw. Route tables live with their servers (annotate/, serve/); nothing here knows them.
import { Hono, type Context, type Env } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** Thrown by handlers and middleware; becomes `{ error: { status, message } }` with that status. */
export class HttpError extends Error {
  /** `details` are merged into the error object, e.g. `{ reasons: [...] }` for a rejected save */
  constructor(readonly status: ContentfulStatusCode, message: string, readonly details?: Record<string, unknown>) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The one error body shape of every server in the project. */
export function jsonError(c: Context, status: ContentfulStatusCode, message: string, details?: Record<string, unknown>): Response {
  return c.json({ error: { ...details, status, message } }, status);
}

export interface AppOptions {
  /** largest request body accepted, in bytes (413 above it) */
  maxBodyBytes?: number;
  /** called for unexpected (500) errors; defaults to console.error */
  onInternalError?: (e: unknown) => void;
}

export function createApp<E extends Env = Env>(opts: AppOptions = {}): Hono<E> {
  const app = new Hono<E>();
  const maxSize = opts.maxBodyBytes ?? 1 << 20;
  app.use('*', bodyLimit({
    maxSize, onError: (c) => {
      // the rest of the body is never read, so the connection cannot carry another request: say so, or a
      // keep-alive client reuses a socket the server is about to drop
      c.header('connection', 'close');
      return jsonError(c, 413, `[http] request body larger than ${maxSize} bytes`);
    },
  }));
  app.notFound((c) => jsonError(c, 404, `[http] no route for ${c.req.method} ${new URL(c.req.url).pathname}`));
  app.onError((e, c) => {
    if (e instanceof HttpError) return jsonError(c, e.status, e.message, e.details);
    // a body that is not JSON is the client's mistake, not ours
    if (e instanceof SyntaxError) return jsonError(c, 400, `[http] request body is not valid JSON: ${e.message}`);
    (opts.onInternalError ?? console.error)(e);
    return jsonError(c, 500, '[http] internal error (see the server log)');
  });
  return app;
}

/** Parses a JSON object body or throws a 400 that says what was wrong. */
export async function readJsonObject(c: Context): Promise<Record<string, unknown>> {
  let v: unknown;
  try {
    v = await c.req.json();
  } catch (e) {
    throw new HttpError(400, `[http] request body is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, '[http] request body must be a JSON object');
  return v as Record<string, unknown>;
}
