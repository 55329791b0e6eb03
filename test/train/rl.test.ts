// RL objectives done right: log-probs under the sampling distribution (temperature), penalties after normalisation,
// the prompt length filter, prompts without replacement, group advantages, and LoRA-only PPO and GRPO shown to
// learn on a model pre-trained in-test (a random tiny model gives a LoRA adapter nothing to steer).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readMetrics, train } from '../../src/train/loop.js';
import { ppoTask, type PpoOptions } from '../../src/train/tasks/ppo.js';
import { grpoTask, groupAdvantages, type GrpoOptions } from '../../src/train/tasks/grpo.js';
import { promptSlice, fitPrompts } from '../../src/train/tasks/rl-common.js';
import { tokenLogProbs } from '../../src/train/tasks/logprobs.js';
import { generate } from '../../src/model/generate.js';
import { ValueHead } from '../../src/model/value-head.js';
import { LoraAdapter, freezeParameters, withAdaptersOff } from '../../src/nn/lora.js';
import type { LlamaForCausalLM } from '../../src/model/llama.js';
import { noGrad } from '../../src/autograd/grad-mode.js';
import { tidy } from '../../src/tensor/scope.js';
import { validateConfig, ConfigError } from '../../src/pipeline/config.js';
import { Rng } from '../../src/util/rng.js';
import { tinyLoop, tinyModel, tinyTask } from './tiny-task.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'zj-rl-'));
const EOS = 39;

function lora(m: LlamaForCausalLM, name: string, seed: number): LoraAdapter {
  return new LoraAdapter(name, { r: 8, loraAlpha: 16, loraDropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], useRslora: false })
    .attach(m.namedLinears(), seed);
}

const prompts = (n: number, seed: number) => {
  const r = new Rng(seed);
  return Array.from({ length: n }, () => { let x = r.int(40); return Array.from({ length: 4 }, () => (x = (x + 3) % 40)); });
};

function ppoOpts(model: LlamaForCausalLM, over: Partial<PpoOptions> = {}): PpoOptions {
  const critic = new ValueHead(model.config.hiddenSize, 8);
  freezeParameters(model.parameters());
  const adapter = lora(model, 'ppo', 3);
  return {
    policy: model, critic, namedParams: [...adapter.namedParameters(), ...critic.namedParameters()],
    asReference: (fn) => withAdaptersOff([adapter], () => fn(model)),
    score: (_p, resp) => resp.filter((t) => t < 20).length / resp.length,
    prompts: prompts(16, 1), devPrompts: prompts(8, 2), rolloutSize: 8, miniBatch: 4, epochs: 2, maxNewTokens: 6,
    eosIds: [EOS], temperature: 1, topK: 0, topP: 1, gamma: 1, lambda: 0.95, clipRange: 0.2, clipRangeValue: 0.2,
    vfCoef: 0.1, klInit: 0.05, klTarget: null, klHorizon: 1000, rewardClip: 5, noEosPenalty: 0, seed: 4, ...over,
  };
}

test('at temperature 0.7 the log-prob recorded while sampling equals the one recomputed for the loss', () => {
  const model = tinyModel(3);
  const ps = prompts(6, 5);
  const gen = generate(model, ps, { maxNewTokens: 8, doSample: true, temperature: 0.7, seed: 9 });
  const seqs = ps.map((p, i) => [...p, ...gen.ids[i]!]);
  const lens = ps.map((p) => p.length);
  const re = noGrad(() => tidy(() => {
    const t = tokenLogProbs(model, seqs, lens, { temperature: 0.7 });
    const d = t.logProbs.f32(), Tm = t.batch.T - 1;
    return gen.ids.map((r, b) => r.map((_, k) => d[b * Tm + lens[b]! - 1 + k]!));
  }));
  let worst = 0, vsRaw = 0;
  gen.sampleLogProbs.forEach((row, b) => row.forEach((lp, k) => {
    worst = Math.max(worst, Math.abs(lp - re[b]![k]!));
    vsRaw = Math.max(vsRaw, Math.abs(gen.logProbs[b]![k]! - re[b]![k]!));
  }));
  assert.ok(worst < 1e-4, `sampled vs recomputed log-prob differ by ${worst}`);
  assert.ok(vsRaw > 1e-2, `the temperature must matter: raw log-probs differ from tempered ones by only ${vsRaw}`);
});

test('ppo at temperature 0.7: the first mini-batch ratio is 1 within 1e-5', async () => {
  const dir = tmp();
  const o = ppoOpts(tinyModel(4), { temperature: 0.7 });
  await train(ppoTask(o), tinyLoop(dir, 1, { schedule: { kind: 'constant', lrPeak: 1e-3, warmupSteps: 0 } }));
  const row = readMetrics(dir)[0]!;
  assert.ok(row.ratio_max_dev! < 1e-5, `max |ratio − 1| on the first mini-batch = ${row.ratio_max_dev}`);
  rmSync(dir, { recursive: true });
});

