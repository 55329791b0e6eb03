// stage-yaml.ts — our pipeline config → one LLaMA-Factory v0.9.3 YAML per step, in order: pt → merge → sft → merge →
// rm (→ merge) → ppo, then dpo / kto when asked. Chaining is by merged model directories (the engine's own
// `llamafactory-cli export`), so every stage starts from plain weights and ZeRO-3 never sees stacked adapters.
// What the engine cannot express is an error naming our key; PPO internals it does not expose are listed as notes.
import type { LoraSpec, PipelineConfig, TrainSpec } from '../pipeline/config.js';
import { DATASETS } from './data-export.js';
import { VOCAB_MODULES } from './vocab-extend.js';

export interface Step { name: string; kind: 'train' | 'merge'; yaml: Record<string, unknown> }
export interface Plan { steps: Step[]; notes: string[]; world: number }

export const BASE_DIR = 'model/base';
export const DATA_DIR = 'data';
export const dsFile = (z: string): string => `deepspeed/ds_${z.replace('-', '_')}.json`;

const fail = (key: string, why: string): never => { throw new Error(`[export recipe] ${key}: ${why}`); };

function lora(l: LoraSpec): Record<string, unknown> {
  return { finetuning_type: 'lora', lora_rank: l.r, lora_alpha: Math.round(l.alpha), lora_dropout: l.dropout, lora_target: l.targets.join(',') };
}

function schedule(t: TrainSpec, key: string): Record<string, unknown> {
  if (t.onNonFinite !== 'stop') fail(`${key}.onNonFinite`, `'${t.onNonFinite}' (skipping non-finite steps) has no LLaMA-Factory equivalent`);
  const o: Record<string, unknown> = { learning_rate: t.lr, weight_decay: t.weightDecay, max_grad_norm: t.maxGradNorm, warmup_steps: t.warmup };
  if (t.schedule === 'cosine' && t.lrMin > 0) { o.lr_scheduler_type = 'cosine_with_min_lr'; o.lr_scheduler_kwargs = { min_lr: t.lrMin }; }
  else o.lr_scheduler_type = t.schedule === 'constant' ? 'constant_with_warmup' : t.schedule;
  return o;
}

/** lfTemplate: the v0.9.3 template name every train step names (tokenizer.template `model`); null = the base's own
 * chat_template, which prepare_model.py sets to ours */
