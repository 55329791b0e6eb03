// kill -9 during the pipeline's `sft` stage, then the same command again: the stage resumes from its last
// checkpoint and its final weights are bitwise those of an uninterrupted run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const child = fileURLToPath(new URL('./child-pipeline.js', import.meta.url));

function run(runsDir: string, name: string, killWhen?: () => boolean): Promise<number | null> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [child, runsDir, name], { stdio: 'inherit' });
    const timer = killWhen ? setInterval(() => { if (killWhen()) { p.kill('SIGKILL'); clearInterval(timer!); } }, 5) : null;
    p.on('exit', (code) => { if (timer) clearInterval(timer); resolve(code); });
  });
}

test('kill -9 during sft, rerun → the sft weights equal an uninterrupted run bitwise', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-resume-'));
  assert.equal(await run(dir, 'clean'), 0);
  const metrics = join(dir, 'killed', 'sft', 'train', 'metrics.jsonl');
  const rows = () => (existsSync(metrics) ? readFileSync(metrics, 'utf8').split('\n').filter(Boolean).length : 0);
  const code = await run(dir, 'killed', () => rows() >= 8);
  assert.equal(code, null, 'the child was killed');
  assert.ok(!existsSync(join(dir, 'killed', 'sft', 'done.json')), 'sft had not finished');
  const stepsBefore = rows();
  assert.ok(stepsBefore < 40, `killed mid-stage (${stepsBefore} steps logged)`);
  assert.equal(await run(dir, 'killed'), 0);
  const weights = (name: string) => readFileSync(join(dir, name, 'sft', 'model', 'model.safetensors'));
  assert.ok(weights('clean').equals(weights('killed')), 'resumed sft weights differ from the uninterrupted run');
  assert.equal(rows(), 40, 'metrics read as one run of 40 steps');
  rmSync(dir, { recursive: true });
});