test('ppo refuses top-k / top-p sampling, in the task and as config errors naming the key', () => {
  const m = tinyModel(4);
  assert.throws(() => ppoTask(ppoOpts(m, { topP: 0.9 })), /\[ppo\] topP must be 1/);
  assert.throws(() => ppoTask(ppoOpts(tinyModel(4), { topK: 5 })), /\[ppo\] topK must be 0/);
  assert.throws(() => validateConfig({ ppo: { topP: 0.9 } }), (e: Error) => e instanceof ConfigError && /ppo\.topP/.test(e.message));
  assert.throws(() => validateConfig({ ppo: { topK: 3 } }), (e: Error) => e instanceof ConfigError && /ppo\.topK/.test(e.message));
  assert.throws(() => validateConfig({ rl: 'reinforce' }), /rl/);
});

test('ppo: the no-EOS penalty comes after normalisation and the logged score is the reward model alone', async () => {
  const dir = tmp();
  // EOS id outside the vocabulary's reach: no response ends, every one gets the penalty
  const warnings: string[] = [];
  const o = ppoOpts(tinyModel(5), { score: () => 2.5, noEosPenalty: -1, eosIds: [1000], onWarn: (m) => warnings.push(m) });
  await train(ppoTask(o), tinyLoop(dir, 1));
  const row = readMetrics(dir)[0]!;
  assert.equal(row.score, 2.5);
  assert.equal(row.no_eos_penalty, -1);
  assert.match(warnings[0] ?? '', /every response got the same reward \(2\.5\)/, 'a constant reward is reported');
  rmSync(dir, { recursive: true });
});

test('prompts: too long ones are dropped and counted; each pass uses every prompt once', () => {
  const m = tinyModel(6);
  const long = Array.from({ length: m.config.maxPositions }, () => 1);
  const task = ppoTask(ppoOpts(m, { prompts: [...prompts(5, 1), long] }));
  assert.equal(task.promptsTooLong, 1);
  assert.throws(() => fitPrompts([long], 6, m.config.maxPositions, 'ppo'), /none of 1 prompts fits/);
  const a = promptSlice(7, 0, 7, 3), b = promptSlice(7, 7, 7, 3);
  assert.deepEqual([...a].sort(), [0, 1, 2, 3, 4, 5, 6]);
  assert.deepEqual([...b].sort(), [0, 1, 2, 3, 4, 5, 6]);
  assert.notDeepEqual(a, b, 'a new pass is a new permutation');
  assert.deepEqual(promptSlice(7, 3, 6, 3), [...a.slice(3), ...b.slice(0, 2)], 'slices are recomputable across a pass boundary');
});

test('group advantages: normalised within the group, leave-one-out for rloo, zero for a constant group', () => {
  // scores 1, 2, 3: mean 2, std (n−1) 1 → −1, 0, 1; rloo: 1 − 2.5, 2 − 2, 3 − 1.5
  assert.deepEqual(groupAdvantages([1, 2, 3], 'group'), [-1, 0, 1]);
  assert.deepEqual(groupAdvantages([1, 2, 3], 'rloo'), [-1.5, 0, 1.5]);
  assert.deepEqual(groupAdvantages([4, 4, 4, 4], 'group'), [0, 0, 0, 0]);
  assert.throws(() => groupAdvantages([1], 'group'), /at least 2/);
});

test('a NaN reward stops the RL stage naming the rollout and response', async () => {
  const dir = tmp();
  const o = ppoOpts(tinyModel(5), { score: (_p, r) => (r.length > 0 ? NaN : 0) });
  await assert.rejects(train(ppoTask(o), tinyLoop(dir, 1)), /rollout 0: the reward model scored response 0 as NaN/);
  const g = grpoOpts(tinyModel(5), { score: () => NaN });
  await assert.rejects(train(grpoTask(g), tinyLoop(dir, 1)), /\[grpo\] rollout 0: .* as NaN/);
  rmSync(dir, { recursive: true });
});

/** A tiny LM pre-trained on the "+3 mod 40" rule, so its hidden states carry structure an adapter can steer. */
async function pretrained(seed: number): Promise<LlamaForCausalLM> {
  const m = tinyModel(seed);
  const dir = tmp();
  await train(tinyTask(m, 8), tinyLoop(dir, 200, { schedule: { kind: 'cosine', lrPeak: 1e-2, lrMin: 1e-3, warmupSteps: 10 } }));
  rmSync(dir, { recursive: true });
  return m;
}

