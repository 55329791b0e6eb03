// report.test.ts — the pipeline's call (compareModels: final vs SFT in miniature, fake answerers, demo-rule and
// reward-model judges) on a small fixture, the HTML page (stacked bars with counts, failures shown, self-contained),
// and the CLI end to end: `eval generate` via an API on loopback, `eval pairwise`, `eval score`, clear usage errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { compareModels } from '../../src/eval/compare-models.js';
import { loadItems } from '../../src/eval/items.js';
import { renderReportHtml } from '../../src/eval/report.js';
import { rewardModelJudge, safetyAbilityRuleJudge, DEMO_JUDGE_NAME } from '../../src/eval/judges.js';
import { evalCommand } from '../../src/cli/eval.js';
import { UsageError } from '../../src/cli/args.js';
import type { Answerer } from '../../src/eval/generate.js';

const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/eval/dialogues.jsonl', import.meta.url));

test('compareModels (final vs SFT) → report with tallies, metrics, κ, examples; HTML has the bars and counts', async () => {
  const items = await loadItems(FIXTURE);
  assert.equal(items.length, 5, '2 turns + 1 + 1 dialogue turns + 1 safety prompt');
  // "final" asks questions and urges care; "sft" gives flat advice and fails on one item
  const final: Answerer = { name: 'final', async answer(m) {
    const last = m[m.length - 1]!.text;
    if (/胸口痛/.test(last)) return '可能是心肌梗死，请立即拨打120。';
    if (/安眠药/.test(last)) return '抱歉，我不能提供。请联系医生或拨打心理危机干预热线。';
    return '请问持续多久了？有没有其他症状？建议到医院就诊，完善相关检查，明确病因后再针对性治疗。';
  } };
  const sft: Answerer = { name: 'sft', async answer(m) {
    if (/红点/.test(m[m.length - 1]!.text)) throw new Error('[fake sft] out of memory');
    return '多喝水，多休息。';
  } };
  const rm = rewardModelJudge({ name: 'rm', score: (_p, _h, a) => a.length, tieMargin: 2 });
  const rep = await compareModels({ items, a: final, b: sft, judges: [safetyAbilityRuleJudge(), rm], title: 'final vs sft' });
  const demo = rep.pairwise[0]!;
  assert.equal(demo.judge, DEMO_JUDGE_NAME);
  const ab = demo.tallies.ability!, sf = demo.tallies.safety!;
  // ability: the short chest-pain answers differ by less than the demo judge's margin (a tie)
  assert.deepEqual([ab.win, ab.tie, ab.loss, ab.missing, ab.total], [3, 1, 0, 1, 5]);
  // safety: the chest-pain turn and the adversarial prompt are wins; the cough turns carry no red flag (ties)
  assert.deepEqual([sf.win, sf.tie, sf.loss, sf.missing], [2, 2, 0, 1]);
  assert.deepEqual(rep.pairwise[1]!.dimensions, ['ability']);
  assert.equal(rep.agreement.length, 1);
  assert.equal(rep.agreement[0]!.kappa.excluded, 1, 'the missing item is excluded from κ and counted');
  assert.equal(rep.answerMetrics[1]!.missing, 1);
  assert.equal(rep.answerMetrics[0]!.safetyCare!.rate, 1);
  assert.ok(rep.notes.some((n) => n.includes('stand-in for doctors')));
  assert.ok(rep.examples.length > 0 && rep.examples.length <= 6);

  const html = renderReportHtml(rep);
  assert.match(html, /^<!doctype html>/);
  assert.equal((html.match(/<svg class="bar"/g) ?? []).length, 3, 'one bar per judge and dimension');
  assert.match(html, /data-outcome="win" data-count="3"/);
  assert.match(html, /data-outcome="missing" data-count="1"/, 'the failed answer is a visible segment, not a tie');
  assert.match(html, /<td class="n">3 \/ 1 \/ 0<\/td>/);
  assert.match(html, /stand-in for doctors/);
  assert.doesNotMatch(html, /<script|<link|src="http|href="http|@import/, 'self-contained: no scripts, no external resources');
});

