// judge-http.test.ts — the chat-completions client and the LLM judge against a real HTTP server on 127.0.0.1
// (node:http, started here): retries on 429/500, give-up, no retry on 400, timeouts, malformed bodies and verdicts,
// the both-orders tie rule, the on-disk cache and the rate limit. Server and client sockets are closed at the end.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { ApiError, ChatClient } from '../../src/eval/openai-client.js';
import { llmJudge, parseVerdict } from '../../src/eval/judges.js';
import { comparePairwise } from '../../src/eval/pairwise.js';
import type { EvalItem } from '../../src/eval/types.js';

interface Reply { status?: number; body?: string; content?: string; delayMs?: number; headers?: Record<string, string> }
type Script = (call: number, body: { model: string; messages: { role: string; content: string }[] }) => Reply;

let server: Server;
let base = '';
let script: Script = () => ({ content: 'ok' });
let calls = 0;
const timers = new Set<NodeJS.Timeout>();
let dir = '';

function completion(content: string): string {
  return JSON.stringify({ id: 'chatcmpl-test', object: 'chat.completion', created: 0, model: 'judge', choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }] });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zj-eval-judge-'));
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.on('data', (c) => { raw += c; });
    req.on('end', () => {
      const call = calls++;
      assert.equal(req.url, '/v1/chat/completions');
      assert.equal(req.method, 'POST');
      const r = script(call, JSON.parse(raw));
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(r.status ?? 200, { 'content-type': 'application/json', ...r.headers });
        res.end(r.body ?? completion(r.content ?? ''));
      };
      if (r.delayMs) {
        const t = setTimeout(() => { timers.delete(t); send(); }, r.delayMs);
        timers.add(t);
        res.on('close', () => { clearTimeout(t); timers.delete(t); });
      } else send();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

after(async () => {
  for (const t of timers) clearTimeout(t);
  server.closeAllConnections();
  await new Promise<void>((ok) => server.close(() => ok()));
  rmSync(dir, { recursive: true, force: true });
});

function reset(s: Script): void { calls = 0; script = s; }
const fast = { backoffMs: 1, maxBackoffMs: 5 };

test('client retries 429 and 500, then succeeds; counts retries', async () => {
  reset((n) => (n === 0 ? { status: 429, body: '{"error":"rate"}', headers: { 'retry-after': '0' } } : n === 1 ? { status: 500, body: 'boom' } : { content: 'fine' }));
  const c = new ChatClient({ baseUrl: base, model: 'm', apiKey: 'k', maxRetries: 3, ...fast });
  const r = await c.chat([{ role: 'user', content: 'hi' }]);
  assert.equal(r.content, 'fine');
  assert.equal(r.attempts, 3);
  assert.equal(calls, 3);
  assert.deepEqual(c.stats, { requests: 3, retries: 2, failures: 0 });
});

test('client honours Retry-After (seconds) over a shorter back-off', async () => {
  reset((n) => (n === 0 ? { status: 429, body: 'slow down', headers: { 'retry-after': '0.3' } } : { content: 'ok' }));
  const c = new ChatClient({ baseUrl: base, model: 'm', maxRetries: 1, backoffMs: 1, maxBackoffMs: 1, random: () => 0 });
  const t0 = Date.now();
  assert.equal((await c.chat([{ role: 'user', content: 'x' }])).content, 'ok');
  assert.ok(Date.now() - t0 >= 280, `waited ${Date.now() - t0} ms`);
});

test('client gives up after maxRetries with the last status; 400 is not retried', async () => {
  reset(() => ({ status: 503, body: 'down' }));
  const c = new ChatClient({ baseUrl: base, model: 'm', maxRetries: 2, ...fast });
  await assert.rejects(c.chat([{ role: 'user', content: 'x' }]), (e: unknown) => e instanceof ApiError && e.status === 503 && e.attempts === 3 && /gave up after 3 attempts/.test(e.message));
  assert.equal(calls, 3);
  reset(() => ({ status: 400, body: '{"error":"bad request"}' }));
  await assert.rejects(c.chat([{ role: 'user', content: 'x' }]), (e: unknown) => e instanceof ApiError && e.status === 400 && e.attempts === 1);
  assert.equal(calls, 1);
});

test('client times out a slow handler and retries; all-slow fails with a timeout message', async () => {
  reset((n) => (n === 0 ? { content: 'late', delayMs: 2000 } : { content: 'quick' }));
  const c = new ChatClient({ baseUrl: base, model: 'm', timeoutMs: 150, maxRetries: 1, ...fast });
  const t0 = Date.now();
  const r = await c.chat([{ role: 'user', content: 'x' }]);
  assert.equal(r.content, 'quick');
  assert.ok(Date.now() - t0 < 1500, 'did not wait for the slow reply');
  reset(() => ({ content: 'late', delayMs: 2000 }));
  await assert.rejects(c.chat([{ role: 'user', content: 'x' }]), /timed out after 150 ms/);
  assert.equal(calls, 2);
});

test('client refuses a 200 whose body is not a chat completion', async () => {
  reset(() => ({ body: '<html>proxy</html>' }));
  const c = new ChatClient({ baseUrl: base, model: 'm', maxRetries: 2, ...fast });
  await assert.rejects(c.chat([{ role: 'user', content: 'x' }]), /malformed response \(not JSON\)/);
  reset(() => ({ body: JSON.stringify({ choices: [] }) }));
  await assert.rejects(c.chat([{ role: 'user', content: 'x' }]), /no choices\[0\]\.message\.content/);
});

test('rate limit spaces request starts', async () => {
  reset(() => ({ content: 'ok' }));
  const c = new ChatClient({ baseUrl: base, model: 'm', requestsPerMinute: 600 }); // one start per 100 ms
  const t0 = Date.now();
  await Promise.all([0, 1, 2].map(() => c.chat([{ role: 'user', content: 'x' }])));
  assert.ok(Date.now() - t0 >= 190, `3 starts at 600/min take ≥ 200 ms, took ${Date.now() - t0}`);
});

test('parseVerdict is strict', () => {
  assert.deepEqual(parseVerdict('{"safety":"1","ability":"tie","reason":"r"}'), { ok: true, safety: '1', ability: 'tie', reason: 'r' });
  assert.equal(parseVerdict('```json\n{"safety":2,"ability":"1"}\n```').ok, true);
  for (const bad of ['Answer 1 is better.', 'Sure! {"safety":"1","ability":"1"}', '{"safety":"A","ability":"1"}', '{"ability":"1"}', '{"safety":"1","ability":"1"', '[1,2]'])
    assert.equal(parseVerdict(bad).ok, false, bad);
});

// the judge server: reads which answer is shown first from the prompt
function answersOf(body: { messages: { content: string }[] }): [string, string] {
  const u = body.messages[1]!.content;
  const m = /\[Answer 1\]\n([\s\S]*?)\n\n\[Answer 2\]\n([\s\S]*)$/.exec(u);
  assert.ok(m, 'prompt carries both answers');
  return [m[1]!, m[2]!];
}

const items: EvalItem[] = ['p0', 'p1', 'p2', 'p3', 'p4'].map((id, i) => ({ id, dialogueId: id, turn: 0, history: [], prompt: `问题${i}`, safety: false }));

test('LLM judge: both orders, disagreement is a tie, unparseable and API errors counted, never ties; cache hits', async () => {
  // p0: content judge (B's answer says GOOD) → consistent loss for A on both dimensions
  // p1: a judge that always prefers the first answer → orders disagree → tie with a position conflict
  // p2: prose instead of JSON → unparseable
  // p3: server error on every try → error
  // p4: missing answer for B → missing, the judge is not called
  reset((_, body) => {
    const [x, y] = answersOf(body);
    if (x.includes('p3') || y.includes('p3')) return { status: 500, body: 'down' };
    if (x.includes('p2')) return { content: 'I think the first answer is better.' };
    if (x.includes('p1')) return { content: '{"safety":"1","ability":"1","reason":"first"}' };
    const better = y.includes('GOOD') ? '2' : '1';
    return { content: JSON.stringify({ safety: better, ability: better, reason: 'GOOD wins' }) };
  });
  const cachePath = join(dir, 'judge-cache.jsonl');
  const mk = () => llmJudge({ api: { baseUrl: base, model: 'judge', maxRetries: 1, ...fast }, rule: 'safety first', cachePath });
  const A = { name: 'A', answers: items.map((it) => ({ itemId: it.id, model: 'A', answer: `A answer ${it.id}` })) };
  const B = { name: 'B', answers: items.filter((it) => it.id !== 'p4').map((it) => ({ itemId: it.id, model: 'B', answer: `B answer ${it.id} GOOD` })) };
  const j1 = mk();
  const r = await comparePairwise(items, A, B, j1, { concurrency: 2 });
  const byId = new Map(r.verdicts.map((v) => [v.itemId, v]));
  assert.deepEqual(byId.get('p0')!.outcomes, { ability: 'loss', safety: 'loss' });
  assert.deepEqual(byId.get('p1')!.outcomes, { ability: 'tie', safety: 'tie' });
  assert.deepEqual(byId.get('p1')!.positionConflicts, ['ability', 'safety']);
  assert.deepEqual(byId.get('p2')!.outcomes, { ability: 'unparseable', safety: 'unparseable' });
  assert.match(byId.get('p2')!.note!, /not a bare JSON object/);
  assert.deepEqual(byId.get('p3')!.outcomes, { ability: 'error', safety: 'error' });
  assert.match(byId.get('p3')!.note!, /HTTP 500/);
  assert.deepEqual(byId.get('p4')!.outcomes, { ability: 'missing', safety: 'missing' });
  for (const d of ['ability', 'safety'] as const) {
    const t = r.tallies[d]!;
    assert.deepEqual([t.win, t.tie, t.loss, t.unparseable, t.error, t.missing, t.total], [0, 1, 1, 1, 1, 1, 5]);
    assert.equal(r.positionConflicts[d], 1);
  }
  // p0..p2 made 2 calls each, p3 2 orders × 2 attempts, p4 none
  assert.equal(calls, 10);
  // a second judge on the same cache: every successful reply is served from disk, only the failing item calls out
  calls = 0;
  const j2 = mk();
  const r2 = await comparePairwise(items, A, B, j2);
  assert.equal(j2.cache.hits, 6);
  assert.equal(calls, 4, 'only p3 (errors are never cached) hits the server');
  assert.deepEqual(r2.tallies, r.tallies);
});
