// Reward model, DPO and PPO stages on synthetic token data (no tokenizer needed): each learns what its
// signal rewards, PPO's KL stays bounded, and a PPO run interrupted mid-rollout resumes bitwise exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readMetrics, train } from '../../src/train/loop.js';
import { rewardTask, type PairSample } from '../../src/train/tasks/reward.js';
import { dpoTask } from '../../src/train/tasks/dpo.js';
import { gae, ppoTask, type PpoOptions } from '../../src/train/tasks/ppo.js';
import { ValueHead } from '../../src/model/value-head.js';
import { LoraAdapter } from '../../src/nn/lora.js';
import { freezeParameters, withAdaptersOff } from '../../src/nn/lora.js';
import type { LlamaForCausalLM } from '../../src/model/llama.js';
import { Rng } from '../../src/util/rng.js';
import { tinyLoop, tinyModel } from './tiny-task.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'zj-stage-'));
const EOS = 39;

/** Pairs whose chosen answers are runs of "good" tokens (5) and rejected ones of "bad" tokens (7). */
function pairs(n: number, seed: number): PairSample[] {
  const r = new Rng(seed);
  return Array.from({ length: n }, () => {
    const prompt = Array.from({ length: 3 + r.int(4) }, () => 10 + r.int(20));
    const len = 2 + r.int(4);
    return { prompt, chosen: [...Array(len).fill(5), EOS], rejected: [...Array(len).fill(7), EOS] };
  });
}

function lora(m: LlamaForCausalLM, name: string, seed: number): LoraAdapter {
  return new LoraAdapter(name, { r: 4, loraAlpha: 8, loraDropout: 0, targetModules: ['q_proj', 'v_proj', 'gate_proj', 'down_proj'], useRslora: false })
    .attach(m.namedLinears(), seed);
}

test('rm: -logsigmoid pairwise loss learns the preference, dev accuracy reaches 1', async () => {
  const dir = tmp();
  const model = tinyModel(2);
  const head = new ValueHead(model.config.hiddenSize, 3);
  const named: [string, typeof head.vHead.summary.weight][] = [...model.namedParameters(), ...head.namedParameters()];
  const task = rewardTask({ model, head, namedParams: named, train: pairs(24, 1), dev: pairs(8, 2), pairsPerBatch: 4, seed: 1 });
  const before = task.evaluate!();
  const r = await train(task, tinyLoop(dir, 25, { evalEvery: 25 }));
  const after = r.evals.at(-1)!;
  assert.ok(after.accuracy === 1, `dev accuracy ${before.accuracy} → ${after.accuracy}`);
  assert.ok(after.loss < before.loss, `dev loss ${before.loss} → ${after.loss}`);
  rmSync(dir, { recursive: true });
});

test('dpo with a LoRA adapter: reference = adapter off; implicit reward accuracy rises', async () => {
  const dir = tmp();
  const model = tinyModel(4);
  freezeParameters(model.parameters());
  const adapter = lora(model, 'dpo', 5);
  const asReference = <R>(fn: (m: LlamaForCausalLM) => R): R => withAdaptersOff([adapter], () => fn(model));
  const task = dpoTask({ model, namedParams: adapter.namedParameters(), train: pairs(24, 3), dev: pairs(8, 4), pairsPerBatch: 4, beta: 0.5, seed: 2, asReference });
  const r = await train(task, tinyLoop(dir, 25, { evalEvery: 25, schedule: { kind: 'constant', lrPeak: 5e-3, warmupSteps: 0 } }));
  const ev = r.evals.at(-1)!;
  assert.ok(ev.reward_accuracy >= 0.9, `dev implicit-reward accuracy ${ev.reward_accuracy}`);
  assert.ok(r.losses.at(-1)! < r.losses[0]!, `loss ${r.losses[0]} → ${r.losses.at(-1)}`);
  rmSync(dir, { recursive: true });
});

