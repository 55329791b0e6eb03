// deepspeed.ts — the DeepSpeed JSON configs an export carries: ZeRO-2 and ZeRO-3, each with and without CPU
// offload. "auto" values are filled by the HF Trainer from the stage YAML (batch sizes, precision, clipping), so one
// file serves every stage. Key names follow DeepSpeed's config docs (zero_optimization.*); no tuning beyond them.

export type ZeroName = 'zero2' | 'zero2-offload' | 'zero3' | 'zero3-offload';
export const ZERO_NAMES: readonly ZeroName[] = ['zero2', 'zero2-offload', 'zero3', 'zero3-offload'];

export function deepspeedConfig(z: ZeroName): Record<string, unknown> {
  const stage = z.startsWith('zero3') ? 3 : 2;
  const offload = z.endsWith('offload');
  const zero: Record<string, unknown> = {
    stage, overlap_comm: false, contiguous_gradients: true, reduce_bucket_size: 'auto',
  };
  if (stage === 2) Object.assign(zero, { allgather_partitions: true, allgather_bucket_size: 5e8, reduce_scatter: true, round_robin_gradients: true });
  // ZeRO-3 must gather the 16-bit weights on save, or the saved checkpoint (and the value head split) is empty
  else Object.assign(zero, {
    sub_group_size: 1e9, stage3_prefetch_bucket_size: 'auto', stage3_param_persistence_threshold: 'auto',
    stage3_max_live_parameters: 1e9, stage3_max_reuse_distance: 1e9, stage3_gather_16bit_weights_on_model_save: true,
  });
  if (offload) {
    zero.offload_optimizer = { device: 'cpu', pin_memory: true };
    if (stage === 3) zero.offload_param = { device: 'cpu', pin_memory: true };
  }
  return {
    train_batch_size: 'auto', train_micro_batch_size_per_gpu: 'auto', gradient_accumulation_steps: 'auto', gradient_clipping: 'auto',
    zero_allow_untested_optimizer: true,
    fp16: { enabled: 'auto', loss_scale: 0, loss_scale_window: 1000, initial_scale_power: 16, hysteresis: 2, min_loss_scale: 1 },
    bf16: { enabled: 'auto' }, zero_optimization: zero,
  };
}
