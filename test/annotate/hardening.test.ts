// hardening.test.ts — the ranking tool's edge over real sockets on 127.0.0.1: a malformed URL is 400 (not 500), an
// oversized chunked or declared body is 413 (not "invalid JSON") naming the real limit with the connection closed,
// a foreign Host is 403 unless allowed, a non-JSON PUT is 415 (a body-less POST such as undo still works), and
// every response carries CSP / frame / nosniff headers. The error shape is the shared layer's {error: {status, message}}.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { serveAnnotate } from '../../src/annotate/server.js';
import { importFile } from '../../src/annotate/import.js';
import { candidateSets, tempDir, writeJsonl } from './helpers.js';
import { chunkedRequest, get, rawRequest } from '../serve/raw-http.js';

const shaped = (body: string) => {
  const j = JSON.parse(body) as { error: { status: number; message: string } };
  assert.equal(typeof j.error.status, 'number');
  return j.error;
};

test('ranking tool: malformed URLs, oversized bodies, Host, content type, security headers', async () => {
  const t = tempDir();
  const s = await serveAnnotate({ db: join(t.dir, 'a.db'), port: 0, maxBodyBytes: 2048, allowedHosts: ['rank.example'] });
  try {
    const st = s.store;
    const p = st.ensureProject('pa', 1);
    await importFile(st, writeJsonl(join(t.dir, 'a.jsonl'), candidateSets(2, 4, 'a')), p);
    const tok = st.addUser('alice', 'annotator').token;
    st.addMember('pa', 'alice');
    const auth = `Authorization: Bearer ${tok}\r\n`;

    for (const path of ['/%', '/api/%', '/annotate.html%E0%A4%A']) {
      const r = await rawRequest(s.port, get(path));
      assert.equal(r.status, 400, `${path}: ${r.raw.slice(0, 200)}`);
      assert.match(shaped(r.body).message, /malformed percent-encoding/);
    }

    const item = (await (await fetch(`${s.url}/api/projects/pa/next`, { headers: { authorization: `Bearer ${tok}` } })).json()) as { item: { id: string } };
    const path = `/api/projects/pa/items/${item.item.id}/annotation`;
    const chunked = chunkedRequest(path, { 'Content-Type': 'application/json', Authorization: `Bearer ${tok}` }, 10, 1000);
    chunked[0] = chunked[0]!.replace('POST', 'PUT');
    const declared = [`PUT ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Type: application/json\r\nContent-Length: 50000\r\n\r\n`, 'x'.repeat(3000)];
    for (const [name, req] of [['chunked', chunked], ['declared', declared]] as const) {
      const r = await rawRequest(s.port, req);
      assert.equal(r.status, 413, `${name}: ${r.raw.slice(0, 300)}`);
      assert.match(shaped(r.body).message, /limit of 2048 bytes/);
      assert.equal(r.headers.connection, 'close');
      assert.ok(r.closedByServer, `${name}: connection closed`);
    }

    assert.equal((await rawRequest(s.port, get('/api/health', 'rank.example'))).status, 200);
    const evil = await rawRequest(s.port, get('/api/health', 'evil.example:8080'));
    assert.equal(evil.status, 403);
    assert.match(shaped(evil.body).message, /--allowed-hosts/);

    const plain = await fetch(`${s.url}${path}`, { method: 'PUT', headers: { authorization: `Bearer ${tok}`, 'content-type': 'text/plain' }, body: '{"ranking":[["c0"],["c1"],["c2"],["c3"]]}' });
    assert.equal(plain.status, 415);
    const undo = await fetch(`${s.url}/api/projects/pa/undo`, { method: 'POST', headers: { authorization: `Bearer ${tok}` } });
    assert.equal(undo.status, 200, 'a body-less POST needs no content type');

    for (const p2 of ['/', '/api/health', '/api/me', '/nope']) {
      const r = await fetch(`${s.url}${p2}`);
      await r.text();
      assert.match(r.headers.get('content-security-policy') ?? '', /default-src 'self'/, p2);
      assert.equal(r.headers.get('x-frame-options'), 'DENY', p2);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff', p2);
    }
    assert.equal(s.server.headersTimeout, 10_000, 'explicit default headers timeout');
  } finally {
    await s.close();
    t.cleanup();
  }
});
