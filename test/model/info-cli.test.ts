// info-cli.test.ts — `zhongjing info --model PATH [--weights W] --json` loads the model for real and reports the bytes
// each dtype holds (bf16 matrices at 2 bytes, q8_0 at 34 per 32, norms f32); --weights without --model is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { infoCommand } from '../../src/cli/info.js';
import { LlamaForCausalLM, presets } from '../../src/model/llama.js';
import { saveModelDir } from '../../src/model/model-dir.js';
import { tempDir } from '../helpers.js';

async function info(args: string[]): Promise<Record<string, any>> {
  const log = console.log;
  const lines: string[] = [];
  console.log = (s: string) => lines.push(s);
  try {
    assert.equal(await infoCommand.run(args), 0);
  } finally {
    console.log = log;
  }
  return JSON.parse(lines[0]!);
}

test('info --model reports bytes per dtype for bf16 and q8_0 weights', async () => {
  const dir = tempDir('zj-info-');
  const cfg = { ...presets.tiny, vocabSize: 64, hiddenSize: 64, intermediateSize: 96, numLayers: 1, numHeads: 4, numKvHeads: 2 };
  const m = new LlamaForCausalLM(cfg, 1);
  saveModelDir(dir, m, { dtype: 'BF16' });
  const mats = m.namedParameters().filter(([, p]) => p.rank === 2).map(([, p]) => p.size).reduce((a, b) => a + b, 0);
  const vecs = m.namedParameters().filter(([, p]) => p.rank === 1).map(([, p]) => p.size).reduce((a, b) => a + b, 0);
  const a = await info(['--model', dir, '--json']);
  assert.ok(a.backend !== undefined || a.name !== undefined);
  assert.deepEqual(a.model.dtypes, { bf16: { tensors: 9, bytes: 2 * mats }, f32: { tensors: 3, bytes: 4 * vecs } });
  const q = await info(['--model', dir, '--weights', 'q8_0', '--json']);
  assert.equal(q.model.dtypes.q8_0.bytes, (mats / 32) * 34);
  assert.equal(q.model.totalBytes, (mats / 32) * 34 + 4 * vecs);
  await assert.rejects(infoCommand.run(['--weights', 'bf16']), /--weights needs --model PATH/);
});
