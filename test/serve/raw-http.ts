// raw-http.ts — a bare HTTP/1.1 client over net.Socket for the hardening tests: it sends exactly the bytes given
// (a malformed path, a forged Host, a chunked body, headers trickled slowly), which fetch() would normalise or
// refuse, and reports the status, headers, body and whether the server closed the connection. 127.0.0.1 only.
import { connect } from 'node:net';

export interface RawResponse { status: number; headers: Record<string, string>; body: string; closedByServer: boolean; raw: string }

/**
 * Writes `parts` (strings; `null` = pause `pauseMs`) to 127.0.0.1:port and reads until the server closes or `waitMs`
 * passes after the last write. One response is parsed (content-length or chunked framing).
 */
export function rawRequest(port: number, parts: (string | null)[], opts: { waitMs?: number; pauseMs?: number } = {}): Promise<RawResponse> {
  const waitMs = opts.waitMs ?? 1500, pauseMs = opts.pauseMs ?? 100;
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port });
    let data = '', closed = false, timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(timer);
      sock.destroy();
      const headEnd = data.indexOf('\r\n\r\n');
      const head = headEnd < 0 ? data : data.slice(0, headEnd);
      const lines = head.split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) { const i = l.indexOf(':'); if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim(); }
      let body = headEnd < 0 ? '' : data.slice(headEnd + 4);
      if (headers['transfer-encoding'] === 'chunked') {
        let out = '', rest = body;
        for (;;) {
          const nl = rest.indexOf('\r\n');
          if (nl < 0) break;
          const n = parseInt(rest.slice(0, nl), 16);
          if (!n) break;
          out += rest.slice(nl + 2, nl + 2 + n);
          rest = rest.slice(nl + 2 + n + 2);
        }
        body = out;
      } else if (headers['content-length']) body = body.slice(0, Number(headers['content-length']));
      resolve({ status, headers, body, closedByServer: closed, raw: data });
    };
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => { data += d; });
    sock.on('end', () => { closed = true; finish(); });
    sock.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'ECONNRESET' || e.code === 'EPIPE') { closed = true; finish(); } else reject(e); });
    sock.on('connect', async () => {
      for (const p of parts) {
        if (closed) break;
        if (p === null) await new Promise((r) => setTimeout(r, pauseMs));
        else sock.write(Buffer.from(p, 'utf8'));
      }
      timer = setTimeout(finish, waitMs);
    });
  });
}

/** A chunked request whose body is `chunks` × `chunkBytes` of 'x' (no Content-Length). */
export function chunkedRequest(path: string, headers: Record<string, string>, chunks: number, chunkBytes: number): string[] {
  const head = `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  const chunk = `${chunkBytes.toString(16)}\r\n${'x'.repeat(chunkBytes)}\r\n`;
  return [head, ...Array.from({ length: chunks }, () => chunk), '0\r\n\r\n'];
}

export const get = (path: string, host = '127.0.0.1', extra = '') => [`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n${extra}\r\n`];
