// The pipeline's `model.loraBaseWeights`: the SFT stage trains its LoRA adapter over a q4_0 base and writes the
// original f32 base files downstream (not the rounded ones); full fine-tuning says the key does not apply.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPipeline } from '../../src/pipeline/run.js';
import { ConfigError, validateConfig } from '../../src/pipeline/config.js';
import { loadModelDir } from '../../src/model/model-dir.js';

function cfg(runsDir: string, lora: boolean, extra: Record<string, unknown> = {}) {
  return validateConfig({ ...extra,
    name: 'qbase', runsDir, seed: 3,
    data: { demo: 'tiny', devFraction: 0.2 },
    tokenizer: { vocabSize: 300 },
    model: { preset: 'tiny', hiddenSize: 32, layers: 1, heads: 4, kvHeads: 2, intermediateSize: 64, loraBaseWeights: 'q4_0' },
    pretrain: { steps: 2, batchSize: 2, seqLen: 32 },
    sft: { steps: 6, batchSize: 2, maxLen: 512, lr: 1e-2, lora: lora ? { r: 4, alpha: 8 } : null },
  });
}

test('sft with model.loraBaseWeights q4_0: trains over the q4_0 base, saves the original base files and the adapter', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-qbase-'));
  try {
    await runPipeline(cfg(dir, true), { quiet: true, until: 'sft' });
    const root = join(dir, 'qbase');
    const summary = JSON.parse(readFileSync(join(root, 'sft', 'done.json'), 'utf8')) as { baseWeights?: string; firstLoss: number; lastLoss: number; mode: string };

    assert.equal(summary.baseWeights, 'q4_0');
    assert.match(summary.mode, /LoRA/);
    // (that the loss falls over a q4_0 base is shown on a fixed batch in test/train/quant-base.test.ts)
    assert.ok(Number.isFinite(summary.firstLoss) && Number.isFinite(summary.lastLoss));
    // the base files downstream are the pre-trained f32 weights, byte for byte
    assert.deepEqual(readFileSync(join(root, 'sft', 'model', 'model.safetensors')), readFileSync(join(root, 'pretrain', 'model', 'model.safetensors')));
    const md = loadModelDir(join(root, 'sft', 'model'));
    assert.equal(md.model.model.layers.items[0]!.selfAttn.qProj.weight.dtype, 'f32');
    assert.deepEqual(md.adapters.map((a) => a.name), ['sft']);
    assert.ok(md.adapters[0]!.modules.get('model.layers.0.self_attn.q_proj')!.B.f32().some((v) => v !== 0), 'the adapter trained');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('rm and ppo with model.loraBaseWeights q4_0: LoRA over the q4_0 base, original base files saved, one base copy in ppo', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-qbase-'));
  try {
    await runPipeline(cfg(dir, true, {
      sample: { prompts: 4, k: 2, maxNewTokens: 8 },
      rm: { steps: 2, pairsPerBatch: 2, lora: { r: 4, alpha: 8 } },
      ppo: { steps: 2, rolloutSize: 2, miniBatch: 2, epochs: 1, maxNewTokens: 8, devPrompts: 2, lora: { r: 4, alpha: 8 } },
    }), { quiet: true, until: 'ppo' });
    const root = join(dir, 'qbase');
    const pretrained = readFileSync(join(root, 'pretrain', 'model', 'model.safetensors'));
    // both stages held the base as q4_0 but wrote the pre-trained f32 bytes, so ppo finds one base for all roles
    assert.deepEqual(readFileSync(join(root, 'rm', 'model', 'model.safetensors')), pretrained);
    assert.deepEqual(readFileSync(join(root, 'ppo', 'model', 'model.safetensors')), pretrained);
    const rm = JSON.parse(readFileSync(join(root, 'rm', 'done.json'), 'utf8')) as { baseWeights: string };
    const ppo = JSON.parse(readFileSync(join(root, 'ppo', 'done.json'), 'utf8')) as { baseCopies: number; steps: number; baseWeights: string };
    assert.equal(rm.baseWeights, 'q4_0');
    assert.equal(ppo.baseWeights, 'q4_0');
    assert.equal(ppo.baseCopies, 1);
    assert.equal(ppo.steps, 2);
    assert.deepEqual(loadModelDir(join(root, 'ppo', 'model')).adapters.map((a) => a.name), ['sft', 'ppo']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('model.loraBaseWeights: values are validated', () => {
  assert.throws(() => validateConfig({ model: { loraBaseWeights: 'q5_k' } }),
    (e: unknown) => e instanceof ConfigError && /model\.loraBaseWeights: must be one of f32, bf16, q8_0, q4_0, got 'q5_k'/.test(e.message));
  assert.equal(validateConfig({}).model.loraBaseWeights, 'f32');
});

test('full fine-tuning under model.loraBaseWeights keeps f32 and says so', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-qbase-'));
  const lines: string[] = [];
  // ctx.log writes to stderr when not quiet: capture it (progress lines too) for the stage's notice
  const prev = process.stderr.write.bind(process.stderr), prevLog = console.log;
  process.stderr.write = ((chunk: string | Uint8Array) => { lines.push(String(chunk)); return true; }) as typeof process.stderr.write;
  console.log = () => {};
  try {
    await runPipeline(cfg(dir, false), { until: 'sft' });
  } finally {
    process.stderr.write = prev;
    console.log = prevLog;
  }
  try {
    assert.ok(lines.some((l) => /\[sft\] full fine-tuning trains the base in f32: model\.loraBaseWeights q4_0 applies to LoRA stages only/.test(l)),
      `no notice among ${lines.length} lines`);
    const md = loadModelDir(join(dir, 'qbase', 'sft', 'model'));
    assert.equal(md.model.model.layers.items[0]!.selfAttn.qProj.weight.dtype, 'f32');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
