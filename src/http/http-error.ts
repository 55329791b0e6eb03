// http-error.ts — HttpError, the error handlers and middleware throw, and the one JSON error body of the shared
// layer. Its own file so that middleware modules can import it without a cycle through app.ts.
import type { Context } from 'hono';
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

