// trainer-log.ts — LLaMA-Factory's training logs → our metrics rows. trainer_log.jsonl (v0.9.3
// train/callbacks.py LogCallback: current_steps, total_steps, loss, eval_loss, reward, accuracy, lr, epoch, …)
// becomes metrics.jsonl rows {step, loss, lr, eval_loss, reward, accuracy} as our loop writes them, so the
// report draws the engine's curves. all_results.json is passed through as the stage summary.
import { existsSync, readFileSync } from 'node:fs';

export type MetricsRow = Record<string, number>;

const KEEP: Record<string, string> = { loss: 'loss', lr: 'lr', eval_loss: 'eval_loss', reward: 'reward', accuracy: 'eval_accuracy', epoch: 'epoch' };

export function readTrainerLog(path: string): MetricsRow[] {
  const rows: MetricsRow[] = [];
  readFileSync(path, 'utf8').split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let j: Record<string, unknown>;
    try { j = JSON.parse(line) as Record<string, unknown>; } catch (e) { throw new Error(`[import] ${path}:${i + 1}: not JSON (${(e as Error).message})`); }
    if (typeof j.current_steps !== 'number') throw new Error(`[import] ${path}:${i + 1}: current_steps: expected a number (not a LLaMA-Factory trainer log?)`);
    const row: MetricsRow = { step: j.current_steps };
    for (const [k, ours] of Object.entries(KEEP)) if (typeof j[k] === 'number' && Number.isFinite(j[k])) row[ours] = j[k] as number;
    if (Object.keys(row).length > 1) rows.push(row);
  });
  return rows;
}

export function readAllResults(path: string): Record<string, unknown> | null {
  if (!existsSync(path)) return null;
  try { return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>; } catch (e) { throw new Error(`[import] ${path}: not JSON (${(e as Error).message})`); }
}
