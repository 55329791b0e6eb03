// The up-front memory estimate (pipeline/estimate.ts) against what the stages hold: one base's bytes in each
// model.loraBaseWeights format as loadModelDir holds them (a 2-layer model of Qwen2.5-0.5B's widths, small
// vocabulary), the RL stage's single shared base, and the refusal naming the estimate and the knobs that lower it.
// The comparison with the [memory] lines of real sft and ppo runs is in real-model-recipe.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../../src/pipeline/config.js';
import { baseWeightBytes, checkMemory, estimateMemory, modelShape, rlSharesBase } from '../../src/pipeline/estimate.js';
import { modelInit } from '../../src/cli/model.js';
import { loadModelDir } from '../../src/model/model-dir.js';
import { presetConfig } from '../../src/model/presets.js';
import { memoryBreakdown } from '../../src/train/memory.js';

const GiB = 2 ** 30;

test('one base copy in each loraBaseWeights format: the estimate is the bytes loadModelDir holds', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-est-'));
  try {
    // Qwen2.5-0.5B's widths (896 hidden, 4864 MLP, 14 / 2 heads, biased q/k/v, tied embedding) on 2 layers and a
    // vocabulary of 1024, so the file is small; one embedding row (896) is 28 whole q4_0 blocks
    const cfgFile = join(dir, 'config.json');
    writeFileSync(cfgFile, JSON.stringify({ ...presetConfig('qwen2.5-0.5b'), num_hidden_layers: 2, vocab_size: 1024, bos_token_id: 1, eos_token_id: 2 }));
    const m = join(dir, 'model');
    assert.equal(await modelInit(['--config', cfgFile, '--out', m, '--quiet']), 0);
    const cfg = validateConfig({ name: 'est', runsDir: dir, model: { from: m }, tokenizer: { from: m, template: 'model' } });
    const shape = modelShape(cfg).config;
    for (const fmt of ['f32', 'bf16', 'q8_0', 'q4_0'] as const) {
      const { model } = loadModelDir(m, { weights: fmt });
      const held = memoryBreakdown(model.parameters(), []).weightsBytes;
      assert.equal(baseWeightBytes(shape, fmt), held, `${fmt}: estimate vs held bytes`);
    }
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

function shapeOnly(dir: string): string {
  const m = join(dir, 'model');
  mkdirSync(m, { recursive: true });
  writeFileSync(join(m, 'config.json'), JSON.stringify(presetConfig('qwen2.5-0.5b')));
  return m;
}

test('the 0.5B shape: LoRA stages hold the base in loraBaseWeights; the RL stage holds one base when SFT and RM are LoRA', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-est-'));
  try {
    const m = shapeOnly(dir);
    const at = (over: Record<string, unknown>) => {
      const cfg = validateConfig({ name: 'est', runsDir: dir, model: { from: m, ...(over.model as object ?? {}) }, tokenizer: { from: m, template: 'model' },
        sft: { batchSize: 1, maxLen: 128, lora: { r: 16 } }, rm: { pairsPerBatch: 1, maxLen: 128, lora: { r: 16 } }, ppo: { rolloutSize: 2, miniBatch: 2, maxNewTokens: 16, lora: { r: 16 } },
        ...Object.fromEntries(Object.entries(over).filter(([k]) => k !== 'model')) });
      return { cfg, est: Object.fromEntries(estimateMemory(cfg, modelShape(cfg)).map((s) => [s.stage, s])) };
    };
    const c = modelShape(at({}).cfg).config;
    const one = { f32: baseWeightBytes(c, 'f32'), bf16: baseWeightBytes(c, 'bf16'), q4_0: baseWeightBytes(c, 'q4_0') };
    // 494M parameters: 1.84 GiB in f32, half in bf16, and q4_0's 18 bytes per 32 values
    assert.ok(Math.abs(one.f32 / 4 - 494.03e6) < 0.01e6, `${one.f32 / 4} parameters`);
    assert.ok(Math.abs(one.bf16 / one.f32 - 0.5) < 1e-3 && Math.abs(one.q4_0 / one.f32 - 18 / 128) < 2e-3, `${one.bf16 / one.f32} ${one.q4_0 / one.f32}`);
    for (const fmt of ['f32', 'bf16', 'q4_0'] as const) {
      const { cfg, est } = at({ model: { loraBaseWeights: fmt } });
      assert.ok(rlSharesBase(cfg));
      const sftBase = est.sft!.parts.weights!, ppoBase = est.ppo!.parts.weights!;
      // base + the adapter (sft); base + three adapters + two heads (ppo): ~8.8M f32 values per r=16 adapter
      assert.ok(sftBase > one[fmt] && sftBase - one[fmt] < 40e6, `${fmt} sft weights ${sftBase} over a base of ${one[fmt]}`);
      assert.ok(ppoBase > sftBase && ppoBase - one[fmt] < 120e6, `${fmt} ppo weights ${ppoBase}: one base`);
      // the RL stage needs no more than 1.5× the SFT stage at these sizes (what the stages measured on this shape)
      assert.ok(est.ppo!.bytes <= 1.5 * est.sft!.bytes, `${fmt}: ppo ${est.ppo!.bytes} vs sft ${est.sft!.bytes}`);
      // pretrain merges its adapter in f32 whatever the setting
      assert.ok(est.pretrain!.parts.weights! >= one.f32, 'pretrain holds f32');
    }
    // a full-FT RM (its own bytes) costs the RL stage a second base copy; full SFT trains f32 whatever loraBaseWeights says
    const { cfg: full, est: e2 } = at({ model: { loraBaseWeights: 'bf16' }, rm: { pairsPerBatch: 1, maxLen: 128, lora: null }, sft: { batchSize: 1, maxLen: 128, lora: null } });
    assert.ok(!rlSharesBase(full));
    assert.ok(e2.ppo!.parts.weights! > 2 * one.bf16 && e2.ppo!.parts.weights! < 2 * one.bf16 + 60e6, `two copies: ${e2.ppo!.parts.weights}`);
    assert.ok(e2.sft!.parts.weights! >= one.f32 && e2.rm!.parts.weights! >= one.f32, 'full stages hold f32');
    // the rollout's KV cache grows with rolloutSize × (prompt + maxNewTokens)
    const { est: e3 } = at({ ppo: { rolloutSize: 64, miniBatch: 2, maxNewTokens: 512, lora: { r: 16 } } });
    const kv = 2 * 24 * 64 * (128 + 512) * 2 * 64 * 4;
    assert.ok(e3.ppo!.parts['rollout KV cache']! >= kv, `rollout ${e3.ppo!.parts['rollout KV cache']} ≥ ${kv}`);
    for (const knob of ['ppo.rolloutSize (64)', 'ppo.miniBatch (2)', 'ppo.maxNewTokens (512 + a prompt of up to sft.maxLen)', 'model.loraBaseWeights (f32;'])
      assert.ok(e3.ppo!.knobs.some((k) => k.startsWith(knob)), `ppo knobs name ${knob}: ${e3.ppo!.knobs.join(', ')}`);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('a stage over the available memory is refused with its estimate and every knob that lowers it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-est-'));
  try {
    const m = shapeOnly(dir);
    const cfg = validateConfig({ name: 'est', runsDir: dir, model: { from: m }, tokenizer: { from: m, template: 'model' },
      sft: { batchSize: 16, maxLen: 2048, lora: { r: 16 }, gradientCheckpointing: false }, rm: { pairsPerBatch: 1, maxLen: 128, lora: { r: 16 } },
      ppo: { rolloutSize: 2, miniBatch: 2, maxNewTokens: 16, lora: { r: 16 } } });
    const est = estimateMemory(cfg, modelShape(cfg));
    const sft = est.find((s) => s.stage === 'sft')!;
    const err = (() => { try { checkMemory(est, 4 * GiB, 24 * GiB); return ''; } catch (e) { return (e as Error).message; } })();
    assert.match(err, new RegExp(`^\\[pipeline\\] memory: stage sft ~${(sft.bytes / GiB).toFixed(1)} GiB \\(weights [\\d.]+ GiB, grads \\+ AdamW [\\d.]+ GiB, activations [\\d.]+ GiB, process [\\d.]+ GiB\\) but this machine has 4\\.0 GiB available \\(of 24\\.0 GiB\\)`));
    for (const knob of ['sft.gradientCheckpointing: true', 'model.loraBaseWeights (f32;', 'sft.maxLen (2048)', 'sft.batchSize (16)'])
      assert.ok(err.includes(knob), `names ${knob}: ${err}`);
    // and each knob does lower it
    const lower = (over: Record<string, unknown>) => {
      const c2 = validateConfig({ name: 'est', runsDir: dir, model: { from: m, ...(over.model as object ?? {}) }, tokenizer: { from: m, template: 'model' },
        sft: { batchSize: 16, maxLen: 2048, lora: { r: 16 }, gradientCheckpointing: false, ...(over.sft as object ?? {}) } });
      return estimateMemory(c2, modelShape(c2)).find((s) => s.stage === 'sft')!.bytes;
    };
    for (const over of [{ sft: { gradientCheckpointing: true } }, { model: { loraBaseWeights: 'q4_0' } }, { sft: { maxLen: 512 } }, { sft: { batchSize: 2 } }])
      assert.ok(lower(over) < sft.bytes, `${JSON.stringify(over)} lowers the sft estimate`);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('tokenizer.extend: the embedding trains in full beside pretrain\'s LoRA (+1.5 GiB at the 0.5B shape), counted and named in the refusal', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-est-'));
  try {
    const m = shapeOnly(dir);
    const at = (over: Record<string, unknown>) => {
      const cfg = validateConfig({ name: 'est', runsDir: dir, model: { from: m }, tokenizer: { from: m, template: 'model', ...(over.tokenizer as object ?? {}) },
        pretrain: { batchSize: 1, seqLen: 128, lora: { r: 16 }, ...(over.pretrain as object ?? {}) }, sft: { batchSize: 1, maxLen: 128, lora: { r: 16 } },
        rm: { pairsPerBatch: 1, maxLen: 128, lora: { r: 16 } }, ppo: { rolloutSize: 2, miniBatch: 2, maxNewTokens: 16, lora: { r: 16 } } });
      return Object.fromEntries(estimateMemory(cfg, modelShape(cfg)).map((s) => [s.stage, s]));
    };
    const V = 151936, C = 896, extra = 1000;
    const plain = at({}), ext = at({ tokenizer: { extend: { tokens: extra } } });
    // grads + AdamW: the whole (V + new) × C tied embedding at 12 bytes per value; weights: the new rows in f32
    const dGrad = ext.pretrain!.parts['grads + AdamW']! - plain.pretrain!.parts['grads + AdamW']!;
    assert.equal(dGrad, 12 * (V + extra) * C);
    assert.ok(dGrad / GiB > 1.5 && dGrad / GiB < 1.55, `${dGrad / GiB} GiB`);
    assert.equal(ext.pretrain!.parts.weights! - plain.pretrain!.parts.weights!, 4 * extra * C);
    // later LoRA stages only hold the grown matrix (in loraBaseWeights, f32 here); nothing more trains
    assert.equal(ext.sft!.parts['grads + AdamW'], plain.sft!.parts['grads + AdamW']);
    assert.equal(ext.sft!.parts.weights! - plain.sft!.parts.weights!, 4 * extra * C);
    // full pre-training trains the embedding anyway: only the new rows are extra
    const fullPlain = at({ pretrain: { lora: null } }), fullExt = at({ pretrain: { lora: null }, tokenizer: { extend: { tokens: extra } } });
    assert.equal(fullExt.pretrain!.parts['grads + AdamW']! - fullPlain.pretrain!.parts['grads + AdamW']!, 12 * extra * C);
    assert.ok(!fullExt.pretrain!.knobs.some((k) => k.startsWith('tokenizer.extend')));
    // the refusal names the knob and what it costs
    const err = (() => { try { checkMemory(Object.values(ext), 3 * GiB, 24 * GiB); return ''; } catch (e) { return (e as Error).message; } })();
    assert.match(err, /^\[pipeline\] memory: stage pretrain ~/);
    assert.ok(err.includes(`tokenizer.extend (the ${V + extra} × ${C} embedding train in full beside pretrain's LoRA adapter: 1.5 GiB of gradients and AdamW moments`), err);
    assert.ok(!plain.pretrain!.knobs.some((k) => k.startsWith('tokenizer.extend')));
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('the RL rollout is sized by the configured lengths: prompts up to sft.maxLen plus maxNewTokens, within the context', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-est-'));
  try {
    const m = shapeOnly(dir);
    const ppoAt = (sftMaxLen: number, rl: 'ppo' | 'grpo' = 'ppo') => {
      const cfg = validateConfig({ name: 'est', runsDir: dir, model: { from: m }, tokenizer: { from: m, template: 'model' }, rl,
        sft: { batchSize: 1, maxLen: sftMaxLen, lora: { r: 16 } }, rm: { pairsPerBatch: 1, maxLen: 128, lora: { r: 16 } },
        ppo: { rolloutSize: 16, miniBatch: 2, maxNewTokens: 64, lora: { r: 16 } }, grpo: { promptsPerStep: 2, k: 4, maxNewTokens: 32, lora: { r: 16 } } });
      return estimateMemory(cfg, modelShape(cfg)).find((s) => s.stage === 'ppo')!;
    };
    // Qwen2.5-0.5B: 24 layers, 2 KV heads of 64; f32 keys and values
    const kv = (rows: number, T: number) => 2 * 24 * rows * T * 2 * 64 * 4;
    const short = ppoAt(128), long = ppoAt(1024);
    assert.ok(short.parts['rollout KV cache']! >= kv(16, 128 + 64) && short.parts['rollout KV cache']! < kv(16, 128 + 64) * 20);
    // a long SFT limit means long prompts: the rollout grows with it (it was capped at 128 prompt tokens)
    assert.ok(long.parts['rollout KV cache']! >= kv(16, 1024 + 64), `${long.parts['rollout KV cache']} ≥ ${kv(16, 1088)}`);
    assert.ok(long.parts['rollout KV cache']! / short.parts['rollout KV cache']! > 5, 'grows about with (1024 + 64) / (128 + 64)');
    assert.ok(long.knobs.includes('ppo.maxNewTokens (64 + a prompt of up to sft.maxLen)'), long.knobs.join(', '));
    const g = ppoAt(512, 'grpo');
    assert.ok(g.parts['rollout KV cache']! >= kv(8, 512 + 32) && g.knobs.includes('grpo.maxNewTokens (32 + a prompt of up to sft.maxLen)'), g.knobs.join(', '));
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('model.kvCache bf16 halves the cache the sample, eval and RL stages estimate (keys and values 2 bytes, not 4)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-est-'));
  try {
    const m = shapeOnly(dir);
    const at = (kvCache?: string) => {
      const cfg = validateConfig({ name: 'est', runsDir: dir, model: { from: m, ...(kvCache ? { kvCache } : {}) }, tokenizer: { from: m, template: 'model' },
        sft: { batchSize: 1, maxLen: 256, lora: { r: 16 } }, rm: { pairsPerBatch: 1, maxLen: 128, lora: { r: 16 } },
        ppo: { rolloutSize: 16, miniBatch: 2, maxNewTokens: 64, lora: { r: 16 } } });
      return Object.fromEntries(estimateMemory(cfg, modelShape(cfg)).map((s) => [s.stage, s]));
    };
    const f32 = at(), bf16 = at('bf16');
    assert.equal(at('f32').sample!.parts['KV cache'], f32.sample!.parts['KV cache'], 'f32 is the default');
    for (const stage of ['sample', 'eval']) assert.equal(bf16[stage]!.parts['KV cache']! * 2, f32[stage]!.parts['KV cache']!, stage);
    // the rollout's part also counts each layer's work per token, which the cache's dtype does not change
    const kv = 2 * 24 * 16 * (256 + 64) * 2 * 64;
    assert.equal(f32.ppo!.parts['rollout KV cache']! - bf16.ppo!.parts['rollout KV cache']!, kv * 2);
    assert.throws(() => at('f16'), /model\.kvCache.*f16|f16.*model\.kvCache/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('pretrain from a checkpoint under LoRA holds the base in loraBaseWeights and counts the merge into its file precision', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-est-'));
  try {
    const m = shapeOnly(dir);
    const at = (fmt: string, ext = false) => {
      const cfg = validateConfig({ name: 'est', runsDir: dir, model: { from: m, loraBaseWeights: fmt }, tokenizer: { from: m, template: 'model', ...(ext ? { extend: { tokens: 100 } } : {}) },
        pretrain: { batchSize: 1, seqLen: 128, lora: { r: 16 } }, sft: { batchSize: 1, maxLen: 128, lora: { r: 16 } } });
      const shape = modelShape(cfg);
      return { pt: estimateMemory(cfg, shape)[0]!, shape };
    };
    const f32 = at('f32'), bf16 = at('bf16'), q4 = at('q4_0');
    const c = f32.shape.config;
    assert.equal(f32.shape.fileDtype, 'bf16');
    assert.equal(f32.pt.parts.weights! - bf16.pt.parts.weights!, baseWeightBytes(c, 'f32') - baseWeightBytes(c, 'bf16'));
    assert.equal(bf16.pt.parts['merge into the base'], undefined, 'a bf16 hold of a BF16 file merges in place');
    assert.equal(bf16.pt.parts.weights! - q4.pt.parts.weights!, baseWeightBytes(c, 'bf16') - baseWeightBytes(c, 'q4_0'));
    assert.equal(q4.pt.parts['merge into the base'], baseWeightBytes(c, 'bf16') - baseWeightBytes(c, 'q4_0'));
    // an extension trains the vocabulary in f32 beside the low-precision base
    const e = at('bf16', true), C = c.hiddenSize;
    assert.equal(e.pt.parts['vocabulary in f32'], 4 * (c.vocabSize + 100) * C);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