export function planStages(cfg: PipelineConfig, lfTemplate: string | null = null): Plan {
  const s = cfg.scaleout;
  s.model ?? cfg.model.from ?? fail('scaleout.model', 'the engine trains a pretrained base: set scaleout.model to an HF model id or path (model.from is not set either)');
  for (const x of s.extraStages) if (x !== 'dpo' && x !== 'kto') fail('scaleout.extraStages', `'${x}' is not a stage the export knows (dpo, kto)`);
  const world = s.nodes * s.gpusPerNode;
  const notes: string[] = [];
  const prec = s.precision === 'bf16' ? { bf16: true } : s.precision === 'fp16' ? { fp16: true } : {};
  const cutoff = s.cutoffLen ?? Math.max(cfg.pretrain.seqLen, cfg.sft.maxLen, cfg.rm.maxLen);
  const common = (stage: string, out: string): Record<string, unknown> => ({
    stage, do_train: true, ...(lfTemplate ? { template: lfTemplate } : {}), dataset_dir: DATA_DIR, cutoff_len: cutoff, output_dir: out, overwrite_output_dir: true,
    logging_steps: 10, plot_loss: true, report_to: 'none', seed: cfg.seed, ddp_timeout: 180000000, preprocessing_num_workers: 16, ...prec,
    ...(s.deepspeed === 'none' ? {} : { deepspeed: dsFile(s.deepspeed) }),
  });
  // our batch is the global batch; the engine's is per device × accumulation × world
  const batch = (global: number, key: string): Record<string, unknown> => {
    const micro = Math.min(s.microBatch, Math.max(1, Math.floor(global / world)));
    const accum = Math.max(1, Math.round(global / (micro * world)));
    if (micro * accum * world !== global) notes.push(`${key}: global batch ${global} becomes ${micro * accum * world} (${micro} per device × ${accum} accumulation × ${world} GPUs)`);
    return { per_device_train_batch_size: micro, gradient_accumulation_steps: accum };
  };
  const length = (t: TrainSpec, epochs: number | null): Record<string, unknown> => (epochs !== null ? { num_train_epochs: epochs } : { max_steps: t.steps });
  const saveEvery = (t: TrainSpec) => (t.saveEvery > 0 ? { save_steps: t.saveEvery } : { save_strategy: 'no' });
  const merge = (name: string, from: string, adapter: string, out: string): Step => ({
    name, kind: 'merge', yaml: { model_name_or_path: from, adapter_name_or_path: adapter, finetuning_type: 'lora', export_dir: out, export_size: 5, export_device: 'cpu', export_legacy_format: false },
  });
  const steps: Step[] = [];
  // continued pre-training
  const ptLora = cfg.pretrain.lora;
  // tokenizer.extend: model/base already has our tokenizer and rows (extend_vocab.py); as in our pretrain stage, the
  // embedding and LM head train in full beside the LoRA adapter (PEFT modules_to_save), later stages' adapters alone
  const vocab = cfg.tokenizer.extend && ptLora ? { additional_target: VOCAB_MODULES } : {};
  if (cfg.tokenizer.extend) {
    notes.push(`tokenizer.extend: model/base = the base with our tokenizer (tokenizer/: the new tokens learned on the exported pretraining text, as a zhongjing run learns them) and its vocabulary matrices grown and filled as ours (extend_vocab.py), not LLaMA-Factory's add_tokens / resize_vocab (added tokens split out of the text, rows a noisy mean)` +
      (ptLora ? `; pt trains ${VOCAB_MODULES} in full beside the adapter (additional_target). On a tied model PEFT trains the two as separate copies and the merged model keeps the embedding's; ours trains the one shared matrix` : ''));
  }
  steps.push({ name: 'pt', kind: 'train', yaml: {
    model_name_or_path: BASE_DIR, ...common('pt', 'saves/pt'), ...(ptLora ? lora(ptLora) : { finetuning_type: 'full' }), ...vocab,
    dataset: DATASETS.pt, ...batch(cfg.pretrain.batchSize * cfg.pretrain.gradAccum, 'pretrain.batchSize'), ...schedule(cfg.pretrain, 'pretrain'),
    ...length(cfg.pretrain, s.epochs.pretrain), ...saveEvery(cfg.pretrain),
  } });
  let ptModel = 'saves/pt';
  if (ptLora) { steps.push(merge('pt-merge', BASE_DIR, 'saves/pt', 'saves/pt-merged')); ptModel = 'saves/pt-merged'; }
  // SFT: loss on every doctor turn (the engine's default); lossOn: last → mask_history
  const sftEval = cfg.sft.evalEvery > 0 ? { eval_dataset: DATASETS.sftDev, eval_strategy: 'steps', eval_steps: cfg.sft.evalEvery, per_device_eval_batch_size: s.microBatch } : {};
  steps.push({ name: 'sft', kind: 'train', yaml: {
    model_name_or_path: ptModel, ...common('sft', 'saves/sft'), ...(cfg.sft.lora ? lora(cfg.sft.lora) : { finetuning_type: 'full' }),
    dataset: DATASETS.sft, ...(cfg.sft.lossOn === 'last' ? { mask_history: true } : {}), ...sftEval,
    ...batch(cfg.sft.batchSize * cfg.sft.gradAccum, 'sft.batchSize'), ...schedule(cfg.sft, 'sft'), ...length(cfg.sft, s.epochs.sft), ...saveEvery(cfg.sft),
  } });
  let sftModel = 'saves/sft';
  if (cfg.sft.lora) { steps.push(merge('sft-merge', ptModel, 'saves/sft', 'saves/sft-merged')); sftModel = 'saves/sft-merged'; }
  // reward model
  const rmBase = s.rmFrom === 'pretrain' ? ptModel : sftModel;
  const rmEval = cfg.data.devFraction > 0 && cfg.rm.evalEvery > 0 ? { val_size: cfg.data.devFraction, eval_strategy: 'steps', eval_steps: cfg.rm.evalEvery, per_device_eval_batch_size: s.microBatch } : {};
  steps.push({ name: 'rm', kind: 'train', yaml: {
    model_name_or_path: rmBase, ...common('rm', 'saves/rm'), ...(cfg.rm.lora ? lora(cfg.rm.lora) : { finetuning_type: 'full' }),
    dataset: DATASETS.pairs, ...rmEval, ...batch(cfg.rm.pairsPerBatch * cfg.rm.gradAccum, 'rm.pairsPerBatch'), ...schedule(cfg.rm, 'rm'),
    ...length(cfg.rm, s.epochs.rm), ...saveEvery(cfg.rm),
  } });
  // a LoRA reward model rides on the policy's base; when its base differs, it is merged and loaded in full
  let reward: Record<string, unknown>;
  if (cfg.rm.lora && rmBase === sftModel) reward = { reward_model: 'saves/rm', reward_model_type: 'lora' };
  else if (cfg.rm.lora) { steps.push(merge('rm-merge', rmBase, 'saves/rm', 'saves/rm-merged')); reward = { reward_model: 'saves/rm-merged', reward_model_type: 'full' }; }
  else reward = { reward_model: 'saves/rm', reward_model_type: 'full' };
  // PPO: a new LoRA on the merged SFT model; the reference is that model with the adapter off (the engine's
  // default when ref_model is unset and finetuning is LoRA), as in our ppo stage
  const p = cfg.ppo;
  if (p.miniBatch % world !== 0 && p.miniBatch < world) fail('ppo.miniBatch', `${p.miniBatch} is smaller than the ${world} GPUs`);
  if (p.rolloutSize % p.miniBatch !== 0) fail('ppo.rolloutSize', `the engine's rollout buffer is a whole number of mini-batches: ${p.rolloutSize} is not a multiple of ppo.miniBatch ${p.miniBatch}`);
  const buffers = p.rolloutSize / p.miniBatch;
  const ppoSteps = Math.max(1, Math.ceil(p.steps / (p.epochs * buffers)));
  const ppoLen = s.epochs.ppo !== null ? { num_train_epochs: s.epochs.ppo } : { max_steps: ppoSteps };
  steps.push({ name: 'ppo', kind: 'train', yaml: {
    model_name_or_path: sftModel, ...common('ppo', 'saves/ppo'), ...lora(p.lora), ...reward, dataset: DATASETS.ppo,
    per_device_train_batch_size: Math.max(1, Math.floor(p.miniBatch / world)), gradient_accumulation_steps: 1, ppo_buffer_size: buffers, ppo_epochs: p.epochs,
    ...(p.klTarget !== null ? { ppo_target: p.klTarget } : {}), ...schedule(p, 'ppo'), ...ppoLen, ...saveEvery(p),
    do_sample: true, temperature: p.temperature, top_p: p.topP, top_k: p.topK, max_new_tokens: p.maxNewTokens,
  } });
  if (p.klTarget === null) notes.push('ppo.klTarget: null (fixed KL) — the engine always adapts its KL coefficient; ppo_target keeps its default 6.0');
  notes.push(`ppo: not carried (LLaMA-Factory v0.9.3 does not expose them; TRL 0.9.6's own values apply): our gamma ${p.gamma}, lambda ${p.lambda}, clipRange ${p.clipRange}, ` +
    `clipRangeValue ${p.clipRangeValue}, vfCoef ${p.vfCoef}, klInit ${p.klInit}, klHorizon ${p.klHorizon}, rewardClip ${p.rewardClip}, noEosPenalty ${p.noEosPenalty}`);
  if (p.evalEvery > 0) notes.push('ppo.evalEvery: the engine\'s PPO has no evaluation; evaluate the imported model with `zhongjing eval`');
  for (const x of s.extraStages) {
    const d = cfg.dpo;
    steps.push({ name: x, kind: 'train', yaml: {
      model_name_or_path: sftModel, ...common(x, `saves/${x}`), ...lora(d.lora), dataset: x === 'dpo' ? DATASETS.pairs : DATASETS.kto,
      pref_beta: d.beta, ...(x === 'dpo' ? { pref_loss: 'sigmoid' } : {}), ...batch(d.pairsPerBatch * d.gradAccum, 'dpo.pairsPerBatch'),
      ...schedule(d, 'dpo'), ...length(d, s.epochs[x as 'dpo' | 'kto']), ...saveEvery(d),
    } });
  }
  return { steps, notes, world };
}
