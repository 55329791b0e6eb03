// schedule.ts — learning-rate schedules: linear warm-up, then cosine / linear decay to lrMin, or constant.

export interface ScheduleOptions {
  kind: 'cosine' | 'linear' | 'constant';
  lrPeak: number;
  lrMin?: number;
  warmupSteps: number;
  totalSteps: number;
}

/** The learning rate at 0-based step. */
export function learningRate(step: number, o: ScheduleOptions): number {
  const lrMin = o.lrMin ?? 0;
  if (o.warmupSteps > 0 && step < o.warmupSteps) return (o.lrPeak * (step + 1)) / o.warmupSteps;
  if (o.kind === 'constant') return o.lrPeak;
  const span = Math.max(1, o.totalSteps - o.warmupSteps);
  const t = Math.min(1, Math.max(0, (step - o.warmupSteps) / span));
  if (o.kind === 'linear') return lrMin + (o.lrPeak - lrMin) * (1 - t);
  return lrMin + 0.5 * (o.lrPeak - lrMin) * (1 + Math.cos(Math.PI * t));
}
