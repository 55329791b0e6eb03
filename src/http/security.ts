// security.ts — what both servers do before any route: refuse a malformed URL (400), refuse a Host header that is
// neither the bound address nor a loopback name (403; a DNS-rebinding page sends its own name), and put the
// browser-hardening headers (CSP, frame denial, nosniff) on every response; plus requireJson for API routes,
// so a cross-site form post (text/plain, no preflight) cannot drive them. Authentication is auth.ts's job.
import type { MiddlewareHandler } from 'hono';
import { isIP } from 'node:net';
import { HttpError } from './http-error.js';

/** Pages load only their own scripts, styles (inline style attributes allowed: the pages set a few), and API. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export const securityHeaders: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export interface HostPolicy {
  /** the address the server binds (127.0.0.1, ::1, 0.0.0.0, a name…) */
  bound?: string;
  /** more accepted Host names (`--allowed-hosts`); '*' accepts any */
  allowed?: string[];
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1']);

/** The name part of a Host header (`[::1]:8000` → `::1`), lower-cased; null when it cannot be parsed. */
export function hostName(header: string): string | null {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0) return null;
    const rest = h.slice(end + 1);
    if (rest !== '' && !/^:\d+$/.test(rest)) return null;
    return h.slice(1, end);
  }
  const m = /^([a-z0-9.-]+)(?::\d+)?$/.exec(h);
  return m ? m[1]!.replace(/\.$/, '') : null;
}

export function hostAllowed(header: string | undefined, p: HostPolicy): boolean {
  if (p.allowed?.includes('*')) return true;
  if (!header) return false;
  const name = hostName(header);
  if (name === null) return false;
  if (LOOPBACK.has(name) || name.endsWith('.localhost')) return true;
  const bound = (p.bound ?? '127.0.0.1').toLowerCase().replace(/^\[|\]$/g, '');
  if (name === bound) return true;
  // bound to every interface: an address literal cannot be re-pointed by DNS, so any local address is fine
  if ((bound === '0.0.0.0' || bound === '::') && isIP(name) !== 0) return true;
  return (p.allowed ?? []).some((a) => a.toLowerCase() === name);
}

/** 400 for a path with broken percent-encoding, 403 for a foreign Host, and the security headers on every answer. */
export function guardRequests(p: HostPolicy): MiddlewareHandler {
  return async (c, next) => {
    const raw = c.req.raw.url;
    const pathStart = raw.indexOf('/', raw.indexOf('//') + 2);
    const path = pathStart < 0 ? '/' : raw.slice(pathStart).split(/[?#]/, 1)[0]!;
    try {
      decodeURIComponent(path);
    } catch {
      throw new HttpError(400, `[http] malformed percent-encoding in the URL path ${JSON.stringify(path.slice(0, 100))}`);
    }
    const host = c.req.header('host');
    if (!hostAllowed(host, p))
      throw new HttpError(403, `[http] Host ${JSON.stringify(host ?? '')} is not this server's address; start it with --allowed-hosts NAME to accept that name`);
    await next();
  };
}

/**
 * A route with a body takes JSON only: anything else (text/plain, form encodings: what a cross-site form can send
 * without a CORS preflight) is 415. A POST without a body (undo, skip) needs no content type.
 */
export function requireJson(): MiddlewareHandler {
  return async (c, next) => {
    const h = c.req.raw.headers;
    const empty = !h.has('transfer-encoding') && (h.get('content-length') ?? '0').trim() === '0';
    if (!empty) {
      const type = (h.get('content-type') ?? '').split(';', 1)[0]!.trim().toLowerCase();
      if (type !== 'application/json' && !/^application\/[a-z0-9.+-]+\+json$/.test(type))
        throw new HttpError(415, `[http] ${c.req.method} ${new URL(c.req.url).pathname} takes Content-Type: application/json, got ${JSON.stringify(h.get('content-type') ?? '(none)')}`);
    }
    await next();
  };
}
