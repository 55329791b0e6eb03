// readers-encoding.test.ts — encoding detection needs evidence: a mostly-ASCII file with a few stray bytes is refused
// naming both candidates (it used to be read as garbled GB18030 without a report), Windows-1252 quotes on line 1 of a
// UTF-8 Chinese file cost that line only (the file used to be read as GB18030 and rejected whole), UTF-16 is named
// (BOM or not) instead of "invalid gb18030", real GB18030 text still reads; NUL and lone surrogates are reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadFile } from '../../src/data/load.js';
import { readRaw } from '../../src/data/readers.js';
import { detectEncoding } from '../../src/data/encoding.js';
import { DataError } from '../../src/data/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'zj-enc-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, bytes: Buffer) => { const p = join(dir, name); writeFileSync(p, bytes); return p; };
const row = (q: string, a: string) => JSON.stringify({ instruction: q, input: '', output: a }) + '\n';

test('a mostly-ASCII file with a few stray bytes is refused, naming both candidates and why', async () => {
  const lines = Array.from({ length: 40 }, (_, i) => row(`question ${i}`, `answer ${i}`)).join('');
  const bytes = Buffer.concat([Buffer.from(lines.slice(0, 500)), Buffer.from([0xe9, 0x61, 0xe8, 0x72]), Buffer.from(lines.slice(500))]);
  const p = file('stray.jsonl', bytes);
  await assert.rejects(loadFile(p), (e: unknown) => e instanceof DataError && e.problem.field === 'encoding' &&
    /not utf-8 .*first on line \d+/.test(e.message) && /not gb18030/.test(e.message) && /--encoding/.test(e.message) && e.message.startsWith(p));
  // the user's word decides: forced UTF-8 reads it and reports the bad line
  const forced = await loadFile(p, { encoding: 'utf-8', onError: 'skip' });
  assert.equal(forced.report.problems.length, 1);
  assert.equal(forced.report.problems[0]!.field, 'encoding');
});

test('Windows-1252 quotes on line 1 of a UTF-8 Chinese file: UTF-8, line 1 reported, the rest loads', async () => {
  const rest = Array.from({ length: 30 }, (_, i) => row(`医生您好，我咳嗽${i}天了`, '建议多喝水，注意休息。')).join('');
  const p = file('quotes.jsonl', Buffer.concat([Buffer.from('{"instruction": "'), Buffer.from([0x93]), Buffer.from('hi'), Buffer.from([0x94]),
    Buffer.from('", "input": "", "output": "x"}\n'), Buffer.from(rest)]));
  const { records, report } = await loadFile(p, { onError: 'skip' });
  assert.equal(report.encoding, 'utf-8');
  assert.equal(records.length, 30);
  assert.deepEqual(report.problems.map((x) => [x.line, x.field]), [[1, 'encoding']]);
});

test('UTF-16 is named (with or without a BOM) and refused; GB18030 Chinese text still reads as gb18030', async () => {
  const text = row('咳嗽三天', '多喝水').repeat(5);
  const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
  await assert.rejects(loadFile(file('bom16.jsonl', le)), /UTF-16LE \(BOM\).*iconv/);
  await assert.rejects(loadFile(file('nobom16.jsonl', Buffer.from(row('cough', 'water').repeat(5), 'utf16le'))), /UTF-16LE \(NUL bytes/);
  const gb = new Uint8Array([0xbf, 0xc8, 0xcb, 0xd4, 0xc8, 0xfd, 0xcc, 0xec, 0xa3, 0xac, 0xb6, 0xe0, 0xba, 0xc8, 0xcb, 0xae]); // 咳嗽三天，多喝水 in GBK
  assert.equal(detectEncoding(gb), 'gb18030');
  assert.equal(detectEncoding(Buffer.from('plain ascii\n')), 'utf-8');
});

test('NUL and lone surrogates (escaped in JSON, or raw NUL bytes in text/CSV) are reported per record', async () => {
  const p = file('chars.jsonl', Buffer.from([
    row('ok', 'fine'),
    '{"instruction": "a\\u0000b", "input": "", "output": "x"}\n',
    '{"messages": [{"role": "user", "content": "hi \\ud800 there"}]}\n',
    row('ok2', 'fine2'),
  ].join('')));
  const items = [];
  for await (const r of readRaw(p)) items.push(r);
  const errs = items.filter((r) => r.error).map((r) => [r.line, r.error!.field, r.error!.reason.slice(0, 30)]);
  assert.deepEqual(errs, [[2, 'instruction', 'contains a NUL character (U+00'], [3, 'messages[0].content', 'contains a lone surrogate U+D8']]);
  const csv = file('nul.csv', Buffer.from('q,a\n咳嗽,多喝水\nx\u0000y,z\n'));
  const rows = [];
  for await (const r of readRaw(csv)) rows.push(r);
  assert.deepEqual(rows.map((r) => [r.line, r.error?.field ?? 'ok']), [[2, 'ok'], [3, 'row']]);
  const txt = file('nul.txt', Buffer.from('第一行\n第\u0000二行\n第三行\n'));
  const t = await loadFile(txt, { onError: 'skip' });
  assert.deepEqual([t.records.length, t.report.problems.map((x) => [x.line, x.field])], [2, [[2, 'text']]]);
});
