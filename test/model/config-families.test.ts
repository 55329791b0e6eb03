// config-families.test.ts — fromHfConfig over the families people adapt: every preset parses to the shape its
// checkpoint has (Qwen3's head_dim and q/k norms, Llama 3.2's llama3 rope_scaling), LLaMA-1/2 configs with HF
// defaults and extended vocabularies load as LlamaForCausalLM, what we do not implement is refused naming the
// field and value, and toHfConfig writes back a config that parses to the same LlamaConfig.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromHfConfig, toHfConfig } from '../../src/model/config.js';
import { PRESETS, PRESET_NAMES, presetConfig } from '../../src/model/presets.js';
import { LlamaForCausalLM, headDimOf } from '../../src/model/llama.js';

test('every preset parses; Qwen3 and Llama 3.2 carry their head dim, q/k norms and rope scaling', () => {
  for (const name of PRESET_NAMES) {
    const p = fromHfConfig(presetConfig(name), name);
    assert.deepEqual(p.unusedKeys, [], `${name}: unused keys ${p.unusedKeys}`);
  }
  const q3 = fromHfConfig(PRESETS['qwen3-0.6b']).config;
  assert.equal(headDimOf(q3), 128);
  assert.equal(q3.headDim, 128);
  assert.equal(q3.qkNorm, true);
  assert.equal(q3.attentionBias, false);
  const l3 = fromHfConfig(PRESETS['llama3.2-1b']).config;
  assert.equal(l3.headDim, undefined, 'head_dim 64 = 2048 / 32 is the default');
  assert.deepEqual(l3.ropeScaling, { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 });
  assert.equal(fromHfConfig(PRESETS['qwen2.5-0.5b']).config.attentionBias, true);
  assert.throws(() => presetConfig('gpt2'), /unknown preset 'gpt2'; known: qwen2\.5-0\.5b, .*llama3\.2-1b/);
});

test('LLaMA-1/2 configs (HF defaults, max_sequence_length, pad -1, Ziya-style vocab 39424) load as LLaMA', () => {
  const ziya = {
    architectures: ['LlamaForCausalLM'], bos_token_id: 1, eos_token_id: 2, hidden_act: 'silu', hidden_size: 5120,
    initializer_range: 0.02, intermediate_size: 13824, max_position_embeddings: 2048, model_type: 'llama',
    num_attention_heads: 40, num_hidden_layers: 40, pad_token_id: 0, rms_norm_eps: 1e-6, tie_word_embeddings: false,
    torch_dtype: 'float16', transformers_version: '4.27.0.dev0', use_cache: true, vocab_size: 39424,
  };
  const p = fromHfConfig(ziya);
  assert.equal(p.architecture, 'LlamaForCausalLM');
  assert.equal(p.config.vocabSize, 39424);
  assert.equal(p.config.numKvHeads, 40);
  assert.equal(p.config.ropeTheta, 10000);
  assert.equal(headDimOf(p.config), 128);
  const old = { ...ziya, max_position_embeddings: undefined, max_sequence_length: 4096, pad_token_id: -1, architectures: undefined };
  const q = fromHfConfig(JSON.parse(JSON.stringify(old)));
  assert.equal(q.architecture, 'LlamaForCausalLM');
  assert.equal(q.config.maxPositions, 4096);
  assert.equal(q.padTokenId, null);
});

