// api.test.ts — the OpenAI protocol over a real socket on 127.0.0.1: /v1/models, /health, non-streaming answers with
// usage, SSE chunks in the official shape ending in [DONE], stop strings (streamed and not), seeded sampling, the
// guard's urgent message first in both modes, and bad input (malformed JSON, wrong types, empty messages, oversize
// prompts and bodies, wrong API keys) answered with 4xx in OpenAI's error shape while the server keeps serving.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Serving } from '../../src/serve/server.js';
import { DISCLAIMER, URGENT_HEADER } from '../../src/serve/guard.js';
import { jsonOf, post, sseData, start, tinyModel, until, user, type TinyDir } from './helpers.js';

let model: TinyDir;
let s: Serving; // no disclaimer: contents are exactly the model's text
let guarded: Serving; // defaults + an API key

before(async () => {
  model = await tinyModel({ maxPositions: 256 });
  s = await start(model.dir, { guard: { disclaimer: '' }, limits: { maxTokens: 200, maxChars: 4000, maxBodyBytes: 16 * 1024 } });
  guarded = await start(model.dir, { apiKey: 'sk-test-123' });
});
after(async () => {
  await s?.close();
  await guarded?.close();
  model?.remove();
});

const auth = { authorization: 'Bearer sk-test-123' };

function isChunk(j: Record<string, unknown>, id: string): void {
  assert.equal(j.object, 'chat.completion.chunk');
  assert.equal(j.id, id);
  assert.equal(typeof j.created, 'number');
  assert.equal(j.model, 'tiny');
}

test('GET /v1/models and /health describe the one served model', async () => {
  const m = await jsonOf(fetch(`${s.url}/v1/models`));
  assert.deepEqual(m.data.map((x: { id: string; object: string }) => [x.id, x.object]), [['tiny', 'model']]);
  assert.equal(m.object, 'list');
  assert.equal((await fetch(`${s.url}/v1/models/tiny`)).status, 200);
  const nf = await fetch(`${s.url}/v1/models/gpt-4`);
  assert.equal(nf.status, 404);
  assert.equal((await jsonOf(nf)).error.code, 'model_not_found');
  const h = await fetch(`${s.url}/health`);
  assert.equal(h.status, 200);
  const hj = await jsonOf(h);
  assert.equal(hj.status, 'ok');
  assert.equal(hj.engine.state, 'ready');
  assert.equal(hj.authRequired, false);
});

test('non-streaming: chat.completion with message, finish_reason and usage counts', async () => {
  const r = await post(s.url, { model: 'tiny', messages: [user('咳嗽三天，晚上加重')], max_tokens: 12, ignore_eos: true, temperature: 0 });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /application\/json/);
  const j = await jsonOf(r);
  assert.match(j.id, /^chatcmpl-/);
  assert.equal(j.object, 'chat.completion');
  assert.equal(j.model, 'tiny');
  assert.equal(j.choices.length, 1);
  assert.equal(j.choices[0].index, 0);
  assert.equal(j.choices[0].message.role, 'assistant');
  assert.equal(typeof j.choices[0].message.content, 'string');
  assert.equal(j.choices[0].finish_reason, 'length');
  assert.equal(j.usage.completion_tokens, 12);
  assert.ok(j.usage.prompt_tokens > 5);
  assert.equal(j.usage.total_tokens, j.usage.prompt_tokens + 12);
  assert.deepEqual(j.safety, { urgent: false, flags: [] });
});

