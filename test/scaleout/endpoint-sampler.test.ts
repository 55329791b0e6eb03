// endpoint-sampler.test.ts — the sample stage's K candidates from an OpenAI-compatible server on 127.0.0.1: `n = K`
// in one request, a server that ignores `n` asked again until K, a 503 retried, and the cache answering a rerun
// without any request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { sampleFromEndpoint } from '../../src/scaleout/endpoint-sampler.js';

function server(honourN: boolean) {
  const seen: { n?: number; seed?: number; messages: { content: string }[] }[] = [];
  let fail503 = 1;
  const s = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const j = JSON.parse(body) as { n?: number; seed?: number; messages: { content: string }[] };
      seen.push(j);
      if (fail503-- > 0) { res.writeHead(503); res.end('busy'); return; }
      const n = honourN ? j.n ?? 1 : 1;
      const prompt = j.messages.at(-1)!.content;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: Array.from({ length: n }, (_, i) => ({ index: i, message: { role: 'assistant', content: `${prompt}#${j.seed}#${i}` }, finish_reason: 'stop' })) }));
    });
  });
  return new Promise<{ url: string; seen: typeof seen; close: () => Promise<void> }>((resolve) => s.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/v1`, seen, close: () => new Promise((r) => s.close(() => r())),
  })));
}

const prompts = ['头痛', '发烧', '咳嗽'].map((t) => [{ role: 'user' as const, text: t }]);
const opts = { k: 4, temperature: 0.3, topP: 0.9, maxNewTokens: 32, seed: 100, concurrency: 2 };

test('sample from an endpoint: n = K per request, retries, cache', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-ep-'));
  const srv = await server(true);
  try {
    const api = { baseUrl: srv.url, model: 'big', backoffMs: 1, maxBackoffMs: 2 };
    const cachePath = join(dir, 'cache.jsonl');
    const r = await sampleFromEndpoint(api, prompts, { ...opts, cachePath });
    assert.deepEqual(r.answers.map((a) => a.length), [4, 4, 4]);
    assert.ok(r.answers[1]!.every((a) => a.startsWith('发烧#')));
    assert.equal(r.requests, 4); // 3 prompts + the one 503 retried
    assert.ok(srv.seen.every((q) => q.n === 4));
    const again = await sampleFromEndpoint(api, prompts, { ...opts, cachePath });
    assert.deepEqual(again.answers, r.answers);
    assert.equal(again.requests, 0);
    assert.equal(again.cached, 3);
  } finally { await srv.close(); rmSync(dir, { recursive: true, force: true }); }
});

test('sample from an endpoint that ignores n: asked again with new seeds until K', async () => {
  const srv = await server(false);
  try {
    const r = await sampleFromEndpoint({ baseUrl: srv.url, model: 'llama.cpp', backoffMs: 1, maxBackoffMs: 2 }, prompts.slice(0, 1), { ...opts, cachePath: null });
    assert.equal(r.answers[0]!.length, 4);
    assert.equal(new Set(r.answers[0]).size, 4, 'each extra request uses its own seed');
    assert.deepEqual(srv.seen.slice(1).map((q) => q.n), [4, 3, 2, undefined]);
  } finally { await srv.close(); }
});