test('refusals name the field and the value', () => {
  const llama = PRESETS['llama3.2-1b']!, qwen3 = PRESETS['qwen3-0.6b']!, qwen2 = PRESETS['qwen2.5-0.5b']!;
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ...llama, rope_scaling: { rope_type: 'yarn', factor: 4.0 } }, /config\.json: rope_scaling: type "yarn" is not supported/],
    [{ ...llama, rope_scaling: { rope_type: 'llama3', factor: 8.0 } }, /rope_scaling\.low_freq_factor|original_max_position_embeddings/],
    [{ ...llama, mlp_bias: true }, /mlp_bias: MLP biases are not supported/],
    [{ ...llama, attention_bias: true }, /attention_bias: LlamaForCausalLM attention_bias adds an o_proj bias/],
    [{ ...qwen3, attention_bias: true }, /attention_bias: Qwen3ForCausalLM attention_bias/],
    [{ ...llama, hidden_act: 'gelu' }, /hidden_act: "gelu" is not supported/],
    [{ ...llama, sliding_window: 4096 }, /sliding_window: 4096: sliding-window attention/],
    [{ ...qwen2, use_sliding_window: true }, /use_sliding_window: sliding-window attention/],
    [{ ...qwen3, layer_types: ['full_attention', 'sliding_attention'] }, /layer_types\[1\]: "sliding_attention" is not supported/],
    [{ ...llama, partial_rotary_factor: 0.5 }, /partial_rotary_factor: 0\.5 is not supported/],
    [{ ...qwen2, use_mrope: true }, /use_mrope: multimodal RoPE/],
    [{ ...llama, head_dim: 63 }, /head_dim: 63 must be even/],
    [{ ...llama, architectures: ['MistralForCausalLM'] }, /architectures: MistralForCausalLM is not supported \(supported: LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM\)/],
  ];
  for (const [cfg, re] of cases) assert.throws(() => fromHfConfig(cfg), re);
  // transformers v5's rope_parameters spelling is read, not ignored
  const v5 = { ...llama, rope_scaling: undefined, rope_theta: undefined, rope_parameters: { ...llama.rope_scaling as object, rope_theta: 500000.0 } };
  const c5 = fromHfConfig(JSON.parse(JSON.stringify(v5))).config;
  assert.equal(c5.ropeTheta, 500000);
  assert.equal(c5.ropeScaling?.type, 'llama3');
  assert.throws(() => fromHfConfig({ ...v5, rope_parameters: { rope_type: 'longrope', rope_theta: 1e4 } }), /rope_parameters: type "longrope"/);
});

test('toHfConfig round-trips Qwen3, Llama 3 and dynamic/linear scaling', () => {
  for (const cfg of [PRESETS['qwen3-0.6b']!, PRESETS['llama3.2-1b']!, PRESETS['qwen2.5-7b']!,
    { ...PRESETS['llama3.2-1b']!, rope_scaling: { type: 'dynamic', factor: 2.0 } },
    { ...PRESETS['llama3.2-1b']!, rope_scaling: { rope_type: 'linear', factor: 4.0 } }]) {
    const p = fromHfConfig(cfg);
    const back = toHfConfig(p.config);
    assert.equal((back.architectures as string[])[0], p.architecture);
    assert.deepEqual(fromHfConfig(back).config, p.config);
  }
});

test('a Qwen3 model has per-head q/k norms and (H·D, C) projections', () => {
  const c = fromHfConfig({ ...PRESETS['qwen3-0.6b']!, vocab_size: 64, hidden_size: 32, intermediate_size: 48,
    num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 12, bos_token_id: 1, eos_token_id: 2 }).config;
  const shapes = Object.fromEntries(new LlamaForCausalLM(c, 1).namedParameters().map(([n, p]) => [n, p.shape.join('x')]));
  assert.equal(shapes['model.layers.0.self_attn.q_proj.weight'], '48x32');
  assert.equal(shapes['model.layers.0.self_attn.k_proj.weight'], '24x32');
  assert.equal(shapes['model.layers.0.self_attn.o_proj.weight'], '32x48');
  assert.equal(shapes['model.layers.0.self_attn.q_norm.weight'], '12');
  assert.equal(shapes['model.layers.0.self_attn.k_norm.weight'], '12');
  assert.equal(shapes['lm_head.weight'], undefined);
});

test('saveModelDir → loadModelDir keeps a Qwen3 and a llama3-scaled model exact (config and logits)', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { saveModelDir, loadModelDir } = await import('../../src/model/model-dir.js');
  const { noGrad } = await import('../../src/autograd/grad-mode.js');
  const { i32T } = await import('../helpers.js');
  const small = { vocab_size: 64, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 1, num_attention_heads: 4,
    num_key_value_heads: 2, bos_token_id: 1, eos_token_id: 2 };
  for (const cfg of [{ ...PRESETS['qwen3-0.6b']!, ...small, head_dim: 12 },
    { ...PRESETS['llama3.2-1b']!, ...small, rope_scaling: { rope_type: 'llama3', factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 16 } }]) {
    const p = fromHfConfig(cfg);
    const m = new LlamaForCausalLM(p.config, 3);
    const dir = mkdtempSync(join(tmpdir(), 'zj-fam-'));
    try {
      saveModelDir(dir, m);
      const md = loadModelDir(dir);
      assert.equal(md.architecture, p.architecture);
      assert.deepEqual(md.model.config, p.config);
      noGrad(() => {
        const ids = i32T([3, 9, 27, 4, 40, 1], [1, 6]);
        assert.deepEqual(md.model.forward({ ids }).f32(), m.forward({ ids }).f32());
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
