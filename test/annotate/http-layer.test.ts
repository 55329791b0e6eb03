// http-layer.test.ts — the shared src/http layer on its own (the chat server uses it too): JSON errors for
// thrown HttpError / unknown routes / crashes, and a graceful close that lets an in-flight request finish while
// refusing new connections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createApp, HttpError, listen } from '../../src/http/index.js';

test('http layer: JSON errors and graceful close', async () => {
  const app = createApp({ onInternalError: () => {} });
  let release!: () => void;
  const gate = new Promise<void>((ok) => { release = ok; });
  app.get('/teapot', () => { throw new HttpError(418, '[test] short and stout', { hint: 'tip me over' }); });
  app.get('/crash', () => { throw new Error('secret detail'); });
  app.get('/slow', async (c) => { await gate; return c.json({ finished: true }); });
  const l = await listen(app.fetch, { port: 0 });
  try {
    assert.match(l.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const t = await fetch(`${l.url}/teapot`);
    assert.equal(t.status, 418);
    assert.deepEqual(await t.json(), { error: { hint: 'tip me over', status: 418, message: '[test] short and stout' } });
    const n = await fetch(`${l.url}/nowhere`);
    assert.equal(n.status, 404);
    assert.match(((await n.json()) as { error: { message: string } }).error.message, /^\[http\] no route for GET \/nowhere/);
    const c = await fetch(`${l.url}/crash`);
    assert.equal(c.status, 500);
    assert.doesNotMatch(await c.text(), /secret detail/, 'internals stay in the server log');

    // a request in flight when close() starts still gets its answer; new connections are refused
    const slow = fetch(`${l.url}/slow`).then((r) => r.json());
    await new Promise((ok) => setTimeout(ok, 50));
    const closing = l.close(5000);
    await assert.rejects(fetch(`${l.url}/teapot`, { headers: { connection: 'close' } }));
    release();
    assert.deepEqual(await slow, { finished: true });
    const t0 = Date.now();
    await closing;
    // the finished keep-alive connection is dropped at once, not after the client's idle timeout (seconds)
    assert.ok(Date.now() - t0 < 1000, `close took ${Date.now() - t0} ms after the last response`);
  } finally {
    release();
    await l.close();
  }
});
