// mcq.test.ts — multiple-choice scoring on the real CMMLU and C-Eval medical subjects in ../shared/refdata (read in
// place, skipped when absent) with fake scorers: per-subject counts from the READMEs, gold letters, C-Eval's hidden
// test labels reported as missing, and the strict letter extractor (ambiguous answers are unparseable, counted wrong).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { extractChoice, loadMcq, mcqTable, scoreByExtraction, scoreByLogLikelihood, type McqItem } from '../../src/eval/mcq.js';

const REF = fileURLToPath(new URL('../../../../shared/refdata/', import.meta.url));
const CMMLU = REF + 'cmmlu/data', CEVAL = REF + 'ceval';

/** An oracle that knows the gold letter of each prompt and is right exactly on items with an even question length. */
function oracle(items: McqItem[]) {
  const gold = new Map<string, McqItem>();
  return {
    remember(p: string, it: McqItem) { gold.set(p, it); },
    ll: (prompt: string, letter: string) => {
      const it = gold.get(prompt)!;
      const right = it.question.length % 2 === 0 && !it.answerMissing ? it.answer! : it.options.find((o) => o.key !== it.answer)!.key;
      return letter === right ? -0.5 : -3;
    },
    expected: items.filter((it) => !it.answerMissing && it.question.length % 2 === 0).length,
  };
}

test('CMMLU medical test split: 1,815 items over 9 subjects, gold letters, per-subject and overall accuracy', async (t) => {
  if (!existsSync(CMMLU)) { t.skip('../shared/refdata/cmmlu is absent: CMMLU scoring not checked'); return; }
  const items = await loadMcq(CMMLU, { splits: ['test'] });
  assert.equal(items.length, 1815);
  const { mcqPrompt } = await import('../../src/eval/mcq.js');
  const o = oracle(items);
  for (const it of items) o.remember(mcqPrompt(it), it);
  const preds = await scoreByLogLikelihood(items, o.ll);
  const table = mcqTable(preds);
  assert.equal(table.rows.length, 9);
  assert.equal(table.rows.find((r) => r.subject === 'anatomy')!.items, 148);
  assert.equal(table.rows.find((r) => r.subject === 'professional_medicine')!.items, 376);
  assert.equal(table.overall.scored, 1815);
  assert.equal(table.overall.missingGold, 0);
  assert.equal(table.overall.correct, o.expected);
  assert.ok(o.expected > 0 && o.expected < 1815);
  assert.equal(table.overall.accuracy, o.expected / 1815);
  // the first anatomy test item: 女性生殖腺是 → options A..D, a letter answer
  const first = items.find((i) => i.subject === 'anatomy')!;
  assert.equal(first.question, '女性生殖腺是');
  assert.match(first.answer!, /^[A-D]$/);
  // dev exemplars are a separate split and stay out unless asked for
  assert.equal((await loadMcq(CMMLU)).length, 1815 + 45);
});

test('C-Eval: val gold answers scored, the 1,028 test items without labels reported as missing', async (t) => {
  if (!existsSync(CEVAL)) { t.skip('../shared/refdata/ceval is absent: C-Eval scoring not checked'); return; }
  const items = await loadMcq(CEVAL, { splits: ['val', 'test'] });
  assert.equal(items.length, 113 + 1028);
  // an API model that answers in text: B, phrased several ways, and one ambiguous reply per subject
  const { mcqPrompt } = await import('../../src/eval/mcq.js');
  const firstVal = new Set<string>();
  for (const subj of ['basic_medicine', 'clinical_medicine', 'physician', 'veterinary_medicine'])
    firstVal.add(mcqPrompt(items.find((i) => i.subject === subj && i.split === 'val')!));
  const phrasing = ['B', '答案：B', '正确答案是(B)', 'B. 因为……'];
  let k = 0;
  const preds = await scoreByExtraction(items, async (prompt) => {
    if (firstVal.has(prompt)) return '答案是A，或者选C';
    return phrasing[k++ % phrasing.length]!;
  }, { concurrency: 1 });
  const table = mcqTable(preds);
  assert.equal(table.overall.missingGold, 1028);
  assert.equal(table.overall.scored, 113);
  const rows = Object.fromEntries(table.rows.map((r) => [r.subject, r]));
  assert.deepEqual([rows.basic_medicine!.scored, rows.clinical_medicine!.scored, rows.physician!.scored, rows.veterinary_medicine!.scored], [19, 22, 49, 23]);
  assert.deepEqual([rows.basic_medicine!.missingGold, rows.clinical_medicine!.missingGold, rows.physician!.missingGold, rows.veterinary_medicine!.missingGold], [175, 200, 443, 210]);
  // the ambiguous reply went to the first (val) item of each subject: unparseable, counted wrong, not dropped
  assert.equal(table.overall.unparseable, 4);
  const goldB = preds.filter((p) => p.gold === 'B' && p.status === 'ok').length;
  assert.equal(table.overall.correct, goldB);
  assert.equal(table.overall.accuracy, goldB / 113);
});

test('extractChoice: one letter or a reason', () => {
  const keys = ['A', 'B', 'C', 'D'];
  for (const [s, l] of [['C', 'C'], ['（D）', 'D'], ['答案是A', 'A'], ['答案为：B。', 'B'], ['我选C', 'C'], ['B项正确', 'B'], ['A. 卵巢', 'A']] as const)
    assert.deepEqual(extractChoice(s, keys), { letter: l }, s);
  assert.deepEqual(extractChoice('答案是A，不对，应选B', keys), { why: 'several letters (A, B)' });
  assert.deepEqual(extractChoice('我不确定', keys), { why: 'no option letter found' });
  assert.deepEqual(extractChoice('答案：E', keys), { why: 'letter E is not an option (ABCD)' });
});

test('few-shot prompts: solved exemplars of the same subject from the dev split, then the question', async (t) => {
  const { fewShotPrompts, mcqPrompt } = await import('../../src/eval/mcq.js');
  const mk = (id: string, subject: string, q: string, answer?: string): McqItem => ({
    kind: 'choice', id, subject, question: q, options: [{ key: 'A', text: '甲' }, { key: 'B', text: '乙' }],
    answerMissing: answer === undefined, ...(answer ? { answer } : {}),
  });
  const p = fewShotPrompts([mk('d1', 's', '例一', 'B'), mk('d2', 's', '例二', 'A'), mk('d3', 'other', '别的', 'A')], 1)(mk('q', 's', '问题'));
  assert.equal(p, '以下是关于s的单项选择题，请直接给出正确答案的选项。\n\n例一\nA. 甲\nB. 乙\n答案：B\n\n问题\nA. 甲\nB. 乙\n答案：');
  assert.equal(fewShotPrompts([], 5)(mk('q', 's', '问题')), mcqPrompt(mk('q', 's', '问题')));
  if (!existsSync(CMMLU)) { t.skip('../shared/refdata/cmmlu is absent: 5-shot prompts on CMMLU not checked'); return; }
  const dev = await loadMcq(CMMLU, { splits: ['dev'] });
  assert.equal(dev.length, 45);
  const test1 = (await loadMcq(CMMLU, { splits: ['test'] })).find((i) => i.subject === 'virology')!;
  const prompt = fewShotPrompts(dev, 5)(test1);
  assert.equal((prompt.match(/答案：[A-D]\n\n/g) ?? []).length, 5);
  assert.ok(prompt.endsWith(`${test1.question}\n${test1.options.map((o) => `${o.key}. ${o.text}`).join('\n')}\n答案：`));
});
