// checkpoint.test.ts — HF config parsing and refusals, safetensors read/write (f32/f16/bf16, shards, corrupt
// and truncated files), and the model directory: save → load is bit-exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fromHfConfig, toHfConfig, fromHfGenerationConfig, toHfGenerationConfig } from '../../src/model/config.js';
import { SafetensorsFile, writeSafetensors, writeSafetensorsDir, openSafetensorsDir } from '../../src/model/safetensors.js';
import { loadModelDir, saveModelDir } from '../../src/model/model-dir.js';
import { LlamaForCausalLM, presets, type LlamaConfig } from '../../src/model/llama.js';
import { f16BitsToF32, f32ToF16Bits } from '../../src/model/half.js';
import { atomicWrite } from '../../src/model/atomic.js';
import { noGrad } from '../../src/autograd/grad-mode.js';
import { idsT, Rng, tempDir } from '../helpers.js';

const tmp = () => tempDir('zj-ckpt-');
export const small: LlamaConfig = { ...presets.tiny, vocabSize: 97, hiddenSize: 32, intermediateSize: 40, numLayers: 2, numHeads: 4, numKvHeads: 2 };

const llamaJson = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 32000, hidden_size: 4096, intermediate_size: 11008,
  num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 32, hidden_act: 'silu', max_position_embeddings: 4096,
  rms_norm_eps: 1e-5, rope_theta: 10000, rope_scaling: null, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2,
  pretraining_tp: 1, attention_bias: false, torch_dtype: 'float16', transformers_version: '4.40.0', use_cache: true,
};

test('config: LLaMA and Qwen2 config.json parse; round trip through toHfConfig', () => {
  const p = fromHfConfig(llamaJson);
  assert.equal(p.architecture, 'LlamaForCausalLM');
  assert.deepEqual([p.config.hiddenSize, p.config.numLayers, p.config.numKvHeads, p.config.attentionBias], [4096, 32, 32, false]);
  assert.deepEqual(p.unusedKeys, []);
  const q = fromHfConfig({ ...llamaJson, architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', num_key_value_heads: 8,
    use_sliding_window: false, sliding_window: 4096, max_window_layers: 28, eos_token_id: [151645, 151643], vocab_size: 152064, tie_word_embeddings: true });
  assert.equal(q.config.attentionBias, true);
  assert.deepEqual(q.eosTokenIds, [151645, 151643]);
  for (const c of [p, q]) assert.deepEqual(fromHfConfig(toHfConfig(c.config, { architecture: c.architecture, eosTokenIds: c.eosTokenIds })).config, c.config);
  const g = fromHfGenerationConfig({ do_sample: true, temperature: 0.7, top_p: 0.9, repetition_penalty: 1.2, eos_token_id: [2, 3] });
  assert.deepEqual(fromHfGenerationConfig(toHfGenerationConfig(g)), g);
});

test('config: unsupported features are refused with the field named', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ rope_scaling: { type: 'yarn', factor: 2 } }, /rope_scaling: type "yarn"/],
    [{ rope_scaling: { rope_type: 'llama3', factor: 8 } }, /rope_scaling\.original_max_position_embeddings/],
    [{ architectures: ['MistralForCausalLM'] }, /architectures: MistralForCausalLM is not supported/],
    [{ hidden_act: 'gelu' }, /hidden_act: "gelu"/],
    [{ attention_bias: true }, /attention_bias/],
    [{ mlp_bias: true }, /mlp_bias/],
    [{ pretraining_tp: 2 }, /pretraining_tp/],
    [{ sliding_window: 4096 }, /sliding_window/],
    [{ architectures: ['Qwen2ForCausalLM'], use_sliding_window: true }, /use_sliding_window/],
    [{ head_dim: 63 }, /head_dim/],
    [{ num_key_value_heads: 5 }, /numKvHeads/],
    [{ hidden_size: 'big' }, /hidden_size: expected a positive integer/],
  ];
  for (const [patch, re] of cases) assert.throws(() => fromHfConfig({ ...llamaJson, ...patch }, 'x/config.json'), (e: Error) => {
    assert.match(e.message, /^\[config\] x\/config.json: /);
    assert.match(e.message, re);
    return true;
  });
  assert.deepEqual(fromHfConfig({ ...llamaJson, rope_scaling: { rope_type: 'default' }, foo: 1 }).unusedKeys, ['foo']);
});

test('half: f16 conversion rounds to nearest even, handles subnormals, inf and NaN', () => {
  for (const x of [1, -2.5, 65504, 0.5, 2 ** -14, 2 ** -24]) assert.equal(f16BitsToF32(f32ToF16Bits(x)), x);
  assert.ok(Math.abs(f16BitsToF32(f32ToF16Bits(0.1)) - 0.1) < 0.1 * 2 ** -11);
  assert.equal(f32ToF16Bits(1), 0x3c00);
  assert.equal(f32ToF16Bits(65520), 0x7c00); // rounds up past max → inf
  assert.equal(f32ToF16Bits(1 + 2 ** -11), 0x3c00); // tie → even
  assert.equal(f32ToF16Bits(1 + 3 * 2 ** -11), 0x3c02);
  assert.equal(f16BitsToF32(0x0001), 2 ** -24);
  assert.ok(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN))));
  for (let h = 0; h < 0x7c00; h += 7) assert.equal(f32ToF16Bits(f16BitsToF32(h)), h); // every finite half survives
});

