// api-ux.test.ts — the API's answers to a client that gets it wrong: 405 with `Allow` for a known route asked with
// the wrong method, every rejected request in the log with its status and reason, and max_tokens capped by the
// model's context (a larger --max-tokens cannot promise what the model cannot hold).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { jsonOf, post, start, tinyModel, user } from './helpers.js';

const model = await tinyModel({ maxPositions: 128 });
after(() => model.remove());

test('405 + Allow for wrong methods, rejected requests logged, max_tokens capped by the context', async () => {
  const lines: string[] = [];
  const s = await start(model.dir, { log: (l: string) => lines.push(l), limits: { maxTokens: 4096 } });
  try {
    const g = await fetch(`${s.url}/v1/chat/completions`);
    assert.equal(g.status, 405);
    assert.equal(g.headers.get('allow'), 'POST');
    assert.equal((await jsonOf(g)).error.code, 'method_not_allowed');
    const m = await fetch(`${s.url}/v1/models`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(m.status, 405);
    assert.equal(m.headers.get('allow'), 'GET');
    assert.equal((await fetch(`${s.url}/v1/nothing-here`)).status, 404);
    assert.ok(lines.some((l) => /rejected GET \/v1\/chat\/completions 405 .*takes POST/.test(l)), lines.join('\n'));
    // a bad body: logged with its status and the reason the client was given
    const bad = await post(s.url, { messages: [] });
    assert.equal(bad.status, 400);
    const reason = (await jsonOf(bad)).error.message as string;
    assert.ok(lines.some((l) => l.includes(' 400 ') && l.includes(reason)), lines.join('\n'));
    // the configured 4096 is capped at the context: asking for more than 127 is a 400 naming the limit
    const over = await post(s.url, { messages: [user('咳嗽')], max_tokens: 200 });
    assert.equal(over.status, 400);
    const ok = await post(s.url, { messages: [user('咳嗽')], max_tokens: 100 });
    assert.equal(ok.status, 200);
  } finally {
    await s.close();
  }
});
