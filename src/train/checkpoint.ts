// checkpoint.ts — exact-resume training checkpoints: trainable weights, AdamW moments, step, RNG state and
// data position. Each checkpoint is a fresh folder (ckpt-<step>/) written completely before the `latest`
// pointer file is atomically replaced, so a crash leaves the previous good checkpoint in place.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '../tensor/tensor.js';
import type { AdamW } from '../optim/adamw.js';
import { SafetensorsFile, writeSafetensors, type NamedArray } from '../model/safetensors.js';
import { atomicWriteJson } from '../model/atomic.js';

export interface TrainerState {
  /** optimiser updates done */
  step: number;
  /** micro-batches consumed (the data position) */
  position: number;
  /** RNG state of the stage (dropout, sampling), if any */
  rng: number[] | null;
  /** anything the stage needs to resume exactly (e.g. the adaptive KL coefficient) */
  extra: Record<string, unknown>;
}

const LATEST = 'latest.json';

export function latestCheckpoint(dir: string): string | null {
  const p = join(dir, LATEST);
  if (!existsSync(p)) return null;
  const { path } = JSON.parse(readFileSync(p, 'utf8')) as { path: string };
  const full = join(dir, path);
  if (!existsSync(join(full, 'trainer.json'))) throw new Error(`[checkpoint] ${p} points at ${full}, which is incomplete`);
  return full;
}

export function saveCheckpoint(dir: string, named: [string, Tensor][], opt: AdamW, state: TrainerState, keep = 1): string {
  const name = `ckpt-${String(state.step).padStart(7, '0')}`;
  const path = join(dir, name);
  rmSync(path, { recursive: true, force: true });
  mkdirSync(path, { recursive: true });
  writeSafetensors(join(path, 'weights.safetensors'), named.map(([n, t]) => ({ name: n, shape: t.shape, data: t.f32('checkpoint') })));
  const os = opt.state();
  const params = opt.params();
  const index = new Map(named.map(([n, t]) => [t, n]));
  const moments: NamedArray[] = [];
  params.forEach((p, i) => {
    const n = index.get(p);
    if (!n) throw new Error(`[checkpoint] an optimised parameter has no name (${p.name ?? p.id})`);
    moments.push({ name: `${n}.exp_avg`, shape: p.shape, data: os.m[i]! }, { name: `${n}.exp_avg_sq`, shape: p.shape, data: os.v[i]! });
  });
  writeSafetensors(join(path, 'optimizer.safetensors'), moments);
  atomicWriteJson(join(path, 'trainer.json'), { ...state, optimizerStep: os.step });
  atomicWriteJson(join(dir, LATEST), { path: name, step: state.step });
  // prune older checkpoints, newest `keep` stay
  const all = readdirSync(dir).filter((f) => /^ckpt-\d+$/.test(f)).sort();
  for (const old of all.slice(0, Math.max(0, all.length - keep))) if (old !== name) rmSync(join(dir, old), { recursive: true, force: true });
  return path;
}

export function loadCheckpoint(path: string, named: [string, Tensor][], opt: AdamW): TrainerState {
  const w = new SafetensorsFile(join(path, 'weights.safetensors'));
  const o = new SafetensorsFile(join(path, 'optimizer.safetensors'));
  try {
    for (const [n, t] of named) {
      if (!w.entries.has(n)) throw new Error(`[checkpoint] ${path}: weights lack '${n}'`);
      w.readF32(n, t.f32('checkpoint'));
    }
    const index = new Map(named.map(([n, t]) => [t, n]));
    const params = opt.params();
    const state = JSON.parse(readFileSync(join(path, 'trainer.json'), 'utf8')) as TrainerState & { optimizerStep: number };
    opt.loadState({
      step: state.optimizerStep,
      m: params.map((p) => o.readF32(`${index.get(p)}.exp_avg`)),
      v: params.map((p) => o.readF32(`${index.get(p)}.exp_avg_sq`)),
    });
    return { step: state.step, position: state.position, rng: state.rng, extra: state.extra ?? {} };
  } finally {
    w.close();
    o.close();
  }
}