test('safetensors: f32 bit-exact, f16/bf16 round to the stored type; headers validated with file and offset', () => {
  const dir = tmp();
  const rng = new Rng(3);
  const a = new Float32Array(37).map(() => rng.normal());
  const b = new Float32Array(6).map(() => rng.normal() * 1e-3);
  for (const dtype of ['F32', 'F16', 'BF16'] as const) {
    const path = join(dir, `t-${dtype}.safetensors`);
    writeSafetensors(path, [{ name: 'a', shape: [37], data: a }, { name: 'b.w', shape: [2, 3], data: b }], { dtype, metadata: { k: 'v' } });
    const f = new SafetensorsFile(path);
    assert.deepEqual(f.entry('b.w').shape, [2, 3]);
    assert.equal(f.metadata.k, 'v');
    const ra = f.readF32('a');
    if (dtype === 'F32') assert.deepEqual(ra, a);
    else for (let i = 0; i < a.length; i++) assert.ok(Math.abs(ra[i]! - a[i]!) <= Math.abs(a[i]!) * (dtype === 'F16' ? 1e-3 : 8e-3));
    f.close();
    // writing what was read gives the same bytes
    writeSafetensors(path + '2', [{ name: 'a', shape: [37], data: ra }, { name: 'b.w', shape: [2, 3], data: new SafetensorsFile(path).readF32('b.w') }], { dtype, metadata: { k: 'v' } });
    assert.deepEqual(readFileSync(path + '2'), readFileSync(path));
  }
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp-')), [], 'no temporary files left');
  const good = readFileSync(join(dir, 't-F32.safetensors'));
  const bad = (name: string, bytes: Buffer, re: RegExp) => {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    assert.throws(() => new SafetensorsFile(p), (e: Error) => {
      assert.ok(e.message.startsWith(`[safetensors] ${p}: `), e.message);
      assert.match(e.message, re);
      return true;
    });
  };
  bad('truncated.safetensors', good.subarray(0, good.length - 10), /past the end of the file .* at offset \d+/);
  bad('short.safetensors', good.subarray(0, 5), /too short .* at offset 0/);
  const huge = Buffer.from(good);
  huge.writeBigUInt64LE(10n ** 12n, 0);
  bad('hugeheader.safetensors', huge, /header length 1000000000000 exceeds file size \d+ at offset 0/);
  const garbled = Buffer.from(good);
  garbled[9] = 0x7b;
  garbled[10] = 0x7b;
  bad('garbled.safetensors', garbled, /not valid JSON.* at offset 8/);
  bad('trailing.safetensors', Buffer.concat([good, Buffer.alloc(4)]), /4 trailing bytes/);
});

test('safetensors: sharded directories (index + shards) load like one file; switching layouts removes stale files', () => {
  const dir = tmp();
  const rng = new Rng(4);
  const ts = Array.from({ length: 5 }, (_, i) => ({ name: `t${i}`, shape: [10, 10], data: new Float32Array(100).map(() => rng.normal()) }));
  const files = writeSafetensorsDir(dir, ts, { maxShardBytes: 900 });
  assert.equal(files.length, 3);
  assert.ok(existsSync(join(dir, 'model.safetensors.index.json')));
  const src = openSafetensorsDir(dir);
  for (const t of ts) assert.deepEqual(src.readF32(t.name), t.data);
  src.close();
  writeSafetensorsDir(dir, ts);
  assert.deepEqual(readdirSync(dir).sort(), ['model.safetensors']);
});

test('model dir: save → load is bit-exact (weights and logits), sharded and single, tied and untied', () => {
  for (const [cfg, shard] of [[small, 0], [{ ...small, tieWordEmbeddings: true, attentionBias: true }, 20000]] as [LlamaConfig, number][]) {
    const dir = tmp();
    const m = new LlamaForCausalLM(cfg, 11);
    saveModelDir(dir, m, { maxShardBytes: shard || undefined, generation: { temperature: 0.7, repetitionPenalty: 1.2 } });
    const md = loadModelDir(dir);
    assert.deepEqual(md.model.config, m.config);
    assert.equal(md.generation.repetitionPenalty, 1.2);
    const pa = m.namedParameters(), pb = md.model.namedParameters();
    assert.deepEqual(pa.map(([n]) => n), pb.map(([n]) => n));
    pa.forEach(([n, t], i) => assert.deepEqual(pb[i]![1].f32(), t.f32(), n));
    const ids = idsT(new Rng(1), [2, 5], cfg.vocabSize);
    noGrad(() => assert.deepEqual(md.model.forward({ ids }).f32(), m.forward({ ids }).f32()));
  }
});

test('atomic writes: a write that fails midway leaves the previous file intact and no temporary file', () => {
  const dir = tmp();
  const path = join(dir, 'model.safetensors');
  writeSafetensors(path, [{ name: 'a', shape: [2], data: new Float32Array([1, 2]) }]);
  const before = readFileSync(path);
  function* failing(): Generator<Uint8Array> {
    yield new Uint8Array(1000);
    throw new Error('disk full (simulated)');
  }
  assert.throws(() => atomicWrite(path, failing()), /disk full/);
  assert.deepEqual(readFileSync(path), before);
  assert.deepEqual(readdirSync(dir), ['model.safetensors']);
});

test('model dir: a checkpoint that does not match its config is refused by tensor name', () => {
  const dir = tmp();
  saveModelDir(dir, new LlamaForCausalLM(small, 1));
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, intermediate_size: 48 }));
  assert.throws(() => loadModelDir(dir), /'model.layers.0.mlp.gate_proj.weight' has shape \[40,32\], config.json implies \[48,32\]/);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, num_hidden_layers: 3 }));
  assert.throws(() => loadModelDir(dir), /checkpoint lacks tensor 'model.layers.2/);
});
