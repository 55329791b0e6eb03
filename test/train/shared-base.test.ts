// One base for the whole RLHF stage: with a LoRA reward model on the same base bytes as the SFT adapter, the policy,
// the reference and the reward model are adapter sets on one copy of the base weights (counted from the tensors'
// buffers), and each role's outputs equal those of a separately loaded model; a continued-pre-training adapter both
// stages carry is shared too; a full-FT SFT model falls back to two copies and says why; switches survive throws.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveModelDir, loadModelDir } from '../../src/model/model-dir.js';
import { ValueHead } from '../../src/model/value-head.js';
import { LlamaForCausalLM } from '../../src/model/llama.js';
import { LoraAdapter, attachedAdapters, withActiveAdapters, type LoraConfig } from '../../src/nn/lora.js';
import { loadRlModels, type RlModels } from '../../src/train/tasks/rl-models.js';
import { scoreSequences } from '../../src/train/tasks/reward.js';
import { compareBaseWeights } from '../../src/model/same-base.js';
import { tensor } from '../../src/ops/index.js';
import { noGrad } from '../../src/autograd/grad-mode.js';
import { tidy } from '../../src/tensor/scope.js';
import { Rng } from '../../src/util/rng.js';
import { tinyModel } from './tiny-task.js';

const LORA: LoraConfig = { r: 4, loraAlpha: 8, loraDropout: 0, targetModules: ['q_proj', 'v_proj', 'up_proj', 'down_proj'], useRslora: false };
const SEQ = [1, 5, 9, 13, 17, 21, 25, 3];

/** An adapter whose B is random too (a fresh one is the identity and would make every role look alike). */
function busyAdapter(m: LlamaForCausalLM, name: string, seed: number): LoraAdapter {
  const a = new LoraAdapter(name, LORA, seed).attach(m.namedLinears(), seed);
  const r = new Rng(seed + 100);
  for (const [, s] of a.modules) { const b = s.B.f32(); for (let i = 0; i < b.length; i++) b[i] = (2 * r.next() - 1) * 0.3; }
  return a;
}

/** pt (base [+ pt adapter]) → sft (+ sft adapter) and rm (+ rm adapter, value head), saved as the stages do. */
function makeDirs(root: string, o: { ptAdapter?: boolean; fullSft?: boolean; rmPtDiffers?: boolean } = {}): { sft: string; rm: string } {
  const base = tinyModel(3);
  saveModelDir(join(root, 'pt'), base, { adapters: o.ptAdapter ? [busyAdapter(base, 'pt', 11)] : [] });
  const sft = join(root, 'sft'), rm = join(root, 'rm');
  {
    const md = loadModelDir(join(root, 'pt'));
    if (o.fullSft) {
      for (const a of md.adapters) a.merge();
      const w = md.model.namedParameters().find(([n]) => n.endsWith('layers.1.mlp.up_proj.weight'))![1].f32();
      for (let i = 0; i < w.length; i++) w[i] = w[i]! * 1.01; // "fine-tuned" weights
      saveModelDir(sft, md.model, {});
    } else saveModelDir(sft, md.model, { adapters: [...md.adapters, busyAdapter(md.model, 'sft', 21)] });
  }
  {
    const md = loadModelDir(join(root, 'pt'));
    const head = new ValueHead(md.model.config.hiddenSize, 7);
    if (o.rmPtDiffers) for (const [, sl] of md.adapters[0]!.modules) sl.B.f32()[0] = 0.5; // the RM saw another PT adapter
    saveModelDir(rm, md.model, { adapters: [...md.adapters, busyAdapter(md.model, 'rm', 31)], valueHead: head });
  }
  return { sft, rm };
}

const logits = (m: LlamaForCausalLM) => noGrad(() => tidy(() => Array.from(m.forward({ ids: tensor(SEQ, [1, SEQ.length], 'i32') }).f32())));
const rmScore = (m: LlamaForCausalLM, h: ValueHead) => noGrad(() => tidy(() => scoreSequences(m, h, [SEQ]).item()));

/** Distinct base-weight buffers and their bytes over the models the RL stage holds (policy ∪ reward model). */
function baseBuffers(models: LlamaForCausalLM[]): { buffers: number; bytes: number } {
  const seen = new Set<ArrayBufferLike>();
  let bytes = 0;
  for (const m of models) for (const p of m.parameters()) {
    const d = p.data as ArrayBufferView;
    if (!seen.has(d.buffer)) { seen.add(d.buffer); bytes += d.byteLength; }
  }
  return { buffers: seen.size, bytes };
}

function load(dirs: { sft: string; rm: string }, log?: (l: string) => void): RlModels {
  const m = loadRlModels({ sftDir: dirs.sft, rmDir: dirs.rm, where: 'test', log, adapter: { name: 'ppo', config: LORA, seed: 1, initSeed: 6 } });
  // give the new adapter a non-zero B so the policy differs from the reference
  const r = new Rng(77);
  for (const [, s] of m.adapter.modules) { const b = s.B.f32(); for (let i = 0; i < b.length; i++) b[i] = (2 * r.next() - 1) * 0.3; }
  return m;
}

