// bench-decode.test.ts — `bench decode` runs end to end on a tiny shape and reports its figures as JSON: one GGUF file
// at --weights decoded by ours (and by llama.cpp when node-llama-cpp is installed), --batch aggregates, bad flags
// refused. Speeds are not asserted anywhere (the lead measures); agreement is llama-cpp.test.ts's job.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backend } from '../../src/backend/index.js';
import { benchConfig, benchDecode } from '../../src/cli/bench-decode.js';
import { jsonOfCommand } from '../helpers.js';

const run = (args: string[]) => jsonOfCommand(benchDecode, args);

test('bench decode --json on the tiny preset, 1 layer, q8_0 file, both engines on the same file', async () => {
  const j = await run(['--preset', 'tiny', '--layers', '1', '--weights', 'q8_0', '--prompt', '8', '--new', '6', '--rounds', '1', '--json']);
  assert.ok(j.tokensPerS > 0 && j.prefillTokensPerS > 0 && j.peakRssMiB > 0);
  assert.equal(j.newTokens, 6);
  assert.equal(j.layers, 1);
  assert.equal(j.weights, 'q8_0');
  // the matrices are q8_0 in memory (in the decode kernel's panel layout where the backend reads it, as chat and
  // serve load them), or the fallback is reported (never silent)
  const panels = backend().quantPanelsSupported('q8_0');
  assert.ok(panels ? j.heldAs.q8_0x16 && !j.heldAs.q8_0 : j.heldAs.q8_0 || j.fallbacks.some((w: string) => w.includes('q8_0')), JSON.stringify(j.heldAs));
  if ('skipped' in j.llamaCpp) assert.equal(j.ratio, null);
  else {
    assert.ok(j.llamaCpp.tokensPerS > 0 && j.llamaCpp.prefillTokensPerS > 0 && j.ratio > 0);
    assert.equal(j.llamaCpp.gguf, 'q8_0');
  }
});

test('bench decode --batch 2 reports aggregate tok/s (per sequence × 2); bad flags are refused', async () => {
  const j = await run(['--preset', 'tiny', '--layers', '1', '--weights', 'bf16', '--batch', '2', '--prompt', '4', '--new', '4', '--rounds', '1', '--llama-cpp=false', '--json']);
  assert.equal(j.batch, 2);
  assert.ok(Math.abs(j.aggregateTokensPerS - 2 * j.tokensPerS) < 1e-6 * j.aggregateTokensPerS);
  assert.deepEqual(j.llamaCpp, { skipped: 'disabled with --llama-cpp=false' });
  await assert.rejects(benchDecode(['--preset', 'gpt5', '--json']), /--preset: unknown 'gpt5'/);
  await assert.rejects(benchDecode(['--preset', 'tiny', '--batch', '0']), /--batch >= 1/);
  await assert.rejects(benchDecode(['--preset', 'tiny', '--weights', 'q2_k']), /--weights must be one of f32\|bf16\|q8_0\|q4_0/);
  assert.throws(() => benchConfig('tiny', 0, 10), /--layers must be a positive integer/);
  const q = benchConfig('qwen2.5-0.5b', 2, 100);
  assert.deepEqual([q.hiddenSize, q.numLayers, q.numKvHeads, q.vocabSize, q.tieWordEmbeddings, q.attentionBias], [896, 2, 2, 151936, true, true]);
});

test('bench decode --batch 1,2 decodes both sizes in the same rounds: byBatch with each aggregate over the first', async () => {
  const j = await run(['--preset', 'tiny', '--layers', '1', '--weights', 'q4_0', '--batch', '1,2', '--prompt', '4', '--new', '4', '--rounds', '2', '--llama-cpp=false', '--json']);
  assert.equal(j.batch, 1); // the top-level figures are the first size's
  assert.deepEqual(j.byBatch.map((r: { batch: number }) => r.batch), [1, 2]);
  const [one, two] = j.byBatch;
  assert.equal(one.aggregateTokensPerS, j.aggregateTokensPerS);
  assert.equal(one.vsFirst, 1);
  assert.ok(Math.abs(two.vsFirst - two.aggregateTokensPerS / one.aggregateTokensPerS) < 1e-9);
  assert.ok(Math.abs(two.aggregateTokensPerS - 2 * two.tokensPerS) < 1e-6 * two.aggregateTokensPerS);
  for (const r of j.byBatch) assert.equal(r.perRound.length, 2, 'one figure per round and size');
  assert.ok(two.prefillTokensPerS > 0);
  const single = await run(['--preset', 'tiny', '--layers', '1', '--weights', 'q4_0', '--prompt', '4', '--new', '4', '--rounds', '1', '--llama-cpp=false', '--json']);
  assert.equal(single.byBatch, undefined, 'one size: no byBatch');
  await assert.rejects(benchDecode(['--preset', 'tiny', '--batch', '1,1']), /--batch lists a size twice: '1,1'/);
  await assert.rejects(benchDecode(['--preset', 'tiny', '--batch', '1,x']), /--batch >= 1: an integer or a list like 1,8, got 'x' in '1,x'/);
  await assert.rejects(benchDecode(['--preset', 'tiny', '--batch', '1,8', '--profile']), /--profile times one batch size/);
});

test('bench decode --profile reports per-phase and per-kernel times of the decode steps, and stops profiling after', async () => {
  const before = backend();
  const j = await run(['--preset', 'tiny', '--layers', '1', '--weights', 'q8_0', '--batch', '2', '--prompt', '4', '--new', '5', '--rounds', '2', '--llama-cpp=false', '--profile', '--json']);
  const p = j.profile;
  // 2 rounds × (5 new tokens − 1 from the prefill) decode steps
  assert.equal(p.steps, 8);
  for (const k of ['prefill', 'forward', 'head', 'attend', 'sample', 'logprob']) assert.ok(p.phases[k]?.calls > 0, `phase ${k}: ${JSON.stringify(p.phases)}`);
  assert.equal(p.phases.forward.calls, 8);
  // one layer: the decode steps' attention once a step; the prefill's is filed apart
  assert.equal(p.phases.attend.calls, 8, JSON.stringify(p.phases));
  assert.ok(p.phases['prefill: attend']?.calls > 0, JSON.stringify(p.phases));
  // the decode matvecs are filed by shape: 2 rows against the q8_0 head (V = 2048, C = 128), once per step
  const held = backend().quantPanelsSupported('q8_0') ? 'q8_0x16' : 'q8_0';
  assert.equal(p.kernels[`matvec 2×2048×128 ${held}`]?.calls, 8, Object.keys(p.kernels).join(' | '));
  assert.ok(Object.keys(p.kernels).some((k) => k.startsWith('prefill: ')));
  assert.equal(backend(), before, 'the timing wrapper is removed when the profile stops');
});
