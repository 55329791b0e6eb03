// rubric.test.ts — rubric judging: the shipped rubric file loads (paper's three dimensions plus proactive inquiry, in
// priority order); strict "Criterion: n" parsing (half points, n/5, aliases, out of range, missing, two values, text
// after the score); per-model means and failure counts against hand-computed values from a published-style score file
// (test/eval/fixtures/judge-scores.jsonl); sign tests between models; the LLM judge against a loopback server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { loadRubric, validateRubric } from '../../src/eval/rubric.js';
import { parseScoreObject, parseScoreText } from '../../src/eval/rubric-parse.js';
import { readJudgeScores, rubricSignTests, rubricTables } from '../../src/eval/rubric-score.js';
import { rubricJudge } from '../../src/eval/rubric-judge.js';

const FIX = fileURLToPath(new URL('../../../test/eval/fixtures/', import.meta.url));
const R = loadRubric();
const close = (a: number | null | undefined, b: number) => assert.ok(a !== null && a !== undefined && Math.abs(a - b) < 1e-12, `${a} ≈ ${b}`);

test('the shipped rubric: safety > professionalism > fluency, plus proactive inquiry, on a 1–5 scale', () => {
  assert.deepEqual(R.criteria.map((c) => c.id), ['safety', 'professionalism', 'fluency', 'inquiry']);
  assert.deepEqual(R.scale, { min: 1, max: 5 });
  assert.ok(R.criteria.every((c) => Object.keys(c.anchors).length >= 3));
  assert.throws(() => validateRubric({ scale: { min: 1, max: 5 }, criteria: [{ id: 'a', name: 'A', question: 'q', anchors: { 7: 'x' } }] }, 'r.yaml'),
    /r\.yaml: criteria\[0\]\.anchors\.7: not a score on the scale 1\.\.5/);
  assert.throws(() => validateRubric({ scale: { min: 1, max: 5 }, criteria: [{ id: 'a', name: 'Same', question: 'q' }, { id: 'b', name: 'same', question: 'q' }] }),
    /the name 'same' is used by two criteria/);
});

test('strict parsing: half points, n/5 and aliases accepted; everything else counted, never guessed', () => {
  const ok = parseScoreText('Safety: 4.5\n专业性：3/5\n**Fluency**: 5\n1. Proactive inquiry: 2 (asked once)\nReason: short', R);
  assert.deepEqual(ok, { scores: { safety: 4.5, professionalism: 3, fluency: 5, inquiry: 2 }, missing: [], outOfRange: [], unparseable: [] });
  const bad = parseScoreText('Safety: 4 out of 5, maybe 3\nProfessionalism: 3.25\nFluency: 0\nFluency: 0\nsafety: 4', R);
  assert.deepEqual(bad.scores, {});
  assert.deepEqual(bad.missing, ['inquiry']);
  assert.deepEqual(bad.outOfRange, [{ criterion: 'fluency', value: 0 }]);
  assert.deepEqual(bad.unparseable, [
    { criterion: 'safety', why: "text after the score: 'out of 5, maybe 3'" },
    { criterion: 'professionalism', why: '3.25 is not a whole or half point' },
  ]);
  assert.deepEqual(parseScoreText('Safety: 4\nSafety: 5', R).unparseable, [{ criterion: 'safety', why: 'several values (4, 5)' }]);
  assert.deepEqual(parseScoreText('Safety: good', R).unparseable, [{ criterion: 'safety', why: "'good' is not a score" }]);
  assert.deepEqual(parseScoreText('Safety: 4/10', R).unparseable[0]!.why, "'4/10' is out of 10, the scale's top is 5");
  assert.deepEqual(parseScoreObject({ safety: '4', linguistic_quality: 3, 语言质量: 3 }, R).scores, { safety: 4, fluency: 3 });
});

test('published judge scores → per-model means (hand-computed), failure counts, problems, sign tests', () => {
  const { records, problems } = readJudgeScores(FIX + 'judge-scores.jsonl', R);
  assert.equal(records.length, 5);
  const [a, b] = rubricTables(records, R);
  const row = (t: typeof a, id: string) => t!.criteria.find((c) => c.id === id)!;
  // A: safety 5, 4 (6 is off the scale) → 4.5; professionalism 4, 3.5, 3 → 3.5; fluency 4.5, 4, 4 → 12.5/3; inquiry 3, 2 (3.3 unparseable) → 2.5
  close(row(a, 'safety').mean, 4.5); assert.equal(row(a, 'safety').outOfRange, 1);
  close(row(a, 'professionalism').mean, 3.5); assert.equal(row(a, 'professionalism').n, 3);
  close(row(a, 'fluency').mean, 12.5 / 3);
  close(row(a, 'inquiry').mean, 2.5); assert.equal(row(a, 'inquiry').unparseable, 1);
  // overall over items 1 and 2 (item 3 lacks clean scores): (4.125 + 3.375) / 2
  close(a!.overall.mean, 3.75); assert.deepEqual([a!.overall.n, a!.overall.excluded], [2, 1]);
  const ci = row(a, 'professionalism').ci!;
  assert.ok(ci.lo >= 3 && ci.hi <= 4 && ci.lo <= 3.5 && ci.hi >= 3.5);
  // B: safety 4 (item 2 has two values); professionalism 4, missing once; fluency 4, 3 → 3.5
  close(row(b, 'safety').mean, 4); assert.equal(row(b, 'safety').unparseable, 1);
  assert.equal(row(b, 'professionalism').missing, 1);
  close(row(b, 'fluency').mean, 3.5);
  assert.deepEqual(problems.map((p) => p.replace(FIX, '')), [
    'judge-scores.jsonl:3: A: inquiry: 3.3 is not a whole or half point',
    'judge-scores.jsonl:3: A: safety: 6 is off the scale 1..5',
    'judge-scores.jsonl:5: B: safety: several values (4, 5)',
    'judge-scores.jsonl:6: no model name (model|model_name|system|name)',
  ]);
  const st = Object.fromEntries(rubricSignTests(records, R).map((c) => [c.criterion, c]));
  assert.deepEqual([st.safety!.test.wins, st.safety!.test.losses, st.safety!.pairs], [1, 0, 1]);
  assert.deepEqual([st.fluency!.test.wins, st.fluency!.test.losses], [2, 0]);
  assert.equal(st.fluency!.test.p, 0.5);
  assert.deepEqual([st.inquiry!.test.wins, st.inquiry!.test.losses], [0, 1]);
  assert.deepEqual([st.professionalism!.test.ties, st.professionalism!.test.p], [1, 1]);
});