// the reachable reward: the share of response tokens below 20 (about half for the pre-trained policy)
const lowShare = (_p: number[], r: number[]) => r.filter((t) => t < 20).length / r.length;

test('LoRA-only PPO on a pre-trained model raises held-out reward with bounded KL', async () => {
  const model = await pretrained(21);
  const o = ppoOpts(model, { score: lowShare, klInit: 0.3, klTarget: null, rolloutSize: 16, miniBatch: 8, epochs: 2, maxNewTokens: 6, temperature: 1 });
  const task = ppoTask(o);
  const before = noGrad(() => task.evaluate!());
  const dir = tmp();
  const r = await train(task, tinyLoop(dir, 240, { evalEvery: 240, maxGradNorm: 1, schedule: { kind: 'constant', lrPeak: 1e-2, warmupSteps: 0 } }));
  const after = r.evals.at(-1)!;
  assert.ok(after.score! >= before.score! + 0.25, `held-out greedy reward ${before.score} → ${after.score}`);
  // the KL penalty keeps the sampled policy near the reference
  assert.ok(after.kl! < 15, `held-out KL to the reference ${after.kl}`);
  const kls = readMetrics(dir).slice(-32).map((x) => x.kl!);
  const klMean = kls.reduce((a, b) => a + b, 0) / kls.length;
  assert.ok(klMean > 0 && klMean < 16, `rollout KL over the last 8 rollouts ${klMean} (fixed coefficient 0.3)`);
  rmSync(dir, { recursive: true });
});

function grpoOpts(model: LlamaForCausalLM, over: Partial<GrpoOptions> = {}): GrpoOptions {
  freezeParameters(model.parameters());
  const adapter = lora(model, 'grpo', 7);
  return {
    policy: model, namedParams: adapter.namedParameters(), asReference: (fn) => withAdaptersOff([adapter], () => fn(model)),
    score: lowShare, prompts: prompts(16, 1), devPrompts: prompts(8, 2), promptsPerStep: 4, k: 4, epochs: 2, maxNewTokens: 6,
    eosIds: [EOS], temperature: 1, clipRange: 0.2, klCoef: 0.2, advantage: 'group', rewardClip: 5, noEosPenalty: 0, seed: 5, ...over,
  };
}

test('LoRA-only GRPO on a pre-trained model raises held-out reward with bounded KL; first ratio is 1', async () => {
  const model = await pretrained(22);
  const task = grpoTask(grpoOpts(model));
  const before = noGrad(() => task.evaluate!());
  const dir = tmp();
  const r = await train(task, tinyLoop(dir, 100, { evalEvery: 100, maxGradNorm: 1, schedule: { kind: 'constant', lrPeak: 1e-2, warmupSteps: 0 } }));
  const after = r.evals.at(-1)!;
  console.log('reward', before.score, after.score, 'kl', after.kl);
  assert.ok(after.score! >= before.score! + 0.25, `held-out greedy reward ${before.score} → ${after.score}`);
  assert.ok(after.kl! < 15, `held-out KL to the reference ${after.kl}`);
  const rows = readMetrics(dir);
  assert.ok(rows[0]!.ratio_max_dev! < 1e-5, `first update's max |ratio − 1| = ${rows[0]!.ratio_max_dev}`);
  for (const k of ['kl_k3', 'constant_groups', 'entropy', 'score']) assert.ok(k in rows[0]!, `metric ${k} logged`);
  rmSync(dir, { recursive: true });
});

test('grpo: interrupted and resumed → bitwise the same adapter weights', async () => {
  const a = tmp(), b = tmp();
  const cfg = (dir: string, extra = {}) => tinyLoop(dir, 6, { schedule: { kind: 'constant', lrPeak: 1e-2, warmupSteps: 0 }, ...extra });
  const A = grpoOpts(tinyModel(8));
  await train(grpoTask(A), cfg(a));
  const B1 = grpoOpts(tinyModel(8));
  await train(grpoTask(B1), cfg(b, { saveEvery: 1, stopAfter: 3 })); // 2 updates per rollout: stops inside the second
  const B2 = grpoOpts(tinyModel(8));
  const res = await train(grpoTask(B2), cfg(b, { saveEvery: 1 }));
  assert.equal(res.resumedFrom, 3);
  const w = (o: GrpoOptions) => Buffer.concat(o.namedParams.map(([, t]) => Buffer.from((t.data as Float32Array).slice().buffer)));
  assert.ok(w(A).equals(w(B2)), 'resumed GRPO weights differ');
  rmSync(a, { recursive: true });
  rmSync(b, { recursive: true });
});
