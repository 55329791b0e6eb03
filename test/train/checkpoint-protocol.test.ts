// The crash-safe checkpoint protocol: a failure (thrown, or SIGKILL of a child) before every step of a save leaves
// latest.json naming a complete checkpoint and a resume that ends bitwise where an uninterrupted run ends; a repeated
// save of the step latest names is a no-op; a Ctrl-C landing during a periodic save does not rewrite that checkpoint;
// a full disk (thrown ENOSPC through the seam, and a real small tmpfs where one can be mounted) names the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { train } from '../../src/train/loop.js';
import { checkpointFaults, CheckpointIoError, latestCheckpoint, protocolPoints, saveCheckpoint } from '../../src/train/checkpoint.js';
import { AdamW, defaultGroups } from '../../src/optim/adamw.js';
import { tinyLoop, tinyModel, tinyTask } from './tiny-task.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'zj-ckpt-'));
const weights = (m: ReturnType<typeof tinyModel>) => Buffer.concat(m.parameters().map((p) => Buffer.from((p.data as Float32Array).slice().buffer)));
const child = fileURLToPath(new URL('./child-train.js', import.meta.url));

function runChild(dir: string, steps: number, fault?: string): Promise<{ code: number | null; signal: string | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [child, dir, String(steps), '1', ...(fault ? [fault] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('exit', (code, signal) => resolve({ code, signal, out }));
  });
}

test('a repeated save of the step latest names is a no-op (the only good checkpoint is never rewritten)', () => {
  const dir = tmp();
  const m = tinyModel();
  const named = m.namedParameters();
  const opt = new AdamW(defaultGroups(named.map(([, t]) => t), 0.01));
  const st = { step: 3, position: 3, rng: null, extra: {} };
  const path = saveCheckpoint(dir, named, opt, st);
  writeFileSync(join(path, 'marker'), 'x'); // a rewrite would replace the folder and lose this
  assert.equal(saveCheckpoint(dir, named, opt, st), path);
  assert.ok(existsSync(join(path, 'marker')), 'the second save of step 3 rewrote ckpt-0000003');
  rmSync(dir, { recursive: true });
});

test('a thrown failure before every protocol step leaves a loadable latest, and a resume ends bitwise equal', async () => {
  const ref = tmp();
  const mref = tinyModel();
  await train(tinyTask(mref), tinyLoop(ref, 4, { saveEvery: 1 }));
  const want = weights(mref);
  for (const point of protocolPoints) {
    const dir = tmp();
    checkpointFaults.hook = (p, _f, step) => { if (p === point && step === 3) throw new Error(`injected before ${point}`); };
    await assert.rejects(train(tinyTask(tinyModel()), tinyLoop(dir, 4, { saveEvery: 1 })), new RegExp(`injected before ${point}`));
    checkpointFaults.hook = null;
    const ck = latestCheckpoint(dir);
    assert.ok(ck && existsSync(join(ck, 'trainer.json')), `${point}: latest names a complete checkpoint`);
    // up to the repoint the new checkpoint does not count; after it (prune) it does
    assert.ok(ck.endsWith(point === 'prune' ? 'ckpt-0000003' : 'ckpt-0000002'), `${point}: latest is ${ck}`);
    const m = tinyModel();
    const r = await train(tinyTask(m), tinyLoop(dir, 4, { saveEvery: 1 }));
    assert.equal(r.steps, 4);
    assert.ok(weights(m).equals(want), `${point}: resumed weights differ from the uninterrupted run`);
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('ckpt-')), ['ckpt-0000004'], `${point}: stale folders pruned`);
    rmSync(dir, { recursive: true });
  }
  rmSync(ref, { recursive: true });
});

