// lf-keys.ts — facts about LLaMA-Factory v0.9.3 (tag v0.9.3 of hiyouga/LLaMA-Factory): the YAML keys its argument
// parser accepts with their types and allowed values, and the dataset_info.json schema. Read from
// src/llamafactory/hparams/{data,finetuning,model,generating}_args.py and src/llamafactory/data/parser.py; the
// trainer keys come from transformers' TrainingArguments at the release's pin (transformers <= 4.52.4).
// Only names and values are recorded here; nothing is checked against a running engine.

export const LF_RELEASE = 'v0.9.3';
export const LF_SOURCE = 'hiyouga/LLaMA-Factory@v0.9.3 src/llamafactory/hparams/*.py, src/llamafactory/data/parser.py';

export type KeyType = 'str' | 'int' | 'float' | 'bool' | 'dict';
export interface KeyFact { type: KeyType; choices?: readonly string[]; file: string }

const DATA = 'hparams/data_args.py', FT = 'hparams/finetuning_args.py', MODEL = 'hparams/model_args.py';
const GEN = 'hparams/generating_args.py', HF = 'transformers TrainingArguments (training_args.py)';

const k = (file: string, type: KeyType, choices?: readonly string[]): KeyFact => (choices ? { type, choices, file } : { type, file });
const many = (file: string, type: KeyType, names: string): Record<string, KeyFact> =>
  Object.fromEntries(names.trim().split(/\s+/).map((n) => [n, k(file, type)]));

/** Every key a stage YAML may carry in v0.9.3 (the parser rejects others unless ALLOW_EXTRA_ARGS=1). */
export const LF_KEYS: Record<string, KeyFact> = {
  // DataArguments
  ...many(DATA, 'str', 'template dataset eval_dataset dataset_dir media_dir interleave_probs tool_format default_system tokenized_path'),
  ...many(DATA, 'int', 'cutoff_len buffer_size preprocessing_batch_size preprocessing_num_workers max_samples eval_num_beams'),
  ...many(DATA, 'bool', 'train_on_prompt mask_history streaming overwrite_cache ignore_pad_token_for_loss eval_on_each_dataset packing neat_packing enable_thinking data_shared_file_system'),
  val_size: k(DATA, 'float'),
  mix_strategy: k(DATA, 'str', ['concat', 'interleave_under', 'interleave_over']),
  // FinetuningArguments and its parts (Freeze, LoRA, RLHF)
  stage: k(FT, 'str', ['pt', 'sft', 'rm', 'ppo', 'dpo', 'kto']),
  finetuning_type: k(FT, 'str', ['lora', 'freeze', 'full']),
  ...many(FT, 'bool', 'pure_bf16 use_llama_pro use_adam_mini use_muon compute_accuracy disable_shuffling plot_loss include_effective_tokens_per_second use_rslora use_dora pissa_init pissa_convert create_new_adapter ppo_score_norm ppo_whiten_rewards'),
  ...many(FT, 'int', 'early_stopping_steps freeze_trainable_layers lora_alpha lora_rank pissa_iter ppo_buffer_size ppo_epochs ref_model_quantization_bit reward_model_quantization_bit'),
  ...many(FT, 'float', 'lora_dropout loraplus_lr_ratio loraplus_lr_embedding pref_beta pref_ftx dpo_label_smoothing kto_chosen_weight kto_rejected_weight simpo_gamma ppo_target ld_alpha'),
  ...many(FT, 'str', 'freeze_trainable_modules freeze_extra_modules additional_target lora_target ref_model ref_model_adapters reward_model reward_model_adapters'),
  pref_loss: k(FT, 'str', ['sigmoid', 'hinge', 'ipo', 'kto_pair', 'orpo', 'simpo']),
  reward_model_type: k(FT, 'str', ['lora', 'full', 'api']),
  // BaseModelArguments / ExportArguments (the ones a recipe uses)
  ...many(MODEL, 'str', 'model_name_or_path adapter_name_or_path adapter_folder cache_dir model_revision export_dir export_hub_model_id'),
  ...many(MODEL, 'bool', 'use_fast_tokenizer resize_vocab trust_remote_code disable_gradient_checkpointing upcast_layernorm train_from_scratch export_legacy_format'),
  ...many(MODEL, 'int', 'quantization_bit export_size'),
  flash_attn: k(MODEL, 'str', ['auto', 'disabled', 'sdpa', 'fa2']),
  infer_backend: k(MODEL, 'str', ['huggingface', 'vllm', 'sglang']),
  infer_dtype: k(MODEL, 'str', ['auto', 'float16', 'bfloat16', 'float32']),
  export_device: k(MODEL, 'str', ['cpu', 'auto']),
  // GeneratingArguments (PPO's rollouts)
  ...many(GEN, 'bool', 'do_sample skip_special_tokens'),
  ...many(GEN, 'float', 'temperature top_p repetition_penalty length_penalty'),
  ...many(GEN, 'int', 'top_k num_beams max_length max_new_tokens'),
  // transformers TrainingArguments (LLaMA-Factory's TrainingArguments extends Seq2SeqTrainingArguments)
  ...many(HF, 'str', 'output_dir deepspeed'),
  ...many(HF, 'bool', 'overwrite_output_dir do_train do_eval bf16 fp16 save_only_model gradient_checkpointing'),
  ...many(HF, 'int', 'per_device_train_batch_size per_device_eval_batch_size gradient_accumulation_steps max_steps warmup_steps logging_steps save_steps eval_steps seed ddp_timeout dataloader_num_workers'),
  ...many(HF, 'float', 'learning_rate weight_decay max_grad_norm num_train_epochs warmup_ratio'),
  lr_scheduler_kwargs: k(HF, 'dict'),
  lr_scheduler_type: k(HF, 'str', ['linear', 'cosine', 'cosine_with_restarts', 'polynomial', 'constant', 'constant_with_warmup', 'inverse_sqrt', 'reduce_lr_on_plateau', 'cosine_with_min_lr', 'warmup_stable_decay']),
  eval_strategy: k(HF, 'str', ['no', 'steps', 'epoch']),
  save_strategy: k(HF, 'str', ['no', 'steps', 'epoch', 'best']),
  // report_to takes many integration names; only those an export may write are allowed here
  report_to: k(HF, 'str', ['none', 'all', 'tensorboard', 'wandb']),
};

