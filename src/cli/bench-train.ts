// bench-train.ts — `zhongjing bench train`: tokens/s of forward + backward + AdamW on a preset model
// (anchor = the shape of ../shared/anchors/torch_train_step.py), with PyTorch's figure taken in the same
// run by alternating back-to-back rounds when --torch finds the anchor script and Debian's torch.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { formatHelp, parseArgs, UsageError } from './args.js';
import { LlamaForCausalLM, presets } from '../model/llama.js';
import { AdamW, defaultGroups } from '../optim/adamw.js';
import { lmTrainStep } from '../train/lm-step.js';
import { setMatmulPrecision } from '../ops/matmul.js';
import { crossEntropy } from '../ops/loss.js';
import { noGrad } from '../autograd/grad-mode.js';
import { tidy } from '../tensor/scope.js';
import { Tensor } from '../tensor/tensor.js';
import { backend, backendInfo } from '../backend/index.js';
import { Rng } from '../util/rng.js';
import { median, peakRssMiB } from './bench-util.js';
import { PRESET_NAMES } from '../model/presets.js';
import { benchRealPreset } from './bench-train-real.js';
import { setSharedLoraDowns } from '../nn/lora.js';
import type { WeightFormat } from '../tensor/dtype.js';

export const flags = {
  preset: { type: 'string', help: 'model shape: anchor / tiny (full training), or a real family from src/model/presets.ts (LoRA, needs --lora)', default: 'anchor', choices: ['anchor', 'tiny', ...PRESET_NAMES] },
  lora: { type: 'number', help: 'LoRA rank on every linear of every layer (alpha 2r, base frozen); real presets only', default: 16 },
  'base-dtype': { type: 'string', help: 'format of the frozen base weights and (frozen) embedding, real presets: f32, bf16, or llama.cpp blocks q8_0 / q4_0 (adapters train in f32 either way)', default: 'bf16', choices: ['f32', 'bf16', 'q8_0', 'q4_0'] },
  layers: { type: 'number', help: 'keep only the first N decoder layers (real presets; quick checks)' },
  'gradient-checkpointing': { type: 'string', help: 'recompute layers in backward: on, off, or auto (on from 50M parameters)', default: 'auto', choices: ['auto', 'on', 'off'] },
  'checkpoint-keep': { type: 'string', help: 'under checkpointing, keep the projections (q, k, v, o, gate, up, with their LoRA sums) and the attention outputs instead of recomputing them: auto (while all layers\' fit 640 MiB), mlp, none', default: 'auto', choices: ['auto', 'mlp', 'none'] },
  dtype: { type: 'string', help: 'matmul compute precision (f32 master weights either way)', default: 'f32', choices: ['f32', 'bf16'] },
  batch: { type: 'number', help: 'sequences per step', default: 8 },
  seq: { type: 'number', help: 'tokens per sequence', default: 256 },
  steps: { type: 'number', help: 'timed steps per round (after one warm-up step)', default: 5 },
  rounds: { type: 'number', help: 'alternating rounds of ours and the anchor', default: 1 },
  torch: { type: 'boolean', help: 'also run ../shared/anchors/torch_train_step.py with /usr/bin/python3 (Debian python3-torch)' },
  anchor: { type: 'string', help: 'path of the PyTorch anchor script', default: '../shared/anchors/torch_train_step.py' },
  'share-lora-downs': { type: 'boolean', help: 'real presets: q / k / v and gate / up take their LoRA down halves from one GEMM over the concatenated A\'s (nn/lora.ts sharedLoraDowns; off by default, it changes gradient rounding)' },
  profile: { type: 'boolean', help: 'real presets: time the timed steps per phase (forward, backward, checkpoint recompute, optimizer) and per kernel (GEMM by shape, transposes and dtypes): wall and CPU ms per step, on stderr (and in --json); compare CPU ms under ZJ_THREADS=1 on a busy machine' },
  json: { type: 'boolean', help: 'print one JSON object' },
} as const;

interface Round { tokensPerS: number; msPerStep: number; forwardTokensPerS: number; loss: number }

function oursOnce(preset: 'anchor' | 'tiny', B: number, T: number, steps: number): Round {
  const cfg = { ...presets[preset], maxPositions: Math.max(presets[preset].maxPositions, T) };
  const model = new LlamaForCausalLM(cfg, 0);
  const opt = new AdamW(defaultGroups(model.parameters(), 0.01));
  const rng = new Rng(0);
  const ids = Tensor.empty([B, T], 'i32').keep(), targets = Tensor.empty([B, T], 'i32').keep();
  for (const t of [ids, targets]) for (let i = 0; i < B * T; i++) (t.data as Int32Array)[i] = rng.int(cfg.vocabSize);
  const times: number[] = [];
  let loss = 0;
  for (let s = 0; s <= steps; s++) {
    const t0 = performance.now();
    loss = lmTrainStep(model, opt, { ids, targets }, 3e-4, 0).loss;
    if (s > 0) times.push(performance.now() - t0); // step 0 is the warm-up
  }
  const fw: number[] = [];
  for (let s = 0; s < 3; s++) {
    const t0 = performance.now();
    noGrad(() => tidy(() => { crossEntropy(model.forward({ ids }), targets).item(); }));
    fw.push(performance.now() - t0);
  }
  const ms = median(times);
  return { tokensPerS: (B * T * 1000) / ms, msPerStep: ms, forwardTokensPerS: (B * T * 1000) / median(fw.slice(1)), loss };
}

