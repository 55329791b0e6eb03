// The training loop: loss falls, metrics and evals are written, resume is exact (in-process and after
// kill -9 of a child process), gradient accumulation matches a bigger batch, non-finite losses stop or skip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NonFiniteLossError, readMetrics, train } from '../../src/train/loop.js';
import { latestCheckpoint } from '../../src/train/checkpoint.js';
import { full } from '../../src/ops/creation.js';
import { tinyLoop, tinyModel, tinyTask } from './tiny-task.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'zj-loop-'));
const weights = (m: ReturnType<typeof tinyModel>) => Buffer.concat(m.parameters().map((p) => Buffer.from((p.data as Float32Array).slice().buffer)));

test('loss falls, metrics.jsonl has a row per step, dev loss is evaluated', async () => {
  const dir = tmp();
  const model = tinyModel();
  const r = await train(tinyTask(model), tinyLoop(dir, 30, { evalEvery: 10 }));
  assert.equal(r.steps, 30);
  assert.ok(r.losses[29]! < r.losses[0]! * 0.6, `loss ${r.losses[0]} → ${r.losses[29]}`);
  const rows = readMetrics(dir);
  assert.equal(rows.length, 30);
  assert.deepEqual(rows.filter((x) => 'eval_loss' in x).map((x) => x.step), [10, 20, 30]);
  assert.ok(latestCheckpoint(dir), 'a final checkpoint exists');
  rmSync(dir, { recursive: true });
});

test('interrupted then resumed in-process → bitwise the same weights as an uninterrupted run', async () => {
  const a = tmp(), b = tmp();
  const ma = tinyModel();
  await train(tinyTask(ma), tinyLoop(a, 8, { gradAccum: 2 }));
  const mb1 = tinyModel();
  const first = await train(tinyTask(mb1), tinyLoop(b, 8, { gradAccum: 2, saveEvery: 1, stopAfter: 3 }));
  assert.equal(first.steps, 3);
  const mb2 = tinyModel(); // fresh process state: weights come only from the checkpoint
  const second = await train(tinyTask(mb2), tinyLoop(b, 8, { gradAccum: 2, saveEvery: 1 }));
  assert.equal(second.resumedFrom, 3);
  assert.ok(weights(ma).equals(weights(mb2)), 'resumed weights differ from the uninterrupted run');
  assert.equal(readMetrics(b).length, 8);
  rmSync(a, { recursive: true });
  rmSync(b, { recursive: true });
});

test('kill -9 during training, then resume → bitwise equal final weights', async () => {
  const child = fileURLToPath(new URL('./child-train.js', import.meta.url));
  const run = (dir: string, killAfterMicro?: number) => new Promise<number | null>((resolve) => {
    const p = spawn(process.execPath, [child, dir, '12'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    p.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = [...buf.matchAll(/micro (\d+)/g)].pop();
      if (killAfterMicro !== undefined && m && Number(m[1]) >= killAfterMicro) p.kill('SIGKILL');
    });
    p.on('exit', (code) => resolve(code));
  });
  const clean = tmp(), killed = tmp();
  assert.equal(await run(clean), 0);
  const code = await run(killed, 6);
  assert.equal(code, null, 'the child was killed');
  assert.ok(!existsSync(join(killed, 'final.bin')));
  const ck = latestCheckpoint(killed);
  assert.ok(ck, 'a checkpoint survived the kill');
  assert.equal(await run(killed), 0);
  assert.ok(readFileSync(join(clean, 'final.bin')).equals(readFileSync(join(killed, 'final.bin'))), 'final weights differ');
  rmSync(clean, { recursive: true });
  rmSync(killed, { recursive: true });
});

test('gradient accumulation over 2 micro-batches of 2 ≈ one batch of 4', async () => {
  const a = tmp(), b = tmp();
  const ma = tinyModel(), mb = tinyModel();
  // the same 4 sequences per step either way: batch position p of size 2 covers sequences 2p, 2p+1
  await train(tinyTask(ma, 4), tinyLoop(a, 3));
  await train(tinyTask(mb, 2), tinyLoop(b, 3, { gradAccum: 2 }));
  const wa = new Float32Array(weights(ma).buffer.slice(0)), wb = new Float32Array(weights(mb).buffer.slice(0));
  let worst = 0;
  for (let i = 0; i < wa.length; i++) worst = Math.max(worst, Math.abs(wa[i]! - wb[i]!));
  assert.ok(worst < 1e-5, `largest weight difference ${worst}`);
  rmSync(a, { recursive: true });
  rmSync(b, { recursive: true });
});

test('a non-finite loss stops with the step and the last good checkpoint, or is skipped', async () => {
  const dir = tmp();
  const model = tinyModel();
  const base = tinyTask(model);
  const poisoned = { ...base, loss: (p: number) => (p === 4 ? { loss: full([], NaN), tokens: 1 } : base.loss(p)) };
  await assert.rejects(train(poisoned, tinyLoop(dir, 8, { saveEvery: 2 })),
    (e: unknown) => e instanceof NonFiniteLossError && /step 5/.test(e.message) && /ckpt-0000004/.test(e.message));
  rmSync(dir, { recursive: true });
  const dir2 = tmp();
  const r = await train(poisoned, tinyLoop(dir2, 8, { onNonFinite: 'skip' }));
  assert.equal(r.steps, 8);
  assert.equal(r.losses.length, 7, 'one step skipped');
  rmSync(dir2, { recursive: true });
});

test('Ctrl-C (SIGINT) saves a checkpoint at the current step and stops cleanly', async () => {
  const child = fileURLToPath(new URL('./child-train.js', import.meta.url));
  const dir = tmp();
  const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
    // saveEvery 0: the only checkpoint can come from the interrupt
    const p = spawn(process.execPath, [child, dir, '100000', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '', sent = false;
    p.stdout.on('data', (d: Buffer) => {
      text += d.toString();
      if (!sent && /micro 5\b/.test(text)) { sent = true; p.kill('SIGINT'); }
    });
    p.on('exit', (code) => resolve({ code, text }));
  });
  assert.equal(out.code, 0);
  const m = /interrupted at (\d+)/.exec(out.text);
  assert.ok(m, 'the loop reported the interruption');
  const ck = latestCheckpoint(dir);
  assert.ok(ck && ck.endsWith(`ckpt-${m![1]!.padStart(7, '0')}`), `checkpoint ${ck} at the interrupted step ${m![1]}`);
  rmSync(dir, { recursive: true });
});