test('streaming: role chunk first, content deltas, finish chunk, usage chunk, then data: [DONE]', async () => {
  const body = { messages: [user('咳嗽三天，晚上加重')], max_tokens: 12, ignore_eos: true, temperature: 0, stream: true, stream_options: { include_usage: true } };
  const r = await post(s.url, body);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
  const events = await sseData(r);
  assert.equal(events[events.length - 1], '[DONE]');
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
  const id = chunks[0].id;
  assert.match(id, /^chatcmpl-/);
  for (const c of chunks) isChunk(c, id);
  assert.deepEqual(chunks[0].choices[0].delta, { role: 'assistant', content: '' });
  const fin = chunks[chunks.length - 2];
  assert.deepEqual(fin.choices, [{ index: 0, delta: {}, logprobs: null, finish_reason: 'length' }]);
  const last = chunks[chunks.length - 1];
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.completion_tokens, 12);
  const middle = chunks.slice(1, -2);
  assert.ok(middle.length >= 2, 'tokens arrive as several chunks');
  for (const c of middle) {
    assert.equal(c.choices[0].finish_reason, null);
    assert.deepEqual(Object.keys(c.choices[0].delta), ['content']);
  }
  // the streamed text equals the non-streamed answer for the same greedy request
  const whole = await jsonOf(post(s.url, { ...body, stream: false }));
  assert.equal(middle.map((c) => c.choices[0].delta.content).join(''), whole.choices[0].message.content);
  // without include_usage there is no usage chunk
  const plain = (await sseData(await post(s.url, { ...body, stream_options: undefined }))).slice(0, -1).map((e) => JSON.parse(e));
  assert.ok(plain.every((c) => c.usage === undefined && c.choices.length === 1));
});

test('stop strings end the answer before the stop, streamed and not', async () => {
  const base = { messages: [user('胃胀气反酸怎么办')], max_tokens: 40, ignore_eos: true, temperature: 0 };
  const full: string = (await jsonOf(post(s.url, base))).choices[0].message.content;
  // a two-character stop taken from the middle of the greedy answer (no replacement characters in it)
  let at = -1;
  for (let i = 4; i + 2 <= full.length; i++) if (!full.slice(i, i + 2).includes('\uFFFD')) { at = i; break; }
  assert.ok(at > 0, `need a clean stop candidate in ${JSON.stringify(full)}`);
  const stop = full.slice(at, at + 2);
  const want = full.slice(0, full.indexOf(stop));
  const j = await jsonOf(post(s.url, { ...base, stop: [stop, '不会出现的停止词'] }));
  assert.equal(j.choices[0].message.content, want);
  assert.equal(j.choices[0].finish_reason, 'stop');
  assert.ok(j.usage.completion_tokens < 40);
  const ev = (await sseData(await post(s.url, { ...base, stop, stream: true }))).slice(0, -1).map((e) => JSON.parse(e));
  assert.equal(ev.map((c) => c.choices[0].delta.content ?? '').join(''), want);
  assert.equal(ev[ev.length - 1].choices[0].finish_reason, 'stop');
});

test('seeded sampling repeats exactly; temperature 0 is greedy', async () => {
  const body = { messages: [user('孩子发烧38度')], max_tokens: 16, ignore_eos: true, temperature: 1.0, top_p: 0.95, seed: 42 };
  const a = (await jsonOf(post(s.url, body))).choices[0].message.content;
  const b = (await jsonOf(post(s.url, body))).choices[0].message.content;
  assert.equal(a, b);
  const others = await Promise.all([1, 2, 3].map(async (seed) => (await jsonOf(post(s.url, { ...body, seed }))).choices[0].message.content));
  assert.ok(others.some((o) => o !== a), 'another seed gives another sample');
  const g1 = (await jsonOf(post(s.url, { ...body, temperature: 0, seed: 1 }))).choices[0].message.content;
  const g2 = (await jsonOf(post(s.url, { ...body, temperature: 0, seed: 2 }))).choices[0].message.content;
  assert.equal(g1, g2);
});

test('guard: urgent-care message first (non-streaming and as the first streamed content), disclaimer last', async () => {
  const body = { messages: [user('咳嗽'), { role: 'assistant', content: '多久了？' }, user('我胸口痛，出了一身冷汗，左臂发麻')], max_tokens: 8, temperature: 0 };
  const j = await jsonOf(post(guarded.url, body, auth));
  const c: string = j.choices[0].message.content;
  assert.ok(c.startsWith(URGENT_HEADER), c);
  assert.match(c, /120/);
  assert.ok(c.endsWith(DISCLAIMER));
  assert.deepEqual(j.safety, { urgent: true, flags: ['chest-pain'] });
  const ev = (await sseData(await post(guarded.url, { ...body, stream: true }, auth))).slice(0, -1).map((e) => JSON.parse(e));
  const first = ev[0].choices[0].delta;
  assert.equal(first.role, 'assistant');
  assert.ok(first.content.startsWith(URGENT_HEADER), 'the first content chunk is the urgent message');
  const text = ev.map((e) => e.choices[0].delta.content ?? '').join('');
  assert.ok(text.endsWith(DISCLAIMER));
  // a negated complaint gets no urgent message, only the disclaimer
  const n = await jsonOf(post(guarded.url, { ...body, messages: [user('没有胸痛，也没有出汗，就是咳嗽')] }, auth));
  assert.ok(!n.choices[0].message.content.startsWith(URGENT_HEADER));
  assert.ok(n.choices[0].message.content.endsWith(DISCLAIMER));
});

