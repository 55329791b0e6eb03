// export-cli.test.ts — `zhongjing export merge` and `export gguf` end to end on a tiny model directory with two
// adapters (one disabled) and a value head: the merged directory has no adapters and the logits of base + the
// enabled adapter; the GGUF file carries llama.cpp's names and metadata.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { exportCommand } from '../../src/cli/export.js';
import { LlamaForCausalLM, presets, type LlamaConfig } from '../../src/model/llama.js';
import { loadModelDir, saveModelDir } from '../../src/model/model-dir.js';
import { readGgufHeader } from '../../src/model/gguf.js';
import { LoraAdapter } from '../../src/nn/lora.js';
import { ValueHead } from '../../src/model/value-head.js';
import { noGrad } from '../../src/autograd/grad-mode.js';
import { diff, idsT, Rng, tempDir } from '../helpers.js';

const cfg: LlamaConfig = { ...presets.tiny, vocabSize: 270, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositions: 64 };

test('export merge and export gguf (CLI)', async () => {
  const dir = tempDir('zj-export-');
  const m = new LlamaForCausalLM(cfg, 2);
  const mk = (name: string, seed: number) => {
    const a = new LoraAdapter(name, { r: 2, loraAlpha: 4, loraDropout: 0, targetModules: ['q_proj', 'o_proj'], useRslora: false }).attach(m.namedLinears(), seed);
    const rng = new Rng(seed);
    for (const [, s] of a.modules) { const d = s.B.f32(); for (let i = 0; i < d.length; i++) d[i] = rng.normal() * 0.3; }
    return a;
  };
  const sft = mk('sft', 1), ppo = mk('ppo', 2);
  ppo.enabled = false;
  saveModelDir(join(dir, 'src'), m, { adapters: [sft, ppo], valueHead: new ValueHead(cfg.hiddenSize, 1) });
  const ids = idsT(new Rng(3), [1, 6], cfg.vocabSize);
  const want = noGrad(() => m.forward({ ids })).f32();
  const log = console.log;
  const lines: string[] = [];
  console.log = (s: string) => lines.push(s);
  try {
    assert.equal(await exportCommand.run(['merge', '--model', join(dir, 'src'), '--out', join(dir, 'merged'), '--json']), 0);
    assert.equal(await exportCommand.run(['gguf', '--model', join(dir, 'src'), '--out', join(dir, 'm.gguf'), '--type', 'q8_0', '--json']), 0);
  } finally {
    console.log = log;
  }
  assert.deepEqual(JSON.parse(lines[0]!), { out: join(dir, 'merged'), merged: ['sft'], dropped: ['ppo'] });
  assert.deepEqual(JSON.parse(lines[1]!).merged, ['sft']);
  const md = loadModelDir(join(dir, 'merged'));
  assert.equal(md.adapters.length, 0);
  assert.ok(md.valueHead, 'value head carried over');
  assert.ok(!existsSync(join(dir, 'merged', 'adapters.json')));
  assert.ok(diff(noGrad(() => md.model.forward({ ids })).f32(), want).maxAbs < 1e-4);
  const h = readGgufHeader(join(dir, 'm.gguf'));
  assert.equal(h.kv.get('general.file_type'), 7);
  assert.equal((h.kv.get('tokenizer.ggml.tokens') as string[]).length, cfg.vocabSize);
  assert.deepEqual(h.tensors.map((t) => t.name).slice(0, 3), ['token_embd.weight', 'blk.0.attn_norm.weight', 'blk.0.attn_q.weight']);
  assert.deepEqual(h.tensors.find((t) => t.name === 'blk.1.ffn_down.weight')!.dims, [64, 32]);
});