/** Each role's output against separately loaded models (the policy: SFT dir + a copy of the new adapter). */
function checkRoles(m: RlModels, dirs: { sft: string; rm: string }): void {
  const sep = loadModelDir(dirs.sft);
  const refOut = logits(sep.model);
  const copy = new LoraAdapter('ppo', LORA, 1).attach(sep.model.namedLinears(), 6);
  for (const [n, s] of copy.modules) { s.A.f32().set(m.adapter.modules.get(n)!.A.f32()); s.B.f32().set(m.adapter.modules.get(n)!.B.f32()); }
  const polOut = logits(sep.model);
  const rm = loadModelDir(dirs.rm);
  const close = (a: number[], b: number[], what: string) => {
    let d = 0;
    for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
    assert.ok(d <= 1e-6, `${what}: max |Δ| ${d}`);
  };
  close(logits(m.policy), polOut, 'policy (resting state)');
  close(m.asPolicy((p) => logits(p)), polOut, 'policy');
  close(m.asReference((r) => logits(r)), refOut, 'reference');
  assert.ok(Math.abs(m.score(SEQ.slice(0, 3), SEQ.slice(3)) - rmScore(rm.model, rm.valueHead!)) <= 1e-6, 'reward-model score');
  // the roles really differ (else the checks above could not tell them apart)
  assert.notDeepEqual(refOut, polOut);
  close(logits(m.policy), polOut, 'policy after scoring');
}

