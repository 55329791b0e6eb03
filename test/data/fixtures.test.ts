// fixtures.test.ts — malformed and edge-case files written for these tests (test/fixtures/data): every problem is
// reported as file:line: field: reason, nothing is dropped silently, and the reject policy behaves as documented.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadFile } from '../../src/data/load.js';
import { DataError } from '../../src/data/errors.js';
import { readRaw } from '../../src/data/readers.js';
import { parseTurnMap, toRecord } from '../../src/data/shapes.js';
import type { Conversation, MultipleChoice, PreferenceSet, PlainText } from '../../src/data/types.js';

const FIX = fileURLToPath(new URL('../../../test/fixtures/data/', import.meta.url));
const f = (n: string) => FIX + n;

test('truncated JSON array: a DataError at the line where the unclosed element starts', async () => {
  await assert.rejects(loadFile(f('truncated.json'), { onError: 'skip' }), (e: unknown) => {
    assert.ok(e instanceof DataError);
    assert.equal(e.problem.line, 3);
    assert.match(e.message, /truncated\.json:3: json: truncated: the element starting at line 3 never closes/);
    return true;
  });
  // small chunks must give the same answer
  await assert.rejects(loadFile(f('truncated.json'), { onError: 'skip', chunkBytes: 5 }), /truncated\.json:3: json: truncated/);
  await assert.rejects(loadFile(f('trailing-garbage.json')), /trailing-garbage\.json:2: json: unexpected '\{' after the end/);
});

test('wrong types: each record rejected with file:line: field: reason; in = out + rejected', async () => {
  const { records, report } = await loadFile(f('wrong-types.jsonl'), { onError: 'skip' });
  assert.equal(records.length, 1);
  assert.equal(report.recordsIn, 7);
  assert.equal(report.rejected, 6);
  const got = report.problems.map((p) => `${p.line}: ${p.field}: ${p.reason}`);
  assert.deepEqual(got, [
    '2: output: expected a string, got number',
    '3: history: expected a list of [patient, doctor] pairs, got string',
    '4: history[0]: expected a [patient, doctor] pair, got 1 items',
    '5: conversations[1].value: expected a string, got array',
    "6: messages[1].role: unknown speaker 'robot' (name it with --roles 'robot=user' or 'robot=assistant')",
    '7: instruction: list of 2 values; expected one string (refusing to pick or join)',
  ]);
  assert.ok(report.problems.every((p) => p.file === f('wrong-types.jsonl')));
});

