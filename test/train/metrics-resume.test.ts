// metrics.jsonl across crashes: a torn last line is trimmed on resume with a notice, a bad line elsewhere is an
// error naming file:line, a full disk during an append names the file (a real ENOSPC from /dev/full), and a resumed
// run's result (first loss, losses, evals) describes the whole run, not only its last segment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readMetrics, train } from '../../src/train/loop.js';
import { appendMetricsRow } from '../../src/train/metrics-log.js';
import { tinyLoop, tinyModel, tinyTask } from './tiny-task.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'zj-metrics-'));

test('a torn last metrics line (crash or full disk mid-append) is trimmed on resume, with a notice', async () => {
  const dir = tmp();
  await train(tinyTask(tinyModel()), tinyLoop(dir, 4, { saveEvery: 4, stopAfter: 4 }));
  appendFileSync(join(dir, 'metrics.jsonl'), '{"step":5,"loss":0.95');
  const r = await train(tinyTask(tinyModel()), tinyLoop(dir, 6, { saveEvery: 4 }));
  assert.equal(r.steps, 6);
  assert.ok(r.notices.some((n) => n.includes(join(dir, 'metrics.jsonl')) && /torn/.test(n)), `notices: ${r.notices.join(' | ')}`);
  assert.deepEqual(readMetrics(dir).map((x) => x.step), [1, 2, 3, 4, 5, 6]);
  rmSync(dir, { recursive: true });
});

test('a bad metrics line before the last one is an error naming file:line, not a bare JSON message', async () => {
  const dir = tmp();
  await train(tinyTask(tinyModel()), tinyLoop(dir, 3, { saveEvery: 3 }));
  const p = join(dir, 'metrics.jsonl');
  const lines = readFileSync(p, 'utf8').split('\n');
  lines[1] = '{"step":2,"loss":';
  writeFileSync(p, lines.join('\n'));
  await assert.rejects(train(tinyTask(tinyModel()), tinyLoop(dir, 5)), (e: unknown) => (e as Error).message.includes(`${p}: line 2`));
  rmSync(dir, { recursive: true });
});

test('ENOSPC on a metrics append (real, from /dev/full) names metrics.jsonl', async (t) => {
  if (!existsSync('/dev/full')) { t.skip('no /dev/full on this system'); return; }
  const dir = tmp();
  symlinkSync('/dev/full', join(dir, 'metrics.jsonl'));
  await assert.rejects(train(tinyTask(tinyModel()), tinyLoop(dir, 2)),
    (e: unknown) => /ENOSPC/.test((e as Error).message) && (e as Error).message.includes(join(dir, 'metrics.jsonl')));
  rmSync(dir, { recursive: true });
});

test('a real full disk mid-append (small tmpfs) leaves no partial line: the file is cut back to its last whole line', (t) => {
  const at = mkdtempSync(join(tmpdir(), 'zj-tmpfs-'));
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', at]).status !== 0) {
    rmSync(at, { recursive: true });
    t.skip('cannot mount a tmpfs here (needs root); the /dev/full test above covers the error message');
    return;
  }
  try {
    const p = join(at, 'metrics.jsonl');
    appendMetricsRow(p, { step: 1, loss: 1 });
    // fill every free page; the row below then fits only partly (into the metrics file's own first page)
    const fd = openSync(join(at, 'filler'), 'w');
    try { for (;;) writeSync(fd, Buffer.alloc(4096)); } catch { /* full */ } finally { closeSync(fd); }
    assert.throws(() => appendMetricsRow(p, { step: 2, loss: 2, note: 'x'.repeat(9000) }),
      (e: unknown) => /ENOSPC/.test((e as Error).message) && (e as Error).message.includes(p));
    assert.equal(readFileSync(p, 'utf8'), '{"step":1,"loss":1}\n');
  } finally {
    spawnSync('umount', [at]);
    rmSync(at, { recursive: true, force: true });
  }
});

test('after a resume the result covers the whole run: first loss, every loss and every eval', async () => {
  const a = tmp(), b = tmp();
  const whole = await train(tinyTask(tinyModel()), tinyLoop(a, 6, { evalEvery: 2 }));
  await train(tinyTask(tinyModel()), tinyLoop(b, 6, { evalEvery: 2, saveEvery: 3, stopAfter: 3 }));
  const resumed = await train(tinyTask(tinyModel()), tinyLoop(b, 6, { evalEvery: 2, saveEvery: 3 }));
  assert.equal(resumed.resumedFrom, 3);
  assert.deepEqual(resumed.losses, whole.losses, 'losses of the resumed run');
  assert.equal(resumed.losses[0], whole.losses[0], 'firstLoss');
  assert.deepEqual(resumed.evals.map((e) => e.step), [2, 4, 6]);
  // a rerun that finds the final checkpoint trains nothing and still reports the run
  const again = await train(tinyTask(tinyModel()), tinyLoop(b, 6, { evalEvery: 2, saveEvery: 3 }));
  assert.equal(again.losses.length, 6);
  assert.equal(again.lastLoss, whole.lastLoss);
  rmSync(a, { recursive: true });
  rmSync(b, { recursive: true });
});
