// consultation.test.ts — long consultations never break: the context window drops the oldest complete turns (system
// prompt and first complaint kept while they fit) and says so, through `zhongjing chat` with piped stdin, the API on a
// real 127.0.0.1 socket, and the helper itself; the guard's emergency message leads in chat and API; the chat
// transcript loads back through `zhongjing data inspect`; streamed text never shows U+FFFD.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fitContext, ContextOverflow } from '../../src/serve/context-window.js';
import { DeltaStream } from '../../src/serve/deltas.js';
import { NOT_ADVICE, URGENT_HEADER } from '../../src/serve/guard.js';
import type { ChatMessage } from '../../src/tokenizer/chat.js';
import { jsonOf, post, start, tinyModel, user } from './helpers.js';

const model = await tinyModel({ maxPositions: 160, generation: { maxNewTokens: 12, doSample: false } });
after(() => model.remove());

const complaints = ['咳嗽三天了', '有点发烧', '晚上咳得厉害', '痰是黄色的', '嗓子疼', '没有过敏史', '吃过感冒药', '头也有点痛', '胃口不好', '睡不好觉'];
const turnText = (i: number) => `${complaints[i % complaints.length]}，第${i + 1}次补充`;

test('fitContext: oldest complete turns go first, the system prompt and first complaint stay, budget shrinks last', () => {
  const encode = (ms: ChatMessage[]) => Array.from(ms.map((m) => m.content).join('|'), () => 0);
  const msgs: ChatMessage[] = [{ role: 'system', content: 'S'.repeat(5) }];
  for (let i = 0; i < 10; i++) msgs.push({ role: 'user', content: `u${i}`.padEnd(10, '.') }, { role: 'assistant', content: `a${i}`.padEnd(10, '.') });
  msgs.push({ role: 'user', content: 'last'.padEnd(10, '.') });
  const r = fitContext(msgs, { maxPositions: 100, maxNewTokens: 20, encode });
  assert.ok(r.ids.length + 20 <= 100 && !r.budgetShrunk);
  assert.equal(r.messages[0]!.role, 'system');
  assert.ok(r.messages[1]!.content.startsWith('u0'), 'first complaint kept');
  assert.ok(r.messages.at(-1)!.content.startsWith('last'));
  assert.ok(r.truncatedTurns > 0 && r.truncatedTurns < 10);
  // turns are dropped whole: every user message but the last is still followed by its answer
  const roles = r.messages.slice(1).map((m) => m.role);
  for (let i = 0; i < roles.length - 1; i += 2) assert.deepEqual([roles[i], roles[i + 1]], ['user', 'assistant']);
  assert.equal(r.messages.length, 1 + 2 * (10 - r.truncatedTurns) + 1);
  // when nothing but the latest message fits, the budget shrinks; when not even that fits, a clear error
  const tight = fitContext(msgs, { maxPositions: 25, maxNewTokens: 20, encode });
  assert.equal(tight.truncatedTurns, 10);
  assert.ok(tight.budgetShrunk && tight.maxNewTokens === 25 - tight.ids.length);
  assert.throws(() => fitContext(msgs, { maxPositions: 10, maxNewTokens: 5, encode }), ContextOverflow);
  // a conversation that fits is left alone
  const small = fitContext(msgs.slice(0, 4), { maxPositions: 1000, maxNewTokens: 20, encode });
  assert.equal(small.truncatedTurns, 0);
  assert.equal(small.messages.length, 4);
});

test('API on a real socket: a 30-turn consultation never errors, reports truncated_turns, and the guard leads', async () => {
  const s = await start(model.dir, { quiet: true } as never);
  try {
    const conv: { role: string; content: string }[] = [];
    let maxTruncated = 0;
    for (let i = 0; i < 30; i++) {
      conv.push(user(turnText(i)));
      const r = await post(s.url, { messages: conv, max_tokens: 12 });
      assert.equal(r.status, 200, `turn ${i + 1}`);
      const j = await jsonOf(r);
      assert.equal(typeof j.truncated_turns, 'number');
      maxTruncated = Math.max(maxTruncated, j.truncated_turns);
      // a random byte-level BPE model emits stray bytes; they are counted, never shown
      assert.ok(!j.choices[0].message.content.includes('\uFFFD'), `turn ${i + 1}: U+FFFD in the answer`);
      assert.equal(typeof j.invalid_utf8, 'number');
      conv.push({ role: 'assistant', content: j.choices[0].message.content });
    }
    assert.ok(maxTruncated > 0, 'a 30-turn consultation does not fit a 160-token context without trimming');
    // an emergency as the 31st turn: the urgent message first, the model's words under the not-advice line
    conv.push(user('突然胸口剧烈疼痛，出冷汗'));
    const j = await jsonOf(post(s.url, { messages: conv, max_tokens: 12 }));
    const text: string = j.choices[0].message.content;
    assert.ok(text.startsWith(URGENT_HEADER), text);
    assert.ok(text.includes(NOT_ADVICE), text);
    assert.equal(j.safety.urgent, true);
    const sui = await jsonOf(post(s.url, { messages: [user('我不想活了，想自杀')] }));
    assert.ok(sui.choices[0].message.content.startsWith(URGENT_HEADER));
  } finally {
    await s.close();
  }
});

const bin = join(process.cwd(), 'bin/zhongjing.js');
const zj = (args: string[], input: string) => spawnSync(process.execPath, [bin, ...args], { input, encoding: 'utf8', timeout: 60_000 });

test('chat with piped stdin: one turn a line, 30 turns, trimming notices, exit 0 at EOF, transcript loads back', () => {
  const file = join(model.dir, '..', 'consult.jsonl');
  const lines = Array.from({ length: 30 }, (_, i) => turnText(i)).concat('我胸口剧烈疼痛，喘不上气').join('\n') + '\n';
  const r = zj(['chat', '--model', model.dir, '--transcript', file, '--temperature', '0', '--template', 'ziya'], lines);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /earlier turns? left out of the model's view/);
  assert.ok(!r.stdout.includes('\uFFFD'), 'no replacement characters shown');
  assert.ok(r.stdout.includes(URGENT_HEADER) && r.stdout.includes(NOT_ADVICE), 'the guard runs in chat');
  const rec = JSON.parse(readFileSync(file, 'utf8').trim());
  assert.equal(rec.messages.length, 62, 'every turn is in the transcript, trimmed ones included');
  assert.equal(rec.messages[0].content, turnText(0));
  const ins = zj(['data', 'inspect', '--json', file], '');
  assert.equal(ins.status, 0, ins.stderr + ins.stdout);
  assert.match(ins.stdout, /"records":\s*1|"conversation"/);
});

test('chat --prompt: a suicidal message gets the emergency guidance first', () => {
  const r = zj(['chat', '--model', model.dir, '--prompt', '我不想活了，想结束生命', '--template', 'ziya'], '');
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.split('\n').find((l) => l.startsWith(URGENT_HEADER)), r.stdout);
});

test('DeltaStream: unfinished characters are held, invalid sequences are left out and counted', () => {
  const d = new DeltaStream([]);
  assert.equal(d.push('咳\uFFFD'), '咳');
  assert.equal(d.push('咳嗽'), '嗽');
  assert.equal(d.push('咳嗽\uFFFD了'), '了', 'an interior U+FFFD is settled-invalid: dropped');
  assert.equal(d.invalid, 1);
  assert.equal(d.finish('咳嗽\uFFFD了\uFFFD'), '');
  assert.equal(d.text, '咳嗽了');
  assert.equal(d.invalid, 2);
  assert.ok(existsSync(bin));
});
