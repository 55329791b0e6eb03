// demo-consult-cases.test.ts — the pipeline's simulated-patient cases from the demo corpus: openings are held-out
// dialogues' first turns that no training dialogue opens with, facts are the condition's KB questions, red flags ride
// on every other case; replaying a held-out consultation's own doctor turns elicits the facts those turns ask about;
// a batched consultation loop gives the same outcomes as one case at a time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateDemo, sizePresets } from '../../src/data/demo/index.js';
import { conditions } from '../../src/data/demo/kb.js';
import { splitRecords } from '../../src/data/index.js';
import { demoConsultCases } from '../../src/eval/demo-consult-cases.js';
import { rulePatient, runConsult, type ConsultCase } from '../../src/eval/consult.js';
import type { Answerer } from '../../src/eval/generate.js';
import type { Conversation, Turn } from '../../src/data/types.js';

const d = generateDemo(5, sizePresets.tiny);
const { train, dev } = splitRecords([...d.qa, ...d.consultations, ...d.safety], 0.3, 5);

test('cases come from held-out consultations and the knowledge base', () => {
  // one training dialogue that opens like a held-out one: that opening is left out
  const devConsults = dev.filter((c) => c.turns.filter((t) => t.role === 'assistant').length >= 2 && !c.meta.safety);
  assert.ok(devConsults.length >= 3, 'test premise: held-out consultations');
  const copy: Conversation = { ...devConsults[0]!, meta: { id: 'copy' } };
  const { cases, source } = demoConsultCases(dev, [...train, copy], 100);
  assert.equal(source.seenOpenings, 1);
  assert.equal(cases.length, devConsults.length - 1);
  const trainOpenings = new Set(train.map((c) => c.turns[0]!.text));
  cases.forEach((c, i) => {
    const from = devConsults.find((x) => `consult-${x.meta.id}` === c.id)!;
    assert.equal(c.opening, from.turns[0]!.text);
    assert.ok(!trainOpenings.has(c.opening));
    const kb = conditions.find((k) => k.id === from.meta.extra!.condition)!;
    const plain = c.facts.filter((f) => !f.redFlag);
    assert.equal(plain.length, kb.questions.length);
    plain.forEach((f, j) => assert.ok(kb.questions[j]!.answers.some((a) => a.startsWith(f.answer)), `${c.id}: ${f.answer}`));
    const flags = c.facts.filter((f) => f.redFlag);
    assert.equal(flags.length, i % 2, 'a red flag on every other case');
    if (flags.length) assert.ok(kb.redFlags.some((r) => flags[0]!.answer.endsWith(r)));
  });
  assert.equal(demoConsultCases(dev, train, 2).cases.length, 2, 'at most n cases');
});

test('replaying a held-out consultation\'s doctor turns elicits the KB facts those turns ask about', async () => {
  const devConsults = dev.filter((c) => c.turns.filter((t) => t.role === 'assistant').length >= 2 && !c.meta.safety);
  const { cases } = demoConsultCases(dev, train, 100);
  for (const [i, c] of cases.entries()) {
    const from = devConsults.find((x) => `consult-${x.meta.id}` === c.id)!;
    const doctorTurns = from.turns.filter((t) => t.role === 'assistant').map((t) => t.text);
    let k = 0;
    const replay: Answerer = { name: 'replay', async answer() { return doctorTurns[k++]!; } };
    const [r] = await runConsult([c], replay, rulePatient(), { maxTurns: 4 });
    assert.equal(r!.turnsToAdvice, doctorTurns.length, `${c.id}: advice in the last doctor turn`);
    // the demo's doctor asks two or three of the condition's questions (generate.ts), each one a fact here
    const kb = conditions.find((x) => x.id === from.meta.extra!.condition)!;
    const askedInDialogue = kb.questions.map((q, j) => (doctorTurns.some((t) => t.includes(q.ask)) ? `q${j}` : null)).filter((x) => x !== null);
    assert.ok(askedInDialogue.length >= 2);
    for (const id of askedInDialogue) assert.ok(r!.factsElicited.includes(id!), `${c.id}: fact ${id} asked in '${doctorTurns.join(' / ')}' was elicited`);
    if (i % 2 === 1 && askedInDialogue.includes('q0')) assert.notEqual(r!.redFlag, 'missed', `${c.id}: told with q0's answer`);
  }
});

test('a batched consultation loop gives the outcomes of the one-at-a-time loop', async () => {
  const { cases } = demoConsultCases(dev, train, 100);
  // a deterministic doctor: asks the case's next unanswered-looking question by the number of its own turns so far
  const reply = (turns: Turn[]) => {
    const n = turns.filter((t) => t.role === 'assistant').length, first = turns[0]!.text.length;
    return n >= (first % 3) + 1 ? '建议您多休息，如有加重请及时就医。' : n === 0 ? '有没有发烧？多长时间了？' : '以前有没有诊断过？平时饮食习惯怎么样？';
  };
  const batchCalls: number[] = [];
  const doctor: Answerer = {
    name: 'det', async answer(m) { return reply(m); },
    async answerBatch(b) { batchCalls.push(b.length); return b.map(reply); },
  };
  const one = await runConsult(cases, doctor, rulePatient(), { maxTurns: 4 });
  assert.equal(batchCalls.length, 0, 'batchSize 1: no batch calls');
  const many = await runConsult(cases, doctor, rulePatient(), { maxTurns: 4, batchSize: 3 });
  assert.deepEqual(many, one);
  assert.ok(batchCalls.length > 0 && Math.max(...batchCalls) === Math.min(3, cases.length));
  const broken: Answerer = { name: 'broken', async answer() { return ''; }, async answerBatch(b) { return b.slice(1).map(() => '好的。'); } };
  const bad = await runConsult(cases.slice(0, 2), broken, rulePatient(), { batchSize: 2 });
  for (const e of bad) assert.match(e.error ?? '', /returned 1 answers for 2 cases/, 'a short batch fails every case in it');
});
