// http-errors.ts — every failure answered in the OpenAI error shape: the shared HTTP layer's errors (size, URL, Host,
// content type) mapped to their status and code, a 500 for anything else (logged, never shown), and the Bearer-key
// middleware. No routes here.
import { timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { BodyTooLarge, HttpError } from '../http/index.js';
import { ApiError } from './protocol.js';

export function errorResponse(c: Context, e: ApiError): Response {
  return c.json(e.body(), e.status);
}

/** The response for an error a handler threw (or the shared layer raised). */
export function apiErrorResponse(e: unknown, c: Context): Response {
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
}

function keyMatches(given: string, want: string): boolean {
  const a = Buffer.from(given), b = Buffer.from(want);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** 401 unless the request carries `Authorization: Bearer <want>` (compared in constant time). */
export function bearerAuth(want: string): MiddlewareHandler {
  return async (c, next) => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '');
    if (!m || !keyMatches(m[1]!, want)) {
      c.header('WWW-Authenticate', 'Bearer');
      throw new ApiError(401, m ? '[serve] incorrect API key' : '[serve] missing API key (send `Authorization: Bearer <key>`)', 'invalid_request_error', null, 'invalid_api_key');
    }
    await next();
  };
}
