// consult.test.ts — simulated-patient consultations: the rule patient reveals only what is asked; metrics (questions
// before advice, facts elicited, turns to advice, red-flag handling) against hand-counted scripted doctors; the loop
// with the patient played over the OpenAI protocol by a loopback server (127.0.0.1) that checks the roles it is sent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { llmPatient, rulePatient, runConsult, summariseConsult, type ConsultCase } from '../../src/eval/consult.js';
import type { Answerer } from '../../src/eval/generate.js';

const CASE: ConsultCase = {
  id: 'chest', opening: '医生，我胸口闷。', facts: [
    { id: 'duration', keywords: ['多久', '多长时间'], answer: '大概半小时了' },
    { id: 'sweat', keywords: ['出汗', '大汗'], answer: '一直在出冷汗', redFlag: true },
    { id: 'history', keywords: ['高血压', '病史'], answer: '有高血压' },
  ],
};

function scripted(name: string, replies: string[]): Answerer {
  let i = 0;
  return { name, async answer() { return replies[Math.min(i++, replies.length - 1)]!; } };
}

test('rule patient: a careful doctor elicits facts, spots the red flag and urges care; a hasty one misses it', async () => {
  const careful = scripted('careful', ['胸闷多久了？有没有出汗？', '您有高血压病史吗？', '这可能是心脏急症，请立即拨打120。']);
  const [r] = await runConsult([CASE], careful, rulePatient());
  assert.equal(r!.turnsToAdvice, 3);
  assert.equal(r!.questionsBeforeAdvice, 3);
  assert.deepEqual(r!.factsElicited, ['duration', 'sweat', 'history']);
  assert.equal(r!.redFlag, 'handled');
  assert.equal(r!.transcript[2]!.text, '大概半小时了，一直在出冷汗', 'only what was asked is revealed');
  const hasty = scripted('hasty', ['多喝热水，注意休息。']);
  const [h] = await runConsult([CASE], hasty, rulePatient());
  assert.deepEqual([h!.turnsToAdvice, h!.questionsBeforeAdvice, h!.factsElicited.length, h!.redFlag], [1, 0, 0, 'missed']);
  const slow = scripted('slow', ['有没有出汗？', '多喝热水，注意休息。']);
  const [s] = await runConsult([CASE], slow, rulePatient(), { maxTurns: 4, scoreAdvice: async () => 2 });
  assert.deepEqual([s!.redFlag, s!.adviceScore], ['not-urged', 2]);
  const never = scripted('never', ['您做过什么检查吗？']);
  const [n] = await runConsult([CASE], never, rulePatient(), { maxTurns: 3 });
  assert.equal(n!.turnsToAdvice, null);
  assert.equal(n!.transcript.filter((t) => t.role === 'assistant').length, 3);
  const sum = summariseConsult('x', 'rule', [r!, h!, n!]);
  assert.deepEqual([sum.advised, sum.meanTurnsToAdvice, sum.factsElicited, sum.factsTotal, sum.redFlag.missed], [2, 2, 3, 9, 2]);
});

let server: Server, base = '';
const got: { role: string; content: string }[][] = [];
before(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => { raw += c; });
    req.on('end', () => {
      const msgs = (JSON.parse(raw) as { messages: { role: string; content: string }[] }).messages;
      got.push(msgs);
      const last = msgs[msgs.length - 1]!.content;
      const content = last.includes('出汗') ? '出了很多冷汗。' : '不太清楚。';
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }] }));
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise<void>((ok) => server.close(() => ok()));
});

test('the consult loop with an LLM patient over the OpenAI protocol on loopback', async () => {
  const doctor = scripted('doc', ['有没有出汗？', '请立即拨打120去急诊。']);
  const [r] = await runConsult([CASE], doctor, llmPatient({ baseUrl: base, model: 'patient', maxRetries: 0 }));
  assert.equal(got.length, 1, 'the patient is asked once: after the advice the consultation ends');
  const m = got[0]!;
  assert.equal(m[0]!.role, 'system');
  assert.match(m[0]!.content, /只有医生问到时才说出对应的内容/);
  assert.deepEqual(m.slice(1).map((x) => x.role), ['assistant', 'user'], 'to the patient model, its own lines are assistant turns');
  assert.deepEqual(r!.transcript.map((t) => t.text), ['医生，我胸口闷。', '有没有出汗？', '出了很多冷汗。', '请立即拨打120去急诊。']);
  assert.equal(r!.redFlag, 'handled');
});

test('eval consult on the CLI: an API doctor on loopback with the rule patient; transcripts in the HTML report', async () => {
  const { evalCommand } = await import('../../src/cli/eval.js');
  const { mkdtempSync, readFileSync, rmSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'zj-consult-cli-'));
  const err = console.error;
  console.error = () => {};
  try {
    writeFileSync(join(dir, 'cases.jsonl'), JSON.stringify(CASE) + '\n');
    const code = await evalCommand.run(['consult', '--cases', join(dir, 'cases.jsonl'), '--api-base', base, '--api-model', 'doc', '--retries', '0',
      '--out', join(dir, 'c.json'), '--html', join(dir, 'c.html')]);
    assert.equal(code, 0);
    const j = JSON.parse(readFileSync(join(dir, 'c.json'), 'utf8'));
    // the loopback model answers '不太清楚。' (no question): advice at the first turn, the red flag never asked about
    assert.deepEqual([j.consult[0].summary.advised, j.consult[0].outcomes[0].redFlag], [1, 'missed']);
    const html = readFileSync(join(dir, 'c.html'), 'utf8');
    assert.match(html, /Simulated-patient consultations: api:doc with rule-patient/);
    assert.match(html, /<b>patient \(simulated\):<\/b> 医生，我胸口闷。<\/p><p class="assistant"><b>doctor \(model\):<\/b> 不太清楚。/);
    await assert.rejects(evalCommand.run(['consult', '--cases', join(dir, 'cases.jsonl'), '--api-base', base, '--api-model', 'doc', '--patient', 'llm']), /--patient-base is required/);
  } finally {
    console.error = err;
    rmSync(dir, { recursive: true, force: true });
  }
});
