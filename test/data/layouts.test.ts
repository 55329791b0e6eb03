// layouts.test.ts — dialogue layouts detected without flags, on fixtures written for these tests
// (test/data/fixtures): turn objects under any key with Chinese or English speaker labels, role-prefixed string
// lists, dialogues opening with the doctor, same-speaker merges and empty-turn drops (counted), inline histories,
// case-based QA, the pipeline's own JSONL, a missing field named, and ambiguous layouts that name the deciding flag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadFile } from '../../src/data/load.js';
import { parseRoles, toRecord } from '../../src/data/shapes.js';
import { writeJsonl } from '../../src/pipeline/context.js';
import type { Conversation, DataRecord } from '../../src/data/types.js';

const FIX = fileURLToPath(new URL('../../../test/data/fixtures/', import.meta.url));
const OLD = fileURLToPath(new URL('../../../test/fixtures/data/', import.meta.url));
const conv = (r: DataRecord) => r as Conversation;
const roles = (c: Conversation) => c.turns.map((t) => t.role[0]).join('');

test('turn objects with Chinese labels, opening with the doctor, merges and empty turns counted', async () => {
  const { records, report } = await loadFile(FIX + 'pediatric.json');
  assert.equal(report.rejected, 0);
  assert.deepEqual(report.shapes, { 'turn-objects': 2 });
  assert.deepEqual(report.layouts, { "turn objects under 'dialogue' (speaker 'speaker', text 'utterance')": 2 });
  const p1 = conv(records[0]!);
  // 医生 greeting kept; 家属×2 merged; the empty 家属 turn dropped
  assert.equal(roles(p1), 'auaua');
  assert.equal(p1.turns[1]!.text, '孩子发烧两天了\n最高三十九度');
  assert.equal(p1.turns[3]!.text, '没有抽搐，精神还行');
  assert.equal(p1.meta.id, 'p1');
  assert.equal(p1.meta.department, '儿科');
  assert.equal(report.turnsMerged, 1);
  assert.equal(report.dialoguesMerged, 1);
  assert.equal(report.emptyTurnsDropped, 1);
  assert.deepEqual(report.doctorFirst, { kept: 1, dropped: 0 });
  assert.deepEqual(report.roleLabels, {
    医生: { role: 'assistant', turns: 3 }, 家属: { role: 'user', turns: 4 }, 患者: { role: 'user', turns: 2 }, 大夫: { role: 'assistant', turns: 2 },
  });
  assert.equal(roles(conv(records[1]!)), 'uaua');
  const dropped = await loadFile(FIX + 'pediatric.json', { doctorFirst: 'drop' });
  assert.equal(roles(conv(dropped.records[0]!)), 'uaua');
  assert.deepEqual(dropped.report.doctorFirst, { kept: 0, dropped: 1 });
});

test('role-prefixed string lists: full- and half-width colons, 【】 labels, English labels, under a key or as the record', async () => {
  const { records, report } = await loadFile(FIX + 'prefixed.json', { onError: 'skip' });
  assert.equal(records.length, 3);
  assert.deepEqual(records.map((r) => roles(conv(r))), ['uaua', 'uaua', 'uaua']);
  assert.deepEqual(conv(records[0]!).turns.map((t) => t.text), ['我咳嗽一周了', '有痰吗？什么颜色？', '黄痰', '建议查血常规，必要时拍胸片。']);
  assert.equal(conv(records[1]!).turns[2]!.text, 'two weeks');
  assert.equal(conv(records[2]!).meta.id, 'x3');
  assert.equal(conv(records[2]!).turns[1]!.text, '吃饭后更明显吗？');
  assert.deepEqual(report.layouts, { 'role-prefixed strings as the record': 2, "role-prefixed strings under 'dialogue'": 1 });
  // an element without a label is an error at its index, not a guess
  assert.equal(report.problems.length, 1);
  assert.equal(report.problems[0]!.field, 'record[2]');
  assert.match(report.problems[0]!.reason, /no speaker label before a colon in '血压有点高'/);
  // a one-element list is one string (Huatuo-26M), even when it opens with a label
  assert.equal(toRecord({ instruction: ['大夫：我母亲一直出汗'], input: '', output: ['考虑自汗'] }).shape, 'alpaca');
});

