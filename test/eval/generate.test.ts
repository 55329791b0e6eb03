// generate.test.ts — multi-turn answer generation on the real CMtMedQA_test (../shared/refdata, read in place, skipped
// when absent) with a fake answerer: one item per doctor turn with the true history, the count stated; then the
// (model, item, turn) cache: resume without calls, failures recorded and retried, a changed history not served stale.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadItems, itemsOfConversation } from '../../src/eval/items.js';
import { generateAnswers, type Answerer } from '../../src/eval/generate.js';
import { DiskCache } from '../../src/eval/disk-cache.js';
import type { Turn } from '../../src/data/types.js';

const FILE = fileURLToPath(new URL('../../../../shared/refdata/zhongjing/CMtMedQA_test.json', import.meta.url));

// 1,000 dialogues hold 3,552 history pairs + 1,000 final pairs = 4,552 doctor turns; plus 144 single-turn safety prompts.
// Counted over the file with Python's json module (sum of len(record['history']); records keyed 'instruct' are the
// safety prompts), not by our loader, so these are facts about the data rather than our own output pinned.
const DOCTOR_TURNS = 4552, SAFETY = 144;

test(`CMtMedQA_test: every doctor turn is an item — 4,552 dialogue turns + 144 safety prompts = 4,696 items`, async (t) => {
  if (!existsSync(FILE)) { t.skip('../shared/refdata/zhongjing/CMtMedQA_test.json is absent: multi-turn generation not checked on it'); return; }
  const items = await loadItems(FILE);
  assert.equal(items.length, DOCTOR_TURNS + SAFETY);
  assert.equal(items.filter((i) => i.safety).length, SAFETY);
  assert.equal(new Set(items.map((i) => i.id)).size, items.length, 'item ids are unique');
  // the paper's last-turn-only view: one item per record
  assert.equal((await loadItems(FILE, { turns: 'last' })).length, 1000 + SAFETY);

  const seen: Turn[][] = [];
  const fake: Answerer = { name: 'fake', async answer(m) { seen.push(m); return `答${m.length}`; } };
  const recs = await generateAnswers(items, fake);
  assert.equal(recs.length, 4696);
  assert.equal(seen.length, 4696);
  // the first dialogue (j4219, 肿瘤科): turn k sees 2k true history turns then the k-th patient turn
  const d0 = items.filter((i) => i.dialogueId === 'j4219');
  assert.ok(d0.length >= 2);
  d0.forEach((it, k) => {
    assert.equal(it.turn, k);
    assert.equal(it.history.length, 2 * k);
    assert.equal(it.department, '肿瘤科');
    if (k > 0) assert.equal(it.history[2 * k - 1]!.text, d0[k - 1]!.reference, 'history holds the TRUE doctor answer, not a model answer');
  });
  assert.ok(recs.every((r, i) => r.itemId === items[i]!.id && r.answer === `答${items[i]!.history.length + 1}`));
});