/** Model FLOPs of one training step: 6·(matmul parameters)·tokens for the linear layers (forward 2, backward 4)
 *  plus causal attention, 6·B·T²·C per layer (QKᵀ and PV, half the square, forward + backward). */
function stepFlops(cfg: typeof presets.anchor, B: number, T: number): number {
  const C = cfg.hiddenSize, D = C / cfg.numHeads, kv = cfg.numKvHeads * D;
  const perLayer = C * C + 2 * C * kv + C * C + 3 * C * cfg.intermediateSize;
  const linear = cfg.numLayers * perLayer + C * cfg.vocabSize; // + LM head; the embedding is a gather
  return 6 * linear * B * T + 6 * B * T * T * C * cfg.numLayers;
}

/** GEMM GFLOP/s at 1024³ (NT, median of 5) at the precision the step uses: the roofline the step is held to. */
function gemmRoof(bf16: boolean): number {
  const n = 1024, a = new Float32Array(n * n).fill(0.5), b = new Float32Array(n * n).fill(0.25), c = new Float32Array(n * n);
  const be = backend();
  const t: number[] = [];
  for (let i = 0; i < 6; i++) {
    const t0 = performance.now();
    be.gemm(1, n, n, n, a, false, 0, b, true, 0, c, 1, 0, bf16);
    if (i > 0) t.push(performance.now() - t0);
  }
  return (2 * n ** 3) / median(t) / 1e6;
}

function torchOnce(script: string, dtype: string): { tokensPerS: number; forwardTokensPerS: number } | { error: string } {
  // the anchor README's fastest settings: f32 → OpenBLAS 2 threads, torch 1; bf16 → OpenBLAS 1, torch 2
  const env = { ...process.env, OPENBLAS_NUM_THREADS: dtype === 'f32' ? '2' : '1' };
  const r = spawnSync('/usr/bin/python3', [script, dtype, dtype === 'f32' ? '1' : '2'], { env, encoding: 'utf8' });
  if (r.status !== 0) return { error: (r.stderr || r.error?.message || 'failed').trim().split('\n').pop()! };
  const line = r.stdout.trim().split('\n').pop()!;
  const j = JSON.parse(line) as { tokens_per_s: number; forward_tokens_per_s: number };
  return { tokensPerS: j.tokens_per_s, forwardTokensPerS: j.forward_tokens_per_s };
}

function realPreset(f: Record<string, unknown>, B: number, T: number): number {
  const r = f.lora as number, layers = f.layers as number | undefined;
  if (!(Number.isInteger(r) && r >= 1)) throw new UsageError('[bench train] --lora must be a positive integer');
  if (layers !== undefined && !(Number.isInteger(layers) && layers >= 1)) throw new UsageError('[bench train] --layers must be a positive integer');
  const gc = f['gradient-checkpointing'] as string;
  const dtype = f.dtype as 'f32' | 'bf16';
  const prev = setMatmulPrecision(dtype);
  const prevShare = setSharedLoraDowns(!!f['share-lora-downs']);
  let res: Record<string, unknown>;
  try {
    res = benchRealPreset({
      preset: f.preset as string, lora: r, baseDtype: f['base-dtype'] as WeightFormat, B, T, steps: f.steps as number,
      layers, checkpointing: gc === 'auto' ? undefined : gc === 'on', checkpointKeep: f['checkpoint-keep'] as 'auto' | 'mlp' | 'none', torch: !!f.torch,
      anchor: f.anchor === '../shared/anchors/torch_train_step.py' ? '../shared/anchors/torch_lora_step.py' : f.anchor as string,
      dtype, quiet: !!f.json, profile: !!f.profile,
    });
  } finally {
    setMatmulPrecision(prev);
    setSharedLoraDowns(prevShare);
  }
  if (f.json) console.log(JSON.stringify({ ...res, share_lora_downs: !!f['share-lora-downs'] }));
  else {
    const m = res.memory as Record<string, number>;
    console.log(`bench train  ${res.preset} (${res.layers} layers) LoRA r=${r}  base ${res.base_dtype}  compute ${dtype}  batch ${B} × seq ${T}  checkpointing ${res.gradient_checkpointing}${f['share-lora-downs'] ? '  shared LoRA downs' : ''}`);
    console.log(`  zhongjing  ${(res.tokens_per_s as number).toFixed(0)} tok/s  (${(res.ms_per_step as number).toFixed(0)} ms/step)`);
    if (res.torch_tokens_per_s !== null) console.log(`  pytorch    ${(res.torch_tokens_per_s as number).toFixed(0)} tok/s  → ratio ${(res.ratio_vs_torch as number).toFixed(2)}×`);
    else if (f.torch) console.log(`  pytorch    unavailable: ${res.torch_error}`);
    console.log(`  memory     weights ${m.weights_mib!.toFixed(0)} MiB · grads ${m.grads_mib!.toFixed(1)} MiB · optimiser ${m.optimiser_mib!.toFixed(1)} MiB · activations ${m.activations_mib!.toFixed(0)} MiB · pool high-water ${m.pool_high_water_mib!.toFixed(0)} MiB · peak RSS ${(res.peak_rss_mib as number).toFixed(0)} MiB`);
  }
  return 0;
}

