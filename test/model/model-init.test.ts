// model-init.test.ts — `zhongjing model init`: the tensor list equals LlamaForCausalLM's parameters (names and
// shapes) for each family; the counter-based normal fill (fillNormal kernel) has mean 0 / the asked std / a
// normal's kurtosis, does not depend on chunking or thread count, and the native kernel equals the reference; a 2-layer model of Qwen2.5-0.5B width and tiny Qwen3 / Llama 3 models written by the command load
// through loadModelDir, carry the init rules (norms 1, biases 0, scaled residual std) and run a forward pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fillNormal, planShards, streamKey, tensorSpecs } from '../../src/model/random-init.js';
import { fromHfConfig } from '../../src/model/config.js';
import { PRESETS } from '../../src/model/presets.js';
import { LlamaForCausalLM } from '../../src/model/llama.js';
import { loadModelDir } from '../../src/model/model-dir.js';
import { modelInit } from '../../src/cli/model.js';
import { noGrad } from '../../src/autograd/grad-mode.js';
import { tidy } from '../../src/tensor/scope.js';
import { i32T, nativeOrSkip, referenceBackend, withBackend } from '../helpers.js';
import { setNativeThreads } from '../../src/backend/native/index.js';
import { backendInfo } from '../../src/backend/index.js';

const tinyQwen3 = { ...PRESETS['qwen3-0.6b']!, vocab_size: 300, hidden_size: 64, intermediate_size: 96, num_hidden_layers: 3,
  num_attention_heads: 4, num_key_value_heads: 2, head_dim: 24, bos_token_id: 1, eos_token_id: 2 };
const tinyLlama3 = { ...PRESETS['llama3.2-1b']!, vocab_size: 300, hidden_size: 64, intermediate_size: 96, num_hidden_layers: 2,
  num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, bos_token_id: 1, eos_token_id: 2, tie_word_embeddings: false };

test('tensorSpecs lists exactly the parameters of LlamaForCausalLM, in every family', () => {
  for (const cfg of [tinyQwen3, tinyLlama3, { ...PRESETS['qwen2.5-0.5b']!, vocab_size: 100, hidden_size: 56, intermediate_size: 40,
    num_hidden_layers: 2, num_attention_heads: 7, num_key_value_heads: 1, bos_token_id: 1, eos_token_id: 2 }]) {
    const c = fromHfConfig(cfg).config;
    const want = new LlamaForCausalLM(c, 0, { init: false }).namedParameters().map(([n, p]) => `${n}:${p.shape.join('x')}`).sort();
    const got = tensorSpecs(c).map((s) => `${s.name}:${s.shape.join('x')}`).sort();
    assert.deepEqual(got, want);
  }
});

test('fillNormal: mean 0 and the asked std, independent of chunking and of the stream key', () => withBackend(referenceBackend, () => {
  const n = 1 << 20, key = streamKey(7, 'w');
  const a = new Float32Array(n);
  fillNormal(a, key, 0, 0.02);
  let s = 0, s2 = 0, s4 = 0;
  for (const x of a) { s += x; s2 += x * x; s4 += x ** 4; }
  const mean = s / n, std = Math.sqrt(s2 / n - mean * mean);
  assert.ok(Math.abs(mean) < 4 * 0.02 / Math.sqrt(n), `mean ${mean}`);
  assert.ok(Math.abs(std / 0.02 - 1) < 0.005, `std ${std}`);
  const kurt = (s4 / n) / (s2 / n) ** 2;
  assert.ok(Math.abs(kurt - 3) < 0.05, `kurtosis ${kurt} (a normal has 3)`);
  // chunks starting at odd offsets reproduce the same values
  const b = new Float32Array(n);
  for (let off = 0; off < n;) { const m = Math.min(12345, n - off); fillNormal(b.subarray(off, off + m), key, off, 0.02); off += m; }
  assert.deepEqual(b, a);
  const c = new Float32Array(1000);
  fillNormal(c, streamKey(8, 'w'), 0, 0.02);
  assert.notDeepEqual(c, a.subarray(0, 1000));
  fillNormal(c, streamKey(7, 'v'), 0, 0.02);
  assert.notDeepEqual(c, a.subarray(0, 1000));
  // neighbouring values are uncorrelated
  let cov = 0;
  for (let i = 0; i + 1 < n; i++) cov += a[i]! * a[i + 1]!;
  assert.ok(Math.abs(cov / n / (0.02 * 0.02)) < 0.01, `lag-1 correlation ${cov / n / 4e-4}`);
}));