test('a LoRA reward model on the same base: one base copy, and every role equals a separately loaded model', () => {
  const root = mkdtempSync(join(tmpdir(), 'zj-share-'));
  try {
    const dirs = makeDirs(root);
    const lines: string[] = [];
    const m = load(dirs, (l) => lines.push(l));
    const one = baseBuffers([loadModelDir(dirs.sft).model]);
    const held = baseBuffers([m.policy, m.rewardModel]);
    assert.equal(held.buffers, one.buffers, 'no second set of base buffers');
    assert.equal(held.bytes, one.bytes);
    assert.equal(m.baseCopies, 1);
    assert.equal(m.unsharedReason, null);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^\[test\] one copy of the base weights \([\d.]+ MiB\) for policy, reference and reward model; adapters sft, rm, ppo$/);
    assert.deepEqual(attachedAdapters(m.policy.namedLinears()).map((a) => a.name), ['sft', 'rm', 'ppo']);
    checkRoles(m, dirs);
    // the memory line's weights: one base plus adapters and the head, not two bases
    const w = m.allWeights().reduce((s, t) => s + (t.data as ArrayBufferView).byteLength, 0);
    assert.ok(w < 1.5 * one.bytes, `allWeights ${w} bytes vs one base ${one.bytes}`);
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('model.kvCache reaches the RL policy: its rollouts cache bf16 when asked, f32 by default', () => {
  const root = mkdtempSync(join(tmpdir(), 'zj-share-'));
  try {
    const dirs = makeDirs(root);
    const o = { sftDir: dirs.sft, rmDir: dirs.rm, where: 'test', adapter: { name: 'ppo', config: LORA, seed: 1, initSeed: 6 } };
    const plain = loadRlModels(o).policy;
    assert.equal(plain.kvCacheDType, 'f32');
    assert.ok(plain.newCache(1, 8).k[0] instanceof Float32Array);
    const bf16 = loadRlModels({ ...o, kvCache: 'bf16' }).policy;
    assert.equal(bf16.kvCacheDType, 'bf16');
    assert.ok(bf16.newCache(1, 8).k[0] instanceof Uint16Array);
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('a continued-pre-training adapter both stages carry is one shared adapter, on in every role', () => {
  const root = mkdtempSync(join(tmpdir(), 'zj-share-'));
  try {
    const dirs = makeDirs(root, { ptAdapter: true });
    const m = load(dirs);
    assert.equal(m.baseCopies, 1);
    assert.deepEqual(attachedAdapters(m.policy.namedLinears()).map((a) => a.name), ['pt', 'sft', 'rm', 'ppo']);
    assert.deepEqual(m.rewardActive.map((a) => a.name), ['pt', 'rm']);
    checkRoles(m, dirs);
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('an adapter of the same name but other bytes in the RM is the RM\'s own: loaded beside, renamed, on only while scoring', () => {
  const root = mkdtempSync(join(tmpdir(), 'zj-share-'));
  try {
    const dirs = makeDirs(root, { ptAdapter: true, rmPtDiffers: true });
    const m = load(dirs);
    assert.equal(m.baseCopies, 1);
    assert.deepEqual(attachedAdapters(m.policy.namedLinears()).map((a) => `${a.name}:${a.enabled}`), ['pt:true', 'sft:true', 'rm.pt:false', 'rm:false', 'ppo:true']);
    assert.deepEqual(m.rewardActive.map((a) => a.name), ['rm.pt', 'rm']);
    checkRoles(m, dirs);
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('a full-FT SFT model (different base bytes): two copies, the reason logged once, roles still right', () => {
  const root = mkdtempSync(join(tmpdir(), 'zj-share-'));
  try {
    const dirs = makeDirs(root, { fullSft: true });
    assert.match(compareBaseWeights(dirs.sft, dirs.rm) ?? '', /layers\.1\.mlp\.up_proj\.weight' holds different values/);
    const lines: string[] = [];
    const m = load(dirs, (l) => lines.push(l));
    const one = baseBuffers([loadModelDir(dirs.sft).model]);
    const held = baseBuffers([m.policy, m.rewardModel]);
    assert.equal(held.buffers, 2 * one.buffers);
    assert.equal(held.bytes, 2 * one.bytes);
    assert.equal(m.baseCopies, 2);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^\[test\] two copies of the base weights: the reward model's differ .*up_proj/);
    checkRoles(m, dirs);
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('withActiveAdapters restores every switch after a throw and refuses foreign adapters and promises', () => {
  const model = tinyModel(5);
  const a = busyAdapter(model, 'a', 1), b = busyAdapter(model, 'b', 2), c = busyAdapter(model, 'c', 3);
  b.enabled = false;
  const state = () => [a, b, c].map((x) => x.enabled);
  const before = state();
  let inside: boolean[] = [];
  assert.throws(() => withActiveAdapters(model, [b], () => { inside = state(); throw new Error('boom'); }), /boom/);
  assert.deepEqual(inside, [false, true, false], 'only the named adapter was on inside');
  assert.deepEqual(state(), before);
  const other = busyAdapter(tinyModel(6), 'x', 4);
  assert.throws(() => withActiveAdapters(model, [other], () => 0), /adapter 'x' is not attached/);
  assert.deepEqual(state(), before);
  assert.throws(() => withActiveAdapters(model, [a], () => Promise.resolve(1)), /returned a promise/);
  assert.deepEqual(state(), before);
  // nested roles unwind in order
  withActiveAdapters(model, [a, c], () => {
    withActiveAdapters(model, [], () => assert.deepEqual(state(), [false, false, false]));
    assert.deepEqual(state(), [true, false, true]);
  });
  assert.deepEqual(state(), before);
});

test('the RL roles restore the resting policy state when the wrapped work throws', () => {
  const root = mkdtempSync(join(tmpdir(), 'zj-share-'));
  try {
    const dirs = makeDirs(root);
    const m = load(dirs);
    const state = () => attachedAdapters(m.policy.namedLinears()).map((x) => `${x.name}:${x.enabled}`);
    const resting = state();
    assert.deepEqual(resting, ['sft:true', 'rm:false', 'ppo:true']);
    assert.throws(() => m.asReference(() => { assert.deepEqual(state(), ['sft:true', 'rm:false', 'ppo:false']); throw new Error('ref failed'); }), /ref failed/);
    assert.deepEqual(state(), resting);
    assert.throws(() => m.score([1, 2], [999])); // an id outside the vocabulary fails inside the RM forward
    assert.deepEqual(state(), resting);
  } finally { rmSync(root, { recursive: true, force: true }); }
});

test('compareBaseWeights compares bytes: shards vs one file alike, a changed last value, dtype and names found', () => {
  const root = mkdtempSync(join(tmpdir(), 'zj-share-'));
  try {
    const m = tinyModel(4);
    saveModelDir(join(root, 'one'), m, {});
    saveModelDir(join(root, 'shards'), m, { maxShardBytes: 20_000 });
    saveModelDir(join(root, 'bf16'), m, { dtype: 'BF16' });
    // 1000-byte chunks: many per tensor, boundaries inside values
    assert.equal(compareBaseWeights(join(root, 'one'), join(root, 'shards'), 1000), null);
    const w = m.namedParameters().find(([n]) => n === 'model.norm.weight')![1].f32();
    w[w.length - 1] = w[w.length - 1]! + 1e-7;
    saveModelDir(join(root, 'tweak'), m, {});
    assert.match(compareBaseWeights(join(root, 'one'), join(root, 'tweak'), 1000) ?? '', /'model\.norm\.weight' holds different values/);
    assert.match(compareBaseWeights(join(root, 'one'), join(root, 'bf16')) ?? '', /is F32 in one and BF16 in the other/);
    const other = tinyModel(4);
    const bigger = new LlamaForCausalLM({ ...other.config, numLayers: 3 }, 4);
    saveModelDir(join(root, 'deeper'), bigger, {});
    assert.match(compareBaseWeights(join(root, 'one'), join(root, 'deeper')) ?? '', /tensor names differ \(only in the second: model\.layers\.2\./);
  } finally { rmSync(root, { recursive: true, force: true }); }
});