export async function benchTrain(argv: string[]): Promise<number> {
  const { flags: f } = parseArgs('bench train', argv, flags);
  if (f.help) {
    console.log(formatHelp('zhongjing bench train [--preset anchor] [--dtype f32|bf16] [--torch] [--json]',
      'Tokens/s of one training step (forward + backward + AdamW) at batch × seq, median over steps.', flags));
    return 0;
  }
  const preset = f.preset as 'anchor' | 'tiny', dtype = f.dtype!, B = f.batch!, T = f.seq!;
  if (!(B >= 1 && T >= 2)) throw new UsageError('[bench train] --batch must be >= 1 and --seq >= 2');
  if (PRESET_NAMES.includes(f.preset!)) return realPreset(f, B, T);
  const script = f.anchor!;
  const torchWanted = !!f.torch;
  const haveScript = existsSync(script);
  if (torchWanted && !haveScript) console.error(`[bench train] anchor script not found at ${script}; PyTorch figures skipped`);
  const prev = setMatmulPrecision(dtype === 'bf16' ? 'bf16' : 'f32');
  const ours: Round[] = [], theirs: { tokensPerS: number; forwardTokensPerS: number }[] = [];
  let torchError = '';
  try {
    for (let r = 0; r < f.rounds!; r++) {
      if (!f.json) process.stderr.write(`round ${r + 1}/${f.rounds}: zhongjing…`);
      ours.push(oursOnce(preset, B, T, f.steps!));
      if (torchWanted && haveScript && !torchError) {
        if (!f.json) process.stderr.write(' pytorch…');
        const t = torchOnce(script, dtype);
        if ('error' in t) torchError = t.error;
        else theirs.push(t);
      }
      if (!f.json) process.stderr.write('\n');
    }
  } finally {
    setMatmulPrecision(prev);
  }
  const cfg = presets[preset];
  const params = new LlamaForCausalLM(cfg, 0).numParameters();
  const roof = gemmRoof(dtype === 'bf16');
  const achieved = stepFlops(cfg, B, T) / (median(ours.map((o) => o.msPerStep)) / 1000) / 1e9;
  const info = backendInfo();
  const result = {
    preset, dtype, batch: B, seq: T, params, backend: info.name, isa: info.isa, threads: info.threads,
    tokens_per_s: median(ours.map((o) => o.tokensPerS)),
    ms_per_step: median(ours.map((o) => o.msPerStep)),
    forward_tokens_per_s: median(ours.map((o) => o.forwardTokensPerS)),
    rounds: ours.map((o) => Math.round(o.tokensPerS)),
    torch_tokens_per_s: theirs.length ? median(theirs.map((t) => t.tokensPerS)) : null,
    torch_rounds: theirs.map((t) => Math.round(t.tokensPerS)),
    torch_error: torchError || undefined,
    ratio_vs_torch: theirs.length ? median(ours.map((o) => o.tokensPerS)) / median(theirs.map((t) => t.tokensPerS)) : null,
    model_gflops: achieved,
    gemm_gflops_1024: roof,
    roofline_fraction: achieved / roof,
    peak_rss_mib: peakRssMiB(),
  };
  if (f.json) console.log(JSON.stringify(result));
  else {
    console.log(`bench train  preset ${preset} (${(params / 1e6).toFixed(1)}M params)  dtype ${dtype}  batch ${B} × seq ${T}  ${info.name}/${info.isa}/${info.threads} threads`);
    console.log(`  zhongjing  ${result.tokens_per_s.toFixed(0)} tok/s  (${result.ms_per_step.toFixed(0)} ms/step, forward ${result.forward_tokens_per_s.toFixed(0)} tok/s)  rounds ${result.rounds.join(', ')}`);
    if (result.torch_tokens_per_s !== null)
      console.log(`  pytorch    ${result.torch_tokens_per_s.toFixed(0)} tok/s  rounds ${result.torch_rounds.join(', ')}  → ratio ${result.ratio_vs_torch!.toFixed(2)}×`);
    else if (torchWanted) console.log(`  pytorch    unavailable${torchError ? ': ' + torchError : ''}`);
    console.log(`  roofline   ${achieved.toFixed(0)} model GFLOP/s = ${(100 * result.roofline_fraction).toFixed(0)} % of this run's ${dtype} GEMM at 1024³ (${roof.toFixed(0)} GFLOP/s)`);
    console.log(`  peak RSS   ${result.peak_rss_mib.toFixed(0)} MiB`);
  }
  return 0;
}
