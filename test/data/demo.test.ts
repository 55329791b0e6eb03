// demo.test.ts — the embedded demo corpus: knowledge base size and integrity, determinism for a seed, sizes,
// its own validation (consultations ask first, emergencies flagged, rankings ordered by the rule), and the
// written files loading back through our readers; the list draws it makes with the shared Rng.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkKb, conditions, departments, generateDemo, rankByFlaws, sizePresets, validateDemo, writeDemo } from '../../src/data/demo/index.js';
import { loadFile } from '../../src/data/load.js';
import { pairsFromRanking } from '../../src/data/samples.js';
import type { Conversation, PreferenceSet } from '../../src/data/types.js';
import { Rng } from '../../src/util/rng.js';

test('knowledge base: ≥ 40 conditions across ≥ 8 departments, every entry complete', () => {
  assert.ok(conditions.length >= 40, `${conditions.length} conditions`);
  assert.ok(departments().length >= 8, `${departments().length} departments`);
  assert.deepEqual(checkKb(), []);
  assert.deepEqual(checkKb([...conditions, conditions[0]!]), [`${conditions[0]!.id}: duplicate id`]);
});

test('demo corpus: identical for a seed, different for another, sizes honoured', () => {
  const a = generateDemo(7, sizePresets.tiny), b = generateDemo(7, sizePresets.tiny), c = generateDemo(8, sizePresets.tiny);
  assert.equal(JSON.stringify(a), JSON.stringify(b));
  assert.notEqual(JSON.stringify(a.consultations), JSON.stringify(c.consultations));
  for (const k of ['pretrain', 'qa', 'consultations', 'safety', 'rankings'] as const) assert.equal(a[k].length, sizePresets.tiny[k], k);
  // one part's size does not shift another part's content
  const more = generateDemo(7, { ...sizePresets.tiny, qa: 50 });
  assert.equal(JSON.stringify(more.consultations), JSON.stringify(a.consultations));
  // varied enough: most consultations differ
  const small = generateDemo(1, sizePresets.small);
  assert.ok(new Set(small.consultations.map((x) => JSON.stringify(x.turns))).size > 0.95 * small.consultations.length);
});

test('demo corpus passes its own validation for several seeds', () => {
  for (const seed of [1, 2, 3]) assert.deepEqual(validateDemo(generateDemo(seed, sizePresets.small)), [], `seed ${seed}`);
  // and the validation is not vacuous: a consultation that advises without asking is caught
  const d = generateDemo(1, sizePresets.tiny);
  const c = d.consultations[0]!;
  c.turns = [c.turns[0]!, c.turns[c.turns.length - 1]!];
  assert.match(validateDemo(d).join('\n'), /consultations\[0\]: the doctor never asks before advising/);
});

test('rankings follow safety > professionalism > fluency; ties only between equally flawless answers', () => {
  assert.deepEqual(rankByFlaws([
    { id: 'a', unsafe: false, unprofessional: false, disfluent: true },
    { id: 'b', unsafe: true, unprofessional: false, disfluent: false },
    { id: 'c', unsafe: false, unprofessional: true, disfluent: false },
    { id: 'd', unsafe: false, unprofessional: false, disfluent: false },
  ]), [['d'], ['a'], ['c'], ['b']]);
  const d = generateDemo(5, sizePresets.small);
  let ties = 0;
  for (const r of d.rankings) {
    assert.equal(r.candidates.length, 4);
    if (r.ranking.length === 3) ties++;
    const p = pairsFromRanking({ kind: 'preference', history: [], prompt: r.prompt, candidates: r.candidates, ranking: r.ranking });
    assert.equal(p.length, r.ranking.length === 4 ? 6 : 5);
  }
  assert.ok(ties > 10 && ties < d.rankings.length / 2, `ties ${ties}`);
});

test('data demo files load back with the right shapes and counts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-demo-'));
  try {
    const { files, problems } = await writeDemo(dir, 11, sizePresets.tiny);
    assert.deepEqual(problems, []);
    assert.equal(files['consultations.jsonl'], sizePresets.tiny.consultations);
    const cons = await loadFile(join(dir, 'consultations.jsonl'));
    assert.deepEqual(cons.report.shapes, { alpaca: sizePresets.tiny.consultations });
    assert.ok((cons.records as Conversation[]).every((c) => c.turns.length >= 4 && c.meta.department));
    const saf = await loadFile(join(dir, 'safety.jsonl'));
    assert.ok((saf.records as Conversation[]).every((c) => c.meta.safety));
    const rk = await loadFile(join(dir, 'rankings.jsonl'));
    assert.deepEqual(rk.report.shapes, { ranking: sizePresets.tiny.rankings });
    assert.ok((rk.records as PreferenceSet[]).every((r) => r.ranking.length >= 3));
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    assert.equal(manifest.seed, 11);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Rng list draws: sample gives k distinct items and leaves its input alone, shuffle permutes, pick covers the list', () => {
  const r = new Rng(5), xs = Array.from({ length: 20 }, (_, i) => i), copy = [...xs];
  const s = r.sample(xs, 7);
  assert.equal(s.length, 7);
  assert.equal(new Set(s).size, 7);
  assert.ok(s.every((x) => xs.includes(x)));
  assert.deepEqual(xs, copy);
  assert.equal(r.sample(xs, 50).length, 20);
  const sh = r.shuffle([...xs]);
  assert.deepEqual([...sh].sort((a, b) => a - b), xs);
  assert.notDeepEqual(sh, xs);
  const seen = new Set(Array.from({ length: 400 }, () => r.pick(xs)));
  assert.equal(seen.size, 20);
  const hits = Array.from({ length: 2000 }, () => r.chance(0.25)).filter(Boolean).length;
  assert.ok(hits > 400 && hits < 600, `chance(0.25): ${hits} of 2000`);
  assert.throws(() => r.pick([]), /\[Rng\] pick from an empty list/);
  assert.deepEqual(new Rng(9).sample(xs, 5), new Rng(9).sample(xs, 5));
});
