// bench-train-real.ts — `zhongjing bench train --preset qwen2.5-0.5b --lora R`: one LoRA SFT step on a real
// family's shape (src/model/presets.ts) with random weights built layer by layer directly in the base dtype (f32, bf16,
// q8_0, q4_0; a full f32 copy of a large model never exists), timed against ../shared/anchors/torch_lora_step.py in
// the same run (the anchor's base is bf16 whatever ours is).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { LlamaForCausalLM, checkpointKeepsMlp, type LlamaConfig } from '../model/llama.js';
import { fromHfConfig } from '../model/config.js';
import { presetConfig } from '../model/presets.js';
import { LoraAdapter, trainOnly } from '../nn/lora.js';
import { AdamW, defaultGroups } from '../optim/adamw.js';
import { lmTrainStep } from '../train/lm-step.js';
import { frozenBase, memoryBreakdown, resolveCheckpointing } from '../train/memory.js';
import { isQuantized, type WeightFormat } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
import { Rng } from '../util/rng.js';
import type { Module } from '../nn/module.js';
import { formatProfile, startProfile, stopProfile, type ProfileReport } from '../backend/profile.js';

/** every draw 0: the constructors' initialisers cost a fill; values are written afterwards in the base dtype */
class FlatRng extends Rng {
  override next(): number { return 0; }
  override normal(): number { return 0; }
}

// small pseudo-random values straight into a weight's storage (f32 or bf16 bits), no f32 staging for bf16
function fillRandom(t: Tensor, seed: number): void {
  const table = new Float32Array(256);
  const r = new Rng(seed);
  for (let i = 0; i < 256; i++) table[i] = (r.next() * 2 - 1) * 0.02;
  const bits = new Uint16Array(new Float32Array(table).buffer).filter((_, i) => i % 2 === 1); // bf16 = high halves
  let x = seed >>> 0;
  const d = t.data;
  const bf = t.dtype === 'bf16';
  for (let i = 0; i < d.length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    d[i] = bf ? bits[x >>> 24]! : table[x >>> 24]!;
  }
}

/**
 * The model of `cfg` with its layers built one at a time, each filled in f32 and converted to `baseDtype` as soon as
 * it exists (frozenBase), so at most one layer is ever f32 beside the converted ones. Every base tensor is frozen.
 */
export function buildBaseModel(cfg: LlamaConfig, baseDtype: WeightFormat): LlamaForCausalLM {
  const L = cfg.numLayers;
  const model = new LlamaForCausalLM({ ...cfg, numLayers: 1 }, 0, { init: false });
  const list = model.model.layers as unknown as { items: Module[]; add(n: string, m: Module): Module };
  const Layer = list.items[0]!.constructor as new (c: LlamaConfig, r: Rng, i: number) => Module;
  let seed = 0;
  const prepare = (params: Tensor[]) => {
    for (const p of params) {
      p.requiresGrad = false;
      seed++;
      if (p.dtype !== 'i32' && !isQuantized(p.dtype) && p.size > cfg.hiddenSize) fillRandom(p, seed);
    }
    frozenBase(model, baseDtype); // converts only the tensors still f32
  };
  prepare(model.parameters());
  for (let i = 1; i < L; i++) {
    const layer = list.add(String(i), new Layer(cfg, new FlatRng(0), i));
    list.items.push(layer);
    prepare(layer.parameters());
  }
  (model.config as { numLayers: number }).numLayers = L;
  return model;
}

export interface RealBenchOptions {
  preset: string; lora: number; baseDtype: WeightFormat; B: number; T: number; steps: number;
  layers?: number; checkpointing?: boolean; checkpointKeep?: 'auto' | 'mlp' | 'none'; torch: boolean; anchor: string; dtype: 'f32' | 'bf16'; quiet: boolean;
  /** profile the timed steps (not the warm-up): per phase and per kernel, printed to stderr and returned */
  profile?: boolean;
}