test('the 7B plan (nothing written): 15.2 GB of bf16 in 4 shards of at most 4 GiB, 7.6B parameters', () => {
  const specs = tensorSpecs(fromHfConfig(PRESETS['qwen2.5-7b']!).config);
  const params = specs.reduce((p, s) => p + s.shape.reduce((a, d) => a * d, 1), 0);
  assert.ok(Math.abs(params / 7.6155e9 - 1) < 1e-3, `${params} parameters`);
  const { shards, bytes } = planShards(specs, 2, 4 * 1024 ** 3);
  assert.equal(bytes, params * 2);
  assert.equal(shards.length, 4);
  for (const sh of shards) assert.ok(sh.reduce((p, s) => p + s.shape.reduce((a, d) => a * d, 2), 0) <= 4 * 1024 ** 3);
});

test('every preset has the parameter count its Hugging Face checkpoint reports', () => {
  // the safetensors totals of the HF repositories (Qwen/Qwen2.5-*, Qwen/Qwen3-0.6B, meta-llama/Llama-3.2-1B)
  const published: Record<string, number> = {
    'qwen2.5-0.5b': 494032768, 'qwen2.5-1.5b': 1543714304, 'qwen2.5-7b': 7615616512, 'qwen3-0.6b': 596049920,
    'llama3.2-1b': 1235814400,
  };
  for (const [name, cfg] of Object.entries(PRESETS)) {
    const n = tensorSpecs(fromHfConfig(cfg).config).reduce((p, s) => p + s.shape.reduce((a, d) => a * d, 1), 0);
    assert.equal(n, published[name], name);
  }
});

const nat = nativeOrSkip();
test('fillNormal kernel: native equals the reference and is bit-identical across thread counts', { skip: nat.backend ? false : nat.reason }, () => {
  const n = 300001, key = streamKey(11, 'model.embed_tokens.weight');
  for (const start of [0, 1, 2 ** 40 + 1]) {
    const want = new Float32Array(n), got = new Float32Array(n);
    referenceBackend.fillNormal(want, key, start, 0.02 / 3);
    nat.backend!.fillNormal(got, key, start, 0.02 / 3);
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    // both compute in double with their libm's log/cos/sin: at most an ulp of float apart
    assert.ok(worst <= 1e-8, `start ${start}: native vs reference max |diff| ${worst}`);
  }
  const threads = backendInfo().threads;
  const runs = [1, 3].map((t) => {
    setNativeThreads(t);
    const out = new Float32Array(n);
    nat.backend!.fillNormal(out, key, 5, 1);
    return out;
  });
  setNativeThreads(threads);
  assert.deepEqual(runs[0], runs[1]);
  assert.throws(() => nat.backend!.fillNormal(new Float32Array(4), -1, 0, 1), /\[fillNormal\] key must be a 32-bit unsigned integer/);
  assert.throws(() => nat.backend!.fillNormal(new Float32Array(4), 1, 2 ** 52, 1), /\[fillNormal\] start must be/);
});

function quiet<R>(fn: () => Promise<R>): Promise<R> {
  const log = console.log, err = process.stderr.write;
  console.log = () => {};
  process.stderr.write = (() => true) as typeof process.stderr.write;
  return fn().finally(() => { console.log = log; process.stderr.write = err; });
}

function stdOf(x: Float32Array): number {
  let s = 0, s2 = 0;
  for (const v of x) { s += v; s2 += v * v; }
  return Math.sqrt(s2 / x.length - (s / x.length) ** 2);
}

function forwardFinite(dir: string): void {
  const md = loadModelDir(dir);
  noGrad(() => tidy(() => {
    const logits = md.model.forward({ ids: i32T([1, 5, 7, 2, 9], [1, 5]) }).f32();
    assert.equal(logits.length, 5 * md.model.config.vocabSize);
    assert.ok(logits.every(Number.isFinite), 'non-finite logits');
    assert.ok(stdOf(logits) > 0, 'constant logits');
  }));
}

