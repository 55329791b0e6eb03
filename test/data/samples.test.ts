// samples.test.ts — packing, SFT loss masks through a tiny fake chat encoder, preference pairs from rankings, and
// the seeded split that never puts one dialogue on both sides.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeSft, encodeSftAll, packBlocks, pairsFromRanking, splitOf, splitRecords, type ChatEncoder, type SftCounts } from '../../src/data/samples.js';
import type { Conversation, PreferenceSet } from '../../src/data/types.js';

/** headers: system 1, user 2, assistant 3; end of turn 4; characters as code points + 100. */
const fake: ChatEncoder = {
  encodeChat(messages) {
    const ids: number[] = [], assistantMask: boolean[] = [];
    for (const m of messages) {
      ids.push({ system: 1, user: 2, assistant: 3 }[m.role]); assistantMask.push(false);
      for (const ch of m.content) { ids.push(ch.codePointAt(0)! + 100); assistantMask.push(m.role === 'assistant'); }
      ids.push(4); assistantMask.push(m.role === 'assistant');
    }
    return { ids, assistantMask };
  },
};
const c = (o: string) => o.codePointAt(0)! + 100;

const conv: Conversation = {
  kind: 'conversation', meta: { id: 'd1' },
  turns: [{ role: 'user', text: '痛' }, { role: 'assistant', text: '哪' }, { role: 'user', text: '头' }, { role: 'assistant', text: '多久' }],
};

test('SFT: loss on every assistant turn, or on the last only; prompts and overlong samples skipped', () => {
  const all = encodeSft(conv, fake)!;
  assert.deepEqual(all.ids, [2, c('痛'), 4, 3, c('哪'), 4, 2, c('头'), 4, 3, c('多'), c('久'), 4]);
  assert.deepEqual(all.lossMask.map(Number), [0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 1]);
  const last = encodeSft(conv, fake, { lossOn: 'last' })!;
  assert.deepEqual(last.lossMask.map(Number), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
  const prompt: Conversation = { ...conv, turns: conv.turns.slice(0, 3) };
  assert.equal(encodeSft(prompt, fake), null);
  assert.equal(encodeSft(conv, fake, { maxTokens: 8 }), null);
  const cut = encodeSft(conv, fake, { maxTokens: 8, truncate: 'right' })!;
  assert.equal(cut.ids.length, 8);
  assert.deepEqual(cut.lossMask.map(Number), [0, 0, 0, 0, 1, 1, 0, 0]);
  assert.equal(encodeSft(conv, fake, { maxTokens: 4, truncate: 'right' }), null, 'nothing left to learn');
  // a stream with counts: in = samples + skipped
  const counts: SftCounts = { recordsIn: 0, samples: 0, skipped: { notConversation: 0, noAnswer: 0, tooLong: 0 } };
  const long: Conversation = { ...conv, turns: [{ role: 'user', text: '长' }, { role: 'assistant', text: '很'.repeat(50) }] };
  const out = [...encodeSftAll([conv, prompt, long, { kind: 'text', text: 'x' }], fake, { maxTokens: 20 }, counts)];
  assert.equal(out.length, 1);
  assert.deepEqual(counts, { recordsIn: 4, samples: 1, skipped: { notConversation: 1, noAnswer: 1, tooLong: 1 } });
});

test('pre-training packing: separators between documents, fixed blocks, tail dropped or padded', () => {
  const docs = [[1, 2, 3], [], [4, 5], [6, 7, 8, 9]];
  const blocks = [...packBlocks(docs, { blockSize: 4, separatorId: 0 })].map((b) => [...b]);
  assert.deepEqual(blocks, [[1, 2, 3, 0], [4, 5, 0, 6], [7, 8, 9, 0]]);
  const padded = [...packBlocks([[1, 2, 3, 4, 5]], { blockSize: 4, separatorId: 0, tail: 'pad', padId: -1 })].map((b) => [...b]);
  assert.deepEqual(padded, [[1, 2, 3, 4], [5, 0, -1, -1]]);
  assert.throws(() => [...packBlocks(docs, { blockSize: 0, separatorId: 0 })], /\[packBlocks\] blockSize must be > 0/);
});

test('preference pairs: all ordered pairs across groups, ties skipped, optional margin and gap', () => {
  const s: PreferenceSet = {
    kind: 'preference', id: 'p', history: [{ role: 'user', text: 'h' }, { role: 'assistant', text: 'a' }], prompt: 'q',
    candidates: ['A', 'B', 'C', 'D'].map((t, i) => ({ id: `c${i}`, text: t })),
    ranking: [['c2'], ['c0', 'c3'], ['c1']],
  };
  const p = pairsFromRanking(s);
  assert.deepEqual(p.map((x) => x.chosen + '>' + x.rejected), ['C>A', 'C>D', 'C>B', 'A>B', 'D>B']);
  assert.deepEqual(p[0]!.context.map((t) => t.text), ['h', 'a', 'q']);
  assert.deepEqual(pairsFromRanking(s, { marginScale: 0.5 }).map((x) => x.margin), [0.5, 0.5, 1, 0.5, 0.5]);
  assert.deepEqual(pairsFromRanking(s, { minGap: 2 }).map((x) => x.chosen + '>' + x.rejected), ['C>B']);
  assert.deepEqual(pairsFromRanking({ ...s, ranking: [] }), []);
  assert.deepEqual(pairsFromRanking({ ...s, ranking: [['c0', 'c1', 'c2', 'c3']] }), []);
});

test('train/dev split: deterministic for a seed, about the requested share, no dialogue on both sides', () => {
  const recs: Conversation[] = [];
  for (let d = 0; d < 500; d++) for (let k = 0; k < 3; k++)
    recs.push({ kind: 'conversation', meta: { id: `d${d}` }, turns: [{ role: 'user', text: `q${d}.${k}` }, { role: 'assistant', text: 'a' }] });
  const a = splitRecords(recs, 0.1, 42), b = splitRecords(recs, 0.1, 42), c2 = splitRecords(recs, 0.1, 43);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.dev.map((r) => r.meta.id), c2.dev.map((r) => r.meta.id));
  const trainIds = new Set(a.train.map((r) => r.meta.id));
  assert.ok(a.dev.every((r) => !trainIds.has(r.meta.id)));
  assert.ok(a.dev.length > 90 && a.dev.length < 210, `dev ${a.dev.length}`);
  assert.equal(a.dev.length % 3, 0, 'whole dialogues');
  // without ids, the opening patient turn keys the dialogue
  const x: Conversation = { kind: 'conversation', meta: {}, turns: [{ role: 'user', text: '同一开场' }, { role: 'assistant', text: '1' }] };
  const y: Conversation = { kind: 'conversation', meta: {}, turns: [{ role: 'user', text: '同一开场' }, { role: 'assistant', text: '2' }, { role: 'user', text: '3' }, { role: 'assistant', text: '4' }] };
  for (let seed = 0; seed < 50; seed++) assert.equal(splitOf(x, 0.5, seed), splitOf(y, 0.5, seed));
});