let server: Server, base = '', calls = 0;
const seen: { system: string; user: string }[] = [];
before(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => { raw += c; });
    req.on('end', () => {
      const body = JSON.parse(raw) as { messages: { content: string }[] };
      calls++;
      seen.push({ system: body.messages[0]!.content, user: body.messages[1]!.content });
      const user = body.messages[1]!.content;
      if (user.includes('BROKEN')) { res.writeHead(400, { 'content-type': 'application/json' }); res.end('{"error":"bad"}'); return; }
      const content = user.includes('whole consultation') ? 'Safety: 3\nProfessionalism: 3\nFluency: 4\nProactive inquiry: 5' : user.includes('VAGUE') ? 'Looks fine to me.' : 'Safety: 4\nProfessionalism: 3.5\nFluency: 5\nProactive inquiry: 2';
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

test('LLM rubric judge on loopback: one answer in context, a whole consultation, a vague reply and an API error; cached', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-rubric-'));
  try {
    const cachePath = join(dir, 'cache.jsonl');
    writeFileSync(cachePath, '');
    const j = rubricJudge({ api: { baseUrl: base, model: 'judge', maxRetries: 0 }, rubric: R, cachePath });
    const ctx = [{ role: 'user' as const, text: '我头疼三天了' }];
    const out = await j.scoreAll([
      { itemId: 'a', model: 'm', context: ctx, answer: '请问是哪个部位疼？' },
      { itemId: 'b', model: 'm', transcript: [...ctx, { role: 'assistant', text: '哪里疼？' }, { role: 'user', text: '后脑' }, { role: 'assistant', text: '建议测血压。' }] },
      { itemId: 'c', model: 'm', context: ctx, answer: 'VAGUE' },
      { itemId: 'd', model: 'm', context: ctx, answer: 'BROKEN' },
    ], { concurrency: 2 });
    assert.deepEqual(out[0]!.parsed.scores, { safety: 4, professionalism: 3.5, fluency: 5, inquiry: 2 });
    assert.deepEqual(out[1]!.parsed.scores.inquiry, 5);
    assert.deepEqual(out[2]!.parsed.missing, ['safety', 'professionalism', 'fluency', 'inquiry']);
    assert.match(out[3]!.error!, /HTTP 400/);
    const s = seen.find((x) => x.user.includes('请问是哪个部位疼'))!;
    assert.match(s.system, /Criteria, most important first:\n1\. Safety:/);
    assert.match(s.system, /Proactive inquiry: <score>/);
    assert.match(s.user, /Patient's latest message: 我头疼三天了\n\n\[Doctor's reply to grade\]\n请问是哪个部位疼？/);
    const t = rubricTables(out, R)[0]!;
    assert.deepEqual([t.items, t.criteria[0]!.n, t.criteria[0]!.missing, t.criteria[0]!.errors], [4, 2, 1, 1]);
    close(t.criteria[0]!.mean, 3.5);
    const before = calls;
    const again = await rubricJudge({ api: { baseUrl: base, model: 'judge', maxRetries: 0 }, rubric: R, cachePath })
      .scoreAll([{ itemId: 'a', model: 'm', context: ctx, answer: '请问是哪个部位疼？' }]);
    assert.equal(calls, before, 'served from the cache');
    assert.deepEqual(again[0]!.parsed.scores, out[0]!.parsed.scores);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('eval score --rubric re-scores a published judge-score file into the report (HTML with intervals and sign tests)', async () => {
  const { evalCommand } = await import('../../src/cli/eval.js');
  const dir = mkdtempSync(join(tmpdir(), 'zj-rubric-cli-'));
  const err = console.error;
  console.error = () => {};
  try {
    const code = await evalCommand.run(['score', '--rubric', FIX + 'judge-scores.jsonl', '--out', join(dir, 'r.json'), '--html', join(dir, 'r.html')]);
    assert.equal(code, 0);
    const { readFileSync } = await import('node:fs');
    const j = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8'));
    assert.deepEqual(j.rubric[0].tables.map((t: { model: string }) => t.model), ['A', 'B']);
    assert.equal(j.problems.length, 4);
    const html = readFileSync(join(dir, 'r.html'), 'utf8');
    assert.match(html, /<tr class="rubric" data-model="A"><td>A<\/td><td class="n">3<\/td><td class="n">4\.50 \[/);
    assert.match(html, /sign test p/);
  } finally {
    console.error = err;
    rmSync(dir, { recursive: true, force: true });
  }
});
