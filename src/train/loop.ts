// loop.ts — the one training loop every stage runs: gradient accumulation, global-norm clipping, LR schedule,
// bf16 matmul precision, evaluation and checkpoints every N steps and at the end, exact resume, metrics to
// JSONL, progress with tokens/s and ETA, Ctrl-C saves and exits, NaN/inf stops (or skips) with the step named.
// Stages (pretrain, sft, rm, ppo, dpo) are thin Task objects over it.
import { existsSync, mkdirSync } from 'node:fs';
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
import { appendMetricsRow, readMetricsFile, resetMetrics, truncateMetricsForResume } from './metrics-log.js';
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
  /** the loss of every finished step of the run, those before a resume included (read back from metrics.jsonl) */
  losses: number[];
  /** every evaluation of the run, those before a resume included */
  evals: Record<string, number>[];
  /** things the user should know that did not stop training (e.g. a torn metrics line trimmed on resume) */
  notices: string[];
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
  const losses: number[] = [];
  const evals: Record<string, number>[] = [];
  const notices: string[] = [];
  let lastLoss = NaN;
  const ck = latestCheckpoint(cfg.outDir);
  if (ck) {
    const st = loadCheckpoint(ck, task.namedParams, opt);
    step = st.step;
    position = st.position;
    resumedFrom = step;
    if (task.loadExtraState) task.loadExtraState(st.extra);
    // the earlier segments' rows: the result then describes the whole run (first loss, evals), not the last segment
    for (const row of truncateMetricsForResume(metricsPath, step, notices)) {
      if (typeof row.loss === 'number') { losses.push(row.loss); lastLoss = row.loss; }
      const ev = Object.entries(row).filter(([k]) => k.startsWith('eval_'));
      if (ev.length) evals.push({ step: row.step!, ...Object.fromEntries(ev.map(([k, v]) => [k.slice(5), v])) });
    }
  } else if (existsSync(metricsPath)) resetMetrics(metricsPath);

  const schedule: ScheduleOptions = { ...cfg.schedule, totalSteps: cfg.steps };
  const progress = new Progress(task.name, cfg.steps, cfg.quiet);
  for (const n of notices) progress.notice(n);
  if (resumedFrom) progress.log(`resumed from step ${resumedFrom} (${ck})`);
  let interrupted = false;
  const onSigint = () => { interrupted = true; };
  process.on('SIGINT', onSigint);
  const prevPrecision = setMatmulPrecision(cfg.precision);
  let lastGood: string | null = ck, savedStep = ck ? step : -1;
  const save = () => {
    // a Ctrl-C right after a periodic save asks for the same step again: nothing new to write
    if (savedStep === step) return;
    const st: TrainerState = { step, position, rng: null, extra: task.extraState ? task.extraState() : {} };
    lastGood = saveCheckpoint(cfg.outDir, task.namedParams, opt, st);
    savedStep = step;
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
      appendMetricsRow(metricsPath, row);
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
  return { steps: step, lastLoss, losses, evals, notices, interrupted, resumedFrom };
}

export function readMetrics(dir: string): Record<string, number>[] {
  return readMetricsFile(join(dir, 'metrics.jsonl'));
}