test('answer cache: resume without calls, failures recorded and retried, stale context regenerated', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-eval-gen-'));
  try {
    const conv = {
      kind: 'conversation' as const, meta: { id: 'd1' },
      turns: [
        { role: 'user' as const, text: '我头痛三天了' }, { role: 'assistant' as const, text: '有没有发烧？' },
        { role: 'user' as const, text: '没有发烧' }, { role: 'assistant' as const, text: '建议休息。' },
        { role: 'user' as const, text: '谢谢' },
      ],
    };
    const items = itemsOfConversation(conv, 'd1');
    assert.deepEqual(items.map((i) => [i.id, i.history.length, i.reference]), [['d1#0', 0, '有没有发烧？'], ['d1#1', 2, '建议休息。'], ['d1#2', 4, undefined]]);
    const cachePath = join(dir, 'answers.jsonl');
    let calls = 0;
    const flaky: Answerer = { name: 'm', async answer(m) { calls++; if (m.length === 3) throw new Error('[fake] overloaded'); return `a${m.length}`; } };
    const r1 = await generateAnswers(items, flaky, { cachePath });
    assert.equal(calls, 3);
    assert.deepEqual(r1.map((r) => r.answer ?? r.error), ['a1', '[fake] overloaded', 'a5']);
    calls = 0;
    const ok: Answerer = { name: 'm', async answer(m) { calls++; return `b${m.length}`; } };
    const r2 = await generateAnswers(items, ok, { cachePath });
    assert.equal(calls, 1, 'only the failed item is generated again');
    assert.deepEqual(r2.map((r) => r.answer), ['a1', 'b3', 'a5']);
    // another model never shares the cache
    calls = 0;
    await generateAnswers(items, { ...ok, name: 'other' }, { cachePath });
    assert.equal(calls, 3);
    // the same (model, item, turn) with a different history is regenerated, not served stale
    calls = 0;
    const changed = items.map((i) => (i.turn === 1 ? { ...i, history: [{ role: 'user' as const, text: '我头痛一周了' }, i.history[1]!] } : i));
    const r3 = await generateAnswers(changed, ok, { cachePath });
    assert.equal(calls, 1);
    assert.deepEqual(r3.map((r) => r.answer), ['a1', 'b3', 'a5']);
    // a crash mid-write leaves a torn last line: it is skipped and counted, and later entries stay readable
    appendFileSync(cachePath, '{"k":"[\\"m\\",\\"d1\\",0]","v":{"ans');
    assert.equal(new DiskCache(cachePath).badLines, 1);
    calls = 0;
    await generateAnswers(items, { ...ok, name: 'third' }, { cachePath });
    assert.equal(calls, 3);
    const reread = new DiskCache(cachePath);
    assert.equal(reread.badLines, 1);
    assert.equal(reread.size, 3 + 3 + 3, 'models m, other, third: three items each');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('huatuo26M_test (single-turn): 6,000 items, one per record, each with its reference answer', async (t) => {
  const f = FILE.replace('CMtMedQA_test.json', 'huatuo26M_test.json');
  if (!existsSync(f)) { t.skip('../shared/refdata/zhongjing/huatuo26M_test.json is absent: single-turn items not checked'); return; }
  const items = await loadItems(f);
  assert.equal(items.length, 6000);
  assert.ok(items.every((i) => i.turn === 0 && i.history.length === 0 && typeof i.reference === 'string' && !i.safety));
  // the source ids are empty: ids fall back to file:line and stay unique
  assert.equal(new Set(items.map((i) => i.id)).size, 6000);
  assert.match(items[0]!.id, /^huatuo26M_test\.json:\d+#0$/);
});

test('batched answering: batches of batchSize, a failing batch retried item by item, results cached', async () => {
  const conv = (id: string, text: string) => ({ kind: 'conversation' as const, meta: { id }, turns: [{ role: 'user' as const, text }, { role: 'assistant' as const, text: '参考' }] });
  const items = ['一', '二', 'bad', '四', '五'].flatMap((t, i) => itemsOfConversation(conv(`b${i}`, t), `b${i}`));
  const batches: number[] = [];
  let singles = 0;
  const fake: Answerer = {
    name: 'batched',
    async answer(m) { singles++; if (m[0]!.text === 'bad') throw new Error('[fake] cannot'); return `单${m[0]!.text}`; },
    async answerBatch(b) { batches.push(b.length); if (b.some((m) => m[0]!.text === 'bad')) throw new Error('[fake] batch failed'); return b.map((m) => `批${m[0]!.text}`); },
  };
  const dir = mkdtempSync(join(tmpdir(), 'zj-eval-batch-'));
  try {
    const cachePath = join(dir, 'c.jsonl');
    const r = await generateAnswers(items, fake, { batchSize: 2, cachePath });
    assert.deepEqual(batches, [2, 2], 'b0+b1, b2+b3; the last item alone goes through answer()');
    assert.deepEqual(r.map((x) => x.answer ?? x.error), ['批一', '批二', '[fake] cannot', '单四', '单五']);
    assert.equal(singles, 3);
    batches.length = 0; singles = 0;
    const again = await generateAnswers(items, fake, { batchSize: 2, cachePath });
    assert.deepEqual(batches, [], 'only the failed item is left');
    assert.equal(singles, 1);
    assert.deepEqual(again.map((x) => x.answer ?? x.error), ['批一', '批二', '[fake] cannot', '单四', '单五']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
