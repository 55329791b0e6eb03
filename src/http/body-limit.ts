// body-limit.ts — the request size limit of both servers: a declared Content-Length over the limit is refused before
// any of it is read; a chunked body is counted as it streams and the read fails with BodyTooLarge at the limit.
// Either way the answer is 413 in the server's own error shape, naming the real limit, with `Connection: close`
// (the rest of the body is never read, so the socket cannot carry another request). Not here: what a route reads.
import type { MiddlewareHandler } from 'hono';
import { HttpError } from './http-error.js';

export class BodyTooLarge extends HttpError {
  constructor(readonly limitBytes: number) {
    super(413, `[http] request body larger than the limit of ${limitBytes} bytes`, { limitBytes });
    this.name = 'BodyTooLarge';
  }
}

export function limitBody(maxBytes: number): MiddlewareHandler {
  return async (c, next) => {
    const raw = c.req.raw;
    if (!raw.body) return next();
    const te = raw.headers.has('transfer-encoding');
    const cl = raw.headers.get('content-length');
    if (cl !== null && !te) {
      if (!/^\d+$/.test(cl.trim())) throw new HttpError(400, `[http] bad Content-Length ${JSON.stringify(cl)}`);
      if (Number(cl) > maxBytes) throw new BodyTooLarge(maxBytes);
      return next();
    }
    let size = 0;
    const reader = raw.body.getReader();
    const counted = new ReadableStream<Uint8Array>({
      async pull(ctrl) {
        const { done, value } = await reader.read();
        if (done) { ctrl.close(); return; }
        size += value.byteLength;
        if (size > maxBytes) {
          ctrl.error(new BodyTooLarge(maxBytes));
          void reader.cancel().catch(() => {});
          return;
        }
        ctrl.enqueue(value);
      },
      cancel(reason) { return reader.cancel(reason); },
    });
    c.req.raw = new Request(raw, { body: counted, duplex: 'half' } as RequestInit);
    return next();
  };
}