export function benchRealPreset(o: RealBenchOptions): Record<string, unknown> {
  const { config } = fromHfConfig(presetConfig(o.preset), `preset ${o.preset}`);
  const cfg: LlamaConfig = { ...config, numLayers: o.layers ?? config.numLayers, maxPositions: Math.max(config.maxPositions, o.T) };
  if (!o.quiet) process.stderr.write(`building ${o.preset} (${cfg.numLayers} layers, base ${o.baseDtype})…\n`);
  const model = buildBaseModel(cfg, o.baseDtype);
  const ad = new LoraAdapter('bench', { r: o.lora, loraAlpha: 2 * o.lora, loraDropout: 0,
    targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], useRslora: false }, 0)
    .attach(model.namedLinears(), 0);
  const params = trainOnly(ad, model.parameters());
  model.gradientCheckpointing = resolveCheckpointing(model, o.checkpointing);
  model.checkpointKeep = o.checkpointKeep ?? 'auto';
  const opt = new AdamW(defaultGroups(params, 0));
  const rng = new Rng(0);
  const ids = Tensor.empty([o.B, o.T], 'i32').keep(), targets = Tensor.empty([o.B, o.T], 'i32').keep();
  for (const t of [ids, targets]) for (let i = 0; i < o.B * o.T; i++) (t.data as Int32Array)[i] = rng.int(cfg.vocabSize);
  const times: number[] = [];
  let profile: ProfileReport | null = null;
  for (let s = 0; s <= o.steps; s++) {
    if (s === 1 && o.profile) startProfile(); // step 0 (warm-up: pool growth, first packs) stays outside
    const t0 = performance.now();
    lmTrainStep(model, opt, { ids, targets }, 1e-4, 0);
    if (s > 0) times.push(performance.now() - t0);
    if (!o.quiet) process.stderr.write(`  step ${s}/${o.steps}: ${(performance.now() - t0).toFixed(0)} ms\n`);
  }
  if (o.profile) {
    profile = stopProfile();
    if (profile) {
      profile.steps = o.steps;
      process.stderr.write(formatProfile(profile, 40, 'training') + '\n');
    }
  }
  const ms = [...times].sort((a, b) => a - b)[times.length >> 1]!;
  const tokensPerS = (o.B * o.T * 1000) / ms;
  let torch: { tokens_per_s: number } | null = null, torchError: string | undefined;
  if (o.torch) {
    if (!existsSync(o.anchor)) torchError = `anchor script not found at ${o.anchor}`;
    else {
      const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: o.dtype === 'f32' ? '2' : '1' };
      delete env.OPENBLAS_CORETYPE; delete env.OPENBLAS_L2_SIZE; // the anchor's docstring: these halve torch's speed
      const args = [o.anchor, o.dtype, o.dtype === 'f32' ? '1' : '2', String(o.B), String(o.T), String(o.steps), o.preset];
      const r = spawnSync('/usr/bin/python3', args, { env, encoding: 'utf8' });
      if (r.status !== 0) torchError = (r.stderr || r.error?.message || 'failed').trim().split('\n').pop();
      else torch = JSON.parse(r.stdout.trim().split('\n').pop()!) as { tokens_per_s: number };
    }
  }
  const m = memoryBreakdown(model.parameters().concat(params), params);
  return {
    preset: o.preset, layers: cfg.numLayers, lora: o.lora, base_dtype: o.baseDtype, dtype: o.dtype, batch: o.B, seq: o.T,
    gradient_checkpointing: model.gradientCheckpointing,
    checkpoint_keeps_mlp: model.gradientCheckpointing && checkpointKeepsMlp(cfg, o.B * o.T, model.checkpointKeep), tokens_per_s: tokensPerS, ms_per_step: ms,
    torch_tokens_per_s: torch?.tokens_per_s ?? null, torch_error: torchError,
    ratio_vs_torch: torch ? tokensPerS / torch.tokens_per_s : null,
    peak_rss_mib: m.peakRssMiB,
    ...(profile ? { profile } : {}),
    memory: { weights_mib: m.weightsBytes / 2 ** 20, grads_mib: m.gradsBytes / 2 ** 20, optimiser_mib: m.optimiserBytes / 2 ** 20,
      activations_mib: m.activationsBytes / 2 ** 20, pool_high_water_mib: m.poolHighWaterBytes / 2 ** 20 },
  };
}
