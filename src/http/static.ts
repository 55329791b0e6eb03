// static.ts — serves the files of one folder (no CDN, no build step): content types by extension, no directory
// listing, no escape from the folder, `/` → index.html. Not a general file server: no ranges, no compression.
import { readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import type { MiddlewareHandler } from 'hono';
import { HttpError } from './http-error.js';

export const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

/** Handles GET/HEAD under `prefix` from `folder`; falls through (next) when no file matches. */
export function serveFolder(folder: string, prefix = '/'): MiddlewareHandler {
  const root = resolve(folder);
  return async (c, next) => {
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') return next();
    let path: string;
    try {
      path = decodeURIComponent(new URL(c.req.url).pathname);
    } catch {
      throw new HttpError(400, '[http] malformed percent-encoding in the URL path');
    }
    if (!path.startsWith(prefix)) return next();
    let rel = path.slice(prefix.length);
    if (rel === '' || rel.endsWith('/')) rel += 'index.html';
    const file = resolve(join(root, rel));
    // resolve() has already folded `..`: anything outside root is an escape attempt
    if (file !== root && !file.startsWith(root + sep)) return next();
    const type = contentTypes[extname(file).toLowerCase()];
    if (!type) return next();
    try {
      if (!(await stat(file)).isFile()) return next();
    } catch {
      return next();
    }
    const body = await readFile(file);
    // pages change with the code; no caching keeps a reload honest during annotation sessions
    // node's http layer drops the body of a HEAD response itself
    return c.body(new Uint8Array(body).buffer, 200, { 'content-type': type, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
  };
}