function isOpenAiError(j: { error?: Record<string, unknown> }): void {
  assert.ok(j.error, 'error object');
  assert.equal(typeof j.error.message, 'string');
  assert.match(j.error.message as string, /^\[serve\]/);
  assert.equal(typeof j.error.type, 'string');
  assert.ok('param' in j.error && 'code' in j.error);
}

test('bad input: clear 4xx in the OpenAI error shape, and the server keeps serving', async () => {
  const ok = { messages: [user('咳嗽')], max_tokens: 2 };
  const cases: [string, string | object, Record<string, string>, number, string | null][] = [
    ['malformed JSON', '{"messages": [', {}, 400, null],
    ['not an object', '[1,2]', {}, 400, null],
    ['messages missing', { max_tokens: 3 }, {}, 400, 'messages'],
    ['empty messages', { messages: [] }, {}, 400, 'messages'],
    ['messages wrong type', { messages: 'hello' }, {}, 400, 'messages'],
    ['role unknown', { messages: [{ role: 'doctor', content: 'x' }] }, {}, 400, 'messages[0].role'],
    ['content wrong type', { messages: [{ role: 'user', content: 42 }] }, {}, 400, 'messages[0].content'],
    ['only empty content', { messages: [user('  ')] }, {}, 400, 'messages'],
    ['temperature string', { ...ok, temperature: 'hot' }, {}, 400, 'temperature'],
    ['temperature out of range', { ...ok, temperature: 7 }, {}, 400, 'temperature'],
    ['top_p zero', { ...ok, top_p: 0 }, {}, 400, 'top_p'],
    ['max_tokens fractional', { ...ok, max_tokens: 2.5 }, {}, 400, 'max_tokens'],
    ['max_tokens over the limit', { ...ok, max_tokens: 100000 }, {}, 400, 'max_tokens'],
    ['stop wrong type', { ...ok, stop: 7 }, {}, 400, 'stop'],
    ['stop list item wrong type', { ...ok, stop: ['a', 1] }, {}, 400, 'stop[1]'],
    ['seed wrong type', { ...ok, seed: 'x' }, {}, 400, 'seed'],
    ['stream wrong type', { ...ok, stream: 'yes' }, {}, 400, 'stream'],
    ['repetition_penalty negative', { ...ok, repetition_penalty: -1 }, {}, 400, 'repetition_penalty'],
    ['n > 1', { ...ok, n: 2 }, {}, 400, 'n'],
    ['model wrong type', { ...ok, model: 3 }, {}, 400, 'model'],
    ['unknown model', { ...ok, model: 'gpt-4o' }, {}, 404, 'model'],
    ['a special token typed into a message', { messages: [user('咳嗽</s><s>'), { role: 'assistant', content: 'x' }, user('y')] }, {}, 400, 'messages[0].content'],
    ['last message from the assistant', { messages: [user('咳嗽'), { role: 'assistant', content: '多久了' }] }, {}, 400, 'messages'],
    ['oversize prompt (characters)', { messages: [user('咳'.repeat(5000))] }, {}, 400, 'messages'],
    ['oversize prompt (tokens)', { messages: [user('咳嗽发烧头痛 '.repeat(500))] }, {}, 400, 'messages'],
  ];
  for (const [name, body, headers, status, param] of cases) {
    const r = await post(s.url, body, headers);
    assert.equal(r.status, status, name);
    const j = await jsonOf(r);
    isOpenAiError(j);
    if (param !== null) assert.equal(j.error.param, param, name);
  }
  // a body over the byte limit
  const big = await post(s.url, { messages: [user('x'.repeat(20 * 1024))] });
  assert.equal(big.status, 413);
  isOpenAiError(await jsonOf(big));
  // a reply budget that cannot fit shrinks to what does, and says so (docs/serving.md, "Context")
  const shrunk = await jsonOf(post(s.url, { messages: [user('咳嗽发烧头痛 '.repeat(10))], max_tokens: 200 }));
  assert.equal(shrunk.reply_budget_shrunk, true);
  assert.equal(shrunk.truncated_turns, 0);
  const ctx = await jsonOf(post(s.url, { messages: [user('咳嗽发烧头痛 '.repeat(500))] }));
  assert.equal(ctx.error.code, 'context_length_exceeded');
  // unknown route and method, in the same shape
  const nf = await fetch(`${s.url}/v1/completions/nope`, { method: 'POST', body: '{}' });
  assert.equal(nf.status, 404);
  isOpenAiError(await jsonOf(nf));
  // still serving
  const after = await post(s.url, ok);
  assert.equal(after.status, 200);
  assert.equal((await jsonOf(after)).object, 'chat.completion');
});

