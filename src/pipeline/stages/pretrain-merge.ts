// pretrain-merge.ts — how continued pre-training through LoRA folds its adapter into the base when the base was held
// in a lower precision while training (model.loraBaseWeights bf16 / q8_0 / q4_0): the merge goes into the original
// weights, re-read from the checkpoint the stage started from one tensor at a time, never into the rounded copy
// training read; every matrix ends in the checkpoint's own precision (BF16 files stay BF16), so no f32 copy of the
// whole model exists and later stages see no training-time rounding. The f32 path (adapter.merge in place) is pretrain.ts's.
import { Tensor } from '../../tensor/tensor.js';
import { openSafetensorsDir, type StDtype } from '../../model/safetensors.js';
import { toBf16Array } from '../../model/half.js';
import type { LlamaForCausalLM } from '../../model/llama.js';
import { installWeight } from '../../model/model-dir.js';
import type { LoraAdapter } from '../../nn/lora.js';

/** The precision a checkpoint's matrices are stored in (its first 2-D tensor's), and how we hold them to save it. */
export function checkpointPrecision(fromDir: string, model: LlamaForCausalLM): { file: StDtype; hold: 'f32' | 'bf16' } {
  const st = openSafetensorsDir(fromDir);
  try {
    const matrix = model.namedParameters().find(([n, p]) => p.rank === 2 && st.names().includes(n));
    if (!matrix) throw new Error(`[pretrain] ${fromDir}: no weight matrix of this model in its safetensors files`);
    const file = st.entry(matrix[0]).dtype;
    // F16 values do not all fit bf16: those are held f32 and written back as F16
    return { file, hold: file === 'BF16' ? 'bf16' : 'f32' };
  } finally {
    st.close();
  }
}

/**
 * Merge `adapter` (attached to `model`) into the original weights of `fromDir`. Tensors named in `trained` (the
 * vocabulary matrices after a tokenizer extension) keep what training made of them; every other tensor held in a
 * precision other than `hold` (quantized, or rounded from a wider file) is replaced by the file's values first.
 * Returns the dtype to save with.
 */
export function mergeIntoOriginals(model: LlamaForCausalLM, adapter: LoraAdapter, fromDir: string, trained: ReadonlySet<string>): StDtype {
  const { file, hold } = checkpointPrecision(fromDir, model);
  const st = openSafetensorsDir(fromDir);
  try {
    const have = new Set(st.names());
    for (const [name, p] of model.namedParameters()) {
      if (trained.has(name)) continue;
      // f32 holds every file precision exactly; bf16 holds a BF16 file exactly
      const exact = p.dtype === 'f32' || p.dtype === hold;
      if (exact) continue;
      if (!have.has(name)) throw new Error(`[pretrain] ${fromDir}: no tensor '${name}' to merge the adapter into (the base must be the checkpoint model.from names)`);
      const e = st.entry(name);
      if (e.shape.join() !== p.shape.join())
        throw new Error(`[pretrain] ${fromDir}: '${name}' is [${e.shape}] in the file, [${p.shape}] in the model`);
      const f = st.readF32(name);
      const t = hold === 'bf16' ? new Tensor(toBf16Array(f), p.shape, 'bf16') : new Tensor(f, p.shape);
      installWeight(model, name, t); // the held copy goes with its last reference (not to the pool: it was never pooled)
      t.requiresGrad = false; // frozen like the base it replaces
    }
  } finally {
    st.close();
  }
  adapter.merge(); // into f32 in place, or dequantized + merged + rounded once into bf16 (LoraLinear.merge)
  return file;
}

/** Hold the named tensors as f32 read from the checkpoint (the vocabulary matrices a tokenizer extension trains in full). */
export function holdF32FromFile(model: LlamaForCausalLM, fromDir: string, names: readonly string[]): void {
  const st = openSafetensorsDir(fromDir);
  try {
    const params = new Map(model.namedParameters());
    for (const name of names) {
      const p = params.get(name);
      if (!p) throw new Error(`[pretrain] internal: the model has no tensor '${name}'`);
      if (p.dtype === 'f32') continue;
      installWeight(model, name, new Tensor(st.readF32(name), p.shape));
    }
  } finally {
    st.close();
  }
}
