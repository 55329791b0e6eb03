// import-export.test.ts — import (our ranking format and the labelling tool's JSON object) with whole-file
// rejection at file:line, saves through the submission checker, and export in all three formats read back by the
// data layer's loader (ties, rewrites, annotators, comments survive where the format can hold them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../../src/annotate/store.js';
import { importFile, ImportError } from '../../src/annotate/import.js';
import { checkSubmission } from '../../src/annotate/submission.js';
import { exportText, rankingRecords } from '../../src/annotate/export.js';
import { loadFile } from '../../src/data/load.js';
import { preferenceSetToRanking } from '../../src/data/ranking-format.js';
import type { PreferenceSet } from '../../src/data/types.js';
import { candidateSets, tempDir, writeJsonl } from './helpers.js';

function save(st: Store, project: string, user: string, itemId: string, body: Record<string, unknown>) {
  const p = st.project(project), u = st.user(user);
  const it = st.item(p, itemId);
  if (!st.assignment(p, u, itemId)) {
    // hand out items until this one comes up (next() picks the least-annotated item first)
    for (let g = st.next(p, u); g && g.extId !== itemId; g = st.next(p, u)) st.skip(g, u, 'not this one');
  }
  const r = checkSubmission(it, body);
  assert.ok(r.ok, JSON.stringify(r));
  st.save(it, u, r.sub);
}

test('import rejects a bad file whole, with file:line reasons, and writes nothing', async () => {
  const t = tempDir();
  const st = new Store(join(t.dir, 'a.db'));
  try {
    const p = st.ensureProject('p', 2);
    const [a, b] = candidateSets(2);
    const file = join(t.dir, 'bad.jsonl');
    writeFileSync(file, [
      JSON.stringify(a),
      '{"id": "broken", "prompt": ',
      JSON.stringify({ ...b, ranking: [['c0'], ['c1'], ['c2'], ['c3']] }),
      JSON.stringify({ ...b, id: 'one', candidates: [b!.candidates[0]] }),
      JSON.stringify({ ...a, prompt: 'again' }),
      JSON.stringify({ ...b, id: 'ghost', candidates: [...b!.candidates, { id: 'c9', text: 'x', source: 's', rewriteOf: 'nope' }] }),
    ].join('\n') + '\n');
    await assert.rejects(importFile(st, file, p), (e: unknown) => {
      assert.ok(e instanceof ImportError);
      const lines = e.problems.map((x) => x.replace(file, 'F'));
      assert.deepEqual(lines.sort(), [
        "F:2: json: invalid JSON line (Unexpected end of JSON input)",
        "F:3: ranking: already ranked; import takes unranked candidate sets (ranking: [])",
        "F:4: candidates: expected at least 2 candidates, got 1",
        "F:5: id: duplicate id 'q0' (first on line 1)",
        "F:6: candidates[4].rewriteOf: refers to unknown candidate 'nope'",
      ].sort());
      return true;
    });
    assert.equal(st.itemCount(p), 0, 'nothing may be written when any record is bad');
    // a good file goes in; importing it again is refused (ids already in the project), still all or nothing
    const good = writeJsonl(join(t.dir, 'good.jsonl'), candidateSets(3));
    assert.equal(await importFile(st, good, p), 3);
    await assert.rejects(importFile(st, good, p), /good\.jsonl:1: id: 'q0' is already in the project/);
    assert.equal(st.itemCount(p), 3);
  } finally {
    st.close();
    t.cleanup();
  }
});

test('import of the labelling tool JSON shape {id: {query, history, response_0..}}', async () => {
  const t = tempDir();
  const st = new Store(join(t.dir, 'a.db'));
  try {
    const file = join(t.dir, 'tool.json');
    writeFileSync(file, JSON.stringify({
      7: { query: '胃疼怎么办', history: [['吃完饭胃胀', '多久了？']], response_0: '回答甲', response_1: '回答乙', response_2: '回答丙', response_3: '回答丁' },
      8: { query: '失眠', history: [], response_0: '甲', response_1: '乙', response_2: '丙', response_3: '丁' },
    }, null, 1));
    const p = st.ensureProject('tool');
    assert.equal(await importFile(st, file, p), 2);
    const it = st.item(p, '7');
    assert.deepEqual(it.history, [['吃完饭胃胀', '多久了？']]);
    assert.deepEqual(it.candidates.map((c) => [c.id, c.text, c.source]), [['c0', '回答甲', 'response_0'], ['c1', '回答乙', 'response_1'], ['c2', '回答丙', 'response_2'], ['c3', '回答丁', 'response_3']]);
  } finally {
    st.close();
    t.cleanup();
  }
});

