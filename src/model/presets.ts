// presets.ts — the shapes of the model families people adapt, as the config.json their HF checkpoints ship
// (fields as in the Hugging Face repositories named beside each; weights are never part of a preset).
// `zhongjing model init --preset NAME` and the real-shape benchmarks read these; fromHfConfig turns one into a
// LlamaConfig, so a preset is refused or accepted exactly as the user's own downloaded config.json would be.
type Json = Record<string, unknown>;

const qwen2 = (o: Json): Json => ({
  architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', hidden_act: 'silu', rms_norm_eps: 1e-6,
  rope_theta: 1000000.0, max_position_embeddings: 32768, bos_token_id: 151643, eos_token_id: 151643,
  use_sliding_window: false, attention_dropout: 0.0, torch_dtype: 'bfloat16', ...o,
});

export const PRESETS: Record<string, Json> = {
  // Qwen/Qwen2.5-0.5B
  'qwen2.5-0.5b': qwen2({
    vocab_size: 151936, hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24, num_attention_heads: 14,
    num_key_value_heads: 2, tie_word_embeddings: true,
  }),
  // Qwen/Qwen2.5-1.5B
  'qwen2.5-1.5b': qwen2({
    vocab_size: 151936, hidden_size: 1536, intermediate_size: 8960, num_hidden_layers: 28, num_attention_heads: 12,
    num_key_value_heads: 2, tie_word_embeddings: true,
  }),
  // Qwen/Qwen2.5-7B
  'qwen2.5-7b': qwen2({
    vocab_size: 152064, hidden_size: 3584, intermediate_size: 18944, num_hidden_layers: 28, num_attention_heads: 28,
    num_key_value_heads: 4, tie_word_embeddings: false, max_position_embeddings: 131072,
  }),
  // Qwen/Qwen3-0.6B (per-head q_norm / k_norm, head_dim 128 ≠ hidden / heads, no q/k/v bias)
  'qwen3-0.6b': {
    architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3', hidden_act: 'silu', vocab_size: 151936,
    hidden_size: 1024, intermediate_size: 3072, num_hidden_layers: 28, num_attention_heads: 16,
    num_key_value_heads: 8, head_dim: 128, rms_norm_eps: 1e-6, rope_theta: 1000000, max_position_embeddings: 40960,
    tie_word_embeddings: true, attention_bias: false, bos_token_id: 151643, eos_token_id: 151645,
    torch_dtype: 'bfloat16',
  },
  // meta-llama/Llama-3.2-1B (rope_scaling of type llama3)
  'llama3.2-1b': {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_act: 'silu', vocab_size: 128256,
    hidden_size: 2048, intermediate_size: 8192, num_hidden_layers: 16, num_attention_heads: 32,
    num_key_value_heads: 8, head_dim: 64, rms_norm_eps: 1e-5, rope_theta: 500000.0, max_position_embeddings: 131072,
    rope_scaling: { rope_type: 'llama3', factor: 32.0, low_freq_factor: 1.0, high_freq_factor: 4.0,
      original_max_position_embeddings: 8192 },
    tie_word_embeddings: true, attention_bias: false, mlp_bias: false, bos_token_id: 128000, eos_token_id: 128001,
    torch_dtype: 'bfloat16',
  },
};

export const PRESET_NAMES = Object.keys(PRESETS);

/** The config.json of a preset (a fresh copy), or an error listing the presets. */
export function presetConfig(name: string): Json {
  const c = PRESETS[name];
  if (!c) throw new Error(`[preset] unknown preset '${name}'; known: ${PRESET_NAMES.join(', ')}`);
  return structuredClone(c);
}
