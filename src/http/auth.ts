// auth.ts — bearer-token middleware: reads `Authorization: Bearer <token>`, asks the server's verify() who it is,
// and stores the principal on the context. What a token means (hashing, roles) is the caller's business.
import type { MiddlewareHandler } from 'hono';
import { HttpError } from './app.js';

export function bearerAuth<P>(verify: (token: string) => P | undefined, key = 'principal'): MiddlewareHandler {
  return async (c, next) => {
    const h = c.req.header('authorization') ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    if (!m) {
      c.header('WWW-Authenticate', 'Bearer');
      throw new HttpError(401, '[auth] missing bearer token (send `Authorization: Bearer <token>`)');
    }
    const who = verify(m[1]!);
    if (who === undefined) {
      c.header('WWW-Authenticate', 'Bearer error="invalid_token"');
      throw new HttpError(401, '[auth] unknown or revoked token');
    }
    c.set(key as never, who as never);
    await next();
  };
}
