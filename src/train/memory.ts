// memory.ts — where a training run's memory goes: weights, gradients, optimiser state, activations (the bytes a
// step's autograd graph holds at its largest) and the buffer pool's high-water, beside the process's peak RSS; and
// the frozen base in bf16 / q8_0 / q4_0 (adapters stay f32) with `frozenBase`. Prints nothing itself; callers log
// memoryLine.
import type { Tensor } from '../tensor/tensor.js';
import { bytesOf, isQuantized, QUANT_BLOCK, WEIGHT_FORMATS, type WeightFormat } from '../tensor/dtype.js';
import { poolStats, resetPoolHighWater } from '../tensor/pool.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { toBf16 } from '../ops/nn.js';
import { toWeightFormat } from '../ops/quant.js';
import { noGrad } from '../autograd/grad-mode.js';
import type { LlamaForCausalLM } from '../model/llama.js';
import type { Linear } from '../nn/layers.js';

/** Models at least this large (parameters) checkpoint activations by default (`gradientCheckpointing` unset). */
export const CHECKPOINT_DEFAULT_PARAMS = 50e6;

/** The `gradientCheckpointing` setting, or the default: on for models of CHECKPOINT_DEFAULT_PARAMS and more. */
export function resolveCheckpointing(model: LlamaForCausalLM, setting: boolean | undefined): boolean {
  return setting ?? model.numParameters() >= CHECKPOINT_DEFAULT_PARAMS;
}

let activationHighWater = 0;

/** Record the bytes held by `loss`'s graph (non-kept tensors reachable through nodes): call before backward. */
export function noteActivations(loss: Tensor): number {
  const seen = new Set<Tensor>();
  const work = [loss];
  let bytes = 0;
  while (work.length) {
    const t = work.pop()!;
    if (seen.has(t)) continue;
    seen.add(t);
    if (!t.kept && !t.disposed) bytes += tensorBytes(t);
    if (t.node) work.push(...t.node.inputs, ...t.node.saved);
  }
  if (bytes > activationHighWater) activationHighWater = bytes;
  return bytes;
}

export function resetActivationHighWater(): void {
  activationHighWater = 0;
}

/**
 * Start a stage's high-waters afresh (activations, the pool, and on Linux the process's peak RSS, VmHWM, through
 * /proc/self/clear_refs): stages that share a process (the pipeline) then each report their own peak.
 */
export function resetMemoryHighWaters(): void {
  resetActivationHighWater();
  resetPoolHighWater();
  try { writeFileSync('/proc/self/clear_refs', '5'); } catch { /* not Linux: the peak stays the process's */ }
}

/** The peak RSS (MiB) since the last resetMemoryHighWaters (VmHWM on Linux), else since the process started. */
export function peakRssMiB(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch { /* not Linux */ }
  return process.resourceUsage().maxRSS / 1024;
}

function tensorBytes(t: Tensor): number {
  return bytesOf(t.dtype, t.size);
}

export interface MemoryBreakdown {
  weightsBytes: number;
  gradsBytes: number;
  optimiserBytes: number;
  activationsBytes: number;
  poolHighWaterBytes: number;
  peakRssMiB: number;
}

