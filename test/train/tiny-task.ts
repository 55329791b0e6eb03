// tiny-task.ts — a small causal-LM task on generated sequences, shared by the loop tests and the child
// process that the kill -9 test interrupts.
import { LlamaForCausalLM, presets } from '../../src/model/llama.js';
import { causalLmTask } from '../../src/train/tasks/causal-lm.js';
import type { LoopConfig, Task } from '../../src/train/loop.js';
import { Rng } from '../../src/util/rng.js';

export function tinyModel(seed = 1): LlamaForCausalLM {
  return new LlamaForCausalLM({ ...presets.tiny, vocabSize: 40, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2 }, seed);
}

/** Sequences with a learnable rule (each token is the previous + 3 mod 40, with random starts). */
export function tinySequences(n: number, len: number, seed: number): { ids: number[] }[] {
  const r = new Rng(seed);
  return Array.from({ length: n }, () => {
    let x = r.int(40);
    return { ids: Array.from({ length: len }, () => (x = (x + 3) % 40)) };
  });
}

export function tinyTask(model: LlamaForCausalLM, batchSize = 4): Task {
  return causalLmTask({
    name: 'tiny', model, namedParams: model.namedParameters(), batchSize, seed: 5,
    train: tinySequences(32, 17, 1), dev: tinySequences(8, 17, 2),
  });
}

export function tinyLoop(outDir: string, steps: number, extra: Partial<LoopConfig> = {}): LoopConfig {
  return {
    steps, gradAccum: 1, weightDecay: 0.01, maxGradNorm: 1, precision: 'f32', evalEvery: 0, saveEvery: 0, outDir,
    onNonFinite: 'stop', quiet: true,
    schedule: { kind: 'cosine', lrPeak: 3e-3, lrMin: 3e-4, warmupSteps: 2 },
    ...extra,
  };
}
