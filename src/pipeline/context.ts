// context.ts — what every pipeline stage shares: the run's folders, stage markers, small JSONL helpers, and the
// translation of a stage's training block into the loop's configuration. No stage logic here.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AnyStage, PipelineConfig, TrainSpec } from './config.js';
import { train, type LoopConfig, type LoopResult, type Task } from '../train/loop.js';
import { atomicWrite, atomicWriteJson } from '../model/atomic.js';
import type { LoraConfig } from '../nn/lora.js';
import type { WeightsOption } from '../model/weights.js';
import type { LoraSpec } from './config.js';
import { dur } from '../train/progress.js';

export interface RunContext {
  cfg: PipelineConfig;
  /** runs/<name> */
  root: string;
  quiet: boolean;
  log(msg: string): void;
}

export function makeContext(cfg: PipelineConfig, quiet = false): RunContext {
  const root = resolve(cfg.runsDir, cfg.name);
  mkdirSync(root, { recursive: true });
  return { cfg, root, quiet, log: (m) => { if (!quiet) process.stderr.write(`${m}\n`); } };
}

export function stageDir(ctx: RunContext, stage: AnyStage | 'final'): string {
  return join(ctx.root, stage);
}

const DONE = 'done.json';

export function isDone(ctx: RunContext, stage: AnyStage): boolean {
  return existsSync(join(stageDir(ctx, stage), DONE));
}

export function markDone(ctx: RunContext, stage: AnyStage, summary: Record<string, unknown>): void {
  atomicWriteJson(join(stageDir(ctx, stage), DONE), { stage, finishedAt: new Date().toISOString(), ...summary });
}

export function readSummary(ctx: RunContext, stage: AnyStage): Record<string, unknown> | null {
  const p = join(stageDir(ctx, stage), DONE);
  return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>) : null;
}

/**
 * Clear a stage's folder before it runs (a rerun never mixes old and new outputs) — except the training
 * checkpoints of a stage that never finished (interrupted or killed), which its loop resumes from exactly.
 */
export function resetStage(ctx: RunContext, stage: AnyStage): string {
  const d = stageDir(ctx, stage);
  if (isDone(ctx, stage) || !existsSync(join(d, 'train'))) rmSync(d, { recursive: true, force: true });
  else for (const f of readdirSync(d)) if (f !== 'train') rmSync(join(d, f), { recursive: true, force: true });
  mkdirSync(d, { recursive: true });
  return d;
}

/** The path of an earlier stage's output, or an error that names the stage that makes it. */
export function input(ctx: RunContext, stage: AnyStage, file: string, by: AnyStage): string {
  const p = join(stageDir(ctx, stage), file);
  if (!existsSync(p) || !isDone(ctx, stage))
    throw new Error(`[pipeline] stage '${by}' needs ${p}, which stage '${stage}' produces: run it first (e.g. --from ${stage})`);
  return p;
}

export function writeJsonl(path: string, rows: unknown[]): void {
  atomicWrite(path, [rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '')]);
}

export function readJsonl<T>(path: string): T[] {
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim()).map((l, i) => {
    try {
      return JSON.parse(l) as T;
    } catch (e) {
      throw new Error(`[pipeline] ${path}:${i + 1}: invalid JSON (${(e as Error).message})`);
    }
  });
}

export function loopConfig(spec: TrainSpec, outDir: string, quiet: boolean): LoopConfig {
  return {
    steps: spec.steps, gradAccum: spec.gradAccum, weightDecay: spec.weightDecay, maxGradNorm: spec.maxGradNorm,
    precision: spec.precision, evalEvery: spec.evalEvery, saveEvery: spec.saveEvery, outDir, onNonFinite: spec.onNonFinite, quiet,
    schedule: { kind: spec.schedule, lrPeak: spec.lr, lrMin: spec.lrMin, warmupSteps: spec.warmup },
  };
}

/**
 * The `weights` a stage loads its base with: a LoRA stage reads it straight into `model.loraBaseWeights` (frozen
 * storage, no f32 copy); f32, or a stage that trains the base itself, reads the file as it is. Such a stage saves
 * with `baseFrom` (the base directory it loaded), so the original weights, not the rounded ones, go downstream.
 */
export function loraBaseWeights(ctx: RunContext, stage: string, lora: boolean): { weights: WeightsOption; baseFrom: boolean } {
  const fmt = ctx.cfg.model.loraBaseWeights;
  if (fmt === 'f32') return { weights: 'auto', baseFrom: false };
  if (!lora) {
    ctx.log(`[${stage}] full fine-tuning trains the base in f32: model.loraBaseWeights ${fmt} applies to LoRA stages only`);
    return { weights: 'auto', baseFrom: false };
  }
  return { weights: fmt, baseFrom: true };
}

export function loraConfig(s: LoraSpec): LoraConfig {
  return { r: s.r, loraAlpha: s.alpha, loraDropout: s.dropout, targetModules: s.targets, useRslora: false };
}

/** Steps the next trainStage times before it extrapolates (run.ts sets it per stage: PPO's cycle holds a rollout). */
let measureSteps = 2;
const measured = new Map<string, number>();
export function setMeasureSteps(n: number): void { measureSteps = Math.max(1, n); }
/** Training tokens/s measured on the first steps of the named task in this process, if it ran. */
export function measuredSpeed(task: string): number | undefined { return measured.get(task); }

/**
 * The task with its first `steps` timed (from the first micro-batch to the start of step steps + 1, so forward,
 * backward and the update are in): logs the extrapolated wall time of all the stage's steps once measured.
 */
function timed(task: Task, cfg: LoopConfig, steps: number): Task {
  const calls = Math.min(steps, cfg.steps) * cfg.gradAccum;
  let n = 0, tokens = 0, t0 = 0;
  // a child of the task object, so class-based tasks keep their methods and state
  const wrapped = Object.create(task) as Task;
  wrapped.loss = (position: number) => {
      if (n === 0) t0 = performance.now();
      if (n === calls) {
        const s = (performance.now() - t0) / 1000, per = s / (calls / cfg.gradAccum);
        measured.set(task.name, tokens / s);
        if (!cfg.quiet) process.stderr.write(`[estimate] ${task.name}: the first ${calls / cfg.gradAccum} step(s) took ${dur(s)} (${Math.round(tokens / s)} tok/s) → ` +
          `about ${dur(per * cfg.steps)} for ${cfg.steps} steps (extrapolated from those steps; evaluations come on top)\n`);
      }
      const out = task.loss(position);
      if (n++ < calls) tokens += out.tokens;
      return out;
  };
  return wrapped;
}

/** Train a stage's task; an interrupted run (Ctrl-C, already checkpointed) stops the pipeline instead of
 *  letting the stage be marked done. Rerunning resumes from the checkpoint. */
export async function trainStage(task: Task, cfg: LoopConfig): Promise<LoopResult> {
  const r = await train(timed(task, cfg, measureSteps), cfg);
  if (r.interrupted) throw new Error(`[pipeline] interrupted: ${task.name} saved at step ${r.steps} in ${cfg.outDir}; run the same command again to resume`);
  return r;
}
