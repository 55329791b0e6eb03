// mcq-published.test.ts — published MCQ prediction files re-scored exactly, on fixtures written for these tests
// (test/eval/fixtures): one column per model in a CSV, a {model: prediction} dict with MedMCQA's 1-based cop, long
// rows with a model field; gold as letter, option key, option text and index; null / "None" / unreadable predictions
// counted wrong and listed; per-subject rows. Every expected number is worked out by hand in the comments.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { readPublishedMcq } from '../../src/eval/mcq-predictions.js';

const FIX = fileURLToPath(new URL('../../../test/eval/fixtures/', import.meta.url));

test('one prediction column per model: None, empty, free text and a non-option letter counted wrong and listed', async () => {
  const r = await readPublishedMcq(FIX + 'exam-wide.csv');
  assert.deepEqual(r.tables.map((t) => t.model), ['gpt-4', 'chatglm']);
  const [gpt, glm] = r.tables.map((t) => t.table);
  // gpt-4: A ✓, B ✓, 答案是B ✓, E (not an option) ✗, C ✓ → 4/5
  assert.deepEqual([gpt!.overall.items, gpt!.overall.scored, gpt!.overall.correct, gpt!.overall.unparseable], [5, 5, 4, 1]);
  assert.equal(gpt!.overall.accuracy, 0.8);
  assert.deepEqual(gpt!.rows.map((x) => [x.subject, x.correct, x.scored]), [['内科', 2, 2], ['外科', 2, 3]]);
  // chatglm: B ✗, None ✗, B ✓, (empty) ✗, 我不确定 ✗ → 1/5, three without a readable prediction
  assert.deepEqual([glm!.overall.correct, glm!.overall.unparseable], [1, 3]);
  assert.equal(glm!.overall.accuracy, 0.2);
  assert.ok(r.notes.some((n) => /column 'difficulty' not read as a model's predictions \(0 of 5 values name an option/.test(n)));
  const listed = r.problems.map((p) => p.replace(FIX, ''));
  assert.deepEqual(listed, [
    'exam-wide.csv:3: chatglm: no prediction ("None") — counted wrong',
    'exam-wide.csv:5: gpt-4: letter E is not an option (ABCD) — counted wrong',
    'exam-wide.csv:5: chatglm: no prediction ("") — counted wrong',
    'exam-wide.csv:6: chatglm: no option letter found — counted wrong',
  ]);
  // naming the columns overrides detection
  const forced = await readPublishedMcq(FIX + 'exam-wide.csv', { models: ['chatglm'] });
  assert.deepEqual(forced.tables.map((t) => t.model), ['chatglm']);
});

test('a {model: prediction} dict with 1-based cop gold; an option key and an option text as predictions', async () => {
  const r = await readPublishedMcq(FIX + 'medmcqa-dict.jsonl');
  const by = Object.fromEntries(r.tables.map((t) => [t.model, t.table]));
  // gold B, A, B. model-x: B ✓, opa → A ✓, C ✗ → 2/3. model-y: null ✗, option text → A ✓, absent ✗ → 1/3
  assert.deepEqual([by['model-x']!.overall.correct, by['model-x']!.overall.scored], [2, 3]);
  assert.deepEqual([by['model-y']!.overall.correct, by['model-y']!.overall.unparseable], [1, 2]);
  assert.deepEqual(by['model-y']!.rows.map((x) => [x.subject, x.items]), [['内分泌', 2], ['营养', 1]]);
  assert.equal(r.problems.filter((p) => /model-y: no prediction \((null|absent)\)/.test(p)).length, 2);
});

test('gold as option key, option text and index (which needs --gold-index); long rows with a model field', async () => {
  const r = await readPublishedMcq(FIX + 'gold-forms.jsonl');
  assert.deepEqual(r.tables.map((t) => t.model), ['m']);
  const t = r.tables[0]!.table;
  // g1 option_a → A, pred A ✓; g2 option text, pred 'A. text' ✓; g3 numeric gold unreadable without a base; g4 pred "null" ✗
  assert.deepEqual([t.overall.items, t.overall.scored, t.overall.missingGold, t.overall.correct], [4, 3, 1, 2]);
  assert.ok(r.problems.some((p) => /gold-forms\.jsonl:3: answer: numeric answer 0: is it 0- or 1-based\? pass --gold-index 0 or --gold-index 1/.test(p)));
  const z = (await readPublishedMcq(FIX + 'gold-forms.jsonl', { goldIndexBase: 0 })).tables[0]!.table;
  // with 0-based indices g3's gold is A and its prediction "1" is B ✗ → 2 of 4
  assert.deepEqual([z.overall.scored, z.overall.correct, z.overall.accuracy], [4, 2, 0.5]);
});
