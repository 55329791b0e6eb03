// The PPO stage on a tiny recipe: with `rm.lora` the reward model is an adapter on the pre-trained base the SFT
// adapter also sits on, so the stage holds one base copy (its summary says so, measured from the tensors it holds);
// with a fully trained reward model the bases differ and the summary gives two copies and the reason. GRPO likewise;
// a pre-trained model carrying an adapter keeps it under the LoRA RM (merged for a full RM);
// DPO's reference is the SFT model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../../src/pipeline/config.js';
import { runPipeline } from '../../src/pipeline/run.js';
import { loadModelDir, saveModelDir } from '../../src/model/model-dir.js';
import { LoraAdapter } from '../../src/nn/lora.js';
import { makeContext } from '../../src/pipeline/context.js';
import { runDpo } from '../../src/pipeline/stages/dpo.js';

function tinyConfig(runsDir: string, rmLora: boolean) {
  return validateConfig({
    name: 'share', runsDir, seed: 3,
    data: { demo: 'tiny', devFraction: 0.2 },
    tokenizer: { vocabSize: 400 },
    model: { preset: 'tiny', hiddenSize: 32, layers: 2, heads: 4, kvHeads: 2, intermediateSize: 64 },
    pretrain: { steps: 3, batchSize: 4, seqLen: 32 },
    sft: { steps: 3, batchSize: 4, maxLen: 512, lora: { r: 4, alpha: 8 } },
    sample: { prompts: 4, k: 3, maxNewTokens: 8 },
    rm: { steps: 3, pairsPerBatch: 4, maxLen: 512, ...(rmLora ? { lora: { r: 4, alpha: 8 } } : {}) },
    ppo: { steps: 2, rolloutSize: 2, miniBatch: 2, epochs: 1, maxNewTokens: 6, devPrompts: 2, lora: { r: 4, alpha: 8 } },
    grpo: { steps: 1, promptsPerStep: 1, k: 2, maxNewTokens: 6, devPrompts: 2 },
  });
}

const summary = (root: string) => JSON.parse(readFileSync(join(root, 'share', 'ppo', 'done.json'), 'utf8')) as Record<string, unknown>;

test('PPO and GRPO stages with a LoRA reward model hold one base; with a full reward model two, and why', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-share-pipe-'));
  try {
    const cfg = tinyConfig(dir, true);
    await runPipeline(cfg, { quiet: true, until: 'ppo' });
    const s = summary(dir);
    assert.equal(s.baseCopies, 1, JSON.stringify(s));
    assert.equal(s.baseCopiesReason, undefined);
    // the RM's adapter was only a passenger: the saved policy carries the SFT and PPO adapters
    assert.deepEqual(loadModelDir(join(dir, 'share', 'ppo', 'model')).adapters.map((a) => a.name), ['sft', 'ppo']);
    // DPO over the same SFT model: its reference is the SFT adapter on, the DPO adapter off; the fresh DPO adapter is
    // the identity, so the first loss is exactly -log σ(0) = ln 2 only if the reference really is the SFT model
    const dpo = await runDpo(makeContext({ ...cfg, dpo: { ...cfg.dpo, steps: 2, pairsPerBatch: 2, evalEvery: 0 } }, true));
    assert.ok(Math.abs((dpo.firstLoss as number) - Math.LN2) < 1e-6, `first DPO loss ${dpo.firstLoss}`);
    assert.deepEqual(loadModelDir(join(dir, 'share', 'dpo', 'model')).adapters.map((a) => a.name), ['sft', 'dpo']);
    await runPipeline({ ...cfg, rl: 'grpo' }, { quiet: true, from: 'ppo', until: 'ppo' });
    assert.equal(summary(dir).baseCopies, 1);
    assert.equal(summary(dir).algorithm, 'grpo');
    // a pre-trained model that carries a (continued-pre-training) adapter: the LoRA RM keeps it frozen under its own,
    // the RL stage still holds one base
    const ptDir = join(dir, 'share', 'pretrain', 'model');
    const pt = loadModelDir(ptDir);
    const ptAdapter = new LoraAdapter('pt', { r: 2, loraAlpha: 4, loraDropout: 0, targetModules: ['q_proj', 'v_proj'], useRslora: false }).attach(pt.model.namedLinears(), 9);
    for (const [, sl] of ptAdapter.modules) sl.B.f32().fill(0.01);
    saveModelDir(ptDir, pt.model, { adapters: [ptAdapter] });
    await runPipeline(cfg, { quiet: true, from: 'rm', until: 'ppo' });
    const rmDir = join(dir, 'share', 'rm', 'model');
    assert.deepEqual(loadModelDir(rmDir).adapters.map((a) => a.name), ['pt', 'rm']);
    assert.deepEqual(readFileSync(join(rmDir, 'adapters', 'pt', 'adapter_model.safetensors')), readFileSync(join(ptDir, 'adapters', 'pt', 'adapter_model.safetensors')));
    assert.equal(summary(dir).baseCopies, 1);
    // a fully trained RM merges that adapter first and trains every weight: its base differs
    await runPipeline(tinyConfig(dir, false), { quiet: true, from: 'rm', until: 'ppo' });
    assert.deepEqual(loadModelDir(rmDir).adapters, []);
    const full = summary(dir);
    assert.equal(full.baseCopies, 2);
    assert.match(String(full.baseCopiesReason), /holds different values/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