test('model init: a 2-layer Qwen2.5-0.5B-width model (bf16, sharded) loads and runs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-init-'));
  try {
    assert.equal(await quiet(() => modelInit(['--preset', 'qwen2.5-0.5b', '--layers', '2', '--shard-mb', '200', '--out', dir, '--force'])), 0);
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    assert.equal(cfg.num_hidden_layers, 2);
    assert.equal(cfg.hidden_size, 896);
    assert.equal(cfg.torch_dtype, 'bfloat16');
    const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
    assert.equal(index.weight_map['model.embed_tokens.weight'], 'model-00001-of-00002.safetensors');
    assert.equal(index.weight_map['model.norm.weight'], 'model-00002-of-00002.safetensors');
    const gen = JSON.parse(readFileSync(join(dir, 'generation_config.json'), 'utf8'));
    assert.equal(gen.eos_token_id, 151643);
    // a bf16 checkpoint is held in bf16 by default; the init statistics are read from an f32 load
    assert.equal(loadModelDir(dir).model.model.layers.items[0]!.selfAttn.qProj.weight.dtype, 'bf16');
    const md = loadModelDir(dir, { weights: 'f32' });
    const l0 = md.model.model.layers.items[0]!;
    assert.ok(Math.abs(stdOf(l0.selfAttn.qProj.weight.f32()) / 0.02 - 1) < 0.01);
    assert.ok(Math.abs(stdOf(l0.mlp.downProj.weight.f32()) / (0.02 / Math.sqrt(4)) - 1) < 0.01);
    assert.ok(l0.selfAttn.qProj.bias!.f32().every((v) => v === 0));
    assert.ok(l0.inputNorm.weight.f32().every((v) => v === 1));
    forwardFinite(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('model init: tiny Qwen3 and Llama 3 from --config (f32, tokenizer copied, same seed = same bytes)', async () => {
  const root = mkdtempSync(join(tmpdir(), 'zj-init-'));
  try {
    const tok = join(root, 'tok');
    mkdirSync(tok);
    writeFileSync(join(tok, 'tokenizer.json'), '{"version":"1.0"}');
    writeFileSync(join(tok, 'tokenizer_config.json'), '{}');
    for (const [name, cfg] of [['qwen3', tinyQwen3], ['llama3', tinyLlama3]] as const) {
      const cfgPath = join(root, `${name}.json`);
      writeFileSync(cfgPath, JSON.stringify(cfg));
      const a = join(root, `${name}-a`), b = join(root, `${name}-b`);
      for (const d of [a, b]) assert.equal(await quiet(() => modelInit(['--config', cfgPath, '--dtype', 'f32', '--seed', '3', '--tokenizer', tok, '--out', d])), 0);
      assert.ok(readFileSync(join(a, 'model.safetensors')).equals(readFileSync(join(b, 'model.safetensors'))), 'not deterministic');
      assert.ok(existsSync(join(a, 'tokenizer.json')) && existsSync(join(a, 'tokenizer_config.json')));
      const md = loadModelDir(a);
      assert.equal(md.architecture, name === 'qwen3' ? 'Qwen3ForCausalLM' : 'LlamaForCausalLM');
      if (name === 'qwen3') assert.ok(md.model.model.layers.items[2]!.selfAttn.kNorm!.weight.f32().every((v) => v === 1));
      else assert.equal(md.model.config.ropeScaling?.type, 'llama3');
      forwardFinite(a);
    }
    // a refused config is refused before anything is written
    const bad = join(root, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...tinyLlama3, rope_scaling: { rope_type: 'yarn', factor: 4.0 } }));
    await assert.rejects(quiet(() => modelInit(['--config', bad, '--out', join(root, 'bad')])), /rope_scaling: type "yarn"/);
    assert.ok(!existsSync(join(root, 'bad')));
    await assert.rejects(quiet(() => modelInit(['--preset', 'gpt-9', '--out', join(root, 'x')])), /unknown preset 'gpt-9'; known: qwen2\.5-0\.5b/);
    await assert.rejects(quiet(() => modelInit(['--preset', 'qwen3-0.6b', '--out', join(root, 'qwen3-a')])), /is not empty/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
