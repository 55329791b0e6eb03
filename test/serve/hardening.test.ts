// hardening.test.ts — the chat server's edge over real sockets on 127.0.0.1: a malformed URL is 400 (not 500), an
// oversized body — declared or chunked — is 413 in OpenAI's shape naming the real limit with the connection closed,
// a foreign Host (DNS rebinding) is 403 unless --allowed-hosts names it, a text/plain POST (a cross-site form) is
// 415, every response carries CSP / frame / nosniff headers, and a client that trickles its headers is cut off.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Serving } from '../../src/serve/server.js';
import { start, tinyModel, type TinyDir } from './helpers.js';
import { chunkedRequest, get, rawRequest } from './raw-http.js';

let model: TinyDir;
let s: Serving;
let open: Serving; // --allowed-hosts chat.example

before(async () => {
  model = await tinyModel({ maxPositions: 64 });
  s = await start(model.dir, { limits: { maxBodyBytes: 4096 }, timeouts: { headersMs: 400, requestMs: 800, checkEveryMs: 100 } });
  open = await start(model.dir, { allowedHosts: ['chat.example'] });
});
after(async () => {
  await s?.close();
  await open?.close();
  model?.remove();
});

const openAi = (body: string) => {
  const j = JSON.parse(body) as { error: { message: string; type: string; param: unknown; code: unknown } };
  assert.deepEqual(Object.keys(j.error).sort(), ['code', 'message', 'param', 'type']);
  return j.error;
};

test('GET /% and other broken percent-encodings → 400 in OpenAI shape, not 500', async () => {
  for (const path of ['/%', '/v1/%zz', '/chat.js%']) {
    const r = await rawRequest(s.port, get(path));
    assert.equal(r.status, 400, `${path}: ${r.raw.slice(0, 200)}`);
    assert.match(openAi(r.body).message, /malformed percent-encoding/);
  }
  assert.equal((await rawRequest(s.port, get('/'))).status, 200, 'still serving');
});

test('an oversized body → 413 in OpenAI shape with the real limit and Connection: close (declared and chunked)', async () => {
  const declared = await rawRequest(s.port, [`POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n`, 'x'.repeat(5000)]);
  const chunked = await rawRequest(s.port, chunkedRequest('/v1/chat/completions', { 'Content-Type': 'application/json' }, 20, 1000));
  for (const [name, r] of [['declared', declared], ['chunked', chunked]] as const) {
    assert.equal(r.status, 413, `${name}: ${r.raw.slice(0, 300)}`);
    const e = openAi(r.body);
    assert.match(e.message, /limit of 4096 bytes/, name);
    assert.equal(e.code, 'request_too_large');
    assert.equal(r.headers.connection, 'close', name);
    assert.ok(r.closedByServer, `${name}: the server closed the connection`);
  }
});

test('Host must be the bound address or a loopback name (DNS rebinding), unless --allowed-hosts names it', async () => {
  for (const h of ['127.0.0.1', `127.0.0.1:${s.port}`, 'localhost', `localhost:${s.port}`, `[::1]:${s.port}`])
    assert.equal((await rawRequest(s.port, get('/health', h))).status, 200, h);
  for (const h of ['evil.example', `evil.example:${s.port}`, '127.0.0.1.evil.example', 'chat.example']) {
    const r = await rawRequest(s.port, get('/health', h));
    assert.equal(r.status, 403, h);
    assert.match(openAi(r.body).message, /--allowed-hosts/);
  }
  assert.equal((await rawRequest(open.port, get('/health', 'chat.example'))).status, 200, 'allowed by --allowed-hosts');
  assert.equal((await rawRequest(open.port, get('/health', 'evil.example'))).status, 403);
});

test('a POST that is not JSON (what a cross-site form can send) → 415; JSON passes on to validation', async () => {
  const body = JSON.stringify({ messages: [{ role: 'user', content: '咳嗽' }], max_tokens: 1 });
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', null]) {
    const r = await fetch(`${s.url}/v1/chat/completions`, { method: 'POST', body: new TextEncoder().encode(body), headers: type ? { 'content-type': type } : {} });
    assert.equal(r.status, 415, String(type));
    assert.equal(openAi(await r.text()).code, 'unsupported_media_type');
  }
  const ok = await fetch(`${s.url}/v1/chat/completions`, { method: 'POST', body, headers: { 'content-type': 'application/json; charset=utf-8' } });
  assert.equal(ok.status, 200);
  await ok.text();
});

test('CSP, X-Frame-Options and nosniff on the page, the API and errors', async () => {
  for (const path of ['/', '/health', '/v1/models', '/v1/nope']) {
    const r = await fetch(`${s.url}${path}`);
    await r.text();
    assert.match(r.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/, path);
    assert.match(r.headers.get('content-security-policy') ?? '', /script-src 'self'/, path);
    assert.equal(r.headers.get('x-frame-options'), 'DENY', path);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff', path);
  }
});

test('explicit timeouts: a client that trickles its headers is answered 408 and disconnected', async () => {
  const t0 = Date.now();
  const r = await rawRequest(s.port, ['GET /health HTTP/1.1\r\n', null, 'Host: 127.0.0.1\r\n', null, null, null, null, null, null, null, 'X-A: 1\r\n', null, null, null, null, null, '\r\n'], { pauseMs: 100, waitMs: 3000 });
  assert.ok(r.closedByServer, 'the server closed the slow connection');
  assert.ok(r.status === 408 || r.status === 0, `status ${r.status}`);
  assert.ok(Date.now() - t0 < 2500, `closed after ${Date.now() - t0} ms (headers timeout 400 ms)`);
  assert.equal(s.server.headersTimeout, 400);
  assert.equal(s.server.requestTimeout, 800);
});
