// app.ts — the shared HTTP layer's core: one app factory (hono) with JSON errors, the request guards of
// security.ts (URL, Host, headers), a request size limit (body-limit.ts) and HttpError for handlers to throw.
// Route tables live with their servers (annotate/, serve/); nothing here knows them.
import { Hono, type Context, type Env } from 'hono';
import { HttpError, jsonError } from './http-error.js';
import { guardRequests, securityHeaders, type HostPolicy } from './security.js';
import { BodyTooLarge, limitBody } from './body-limit.js';

export { HttpError, jsonError };

export interface AppOptions {
  /** largest request body accepted, in bytes (413 above it) */
  maxBodyBytes?: number;
  /** called for unexpected (500) errors; defaults to console.error */
  onInternalError?: (e: unknown) => void;
  /** which Host headers are accepted (default: loopback names and 127.0.0.1) */
  hosts?: HostPolicy;
}

/** Sets the security headers on a finished response (a fresh Response when its headers are immutable). */
function withSecurityHeaders(res: Response): Response {
  try {
    for (const [k, v] of Object.entries(securityHeaders)) if (!res.headers.has(k)) res.headers.set(k, v);
    return res;
  } catch {
    const h = new Headers(res.headers);
    for (const [k, v] of Object.entries(securityHeaders)) if (!h.has(k)) h.set(k, v);
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers: h });
  }
}

export function createApp<E extends Env = Env>(opts: AppOptions = {}): Hono<E> {
  const app = new Hono<E>();
  app.use('*', async (c, next) => {
    await next();
    c.res = withSecurityHeaders(c.res);
  });
  app.use('*', guardRequests(opts.hosts ?? {}));
  app.use('*', limitBody(opts.maxBodyBytes ?? 1 << 20));
  app.notFound((c) => jsonError(c, 404, `[http] no route for ${c.req.method} ${new URL(c.req.url).pathname}`));
  app.onError((e, c) => {
    // the rest of the body is never read, so the connection cannot carry another request: say so, or a
    // keep-alive client reuses a socket the server is about to drop
    if (e instanceof BodyTooLarge) c.header('connection', 'close');
    if (e instanceof HttpError) return jsonError(c, e.status, e.message, e.details);
    if (e instanceof URIError) return jsonError(c, 400, `[http] malformed percent-encoding in the URL: ${e.message}`);
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
    if (e instanceof HttpError) throw e; // BodyTooLarge: a 413, not a JSON problem
    throw new HttpError(400, `[http] request body is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, '[http] request body must be a JSON object');
  return v as Record<string, unknown>;
}
