// queue.test.ts — concurrency: one worker runs one job at a time, a full queue answers 429 with Retry-After in the
// OpenAI shape, a client that disconnects (streaming or not) cancels its generation within a few tokens, and a
// waiting request that disconnects leaves the queue. Everything over real sockets on 127.0.0.1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Serving } from '../../src/serve/server.js';
import { jsonOf, post, start, tinyModel, until, user, type TinyDir } from './helpers.js';

let model: TinyDir;
let s: Serving;

before(async () => {
  // a long context so that one answer takes long enough to interrupt
  model = await tinyModel({ maxPositions: 2048, hiddenSize: 128, numLayers: 4 });
  s = await start(model.dir, { maxQueue: 1, guard: { disclaimer: '' } });
});
after(async () => {
  await s?.close();
  model?.remove();
});

const long = { messages: [user('咳嗽')], max_tokens: 2000, ignore_eos: true, stream: true };
const stats = async () => (await jsonOf(fetch(`${s.url}/health`))).engine;

/** Starts a streaming request and resolves once its first model token has arrived. */
async function streaming(signal: AbortSignal): Promise<Response> {
  const r = await post(s.url, long, {}, signal);
  assert.equal(r.status, 200);
  return r;
}

test('a full queue answers 429 with Retry-After; the queue drains and serving goes on', async () => {
  const a = new AbortController(), b = new AbortController();
  const first = await streaming(a.signal);
  await until(async () => (await stats()).running === 1, 10_000, 'the first job to run');
  const second = post(s.url, { ...long, stream: false }, {}, b.signal).catch(() => null);
  await until(async () => (await stats()).queued === 1, 10_000, 'the second job to wait');
  const third = await post(s.url, { messages: [user('咳嗽')], max_tokens: 2 });
  assert.equal(third.status, 429);
  const ra = Number(third.headers.get('retry-after'));
  assert.ok(Number.isInteger(ra) && ra >= 1 && ra <= 60, `Retry-After ${third.headers.get('retry-after')}`);
  const j = await jsonOf(third);
  assert.equal(j.error.code, 'rate_limit_exceeded');
  assert.match(j.error.message, /^\[serve\]/);
  assert.equal((await stats()).rejected, 1);
  // the waiting request goes away: it leaves the queue without ever running
  b.abort();
  await second;
  await until(async () => (await stats()).queued === 0, 5_000, 'the queue to empty');
  a.abort();
  await first.body?.cancel().catch(() => {});
  await until(async () => (await stats()).running === 0, 5_000, 'the running job to stop');
  const ok = await post(s.url, { messages: [user('咳嗽')], max_tokens: 2 });
  assert.equal(ok.status, 200);
});

test('disconnect cancels generation: streaming and non-streaming', async () => {
  const before = await stats();
  // streaming: read the first content chunk, then hang up
  const a = new AbortController();
  const r = await streaming(a.signal);
  const reader = r.body!.getReader();
  let seen = '';
  while (!seen.includes('"content":"') || seen.split('data: ').length < 3) {
    const { value, done } = await reader.read();
    if (done) assert.fail(`the stream ended before two chunks: ${seen}`);
    seen += new TextDecoder().decode(value);
  }
  a.abort();
  await until(async () => (await stats()).cancelled === before.cancelled + 1, 5_000, 'the streaming job to be cancelled');
  // non-streaming: hang up while it runs
  const b = new AbortController();
  const p = post(s.url, { ...long, stream: false }, {}, b.signal).catch(() => null);
  await until(async () => (await stats()).running === 1, 5_000, 'the job to run');
  await new Promise((d) => setTimeout(d, 50));
  b.abort();
  await p;
  await until(async () => (await stats()).cancelled === before.cancelled + 2, 5_000, 'the non-streaming job to be cancelled');
  const now = await stats();
  assert.equal(now.running, 0);
  // both stopped long before their 2000 tokens
  assert.ok(now.generatedTokens - before.generatedTokens < 2000, `generated ${now.generatedTokens - before.generatedTokens} tokens for two cancelled 2000-token jobs`);
  assert.equal(now.completed, before.completed);
  assert.equal(now.restarts, 0);
});

test('a worker that dies mid-answer fails only that request (error event, then [DONE]); a new worker takes over', async () => {
  const r = await post(s.url, long);
  assert.equal(r.status, 200);
  await until(async () => (await stats()).running === 1, 5_000, 'the job to run');
  // the engine's worker is private: reaching it is the test's way of simulating a crash
  await (s.engine as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
  const text = await r.text();
  const events = text.split('\n\n').filter(Boolean).map((e) => e.slice(6));
  assert.equal(events[events.length - 1], '[DONE]');
  const err = JSON.parse(events[events.length - 2]!);
  assert.match(err.error.message, /generation worker stopped/);
  assert.equal(err.error.type, 'server_error');
  await until(async () => (await stats()).state === 'ready', 15_000, 'the new worker');
  const st = await stats();
  assert.equal(st.restarts, 1);
  assert.equal(st.failed, 1);
  const ok = await jsonOf(post(s.url, { messages: [user('咳嗽')], max_tokens: 3 }));
  assert.equal(ok.object, 'chat.completion');
});
