// checkpoint.ts — exact-resume training checkpoints: trainable weights, AdamW moments, step, RNG state and
// data position, written by a crash-safe protocol (see saveCheckpoint) so that a crash or a full disk at any
// moment leaves `latest.json` naming a complete checkpoint. Every I/O error names the file it was about.
// Not here: what is trained, when to save (loop.ts).
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
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

/** The steps of the save protocol, in order; tests inject a failure (or a SIGKILL) before each one. */
export const protocolPoints = [
  'clean-tmp', 'write-weights', 'write-optimizer', 'write-trainer', 'sync-tmp', 'remove-stale', 'rename', 'sync-dir',
  'repoint-latest', 'prune',
] as const;
export type ProtocolPoint = (typeof protocolPoints)[number];

/**
 * A test seam: called before each protocol step with the step's file. Whatever it throws is handled exactly like an
 * I/O error of that step (so a thrown ENOSPC exercises the full-disk path); process.kill in it simulates a crash.
 */
export const checkpointFaults: { hook: ((point: ProtocolPoint, file: string, step: number) => void) | null } = { hook: null };

/** An I/O failure of the checkpoint protocol; the message names the file and keeps the system error's code. */
export class CheckpointIoError extends Error {
  constructor(readonly file: string, readonly code: string | undefined, cause: unknown) {
    super(`[checkpoint] ${file}: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'CheckpointIoError';
  }
}

function ioStep<T>(point: ProtocolPoint, file: string, step: number, fn: () => T): T {
  try {
    checkpointFaults.hook?.(point, file, step);
    return fn();
  } catch (e) {
    if (e instanceof CheckpointIoError) throw e;
    throw new CheckpointIoError(file, (e as NodeJS.ErrnoException)?.code, e);
  }
}

function fsyncPath(path: string): void {
  // a directory's fsync makes the renames and creations inside it durable; some filesystems refuse it (harmless)
  let fd: number;
  try { fd = openSync(path, 'r'); } catch { return; }
  try { fsyncSync(fd); } catch { /* not supported here */ } finally { closeSync(fd); }
}

const ckptName = (step: number) => `ckpt-${String(step).padStart(7, '0')}`;

function readLatest(dir: string): { path: string; step: number } | null {
  const p = join(dir, LATEST);
  if (!existsSync(p)) return null;
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(p, 'utf8'));
  } catch (e) {
    throw new Error(`[checkpoint] ${p}: unreadable (${(e as Error).message}); it is replaced atomically, so this file was edited or the disk is damaged`);
  }
  const o = v as { path?: unknown; step?: unknown };
  if (typeof o?.path !== 'string' || !/^ckpt-\d+$/.test(o.path)) throw new Error(`[checkpoint] ${p}: expected {"path": "ckpt-NNNNNNN", …}, got ${JSON.stringify(v).slice(0, 80)}`);
  return { path: o.path, step: Number(o.step) };
}

const complete = (path: string) => existsSync(join(path, 'trainer.json'));

export function latestCheckpoint(dir: string): string | null {
  const l = readLatest(dir);
  if (!l) return null;
  const full = join(dir, l.path);
  if (!complete(full)) throw new Error(`[checkpoint] ${join(dir, LATEST)} points at ${full}, which is incomplete (the save protocol never repoints to an unfinished checkpoint: was it edited by hand?)`);
  return full;
}

/**
 * Saves a checkpoint so that no crash can leave `latest.json` without a complete checkpoint behind it:
 *   1. write everything into ckpt-N.tmp/ (each file fsynced), fsync the folder;
 *   2. rename ckpt-N.tmp → ckpt-N (atomic), fsync the parent;
 *   3. repoint latest.json (atomic write + rename);
 *   4. only then delete older checkpoints (beyond `keep`) and stale .tmp folders — never the one latest names.
 * A repeated save of the step latest already names is a no-op: the state of a step is the same however often it
 * is saved, and rewriting it would put the only good checkpoint at risk. On failure the .tmp folder is removed
 * (best effort, to give the space back) and a CheckpointIoError names the file.
 */
export function saveCheckpoint(dir: string, named: [string, Tensor][], opt: AdamW, state: TrainerState, keep = 1): string {
  const name = ckptName(state.step);
  const path = join(dir, name);
  const latest = readLatest(dir);
  if (latest?.path === name && complete(path)) return path;
  const tmp = `${path}.tmp`;
  const s = state.step;
  try {
    ioStep('clean-tmp', tmp, s, () => { rmSync(tmp, { recursive: true, force: true }); mkdirSync(tmp, { recursive: true }); });
    ioStep('write-weights', join(tmp, 'weights.safetensors'), s, () =>
      writeSafetensors(join(tmp, 'weights.safetensors'), named.map(([n, t]) => ({ name: n, shape: t.shape, data: t.f32('checkpoint') }))));
    const os = opt.state();
    const index = new Map(named.map(([n, t]) => [t, n]));
    const moments: NamedArray[] = [];
    opt.params().forEach((p, i) => {
      const n = index.get(p);
      if (!n) throw new Error(`[checkpoint] an optimised parameter has no name (${p.name ?? p.id})`);
      moments.push({ name: `${n}.exp_avg`, shape: p.shape, data: os.m[i]! }, { name: `${n}.exp_avg_sq`, shape: p.shape, data: os.v[i]! });
    });
    ioStep('write-optimizer', join(tmp, 'optimizer.safetensors'), s, () => writeSafetensors(join(tmp, 'optimizer.safetensors'), moments));
    // trainer.json last: its presence is what marks a checkpoint complete
    ioStep('write-trainer', join(tmp, 'trainer.json'), s, () => atomicWriteJson(join(tmp, 'trainer.json'), { ...state, optimizerStep: os.step }));
    ioStep('sync-tmp', tmp, s, () => fsyncPath(tmp));
    // a ckpt-N here is not what latest names (or it would have been a no-op above): a leftover of a crash between
    // rename and repoint, or an incomplete one from an older protocol, so it is safe to replace
    ioStep('remove-stale', path, s, () => rmSync(path, { recursive: true, force: true }));
    ioStep('rename', path, s, () => renameSync(tmp, path));
  } catch (e) {
    try { rmSync(tmp, { recursive: true, force: true }); } catch { /* the error below matters more */ }
    throw e;
  }
  ioStep('sync-dir', dir, s, () => fsyncPath(dir));
  ioStep('repoint-latest', join(dir, LATEST), s, () => atomicWriteJson(join(dir, LATEST), { path: name, step: state.step }));
  ioStep('prune', dir, s, () => prune(dir, name, keep));
  return path;
}

/**
 * Keeps `current` (what latest now names) and the `keep - 1` checkpoints before it; deletes the rest, including
 * orphans of later steps (crash before the repoint) and stale .tmp folders.
 */
function prune(dir: string, current: string, keep: number): void {
  const entries = readdirSync(dir);
  const all = entries.filter((f) => /^ckpt-\d+$/.test(f)).sort();
  const older = all.filter((f) => f < current);
  const keepSet = new Set([...older.slice(Math.max(0, older.length - (Math.max(1, keep) - 1))), current]);
  for (const f of all) if (!keepSet.has(f)) rmSync(join(dir, f), { recursive: true, force: true });
  for (const f of entries) if (/^ckpt-\d+\.tmp$/.test(f)) rmSync(join(dir, f), { recursive: true, force: true });
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
    const tp = join(path, 'trainer.json');
    let state: TrainerState & { optimizerStep: number };
    try {
      state = JSON.parse(readFileSync(tp, 'utf8')) as TrainerState & { optimizerStep: number };
    } catch (e) {
      throw new Error(`[checkpoint] ${tp}: ${(e as Error).message}`);
    }
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