/** dataset_info.json: the keys of one entry, and of its `columns` / `tags` maps (data/parser.py DatasetAttr.join). */
export const LF_DATASET_KEYS = ['file_name', 'hf_hub_url', 'ms_hub_url', 'om_hub_url', 'script_url', 'cloud_file_name',
  'formatting', 'ranking', 'subset', 'split', 'folder', 'num_samples', 'columns', 'tags'] as const;
export const LF_FORMATTINGS = ['alpaca', 'sharegpt'] as const;
export const LF_COLUMN_KEYS = ['prompt', 'query', 'response', 'history', 'messages', 'system', 'tools', 'images', 'videos', 'audios', 'chosen', 'rejected', 'kto_tag'] as const;
export const LF_TAG_KEYS = ['role_tag', 'content_tag', 'user_tag', 'assistant_tag', 'observation_tag', 'function_tag', 'system_tag'] as const;

/** One problem per bad key/value of a stage YAML; [] when every key is known and every value allowed. */
export function checkLfYaml(y: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [key, v] of Object.entries(y)) {
    const f = LF_KEYS[key];
    if (!f) { out.push(`${key}: not a LLaMA-Factory ${LF_RELEASE} key`); continue; }
    const ok = f.type === 'bool' ? typeof v === 'boolean' : f.type === 'int' ? Number.isInteger(v) : f.type === 'float' ? typeof v === 'number'
      : f.type === 'dict' ? typeof v === 'object' && v !== null && !Array.isArray(v) : typeof v === 'string';
    if (!ok) out.push(`${key}: expected ${f.type}, got ${JSON.stringify(v)}`);
    else if (f.choices && !f.choices.includes(v as string)) out.push(`${key}: '${String(v)}' is not one of ${f.choices.join(', ')}`);
  }
  return out;
}
