// loop.ts — the one training loop every stage runs: gradient accumulation, global-norm clipping, LR schedule,
// bf16 matmul precision, evaluation and checkpoints every N steps and at the end, exact resume, metrics to
// JSONL, progress with tokens/s and ETA, Ctrl-C saves and exits, NaN/inf stops (or skips) with the step named.
// Stages (pretrain, sft, rm, ppo, dpo) are thin Task objects over it.
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '../tensor/tensor.js';
import { tidy } from '../tensor/scope.js';
import { backward, zeroGrad } from '../autograd/backward.js';
import { noGrad } from '../autograd/grad-mode.js';
import { AdamW, defaultGroups } from '../optim/adamw.js';
import { applyUpdate } from './lm-step.js';
import { learningRate, type ScheduleOptions } from '../optim/schedule.js';
import { setMatmulPrecision, type Precision } from '../ops/matmul.js';
import { latestCheckpoint, loadCheckpoint, saveCheckpoint, type TrainerState } from './checkpoint.js';
import { Progress } from './progress.js';
import { memoryBreakdown, memoryLine, noteActivations } from './memory.js';

export interface LossOutput {
  /** scalar loss to minimise */
  loss: Tensor;
  /** tokens this micro-batch trained on (for tokens/s) */
  tokens: number;
  /** extra scalars to log (means over the step's micro-batches) */
  metrics?: Record<string, number>;
}

export interface Task {
  /** stage name for logs */
  name: string;
  /** trainable parameters with stable names (checkpoint keys) */
  namedParams: [string, Tensor][];
  /** the loss of micro-batch number `position` (deterministic in position) */
  loss(position: number): LossOutput;
  /** dev metrics, computed without gradients */
  evaluate?(): Record<string, number>;
  /** state beyond weights and optimiser that resume needs (e.g. PPO's KL coefficient) */
  extraState?(): Record<string, unknown>;
  loadExtraState?(s: Record<string, unknown>): void;
  /** every weight of the model(s), frozen ones included, for the memory line (default: namedParams) */
  allWeights?: Tensor[];
}

export interface LoopConfig {
  steps: number;
  gradAccum: number;
  schedule: Omit<ScheduleOptions, 'totalSteps'>;
  weightDecay: number;
  maxGradNorm: number;
  precision: Precision;
  evalEvery: number;
  saveEvery: number;
  /** checkpoints and metrics.jsonl go here */
  outDir: string;
  onNonFinite: 'stop' | 'skip';
  quiet?: boolean;
  /** stop after this many steps of this run (tests simulate interruptions) */
  stopAfter?: number;
}

export interface LoopResult {
  steps: number;
  lastLoss: number;
  losses: number[];
  evals: Record<string, number>[];
  interrupted: boolean;
  resumedFrom: number;
}

export class NonFiniteLossError extends Error {}

/**
 * Run (or resume) training. Resolves when `steps` are done or on Ctrl-C (after saving); rejects on NaN.
 * Async only so that signals get through: the loop yields to the event loop once per step (microseconds),
 * since a SIGINT handler can only run there.
 */