test('English labels and turn objects beside other lists; inline histories; case-based QA → multi-turn', async () => {
  const en = await loadFile(FIX + 'english-turns.jsonl');
  assert.deepEqual(en.records.map((r) => roles(conv(r))), ['uau', 'ua']);
  assert.equal(en.report.roleLabels.Patient!.role, 'user');
  assert.equal(conv(en.records[0]!).meta.id, undefined, 'conversation_id is not a known id key: nothing invented');

  const inl = await loadFile(FIX + 'inline.jsonl');
  assert.deepEqual(inl.report.shapes, { 'inline-history': 2, text: 1 });
  assert.equal(roles(conv(inl.records[0]!)), 'uaua');
  assert.equal(conv(inl.records[0]!).turns[3]!.text, '建议复查并到内分泌科就诊。');
  assert.equal(roles(conv(inl.records[1]!)), 'uau');
  assert.equal(inl.records[2]!.kind, 'text', "a text opening with '医生：' is not a dialogue");

  const cq = await loadFile(FIX + 'case-qa.jsonl', { onError: 'skip' });
  assert.equal(cq.records.length, 2);
  const c1 = conv(cq.records[0]!);
  assert.deepEqual(c1.turns, [
    { role: 'user', text: '男，58岁，突发胸骨后压榨样疼痛2小时，伴大汗。\n最可能的诊断是什么？' },
    { role: 'assistant', text: '急性冠脉综合征可能性大，需立即做心电图。' },
    { role: 'user', text: '下一步如何处理？' },
    { role: 'assistant', text: '立即拨打120，急诊评估再灌注治疗。' },
  ]);
  assert.equal(c1.meta.extra?.title, '胸痛');
  assert.equal(roles(conv(cq.records[1]!)), 'ua');
  assert.deepEqual(cq.report.problems.map((p) => `${p.line}: ${p.field}: ${p.reason}`), ['3: QA_pairs[0]: answer missing (none of answer, solution, a, response, reference, 答案)']);
});

test('ambiguous layouts and unknown labels name the flag that decides; a missing field is named', async () => {
  const { report } = await loadFile(FIX + 'ambiguous.jsonl', { onError: 'skip' });
  const got = report.problems.map((p) => `${p.line}: ${p.field}: ${p.reason}`);
  assert.equal(got.length, 5);
  assert.match(got[0]!, /^1: turns: ambiguous text key: raw, clean could each be the turn text; pick one with --map speaker=who,text=KEY,turns=turns$/);
  assert.match(got[1]!, /^2: dialog\[\]\.spk: unknown speaker label 'Dr\. Li' \(name it with --roles 'Dr\. Li=user' or 'Dr\. Li=assistant'\)$/);
  assert.match(got[2]!, /^3: turns: several lists of turns \(first, second\); pick one with --map turns=KEY/);
  assert.equal(got[3], '4: instruction: missing (the record has the other alpaca fields: input, output)');
  assert.equal(got[4], '5: output: missing (the record has instruction, input)');
  // the flags the errors name do decide
  const a1 = toRecord({ turns: [{ who: 'patient', raw: '头疼', clean: '头疼' }, { who: 'doctor', raw: '多久了', clean: '多久了？' }] }, undefined,
    { map: { speaker: 'who', text: 'clean' } });
  assert.equal(conv(a1.record).turns[1]!.text, '多久了？');
  const a2 = toRecord({ dialog: [{ spk: 'Dr. Li', say: '哪里不舒服？' }, { spk: 'patient', say: '腰疼' }] }, undefined, { roles: parseRoles('Dr. Li=assistant') });
  assert.equal(roles(conv(a2.record)), 'au');
  assert.throws(() => parseRoles('主任=doctor'), /the role must be user, assistant or system/);
});

test("the pipeline's own JSONL (internal records) inspects cleanly and round-trips", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-layouts-'));
  try {
    const src = [...(await loadFile(OLD + 'packed.jsonl')).records, ...(await loadFile(OLD + 'ranking.jsonl', { onError: 'skip' })).records,
      ...(await loadFile(OLD + 'choice.jsonl', { onError: 'skip' })).records, { kind: 'text' as const, text: '发热是机体的防御反应。' }];
    writeJsonl(join(dir, 'all.jsonl'), src);
    const { records, report } = await loadFile(join(dir, 'all.jsonl'));
    assert.equal(report.rejected, 0);
    assert.deepEqual(report.shapes, { internal: src.length });
    const strip = (r: DataRecord) => { const { source: _s, ...rest } = r as DataRecord & { source?: unknown }; if (rest.kind === 'conversation') delete rest.meta.shape; return rest; };
    assert.deepEqual(records.map(strip), src.map(strip));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
