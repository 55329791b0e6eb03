// judge-answer-sets.test.ts — the library call behind `eval pairwise` and compareModels: one bar per opponent and
// judge, doctors' rankings as a judge (only ranked items counted), agreement between judges of the same pair, answer
// metrics for every system; and joinAnswersWithItems (behind `eval score --data`) making the eval set the denominator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeAnswerSets, joinAnswersWithItems, type PairJudge } from '../../src/eval/index.js';
import type { AnswerRecord, EvalItem } from '../../src/eval/types.js';
import type { PreferenceSet } from '../../src/data/types.js';

const items: EvalItem[] = ['d1', 'd2', 'd3'].map((d) => ({ id: `${d}#0`, dialogueId: d, turn: 0, history: [], prompt: `${d} 咳嗽三天`, safety: d === 'd3' }));
const answers = (model: string, text: (i: number) => string): AnswerRecord[] => items.map((it, i) => ({ itemId: it.id, model, answer: text(i) }));

/** A judge that prefers the longer answer on both dimensions. */
const longer: PairJudge = {
  name: 'longer',
  dimensions: ['ability', 'safety'],
  async judge(item, a, b) {
    const o = a.length > b.length ? 'win' : a.length < b.length ? 'loss' : 'tie';
    return { itemId: item.id, outcomes: { ability: o, safety: o } };
  },
};

test('judgeAnswerSets: a bar per opponent and judge, human rankings counted only where ranked, agreement, metrics', async () => {
  const a = { name: 'A', answers: answers('A', () => '请问咳嗽有痰吗？体温多少？') };
  const b1 = { name: 'B1', answers: answers('B1', () => '多喝水') };
  const b2 = { name: 'B2', answers: answers('B2', (i) => (i === 0 ? '请问咳嗽有痰吗？体温多少度？有没有胸痛？' : '休息')) };
  const ranking: PreferenceSet = {
    kind: 'preference', id: 'd1#0', history: [], prompt: items[0]!.prompt, meta: { dimension: 'ability' },
    candidates: [{ id: 'x', text: '', source: 'A' }, { id: 'y', text: '', source: 'B1' }], ranking: [['x'], ['y']],
  };
  const report = await judgeAnswerSets({ items, a, opponents: [b1, b2], judges: [longer, { human: [ranking] }], problems: ['f:1: bad'] });
  assert.deepEqual(report.pairwise.map((r) => `${r.a}/${r.b}/${r.judge}`), ['A/B1/longer', 'A/B1/human', 'A/B2/longer', 'A/B2/human']);
  const t = (i: number) => report.pairwise[i]!.tallies.ability!;
  assert.deepEqual([t(0).win, t(0).loss], [3, 0]);
  assert.deepEqual([t(2).win, t(2).loss], [2, 1], 'B2 is longer on the first item');
  assert.equal(t(1).win, 1, 'the one ranked item is a win for A');
  assert.equal(t(1).total, 1, 'unranked items are not missing answers');
  assert.equal(t(3).win + t(3).tie + t(3).loss, 0, 'nobody ranked A against B2: no decided verdict');
  assert.ok(report.agreement.some((k) => k.judges.join() === 'longer,human' && k.dimension === 'ability'));
  assert.deepEqual(report.answerMetrics.map((m) => m.model), ['A', 'B1', 'B2']);
  assert.deepEqual(report.problems, ['f:1: bad']);
  assert.equal(report.title, 'A vs B1, B2');
});

test('joinAnswersWithItems: unknown ids are problems, unanswered items become missing answers, safety from the set', () => {
  const recs: AnswerRecord[] = [{ itemId: 'd1#0', model: 'm', answer: 'x' }, { itemId: 'nope#0', model: 'm', answer: 'y' }, { itemId: 'd3#0', model: 'm', answer: 'z' }];
  const j = joinAnswersWithItems(recs, items, 'ans.jsonl');
  assert.deepEqual(j.problems, ["ans.jsonl: answer for unknown item 'nope#0'"]);
  assert.deepEqual(j.records.map((r) => r.itemId).sort(), ['d1#0', 'd2#0', 'd3#0']);
  assert.equal(j.records.find((r) => r.itemId === 'd2#0')!.error, 'no answer in the file');
  assert.equal(j.records.find((r) => r.itemId === 'd3#0')!.safety, true);
});
