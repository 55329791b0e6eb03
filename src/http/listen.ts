// listen.ts — runs an app on a real socket (@hono/node-server) and closes it gracefully: stop accepting, let
// in-flight requests finish, then drop idle keep-alive sockets. Server-side timeouts are set explicitly (not left at
// Node's defaults). No TLS (put a reverse proxy in front for that).
import { serve } from '@hono/node-server';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Listening {
  url: string;
  port: number;
  server: Server;
  /** resolves once every connection is closed; forces them after graceMs */
  close(graceMs?: number): Promise<void>;
}

/** How long a client may take; a request over them gets 408 and its socket is closed. */
export interface Timeouts {
  /** to send the complete request headers (slow-loris defence) */
  headersMs: number;
  /** to send the complete request, body included (not the response: a long SSE answer is fine) */
  requestMs: number;
  /** an idle keep-alive socket is closed after this */
  keepAliveMs: number;
  /** how often Node checks the two request timeouts (they are only as precise as this) */
  checkEveryMs: number;
}

export const defaultTimeouts: Timeouts = { headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5_000, checkEveryMs: 1_000 };

export function listen(fetch: (req: Request) => Response | Promise<Response>, opts: { host?: string; port?: number; timeouts?: Partial<Timeouts> } = {}): Promise<Listening> {
  const hostname = opts.host ?? '127.0.0.1';
  const t: Timeouts = { ...defaultTimeouts, ...opts.timeouts };
  return new Promise((ok, fail) => {
    const server = serve({
      fetch, hostname, port: opts.port ?? 0,
      serverOptions: { headersTimeout: t.headersMs, requestTimeout: t.requestMs, keepAliveTimeout: t.keepAliveMs, connectionsCheckingInterval: t.checkEveryMs },
    }) as Server;
    server.once('error', fail);
    server.once('listening', () => {
      const port = (server.address() as AddressInfo).port;
      const shown = hostname.includes(':') ? `[${hostname}]` : hostname;
      let closing: Promise<void> | undefined;
      ok({
        url: `http://${shown}:${port}`, port, server,
        close(graceMs = 2000) {
          closing ??= new Promise<void>((done) => {
            const t = setTimeout(() => server.closeAllConnections(), graceMs);
            // close() drops the connections idle right now; one that finishes its request later would otherwise
            // sit in keep-alive until the client's timeout, so sweep until the last one is gone
            const sweep = setInterval(() => server.closeIdleConnections(), 20);
            server.close(() => { clearTimeout(t); clearInterval(sweep); done(); });
            server.closeIdleConnections();
          });
          return closing;
        },
      });
    });
  });
}