// 'lora': the reference is the policy with its adapter off (no second copy); 'full': a frozen copy. A random
// tiny model's frozen LM head and norms leave a LoRA policy little room to move, so the learning test is 'full'.
function ppoSetup(seed: number, mode: 'lora' | 'full'): { opts: PpoOptions; model: LlamaForCausalLM } {
  const model = tinyModel(6);
  const critic = new ValueHead(model.config.hiddenSize, 8);
  let namedParams: PpoOptions['namedParams'], asReference: PpoOptions['asReference'];
  if (mode === 'lora') {
    freezeParameters(model.parameters());
    const adapter = lora(model, 'ppo', seed);
    namedParams = [...adapter.namedParameters(), ...critic.namedParameters()];
    asReference = (fn) => withAdaptersOff([adapter], () => fn(model));
  } else {
    const reference = tinyModel(6);
    namedParams = [...model.namedParameters(), ...critic.namedParameters()];
    asReference = (fn) => fn(reference);
  }
  const r = new Rng(9);
  const prompts = Array.from({ length: 12 }, () => Array.from({ length: 3 }, () => 10 + r.int(20)));
  const opts: PpoOptions = {
    policy: model, critic, namedParams, asReference,
    // the reward: share of response tokens below 10 (a quarter of the vocabulary for a random policy)
    score: (_p, resp) => resp.filter((t) => t < 10).length / resp.length,
    prompts: prompts.slice(0, 8), devPrompts: prompts.slice(8), rolloutSize: 8, miniBatch: 4, epochs: 2,
    maxNewTokens: 6, eosIds: [EOS], temperature: 1, topK: 0, topP: 1, gamma: 1, lambda: 0.95,
    clipRange: 0.2, clipRangeValue: 0.2, vfCoef: 0.1, klInit: 0.05, klTarget: 6, klHorizon: 1000,
    rewardClip: 5, noEosPenalty: 0, seed,
  };
  return { opts, model };
}

test('ppo: mean reward rises over rollouts, KL to the reference stays bounded, stats are logged', async () => {
  const dir = tmp();
  const { opts } = ppoSetup(11, 'full');
  const task = ppoTask(opts);
  const r = await train(task, tinyLoop(dir, 80, { maxGradNorm: 1, schedule: { kind: 'constant', lrPeak: 3e-3, warmupSteps: 0 } }));
  const rows = readMetrics(dir);
  const perRollout = rows.filter((_, i) => i % 4 === 0);
  const mean = (xs: Record<string, number>[]) => xs.reduce((a, x) => a + x.score!, 0) / xs.length;
  const first = mean(perRollout.slice(0, 4)), last = mean(perRollout.slice(-4));
  assert.ok(last > first + 0.2, `mean score per rollout: ${perRollout.map((x) => x.score!.toFixed(2)).join(' ')}`);
  for (const k of ['kl', 'kl_coef', 'entropy', 'clip_frac', 'value_loss', 'response_length']) assert.ok(k in rows[0]!, `metric ${k} logged`);
  assert.ok(perRollout.at(-1)!.kl! > 0 && perRollout.at(-1)!.kl! < 20, `KL ${perRollout.at(-1)!.kl}`);
  assert.ok(perRollout.at(-1)!.kl_coef !== opts.klInit, 'the adaptive controller moved the KL coefficient');
  assert.equal(r.steps, 80);
  rmSync(dir, { recursive: true });
});

test('ppo: interrupted mid-rollout and resumed → bitwise the same adapter weights', async () => {
  const a = tmp(), b = tmp();
  const cfg = (dir: string, extra = {}) => tinyLoop(dir, 10, { schedule: { kind: 'constant', lrPeak: 1e-2, warmupSteps: 0 }, ...extra });
  const A = ppoSetup(13, 'lora');
  await train(ppoTask(A.opts), cfg(a));
  const B1 = ppoSetup(13, 'lora');
  await train(ppoTask(B1.opts), cfg(b, { saveEvery: 1, stopAfter: 5 })); // 4 mini-batch steps per rollout: stops inside the second
  const B2 = ppoSetup(13, 'lora');
  const res = await train(ppoTask(B2.opts), cfg(b, { saveEvery: 1 }));
  assert.equal(res.resumedFrom, 5);
  const w = (o: PpoOptions) => Buffer.concat(o.namedParams.map(([, t]) => Buffer.from((t.data as Float32Array).slice().buffer)));
  assert.ok(w(A.opts).equals(w(B2.opts)), 'resumed PPO weights differ');
  rmSync(a, { recursive: true });
  rmSync(b, { recursive: true });
});


test('GAE matches a hand computation', async () => {
  // r = [0, 0, 1], V = [0.5, 0.4, 0.2], γ = 0.9, λ = 0.8
  // δ2 = 1 - 0.2 = 0.8; δ1 = 0 + 0.9·0.2 - 0.4 = -0.22; δ0 = 0 + 0.9·0.4 - 0.5 = -0.14
  // A2 = 0.8; A1 = -0.22 + 0.72·0.8 = 0.356; A0 = -0.14 + 0.72·0.356 = 0.11632
  const a = gae([0, 0, 1], [0.5, 0.4, 0.2], 0.9, 0.8);
  [0.11632, 0.356, 0.8].forEach((want, i) => assert.ok(Math.abs(a[i]! - want) < 1e-12, `A${i} = ${a[i]}, want ${want}`));
});