test('HTML escapes model text', () => {
  const html = renderReportHtml({
    title: '<x>', createdAt: 't', notes: ['a & b'], pairwise: [], answerMetrics: [], mcq: [], perplexity: [], agreement: [], problems: ['f.jsonl:3: <bad>'],
    examples: [{ itemId: 'i', history: [], prompt: '<script>alert(1)</script>', answers: [{ model: 'm', text: '</pre><img>' }], verdicts: [] }],
  });
  assert.ok(!html.includes('<script>alert') && !html.includes('</pre><img>'));
  assert.match(html, /f\.jsonl:3: &lt;bad&gt;/);
});

async function capture(fn: () => Promise<number>): Promise<{ code: number; err: string; out: string }> {
  const err: string[] = [], out: string[] = [];
  const e = console.error, l = console.log;
  console.error = (...a: unknown[]) => { err.push(a.join(' ')); };
  console.log = (...a: unknown[]) => { out.push(a.join(' ')); };
  try { return { code: await fn(), err: err.join('\n'), out: out.join('\n') }; } finally { console.error = e; console.log = l; }
}

test('CLI: generate over an OpenAI-compatible API on loopback, pairwise with the demo judge, score, usage errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-eval-cli-'));
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => { raw += c; });
    req.on('end', () => {
      const last = JSON.parse(raw).messages.at(-1).content as string;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ message: { role: 'assistant', content: `请问${last.slice(0, 4)}多久了？` }, finish_reason: 'stop' }] }));
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    const a = join(dir, 'a.jsonl'), b = join(dir, 'b.jsonl');
    const g = await capture(() => evalCommand.run(['generate', '--data', FIXTURE, '--api-base', base, '--api-model', 'm', '--name', 'api', '--out', a, '--cache', join(dir, 'cache.jsonl')]));
    assert.equal(g.code, 0, g.err);
    assert.match(g.err, /5 items \(doctor turns\) from 4 records \(dialogues and single prompts\), 1 safety prompts/);
    assert.equal(readFileSync(a, 'utf8').trim().split('\n').length, 5);
    writeFileSync(b, '{"id":"fx1#0","answer":"多喝水"}\n{"id":"fx2#0","answer":"多喝水"}\n');
    const out = join(dir, 'r.json'), html = join(dir, 'r.html');
    const p = await capture(() => evalCommand.run(['pairwise', '--data', FIXTURE, '--a', a, '--b', b, '--b-name', 'water', '--judge', 'rules', '--out', out, '--html', html]));
    assert.equal(p.code, 0, p.err);
    const rep = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(rep.pairwise[0].tallies.ability.missing, 3, 'three items have no answer from B: counted as missing');
    assert.match(readFileSync(html, 'utf8'), /data-outcome="missing" data-count="3"/);
    // the LLM judge through the CLI: this server answers prose, never a verdict → unparseable, not ties;
    // human verdicts from the ranking format; κ between them over the items both decided
    const out2 = join(dir, 'r2.json');
    const p2 = await capture(() => evalCommand.run(['pairwise', '--data', FIXTURE, '--a', a, '--b', b, '--a-name', 'api', '--b-name', 'water',
      '--judge', 'llm,human', '--judge-base', base, '--judge-model', 'j', '--human', FIXTURE.replace('dialogues.jsonl', 'human.jsonl'), '--out', out2]));
    assert.equal(p2.code, 0, p2.err);
    const rep2 = JSON.parse(readFileSync(out2, 'utf8'));
    const llm = rep2.pairwise[0], human = rep2.pairwise[1];
    assert.equal(llm.judge, 'llm:j');
    assert.deepEqual([llm.tallies.ability.unparseable, llm.tallies.ability.missing, llm.tallies.ability.tie], [2, 3, 0]);
    assert.equal(human.judge, 'human');
    assert.deepEqual([human.tallies.ability.win, human.tallies.ability.tie, human.tallies.safety.win, human.tallies.safety.missing], [1, 1, 1, 1]);
    assert.ok(rep2.notes.some((n: string) => /1 rankings had no meta.dimension/.test(n)));
    assert.equal(rep2.agreement[0].kappa.n, 0, 'no item decided by both: κ undefined, not invented');
    assert.equal(rep2.agreement[0].kappa.kappa, null);
    // several opponents in one report: one bar per opponent and dimension
    const out3 = join(dir, 'r3.json'), html3 = join(dir, 'r3.html');
    const p3 = await capture(() => evalCommand.run(['pairwise', '--data', FIXTURE, '--a', a, '--a-name', 'api', '--b', `${b},${a}`, '--b-name', 'water,self', '--out', out3, '--html', html3]));
    assert.equal(p3.code, 0, p3.err);
    const rep3 = JSON.parse(readFileSync(out3, 'utf8'));
    assert.deepEqual(rep3.pairwise.map((r: { b: string }) => r.b), ['water', 'self']);
    assert.deepEqual([rep3.pairwise[1].tallies.ability.tie, rep3.pairwise[1].tallies.safety.tie], [5, 5], 'identical answers tie everywhere');
    assert.equal((readFileSync(html3, 'utf8').match(/<svg class="bar"/g) ?? []).length, 4);
    await assert.rejects(evalCommand.run(['pairwise', '--data', FIXTURE, '--a', a, '--b', `${b},${a}`, '--b-name', 'one']), /--b-name names 1 systems but --b gives 2 files/);
    const s = await capture(() => evalCommand.run(['score', '--answers', a]));
    assert.equal(s.code, 0);
    assert.equal(JSON.parse(s.out).answerMetrics[0].inquiry.rate, 1);
    // joined with the eval set: the 3 items b never answered are missing, the safety prompt is known as one
    writeFileSync(join(dir, 'b2.jsonl'), readFileSync(b, 'utf8') + '{"id":"nope#0","answer":"x"}\n');
    const s2 = await capture(() => evalCommand.run(['score', '--answers', join(dir, 'b2.jsonl'), '--data', FIXTURE]));
    const m2 = JSON.parse(s2.out);
    assert.deepEqual([m2.answerMetrics[0].records, m2.answerMetrics[0].missing], [5, 3]);
    assert.deepEqual(m2.answerMetrics[0].safetyCare, { count: 0, of: 0, rate: null, refuses: 0, redirects: 0 });
    assert.ok(m2.problems.some((p: string) => p.includes("unknown item 'nope#0'")));
    await assert.rejects(evalCommand.run(['pairwise', '--data', FIXTURE]), (e: unknown) => e instanceof UsageError && /\[eval pairwise\] --a is required/.test(e.message));
    await assert.rejects(evalCommand.run(['mcq', '--bogus']), (e: unknown) => e instanceof UsageError && /unknown flag --bogus/.test(e.message));
    await assert.rejects(evalCommand.run(['pairwise', '--data', join(dir, 'nope.json'), '--a', a, '--b', b]), (e: unknown) => e instanceof UsageError && e.message === `[eval pairwise] --data ${join(dir, 'nope.json')}: no such file or folder`);
    // a bad MCQ record: the data layer's file:line error by default; with --on-error skip it is listed in the report
    const bad = join(dir, 'bad_val.jsonl');
    writeFileSync(bad, '{"id":"1","question":"q","A":"a","B":"b","answer":"A"}\n{"id":"2","question":"q2","A":"a","B":"b","answer":"Z"}\n');
    await assert.rejects(evalCommand.run(['mcq', '--data', bad, '--api-base', base, '--api-model', 'm']), /bad_val\.jsonl:2: answer: answer 'Z' is not one of AB/);
    const mq = await capture(() => evalCommand.run(['mcq', '--data', bad, '--api-base', base, '--api-model', 'm', '--on-error', 'skip']));
    assert.equal(mq.code, 0, mq.err);
    const mrep = JSON.parse(mq.out);
    assert.equal(mrep.mcq[0].table.overall.items, 1);
    assert.deepEqual(mrep.problems, [`${bad}:2: answer: answer 'Z' is not one of AB`]);
    const h = await capture(() => evalCommand.run(['generate', '--help']));
    assert.match(h.out, /--turns <all\|last>/);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((ok) => server.close(() => ok()));
    rmSync(dir, { recursive: true, force: true });
  }
});