test('ENOSPC while writing a checkpoint (through the seam) names the file, removes the .tmp folder, keeps latest', async () => {
  const dir = tmp();
  checkpointFaults.hook = (p, file, step) => {
    if (p === 'write-optimizer' && step === 2) throw Object.assign(new Error(`ENOSPC: no space left on device, write`), { code: 'ENOSPC' });
    void file;
  };
  try {
    await assert.rejects(train(tinyTask(tinyModel()), tinyLoop(dir, 3, { saveEvery: 1 })),
      (e: unknown) => e instanceof CheckpointIoError && e.code === 'ENOSPC' && e.message.includes(join(dir, 'ckpt-0000002.tmp', 'optimizer.safetensors')));
  } finally {
    checkpointFaults.hook = null;
  }
  assert.ok(!existsSync(join(dir, 'ckpt-0000002.tmp')), 'the partial checkpoint was removed to give the space back');
  assert.ok(latestCheckpoint(dir)!.endsWith('ckpt-0000001'));
  rmSync(dir, { recursive: true });
});

test('SIGKILL of a child before every protocol step, then a rerun → bitwise equal final weights', async () => {
  const clean = tmp();
  assert.equal((await runChild(clean, 4)).code, 0);
  const want = readFileSync(join(clean, 'final.bin'));
  for (const point of protocolPoints) {
    const dir = tmp();
    const killed = await runChild(dir, 4, `${point}:3`);
    assert.equal(killed.signal, 'SIGKILL', `${point}: the child was killed (${killed.out.slice(-300)})`);
    const ck = latestCheckpoint(dir);
    assert.ok(ck, `${point}: a checkpoint survived`);
    const again = await runChild(dir, 4);
    assert.equal(again.code, 0, `${point}: the rerun failed: ${again.out.slice(-500)}`);
    assert.ok(readFileSync(join(dir, 'final.bin')).equals(want), `${point}: final weights differ`);
    rmSync(dir, { recursive: true });
  }
  rmSync(clean, { recursive: true });
});

test('Ctrl-C arriving during a periodic save does not save (or delete) that step again', async () => {
  const dir = tmp();
  // SIGINT lands while step 2's checkpoint is written; the child SIGKILLs itself if a second save of step 2 begins
  const r = await runChild(dir, 100000, 'sigint@write-weights:2');
  assert.equal(r.signal, null, `a second save of the same step began (the child killed itself): ${r.out.slice(-300)}`);
  assert.equal(r.code, 0);
  assert.match(r.out, /interrupted at 2/);
  assert.ok(latestCheckpoint(dir)!.endsWith('ckpt-0000002'));
  rmSync(dir, { recursive: true });
});

/** Mounts a small tmpfs (needs root / CAP_SYS_ADMIN); null when this machine does not allow it. */
function mountTmpfs(kib: number): string | null {
  const at = tmp();
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${kib}k`, 'tmpfs', at], { encoding: 'utf8' });
  if (r.status !== 0) { rmSync(at, { recursive: true }); return null; }
  return at;
}

test('a real full disk (small tmpfs): the error names the file, latest stays good, a rerun after freeing space resumes', async (t) => {
  const at = mountTmpfs(1024);
  if (!at) { t.skip('cannot mount a tmpfs here (needs root); the seam test above covers ENOSPC'); return; }
  try {
    const ref = tmp();
    const mref = tinyModel();
    await train(tinyTask(mref), tinyLoop(ref, 4, { saveEvery: 1 }));
    rmSync(ref, { recursive: true });
    const dir = join(at, 'train');
    mkdirSync(dir);
    // one checkpoint of the tiny model is ~280 KB: leave room for the first, not for a second beside it
    writeFileSync(join(at, 'filler'), Buffer.alloc(1024 * 1024 - 480 * 1024));
    await assert.rejects(train(tinyTask(tinyModel()), tinyLoop(dir, 4, { saveEvery: 1 })),
      (e: unknown) => e instanceof Error && /ENOSPC/.test(e.message) && e.message.includes(join(dir, 'ckpt-0000002.tmp')));
    assert.ok(latestCheckpoint(dir)!.endsWith('ckpt-0000001'));
    rmSync(join(at, 'filler'));
    const m = tinyModel();
    const r = await train(tinyTask(m), tinyLoop(dir, 4, { saveEvery: 1 }));
    assert.equal(r.resumedFrom, 1);
    assert.ok(weights(m).equals(weights(mref)), 'resumed weights differ from the uninterrupted run');
  } finally {
    spawnSync('umount', [at]);
    rmSync(at, { recursive: true, force: true });
  }
});
