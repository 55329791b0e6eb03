// cli.test.ts — `zhongjing data …` in process: help, inspect (text and --json), convert → load, clean counts,
// demo, and clear usage errors. Output is captured from console.log / console.error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dataCommand } from '../../src/cli/data.js';
import { UsageError } from '../../src/cli/args.js';
import { loadFile } from '../../src/data/load.js';

const FIX = fileURLToPath(new URL('../../../test/fixtures/data/', import.meta.url));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [], err: string[] = [];
  const log = console.log, error = console.error;
  console.log = (...a: unknown[]) => { out.push(a.join(' ')); };
  console.error = (...a: unknown[]) => { err.push(a.join(' ')); };
  try {
    const code = await dataCommand.run(argv);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    console.log = log; console.error = error;
  }
}

test('data: help for every subcommand, unknown subcommand and usage errors', async () => {
  assert.equal((await run(['--help'])).code, 0);
  for (const s of ['inspect', 'clean', 'convert', 'demo']) {
    const r = await run([s, '--help']);
    assert.equal(r.code, 0);
    assert.match(r.out, new RegExp(`usage: zhongjing data ${s}`));
  }
  assert.equal((await run(['frobnicate'])).code, 2);
  await assert.rejects(run(['inspect']), (e: unknown) => e instanceof UsageError && /\[data inspect\] no input file/.test(e.message));
  await assert.rejects(run(['inspect', '/nonexistent/x.json']), /\[data inspect\] cannot read \/nonexistent\/x\.json: ENOENT/);
  await assert.rejects(run(['convert', FIX + 'packed.jsonl', '--out', '/tmp/x']), /--to is required/);
  await assert.rejects(run(['convert', FIX + 'packed.jsonl', '--to', 'yaml']), /--to must be one of alpaca\|sharegpt\|messages\|jsonl/);
  await assert.rejects(run(['demo']), /--out DIR is required/);
  await assert.rejects(run(['convert', FIX + 'packed.jsonl', '--to', 'messages', '--out', '/nonexistent/dir/x.jsonl']),
    /\[data convert\] cannot write \/nonexistent\/dir\/x\.jsonl: ENOENT/);
});

test('data inspect: counts, shapes, turns, rejected records with file:line; --json balances', async () => {
  const r = await run(['inspect', FIX + 'packed.jsonl', FIX + 'empty-turns.jsonl']);
  assert.equal(r.code, 1, 'a file over the reject threshold fails the run');
  assert.match(r.out, /4 records in = 4 out \+ 0 rejected/);
  assert.match(r.out, /shapes: input-target 2, alpaca 1, messages 1/);
  assert.match(r.out, /rejected .*empty-turns\.jsonl:3: output: empty answer/);
  assert.match(r.out, /FAILED: .*empty-turns\.jsonl:2: policy: 2 of 5 records rejected/);
  const j = await run(['inspect', '--json', '--on-error', 'skip', FIX + 'empty-turns.jsonl']);
  assert.equal(j.code, 0);
  const o = JSON.parse(j.out);
  assert.equal(o.balanced, true);
  assert.deepEqual([o.recordsIn, o.recordsOut, o.rejected], [5, 3, 2]);
  assert.equal(o.problems[1].line, 3);
  assert.equal(o.emptyTurnsDropped, 2);
  const g = JSON.parse((await run(['inspect', '--json', FIX + 'gb18030.tsv'])).out);
  assert.deepEqual([g.format, g.encoding, g.departments['心血管科']], ['tsv', 'gb18030', 1]);
});

test('data convert / clean / demo write files that load back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-cli-'));
  try {
    const out = join(dir, 'p.sharegpt.jsonl');
    const c = await run(['convert', FIX + 'packed.jsonl', FIX + 'bom-crlf.csv', '--to', 'sharegpt', '--out', out]);
    assert.equal(c.code, 0, c.err);
    assert.equal((await loadFile(out)).records.length, 6);
    // a format that cannot hold the records: nothing written, a located error
    const bad = join(dir, 'bad.jsonl');
    const b = await run(['convert', FIX + 'pairs.jsonl', '--to', 'alpaca', '--out', bad]);
    assert.equal(b.code, 1);
    assert.match(b.err, /pairs\.jsonl:1: policy: 2 of 2 records cannot be written as alpaca/);
    assert.equal(existsSync(bad), false);
    const cl = join(dir, 'clean.jsonl'), rep = join(dir, 'report.json');
    const k = await run(['clean', FIX + 'packed.jsonl', FIX + 'packed.jsonl', '--deid', '--near-dup', '--out', cl, '--report', rep]);
    assert.equal(k.code, 0, k.err);
    assert.match(k.err, /8 records in = 4 out \+ dropped: .*exactDup 4.*\(balanced\)/);
    assert.equal(JSON.parse(readFileSync(rep, 'utf8')).clean.dropped.exactDup, 4);
    const pii = join(dir, 'pii.jsonl');
    const q = await run(['clean', FIX + 'pii.jsonl', '--deid', '--names', '张伟', '--to', 'alpaca', '--out', pii]);
    assert.equal(q.code, 0, q.err);
    assert.match(q.err, /de-identified 2 records: email 1, idCard 1, mobile 1, landline 1, record 1, name 1/);
    const txt = readFileSync(pii, 'utf8');
    assert.ok(!/13812345678|110105199001011232|example\.com|010-12345678|ZY2023|张伟/.test(txt), txt);
    assert.match(txt, /我叫\[姓名\]，电话\[手机号\]，身份证\[身份证号\]/);
    assert.match(txt, /血压150\/95，体温38\.5度/);
    const d = await run(['demo', '--out', join(dir, 'demo'), '--size', 'tiny', '--seed', '5', '--rankings', '3']);
    assert.equal(d.code, 0, d.err);
    assert.match(d.out, /rankings\.jsonl: 3 records/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('data inspect says what layout it detected, how it mapped speakers, and what it merged, dropped and kept', async () => {
  const L = fileURLToPath(new URL('../../../test/data/fixtures/', import.meta.url));
  const r = await run(['inspect', L + 'pediatric.json']);
  assert.equal(r.code, 0);
  assert.match(r.out, /detected: turn objects under 'dialogue' \(speaker 'speaker', text 'utterance'\) — 2 records/);
  assert.match(r.out, /speakers: 家属 → user \(4\), 医生 → assistant \(3\), 患者 → user \(2\), 大夫 → assistant \(2\)/);
  assert.match(r.out, /merged 1 consecutive same-speaker turns in 1 dialogues/);
  assert.match(r.out, /dropped 1 empty turns/);
  assert.match(r.out, /1 dialogues open with the doctor: that turn kept \(--doctor-first drop to drop it\)/);
  const d = await run(['inspect', '--doctor-first', 'drop', '--roles', '家属=user', L + 'pediatric.json']);
  assert.match(d.out, /1 dialogues opened with the doctor: that turn dropped/);
  await assert.rejects(run(['inspect', '--roles', '家属', L + 'pediatric.json']), /--roles: expected label=role, got '家属'/);
});
