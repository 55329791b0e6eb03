// listen.ts — runs an app on a real socket (@hono/node-server) and closes it gracefully: stop accepting, let
// in-flight requests finish, then drop idle keep-alive sockets. No TLS (put a reverse proxy in front for that).
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

export function listen(fetch: (req: Request) => Response | Promise<Response>, opts: { host?: string; port?: number } = {}): Promise<Listening> {
  const hostname = opts.host ?? '127.0.0.1';
  return new Promise((ok, fail) => {
    const server = serve({ fetch, hostname, port: opts.port ?? 0 }) as Server;
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
