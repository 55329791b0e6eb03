// value-head.ts — a scalar per token read off the final hidden states: the value head of a PPO critic or the
// score of a reward model (TRL's ValueHead layout: v_head.summary.weight (1, C), v_head.summary.bias (1)).
// Saved beside the model as value_head.safetensors; it deliberately has no dropout (TRL's default is 0.1
// during training: ours is deterministic).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor } from '../tensor/tensor.js';
import { reshape } from '../ops/index.js';
import { Module } from '../nn/module.js';
import { Linear } from '../nn/layers.js';
import { Rng } from '../util/rng.js';
import { SafetensorsFile, writeSafetensors } from './safetensors.js';

export const VALUE_HEAD_FILE = 'value_head.safetensors';

class Summary extends Module {
  readonly summary: Linear;
  constructor(hidden: number, rng: Rng) {
    super();
    this.summary = this.add('summary', new Linear(hidden, 1, rng, { bias: true, std: 1 / Math.sqrt(hidden + 1) }));
  }
}

export class ValueHead extends Module {
  readonly vHead: Summary;
  constructor(readonly hiddenSize: number, seed = 0) {
    super();
    this.vHead = this.add('v_head', new Summary(hiddenSize, new Rng(seed)));
  }

  /** hidden (B, T, C) → values (B, T) */
  forward(hidden: Tensor): Tensor {
    const [B, T] = hidden.shape as [number, number, number];
    return reshape(this.vHead.summary.forward(hidden), [B, T]); // (B, T)
  }

  save(dir: string): void {
    writeSafetensors(join(dir, VALUE_HEAD_FILE),
      this.namedParameters().map(([name, t]) => ({ name, shape: t.shape, data: t.f32('ValueHead') })), { metadata: { format: 'pt' } });
  }

  /** The head stored in dir, or null when the directory has none. */
  static load(dir: string, hiddenSize: number): ValueHead | null {
    const path = join(dir, VALUE_HEAD_FILE);
    if (!existsSync(path)) return null;
    const head = new ValueHead(hiddenSize);
    const f = new SafetensorsFile(path);
    try {
      for (const [name, t] of head.namedParameters()) {
        if (!f.entries.has(name)) throw new Error(`[value head] ${path}: missing tensor '${name}'`);
        const e = f.entry(name);
        if (e.shape.join() !== t.shape.join()) throw new Error(`[value head] ${path}: '${name}' has shape [${e.shape}], expected [${t.shape}]`);
        f.readF32(name, t.f32());
      }
    } finally {
      f.close();
    }
    return head;
  }
}