export async function train(task: Task, cfg: LoopConfig): Promise<LoopResult> {
  mkdirSync(cfg.outDir, { recursive: true });
  const params = task.namedParams.map(([, t]) => t);
  const opt = new AdamW(defaultGroups(params, cfg.weightDecay));
  const metricsPath = join(cfg.outDir, 'metrics.jsonl');
  let step = 0, position = 0, resumedFrom = 0;
  const ck = latestCheckpoint(cfg.outDir);
  if (ck) {
    const st = loadCheckpoint(ck, task.namedParams, opt);
    step = st.step;
    position = st.position;
    resumedFrom = step;
    if (task.loadExtraState) task.loadExtraState(st.extra);
    truncateMetrics(metricsPath, step);
  } else if (existsSync(metricsPath)) writeFileSync(metricsPath, '');

  const schedule: ScheduleOptions = { ...cfg.schedule, totalSteps: cfg.steps };
  const progress = new Progress(task.name, cfg.steps, cfg.quiet);
  if (resumedFrom) progress.log(`resumed from step ${resumedFrom} (${ck})`);
  let interrupted = false;
  const onSigint = () => { interrupted = true; };
  process.on('SIGINT', onSigint);
  const prevPrecision = setMatmulPrecision(cfg.precision);
  const losses: number[] = [];
  const evals: Record<string, number>[] = [];
  let lastLoss = NaN, lastGood: string | null = ck;
  const save = () => {
    const st: TrainerState = { step, position, rng: null, extra: task.extraState ? task.extraState() : {} };
    lastGood = saveCheckpoint(cfg.outDir, task.namedParams, opt, st);
  };
  try {
    let runSteps = 0;
    while (step < cfg.steps) {
      const t0 = performance.now();
      let lossSum = 0, tokens = 0;
      const metricSums: Record<string, number> = {};
      let finite = true;
      for (let micro = 0; micro < cfg.gradAccum; micro++) {
        const value = tidy(() => {
          const out = task.loss(position + micro);
          const v = out.loss.item();
          noteActivations(out.loss);
          tokens += out.tokens;
          for (const [k, x] of Object.entries(out.metrics ?? {})) metricSums[k] = (metricSums[k] ?? 0) + x;
          if (Number.isFinite(v)) backward(out.loss, 1 / cfg.gradAccum); // accumulated gradients are a mean
          return v;
        });
        if (!Number.isFinite(value)) { finite = false; break; }
        lossSum += value;
      }
      position += cfg.gradAccum;
      if (!finite) {
        zeroGrad(params);
        if (cfg.onNonFinite === 'stop')
          throw new NonFiniteLossError(`[${task.name}] non-finite loss at step ${step + 1}; last good checkpoint: ${lastGood ?? 'none'}`);
        progress.log(`step ${step + 1}: non-finite loss, skipped`);
        step++;
        continue;
      }
      const lr = learningRate(step, schedule);
      const norm = applyUpdate(opt, lr, cfg.maxGradNorm);
      step++;
      runSteps++;
      lastLoss = lossSum / cfg.gradAccum;
      losses.push(lastLoss);
      const dt = (performance.now() - t0) / 1000;
      const row: Record<string, number | string> = { step, loss: lastLoss, lr, grad_norm: norm, tokens_per_s: tokens / dt };
      for (const [k, x] of Object.entries(metricSums)) row[k] = x / cfg.gradAccum;
      const evalDue = task.evaluate && cfg.evalEvery > 0 && (step % cfg.evalEvery === 0 || step === cfg.steps);
      if (evalDue) {
        const ev = noGrad(() => task.evaluate!());
        evals.push({ step, ...ev });
        for (const [k, x] of Object.entries(ev)) row[`eval_${k}`] = x;
      }
      appendFileSync(metricsPath, JSON.stringify(row) + '\n');
      progress.update(step, { loss: lastLoss, lr, 'tok/s': Math.round(tokens / dt) });
      if ((cfg.saveEvery > 0 && step % cfg.saveEvery === 0) || step === cfg.steps || interrupted) save();
      if (interrupted) { progress.log(`interrupted: saved step ${step}`); break; }
      if (cfg.stopAfter !== undefined && runSteps >= cfg.stopAfter) break;
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (interrupted) { save(); progress.log(`interrupted: saved step ${step}`); break; }
    }
    if (!cfg.quiet) progress.log(memoryLine(task.name, memoryBreakdown(task.allWeights ?? params, params)));
  } finally {
    process.off('SIGINT', onSigint);
    setMatmulPrecision(prevPrecision);
  }
  return { steps: step, lastLoss, losses, evals, interrupted, resumedFrom };
}

/** Drop metrics rows after the step a resume starts from, so the file reads as one uninterrupted run. */
function truncateMetrics(path: string, step: number): void {
  if (!existsSync(path)) return;
  const keep = readFileSync(path, 'utf8').split('\n').filter((l) => l && (JSON.parse(l) as { step: number }).step <= step);
  writeFileSync(path, keep.map((l) => l + '\n').join(''));
}

export function readMetrics(dir: string): Record<string, number>[] {
  const p = join(dir, 'metrics.jsonl');
  if (!existsSync(p)) return [];
  return readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, number>);
}