/** Sizes for a model and its trainable parameters (AdamW keeps two f32 moments per trainable value). */
export function memoryBreakdown(allWeights: Tensor[], trainable: Tensor[]): MemoryBreakdown {
  const uniq = [...new Set(allWeights.concat(trainable))];
  return {
    weightsBytes: uniq.reduce((s, t) => s + tensorBytes(t), 0),
    gradsBytes: trainable.reduce((s, t) => s + (t.grad ? tensorBytes(t.grad) : bytesOf('f32', t.size)), 0),
    optimiserBytes: trainable.reduce((s, t) => s + 2 * bytesOf('f32', t.size), 0),
    activationsBytes: activationHighWater,
    poolHighWaterBytes: poolStats().highWaterBytes,
    peakRssMiB: peakRssMiB(),
  };
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

/** One line: `[memory] NAME: weights … · grads … · optimiser … · activations … · pool high-water … · peak RSS …`. */
export function memoryLine(name: string, m: MemoryBreakdown): string {
  return `[memory] ${name}: weights ${mib(m.weightsBytes)} · grads ${mib(m.gradsBytes)} · optimiser ${mib(m.optimiserBytes)}`
    + ` · activations ${mib(m.activationsBytes)} · pool high-water ${mib(m.poolHighWaterBytes)} · peak RSS ${m.peakRssMiB.toFixed(0)} MiB`;
}

/**
 * Replace a Linear's weight by another tensor (a bf16 or quantized copy), frozen. The slot is overwritten in
 * place (Module.replaceParameter), so parameter lists and names stay the same.
 */
export function setLinearWeight(lin: Linear, w: Tensor): void {
  if (w.shape.join() !== lin.weight.shape.join()) throw new Error(`[memory] weight [${w.shape}] does not fit [${lin.weight.shape}]`);
  w.requiresGrad = false;
  w.keep();
  w.name = lin.weight.name;
  lin.replaceParameter('weight', w);
}

/** The formats a frozen base can be held in while adapters train (what `--base-dtype` and `model.trainWeights` name). */
export const BASE_FORMATS: readonly WeightFormat[] = WEIGHT_FORMATS;

/** The format a [N, K] matrix of a `fmt` base takes: quantized formats need whole blocks along K, else bf16. */
export function baseFormatOf(shape: readonly number[], fmt: WeightFormat): WeightFormat {
  return isQuantized(fmt) && shape[shape.length - 1]! % QUANT_BLOCK ? 'bf16' : fmt;
}

function converted(t: Tensor, fmt: WeightFormat): Tensor {
  const want = baseFormatOf(t.shape, fmt);
  if (t.dtype === want) return t;
  // a base already quantized (a GGUF file) is read as it is: requantizing compounds the rounding
  if (isQuantized(t.dtype)) return t;
  return want === 'bf16' ? toBf16(t) : toWeightFormat(t, want);
}

/**
 * The frozen base in `fmt` (f32, bf16, q8_0, q4_0) while LoRA adapters (and value heads) train in f32: every
 * projection weight and an untied LM head stop requiring grad and take `fmt`; so does the embedding table when
 * it is already frozen (it trains in full fine-tuning, and then stays f32), except that a tied table (also the LM
 * head) takes bf16 under q8_0 / q4_0.
 * Norms and biases stay f32 (tiny, read by f32-only ops). Matrices whose rows are not whole 32-element blocks
 * take bf16 under a quantized format. Gradients flow through the converted products to the adapters and inputs.
 */
export function frozenBase(model: LlamaForCausalLM, fmt: WeightFormat): void {
  if (!BASE_FORMATS.includes(fmt)) throw new Error(`[frozenBase] unknown base format '${fmt}' (one of ${BASE_FORMATS.join(', ')})`);
  if (fmt === 'f32') return;
  noGrad(() => {
    for (const [, lin] of model.namedLinears()) {
      const old = lin.weight;
      const w = converted(old, fmt);
      if (w === old) { old.requiresGrad = false; continue; }
      setLinearWeight(lin, w);
      old.kept = false;
      old.dispose();
    }
    const emb = model.model.embedTokens;
    if (!emb.weight.requiresGrad) {
      const old = emb.weight;
      // a tied table is also the LM head, whose chunked GEMMs repack all of it for every chunk of rows, forward and
      // backward: bf16 packs without the per-block dequantization a q8_0 / q4_0 table would cost each time
      const w = converted(old, model.config.tieWordEmbeddings && isQuantized(fmt) ? 'bf16' : fmt);
      if (w !== old) {
        w.keep();
        w.name = old.name;
        emb.replaceParameter('weight', w);
        old.kept = false;
        old.dispose();
      }
    }
  });
}

/** The frozen base in bf16 (frozenBase with 'bf16'). */
export function lowPrecisionBase(model: LlamaForCausalLM): void {
  frozenBase(model, 'bf16');
}
