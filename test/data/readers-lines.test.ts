// readers-lines.test.ts — the line reader under long lines: the unfinished line is joined once, not re-copied per
// chunk (bytes copied stay linear in the file: the old reader copied a 4 MiB line ~500 times with 8 KiB chunks), a
// line over --max-line-mib is reported by its line number and skipped while the lines around it load, in JSONL, text
// and CSV, whether it spans chunks or sits inside one; a JSON element over the cap fails naming its line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRaw, type ReadOptions } from '../../src/data/readers.js';
import { DataError } from '../../src/data/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'zj-lines-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

async function all(path: string, o: ReadOptions) {
  const out = [];
  for await (const r of readRaw(path, o)) out.push(r);
  return out;
}

test('a 4 MiB line read in 8 KiB chunks copies O(file) bytes, not O(line² / chunk)', async () => {
  const p = join(dir, 'long.jsonl');
  const big = 'x'.repeat(4 * 2 ** 20);
  writeFileSync(p, `{"a":1}\n{"text":"${big}"}\n{"a":2}\n`);
  const concat = Buffer.concat;
  let copied = 0;
  Buffer.concat = ((list: readonly Uint8Array[], n?: number) => {
    const b = concat(list, n);
    copied += b.length;
    return b;
  }) as typeof Buffer.concat;
  let rows;
  try {
    rows = await all(p, { chunkBytes: 8192 });
  } finally {
    Buffer.concat = concat;
  }
  assert.equal(rows.length, 3);
  assert.equal(((rows[1] as { value: unknown }).value as { text: string }).text.length, big.length);
  assert.ok(copied < 3 * big.length, `copied ${copied} bytes for a ${big.length}-byte line`);
});

test('a line over --max-line-mib is reported by line number and skipped; the others load (jsonl, text, csv)', async () => {
  const long = 'y'.repeat(3 * 2 ** 20);
  const cases: [string, string, number][] = [
    ['a.jsonl', `{"a":1}\n{"t":"${long}"}\n{"a":3}\n`, 2],
    ['a.txt', `第一行\n${long}\n第三行\n`, 2],
    ['a.csv', `q,a\n1,2\n3,${long}\n5,6\n`, 3],
    ['tail.jsonl', `{"a":1}\n{"a":2}\n{"t":"${long}"}`, 3], // the long line is the last, without LF
  ];
  for (const chunkBytes of [64 * 1024, 8 * 2 ** 20]) { // across chunks, and inside one chunk
    for (const [name, text, badLine] of cases) {
      const p = join(dir, name);
      writeFileSync(p, text);
      const rows = await all(p, { chunkBytes, maxLineMib: 1 });
      const errs = rows.filter((r) => r.error);
      assert.deepEqual(errs.map((r) => [r.line, r.error!.field]), [[badLine, 'line']], `${name} @${chunkBytes}`);
      assert.match(errs[0]!.error!.reason, /longer than 1 MiB.*--max-line-mib/);
      assert.equal(rows.length - errs.length, name === 'a.csv' ? 2 : 2, `${name}: the other records load`);
      assert.deepEqual(rows.map((r) => r.line), name === 'a.csv' ? [2, 3, 4] : [1, 2, 3], name);
    }
  }
  const p = join(dir, 'a.jsonl');
  assert.equal((await all(p, { maxLineMib: 4 })).filter((r) => r.error).length, 0, 'a higher cap reads it');
});

test('a JSON array element over the cap fails naming the line it starts on', async () => {
  const p = join(dir, 'arr.json');
  writeFileSync(p, `[\n{"a":1},\n{"t":"${'z'.repeat(2 * 2 ** 20)}"}\n]\n`);
  await assert.rejects(all(p, { chunkBytes: 64 * 1024, maxLineMib: 1 }),
    (e: unknown) => e instanceof DataError && e.problem.line === 3 && /longer than 1 MiB/.test(e.message));
});
