// cli.test.ts — `zhongjing annotate` as a user runs it: user add prints a token that logs in, import is all or
// nothing with file:line reasons and a non-zero exit, export writes each format and the TSV says what it flattened;
// plus the database settings (WAL, foreign keys, migrations) and refusal of a newer schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openDb, schemaVersion } from '../../src/annotate/db.js';
import { Store } from '../../src/annotate/store.js';
import { candidateSets, tempDir, writeJsonl } from './helpers.js';

const BIN = fileURLToPath(new URL('../../../bin/zhongjing.js', import.meta.url));
const zj = (...args: string[]) => spawnSync(process.execPath, [BIN, 'annotate', ...args], { encoding: 'utf8' });

test('CLI: user add, import (good and bad), export in three formats', () => {
  const t = tempDir();
  try {
    const db = join(t.dir, 'c.db');
    const add = zj('user', 'add', 'wang', '--role', 'annotator', '--project', 'p', '--db', db);
    assert.equal(add.status, 0, add.stderr);
    const token = add.stdout.trim();
    assert.match(token, /^zj_[A-Za-z0-9_-]{43}$/);
    assert.equal(zj('user', 'add', 'wang', '--db', db).status, 1, 'a duplicate name is refused');
    assert.equal(zj('user', 'add', 'x', '--role', 'boss', '--db', db).status, 2, 'unknown role is a usage error');

    const bad = join(t.dir, 'bad.jsonl');
    writeFileSync(bad, `${JSON.stringify(candidateSets(1)[0])}\n{"id": "b", "prompt": "p", "history": [], "candidates": "no", "ranking": []}\n`);
    const r = zj('import', bad, '--project', 'p', '--db', db);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /bad\.jsonl:2: candidates: expected an array, got string/);
    assert.match(r.stderr, /nothing imported/);

    const good = writeJsonl(join(t.dir, 'good.jsonl'), candidateSets(2));
    const ok = zj('import', good, '--project', 'p', '--per-item', '1', '--db', db);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /2 item\(s\) into 'p'/);

    const st = new Store(db);
    try {
      const p = st.project('p'), u = st.userByToken(token)!;
      assert.equal(u.name, 'wang');
      const it = st.next(p, u)!;
      st.save(it, u, { ranking: [['c0', 'c1'], ['c2'], ['c3']], rewrites: [], comment: '' });
    } finally {
      st.close();
    }
    for (const [fmt, lines] of [['ranking', 1], ['pairs', 5], ['tsv', 2]] as const) {
      const out = join(t.dir, `out.${fmt}`);
      const e = zj('export', '--project', 'p', '--db', db, '--out', out, '--format', fmt);
      assert.equal(e.status, 0, e.stderr);
      assert.equal(readFileSync(out, 'utf8').trim().split('\n').length, lines, fmt);
      assert.ok(!existsSync(`${out}.tmp`));
      if (fmt === 'tsv') assert.match(e.stderr, /holds neither ties.*ties broken by candidate order in 1 of 1 rows/);
    }
    assert.equal(zj('export', '--project', 'nope', '--db', db, '--out', join(t.dir, 'x')).status, 1);
    const typo = zj('export', '--project', 'p', '--db', join(t.dir, 'typo.db'), '--out', join(t.dir, 'x'));
    assert.match(typo.stderr, /no database at .*typo\.db/);
    assert.ok(!existsSync(join(t.dir, 'typo.db')), 'a reading command must not create a database');
  } finally {
    t.cleanup();
  }
});

test('database: WAL, foreign keys, migrations recorded, a newer schema refused', () => {
  const t = tempDir();
  try {
    const path = join(t.dir, 'm.db');
    const db = openDb(path);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
    assert.deepEqual((db.prepare('SELECT version FROM migrations ORDER BY version').all() as { version: number }[]).map((r) => r.version),
      Array.from({ length: schemaVersion }, (_, i) => i + 1));
    assert.throws(() => db.prepare("INSERT INTO members (project_id, user_id) VALUES (99, 99)").run(), /FOREIGN KEY/);
    db.close();
    // reopening applies nothing twice
    openDb(path).close();
    const raw = new Database(path);
    raw.prepare("INSERT INTO migrations (version, name, applied_at) VALUES (?, 'future', '')").run(schemaVersion + 1);
    raw.close();
    assert.throws(() => openDb(path), /\[annotate\/db\] database schema version \d+ is newer than this program's/);
  } finally {
    t.cleanup();
  }
});
