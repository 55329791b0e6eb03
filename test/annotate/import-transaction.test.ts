// import-transaction.test.ts — `annotate import` is one transaction: a file that fails leaves an existing project's
// settings (per-item, ties) and items as they were, does not create a new project, and (from the CLI) does not
// create the database; a good file creates or updates the project and adds its items together.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../../src/annotate/store.js';
import { ImportError, importIntoProject } from '../../src/annotate/import.js';
import { candidateSets, tempDir, writeJsonl } from './helpers.js';

test('a failed import changes nothing: not the settings, not the items, and creates no project', async () => {
  const t = tempDir();
  const st = new Store(join(t.dir, 'a.db'));
  try {
    const good = writeJsonl(join(t.dir, 'good.jsonl'), candidateSets(2, 4, 'g'));
    const first = await importIntoProject(st, good, { name: 'p', perItem: 1 });
    assert.equal(first.count, 2);
    const bad = join(t.dir, 'bad.jsonl');
    writeFileSync(bad, JSON.stringify(candidateSets(1, 4, 'n')[0]) + '\n{"id": "broken", "prompt": \n');
    await assert.rejects(importIntoProject(st, bad, { name: 'p', perItem: 3, allowTies: false }), ImportError);
    const p = st.project('p');
    assert.deepEqual([p.perItem, p.allowTies, st.itemCount(p)], [1, true, 2], 'project p untouched');
    await assert.rejects(importIntoProject(st, bad, { name: 'fresh', perItem: 2 }), ImportError);
    assert.equal(st.findProject('fresh'), undefined, 'no project created by a failed import');
    // a duplicate of an existing id fails the same way
    await assert.rejects(importIntoProject(st, good, { name: 'p', perItem: 5 }), /already in the project/);
    assert.equal(st.project('p').perItem, 1);
    const ok = await importIntoProject(st, writeJsonl(join(t.dir, 'more.jsonl'), candidateSets(3, 4, 'm')), { name: 'p', perItem: 2, allowTies: false });
    assert.deepEqual([ok.count, ok.project.perItem, ok.project.allowTies, st.itemCount(ok.project)], [3, 2, false, 5]);
  } finally {
    st.close();
    t.cleanup();
  }
});

test('CLI: a failed import into a database that does not exist yet creates no database', () => {
  const t = tempDir();
  try {
    const bad = join(t.dir, 'bad.jsonl');
    writeFileSync(bad, '{"id": "broken"\n');
    const db = join(t.dir, 'new.db');
    const r = spawnSync(process.execPath, ['bin/zhongjing.js', 'annotate', 'import', bad, '--db', db, '--project', 'p'], { encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /nothing imported/);
    assert.ok(!existsSync(db), 'the database was created by a failed import');
  } finally {
    t.cleanup();
  }
});
