// bench-load.test.ts — `bench load` runs end to end on a tiny shape: a sharded checkpoint (index + several files) is
// written, loaded in fresh processes, and the JSON figures agree with the checkpoint's own sizes (bytes held per dtype
// = the file's tensor bytes for bf16; 1-D tensors widened to f32; a quantized --weights holds blocks). Times are not
// asserted (the lead measures); that they are positive and one per round is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { benchLoad } from '../../src/cli/bench-load.js';
import { jsonOfCommand } from '../helpers.js';
import { presets } from '../../src/model/llama.js';
import { tensorSpecs } from '../../src/model/random-init.js';

const run = (args: string[]) => jsonOfCommand(benchLoad, args);

const cfg = { ...presets.tiny, numLayers: 2 };
const specs = tensorSpecs(cfg);
const count = (s: { shape: number[] }) => s.shape.reduce((p, d) => p * d, 1);
const matrices = specs.filter((s) => s.shape.length === 2), vectors = specs.filter((s) => s.shape.length === 1);

test('bench load --json: bf16 shards with an index, bytes held = file tensor bytes, sane memory and times', async () => {
  const j = await run(['--preset', 'tiny', '--layers', '2', '--shard-mb', '0.5', '--rounds', '2', '--json']);
  assert.equal(j.parameters, specs.reduce((s, x) => s + count(x), 0));
  assert.equal(j.layers, 2);
  assert.ok(j.files >= 3 && j.index, `${j.files} files`);
  assert.equal(j.fileTensorBytes, 2 * j.parameters);
  // safetensors headers: a few hundred bytes a tensor at most
  assert.ok(j.fileBytes > j.fileTensorBytes && j.fileBytes - j.fileTensorBytes < 512 * specs.length, `${j.fileBytes} vs ${j.fileTensorBytes}`);
  // matrices stay in the file's bf16 (no f32 copy); norms are held in f32 (twice their file bytes)
  assert.deepEqual(j.heldAs.bf16, { tensors: matrices.length, bytes: 2 * matrices.reduce((s, x) => s + count(x), 0) });
  assert.deepEqual(j.heldAs.f32, { tensors: vectors.length, bytes: 4 * vectors.reduce((s, x) => s + count(x), 0) });
  assert.equal(j.heldBytes, j.heldAs.bf16.bytes + j.heldAs.f32.bytes);
  assert.equal(j.perRound.length, 2);
  assert.deepEqual(j.warnings, []);
  assert.ok(j.loadSeconds > 0 && j.processSeconds >= j.loadSeconds && j.warmupLoadSeconds > 0);
  assert.ok(j.peakRssMiB >= j.rssBeforeLoadMiB && j.rssBeforeLoadMiB > 10, `${j.peakRssMiB} / ${j.rssBeforeLoadMiB}`);
  assert.ok(j.peakRssMiB * 2 ** 20 > j.heldBytes, 'the child holds the weights it reports');
});

test('bench load --weights q8_0 holds blocks; --dtype f32 holds f32; bad flags are refused', async () => {
  const q = await run(['--preset', 'tiny', '--layers', '1', '--weights', 'q8_0', '--rounds', '1', '--json']);
  assert.equal(q.files, 1);
  assert.equal(q.index, false);
  assert.equal(q.heldAs.bf16, undefined);
  assert.equal(q.heldAs.q8_0.bytes, (34 / 32) * (q.parameters - q.heldAs.f32.bytes / 4));
  const f = await run(['--preset', 'tiny', '--layers', '1', '--dtype', 'f32', '--rounds', '1', '--json']);
  assert.deepEqual(Object.keys(f.heldAs), ['f32']);
  assert.equal(f.heldAs.f32.bytes, f.fileTensorBytes);
  await assert.rejects(benchLoad(['--preset', 'gpt5']), /--preset: unknown 'gpt5'/);
  await assert.rejects(benchLoad(['--preset', 'tiny', '--rounds', '0']), /--rounds must be a positive integer/);
  await assert.rejects(benchLoad(['--preset', 'tiny', '--dtype', 'q4_0']), /--dtype must be one of bf16\|f32/);
});