test('empty turns are dropped and counted; records without a prompt or answer are rejected; policy above 1 %', async () => {
  const { records, report } = await loadFile(f('empty-turns.jsonl'), { onError: 'skip' });
  assert.deepEqual(report.problems.map((p) => `${p.line}: ${p.field}: ${p.reason}`), [
    '2: instruction: empty instruction',
    '3: output: empty answer',
  ]);
  assert.equal(report.recordsOut, 3);
  assert.equal(report.emptyTurnsDropped, 2, "line 1's blank doctor turn and line 4's blank patient turn");
  // line 1 loses its only doctor turn: a prompt without an answer, not a dialogue with an empty answer
  assert.deepEqual((records[0] as Conversation).turns, [{ role: 'user', text: '腹泻两天' }]);
  // line 4: the history pair's patient side is empty, so the dialogue opens with the doctor (kept, counted)
  assert.deepEqual((records[1] as Conversation).turns.map((t) => t.role), ['assistant', 'user', 'assistant']);
  assert.equal(report.doctorFirst.kept, 1);
  await assert.rejects(loadFile(f('empty-turns.jsonl')), (e: unknown) =>
    e instanceof DataError && /empty-turns\.jsonl:2: policy: 2 of 5 records rejected \(> 1 %/.test(e.message));
  await assert.rejects(loadFile(f('empty-turns.jsonl'), { onError: 'fail' }), /empty-turns\.jsonl:2: instruction: empty instruction/);
  const lenient = await loadFile(f('empty-turns.jsonl'), { maxRejectFraction: 0.9 });
  assert.equal(lenient.report.rejected, 2);
});

test('undecodable bytes: the bad line is reported with file:line, the others load', async () => {
  const { records, report } = await loadFile(f('undecodable.jsonl'), { onError: 'skip' });
  assert.equal(report.encoding, 'utf-8');
  assert.equal(records.length, 3);
  assert.equal(report.problems.length, 1);
  assert.equal(report.problems[0]!.line, 3);
  assert.equal(report.problems[0]!.field, 'encoding');
  // read as a JSON array scan, the same bytes stop the file at the right line
  await assert.rejects(loadFile(f('undecodable.jsonl'), { format: 'json' }), /undecodable\.jsonl:\d+: json:/);
});

test('UTF-8 BOM, CRLF and quoted CSV fields with embedded newlines and doubled quotes', async () => {
  const { records, report } = await loadFile(f('bom-crlf.csv'));
  assert.equal(report.encoding, 'utf-8-bom');
  assert.equal(records.length, 2);
  const c = records[0] as Conversation;
  assert.equal(c.meta.department, '儿科');
  assert.equal(c.turns[0]!.text, '孩子发烧38.5度，\n精神还好，要紧吗？');
  assert.equal(c.turns[1]!.text, '请问发烧几天了？有没有"抽搐"？');
  assert.equal(c.source!.line, 2);
  assert.equal(records[1]!.source!.line, 4, 'the embedded newline counts as a line');
});

test('GB18030 detection for TSV and text (incl. a 4-byte sequence); explicit encoding override', async () => {
  const t = await loadFile(f('gb18030.tsv'));
  assert.equal(t.report.encoding, 'gb18030');
  assert.equal((t.records[0] as Conversation).turns[0]!.text, '血压150/95要吃药吗？');
  const x = await loadFile(f('gb18030.txt'));
  assert.deepEqual(x.records.map((r) => (r as PlainText).text), ['伤寒论', '太阳之为病，脉浮、头项强痛而恶寒。', '𠀀 生僻字测试']);
  const para = await loadFile(f('gb18030.txt'), { textUnit: 'paragraph' });
  assert.equal(para.records.length, 2);
  // forcing UTF-8 on GB18030 bytes: every line reported, not mis-decoded
  const forced = await loadFile(f('gb18030.txt'), { encoding: 'utf-8', onError: 'skip' });
  assert.equal(forced.records.length, 0);
  assert.equal(forced.report.rejected, 3);
});

test('packed histories (病人/医生, 患者/医生, <user>/<bot>) and consecutive same-speaker turns merged', async () => {
  const { records } = await loadFile(f('packed.jsonl'));
  const c = records as Conversation[];
  assert.deepEqual(c[0]!.turns, [
    { role: 'user', text: '我头痛' }, { role: 'assistant', text: '痛了多久？' },
    { role: 'user', text: '两天了\n还有点恶心' }, { role: 'assistant', text: '有没有发烧？' },
  ]);
  assert.deepEqual(c[1]!.turns.map((t) => t.role), ['user', 'assistant', 'user', 'assistant']);
  assert.equal(c[1]!.turns[2]!.text, '7.8');
  assert.equal(c[2]!.turns.length, 4);
  assert.deepEqual(c[3]!.turns, [
    { role: 'system', text: '你是医生' }, { role: 'user', text: '牙疼\n晚上更厉害' }, { role: 'assistant', text: '哪颗牙？' },
  ]);
});

test('mapped turn lists: --map speaker=speaker,text=sentence with extra speaker names', async () => {
  // detected without flags now (turn objects with Chinese labels); --map still forces the keys
  const auto = await loadFile(f('mapped.jsonl'));
  assert.deepEqual(auto.report.shapes, { 'turn-objects': 2 });
  const bad = await loadFile(f('mapped.jsonl'), { map: parseTurnMap('speaker=speaker,text=sentence'), roles: { 大夫: 'user' }, onError: 'skip' });
  assert.deepEqual((bad.records[1] as Conversation).turns.map((t) => t.text), ['膝盖疼\n哪侧？'], '--roles overrides a built-in label');
  const { records } = await loadFile(f('mapped.jsonl'), { map: parseTurnMap('speaker=speaker,text=sentence,assistant=大夫') });
  assert.equal(records.length, 2);
  assert.equal((records[0] as Conversation).turns.length, 3);
  assert.deepEqual((records[1] as Conversation).turns.map((t) => t.role), ['user', 'assistant']);
  assert.throws(() => parseTurnMap('speaker=a'), /needs at least speaker=KEY,text=KEY/);
});

test('multiple choice: opa..ope, cop index, letters in any case; missing answer flagged; bad answer rejected', async () => {
  const { records, report } = await loadFile(f('choice.jsonl'), { onError: 'skip' });
  const m = records as MultipleChoice[];
  assert.deepEqual(m.map((x) => [x.id, x.answer, x.answerMissing, x.options.length]), [
    ['q1', 'A', false, 4], ['q2', 'B', false, 5], ['q3', undefined, true, 4], ['q4', 'A', false, 4],
  ]);
  assert.equal(report.problems[0]!.line, 5);
  assert.match(report.problems[0]!.reason, /answer 'F' is not one of ABCD/);
});

test('preference pairs (both key spellings) and the ranking format with precise errors', async () => {
  const pairs = (await loadFile(f('pairs.jsonl'))).records as PreferenceSet[];
  assert.equal(pairs.length, 2);
  assert.deepEqual(pairs[1]!.ranking, [['chosen'], ['rejected']]);
  const { records, report } = await loadFile(f('ranking.jsonl'), { onError: 'skip' });
  assert.deepEqual(records.map((r) => (r as PreferenceSet).id), ['r1', 'r6']);
  assert.deepEqual(report.problems.map((p) => `${p.line}: ${p.field}: ${p.reason}`), [
    "2: candidates[2].id: duplicate candidate id 'c1'",
    '3: ranking: candidates not ranked: c1 (every candidate exactly once, or [] for unranked)',
    "4: candidates[2].rewriteOf: refers to unknown candidate 'c9'",
    "5: ranking[2][0]: candidate 'c0' ranked more than once",
  ]);
});

test('format sniffing: a .json file that is JSONL; a JSON object of records (ranking-tool input) keyed by id', async () => {
  const j = await loadFile(f('jsonl-named.json'));
  assert.equal(j.report.format, 'jsonl');
  assert.deepEqual(j.records.map((r) => r.source!.line), [1, 2, 3]);
  const o = await loadFile(f('object-map.json'));
  assert.equal(o.report.format, 'json');
  assert.deepEqual(o.records.map((r) => (r as PreferenceSet).id), ['a', 'b']);
  assert.deepEqual(o.records.map((r) => r.source!.line), [2, 8]);
  // a single pretty-printed record is one record, not a map of its fields
  const one = await loadFile(f('single-object.json'));
  assert.equal(one.records.length, 1);
  assert.deepEqual((one.records[0] as Conversation).turns.map((t) => t.text), ['你好', '您好，请说', '头晕两天', '请问血压多少？']);
  // explicit override: read the JSONL file as text lines
  const t = await loadFile(f('jsonl-named.json'), { format: 'text' });
  assert.equal((t.records[0] as PlainText).text, '{"text": "第一段"}');
});

test('unsupported shapes are refused whole, or read as text with --as text', async () => {
  await assert.rejects(loadFile(f('kg-like.jsonl')), /kg-like\.jsonl:1: shape: unsupported shape \(keys: name, desc, symptom\)/);
  const t = await loadFile(f('kg-like.jsonl'), { as: 'text' });
  assert.equal((t.records[0] as PlainText).text, '感冒\n常见病\n鼻塞');
});

test('JSON array reader gives the same records for any chunk size', async () => {
  const a: unknown[] = [], b: unknown[] = [];
  for await (const it of readRaw(f('object-map.json'))) a.push(it);
  for await (const it of readRaw(f('object-map.json'), { chunkBytes: 3 })) b.push(it);
  assert.deepEqual(a, b);
  assert.equal(a.length, 2);
});

test('turn lists: role/content or from/value under conversations, messages or conversation', () => {
  const a = toRecord({ conversations: [{ role: 'user', content: '头疼' }, { role: 'assistant', content: '多久了？' }] });
  assert.equal(a.shape, 'messages');
  const b = toRecord({ messages: [{ from: 'human', value: '头疼' }, { from: 'gpt', value: '多久了？' }] });
  assert.equal(b.shape, 'sharegpt');
  assert.deepEqual((a.record as Conversation).turns, (b.record as Conversation).turns);
  // a dialogue that opens with the doctor keeps that turn by default, or drops it when asked
  const greet = { messages: [{ role: 'assistant', content: '您好' }, { role: 'user', content: '头疼' }] };
  const kept = toRecord(greet);
  assert.deepEqual((kept.record as Conversation).turns.map((t) => t.role), ['assistant', 'user']);
  assert.equal(kept.notes.leadingDoctor, 'kept');
  const dropped = toRecord(greet, undefined, { doctorFirst: 'drop' });
  assert.deepEqual((dropped.record as Conversation).turns, [{ role: 'user', text: '头疼' }]);
  assert.equal(dropped.notes.leadingDoctor, 'dropped');
  assert.throws(() => toRecord({ messages: [{ role: 'assistant', content: '您好' }] }), /no patient \(user\) turn/);
});
