// memory.ts — where a training run's memory goes: weights, gradients, optimiser state, activations (the bytes a
// step's autograd graph holds at its largest) and the buffer pool's high-water, beside the process's peak RSS; and
// the frozen base in bf16 (adapters stay f32) with `lowPrecisionBase`. Prints nothing itself; callers log memoryLine.
import type { Tensor } from '../tensor/tensor.js';
import { bytesOf } from '../tensor/dtype.js';
import { poolStats } from '../tensor/pool.js';
import { toBf16 } from '../ops/nn.js';
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
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  };
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

/** One line: `[memory] NAME: weights … · grads … · optimiser … · activations … · pool high-water … · peak RSS …`. */
export function memoryLine(name: string, m: MemoryBreakdown): string {
  return `[memory] ${name}: weights ${mib(m.weightsBytes)} · grads ${mib(m.gradsBytes)} · optimiser ${mib(m.optimiserBytes)}`
    + ` · activations ${mib(m.activationsBytes)} · pool high-water ${mib(m.poolHighWaterBytes)} · peak RSS ${m.peakRssMiB.toFixed(0)} MiB`;
}

/**
 * Replace a Linear's weight by another tensor (a bf16 copy), frozen. Module keeps its children in a private slot
 * map that refuses a second add; the slot is overwritten in place, so parameter lists and names stay the same.
 */
export function setLinearWeight(lin: Linear, w: Tensor): void {
  if (w.shape.join() !== lin.weight.shape.join()) throw new Error(`[memory] weight [${w.shape}] does not fit [${lin.weight.shape}]`);
  w.requiresGrad = false;
  w.keep();
  w.name = lin.weight.name;
  (lin as unknown as { slots: Map<string, unknown> }).slots.set('weight', w);
  (lin as unknown as { weight: Tensor }).weight = w;
}

/**
 * The frozen base in bf16: every projection weight (and an untied LM head) becomes bf16 and stops requiring grad;
 * norms, the embedding and LoRA adapters stay f32. Gradients still flow through the bf16 products to the adapters.
 */
export function lowPrecisionBase(model: LlamaForCausalLM): void {
  noGrad(() => {
    for (const [, lin] of model.namedLinears()) {
      if (lin.weight.dtype === 'bf16') continue;
      const old = lin.weight;
      setLinearWeight(lin, toBf16(old));
      old.kept = false;
      old.dispose();
    }
  });
}