test('export round trip: ranking, pairs and TSV load back through the data layer', async () => {
  const t = tempDir();
  const st = new Store(join(t.dir, 'a.db'));
  try {
    const p = st.ensureProject('p', 2);
    st.addUser('u1', 'annotator'); st.addUser('u2', 'annotator');
    st.addMember('p', 'u1'); st.addMember('p', 'u2');
    await importFile(st, writeJsonl(join(t.dir, 'in.jsonl'), candidateSets(2)), p);
    save(st, 'p', 'u1', 'q0', { ranking: [['rw-c2'], ['c1', 'c3'], ['c0'], ['c2']], rewrites: [{ id: 'rw-c2', of: 'c2', text: '医生改写：建议先做胸片。' }], comment: '回答2不安全' });
    save(st, 'p', 'u2', 'q0', { ranks: { c0: 1, c1: 2, c2: 3, c3: 4 } });
    save(st, 'p', 'u1', 'q1', { ranking: [['c1'], ['c0'], ['c2'], ['c3']] });
    const expected = rankingRecords(st, p);
    assert.equal(expected.length, 3);

    // ranking format: lossless
    const rf = join(t.dir, 'out.jsonl');
    writeFileSync(rf, exportText(st, p, 'ranking').text);
    const back = await loadFile(rf, { onError: 'fail' });
    assert.equal(back.report.rejected, 0);
    assert.deepEqual(back.records.map((r, i) => preferenceSetToRanking(r as PreferenceSet, `x${i}`)), expected);
    const first = back.records[0] as PreferenceSet;
    assert.deepEqual(first.ranking, [['rw-c2'], ['c1', 'c3'], ['c0'], ['c2']]);
    assert.equal(first.candidates.find((c) => c.id === 'rw-c2')?.rewriteOf, 'c2');
    assert.equal(first.annotator, 'u1');
    assert.equal(first.comment, '回答2不安全');

    // pairs: every ordered pair across groups, none inside the tie: (5·4/2 − 1) + 6 + 6 = 21
    const pf = join(t.dir, 'pairs.jsonl');
    const pt = exportText(st, p, 'pairs');
    assert.equal(pt.count, 21);
    writeFileSync(pf, pt.text);
    const pairs = await loadFile(pf, { onError: 'fail' });
    assert.equal(pairs.records.length, 21);
    assert.deepEqual(pairs.report.shapes, { 'preference-pair': 21 });
    const texts = pairs.records.map((r) => { const s = r as PreferenceSet; return [s.candidates[0]!.text, s.candidates[1]!.text]; });
    assert.ok(texts.some(([c, r]) => c === '医生改写：建议先做胸片。' && r === first.candidates.find((x) => x.id === 'c2')!.text));
    const cand = (id: string) => first.candidates.find((x) => x.id === id)!.text;
    const of = (prefix: string) => pairs.records.filter((r) => (r as PreferenceSet).id!.startsWith(prefix)).map((r) => {
      const s = r as PreferenceSet;
      return `${s.candidates[0]!.text} > ${s.candidates[1]!.text}`;
    });
    const u1 = of('q0/u1/');
    assert.equal(u1.length, 9);
    assert.ok(u1.includes(`${cand('c1')} > ${cand('c0')}`) && u1.includes(`${cand('c3')} > ${cand('c2')}`));
    assert.ok(!u1.includes(`${cand('c1')} > ${cand('c3')}`) && !u1.includes(`${cand('c3')} > ${cand('c1')}`), 'a tie must give no pair');
    assert.ok(of('q0/u2/').includes(`${cand('c1')} > ${cand('c3')}`), 'u2 did not tie them');
    const gaps = pt.text.trim().split('\n').map((l) => JSON.parse(l) as { id: string; gap: number }).filter((x) => x.id.startsWith('q0/u1/')).map((x) => x.gap);
    assert.deepEqual(gaps.sort(), [1, 1, 1, 1, 1, 2, 2, 2, 3], 'rw>{c1,c3}: 1,1; rw>c0: 2; rw>c2: 3; {c1,c3}>c0: 1,1; {c1,c3}>c2: 2,2; c0>c2: 1');

    // TSV: lossy, and says how
    const tt = exportText(st, p, 'tsv');
    assert.match(tt.notice!, /ties broken by candidate order in 1 of 3 rows, 1 rewrite\(s\) and 1 comment\(s\) dropped/);
    const tf = join(t.dir, 'out.tsv');
    writeFileSync(tf, tt.text);
    const tsv = await loadFile(tf, { onError: 'fail' });
    assert.deepEqual(tsv.records.map((r) => (r as PreferenceSet).id), ['q0@u1', 'q0@u2', 'q1']);
    const row = tsv.records[0] as PreferenceSet;
    assert.deepEqual(row.candidates.map((c) => c.text), [cand('c1'), cand('c3'), cand('c0'), cand('c2')]);
    assert.equal(row.prompt, first.prompt);
  } finally {
    st.close();
    t.cleanup();
  }
});