test('API key: missing or wrong → 401 invalid_api_key on /v1/*; the page and /health stay open', async () => {
  const body = { messages: [user('咳嗽')], max_tokens: 2 };
  for (const h of [{} as Record<string, string>, { authorization: 'Bearer sk-wrong' }, { authorization: 'sk-test-123' }, { authorization: 'Bearer sk-test-1234' }]) {
    const r = await post(guarded.url, body, h);
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate') ?? '', /Bearer/);
    const j = await jsonOf(r);
    isOpenAiError(j);
    assert.equal(j.error.code, 'invalid_api_key');
  }
  assert.equal((await fetch(`${guarded.url}/v1/models`)).status, 401);
  assert.equal((await fetch(`${guarded.url}/v1/models`, { headers: auth })).status, 200);
  assert.equal((await post(guarded.url, body, auth)).status, 200);
  assert.equal((await fetch(`${guarded.url}/health`)).status, 200);
  const page = await fetch(`${guarded.url}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /不是医生/);
  assert.equal((await jsonOf(fetch(`${guarded.url}/health`))).authRequired, true);
});

test('requests that wait together are decoded as one batch, each getting the answer it gets alone', async () => {
  // a larger, longer-context model of its own, so that one long answer surely outlasts the next four arriving
  const big = await tinyModel({ maxPositions: 2048, hiddenSize: 128, numLayers: 4 });
  const b = await start(big.dir, { guard: { disclaimer: '' } });
  try {
    const stats = async () => (await jsonOf(fetch(`${b.url}/health`))).engine;
    const hangUp = new AbortController();
    const busy = post(b.url, { messages: [user('咳嗽')], max_tokens: 2000, ignore_eos: true, temperature: 0, stream: true }, {}, hangUp.signal);
    await until(async () => (await stats()).running === 1, 10_000, 'the long answer to start');
    const asks = ['咳嗽三天', '孩子发烧38度，精神还好，要紧吗', '血压高', '胃胀气反酸，晚上更明显'].map((q, i) =>
      ({ messages: [user(q)], max_tokens: 6 + 3 * i, ignore_eos: true, temperature: 0 }));
    const pending = asks.map((x) => jsonOf(post(b.url, x)));
    await until(async () => (await stats()).queued === 4, 10_000, 'four requests waiting behind the long answer');
    hangUp.abort();
    await (await busy.catch(() => null))?.body?.cancel().catch(() => {});
    const together = (await Promise.all(pending)).map((j) => j.choices[0].message.content as string);
    const st = await stats();
    assert.equal(st.batches, 2, 'the long answer, then the four together');
    assert.equal(st.batchedJobs, 5);
    for (let i = 0; i < asks.length; i++) assert.equal(together[i], (await jsonOf(post(b.url, asks[i]))).choices[0].message.content, `answer ${i}`);
  } finally {
    await b.close();
    big.remove();
  }
});
