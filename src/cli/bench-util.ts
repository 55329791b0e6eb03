// bench-util.ts — shared helpers for the benchmarks: medians, peak resident memory, and what a --preset names.
import { UsageError } from './args.js';
import { presets, type LlamaConfig } from '../model/llama.js';
import { PRESET_NAMES, presetConfig } from '../model/presets.js';

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Peak resident set size of this process so far, in MiB. */
export function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB
}

/** A benchmark's --preset: our own shapes (tiny, anchor) as a config, a real family's as its config.json. */
export type BenchPreset = { ours: LlamaConfig } | { hf: Record<string, unknown> };

export function benchPreset(preset: string, who: string): BenchPreset {
  if (preset === 'tiny' || preset === 'anchor') return { ours: { ...presets[preset] } };
  if (PRESET_NAMES.includes(preset)) return { hf: presetConfig(preset) };
  throw new UsageError(`[${who}] --preset: unknown '${preset}' (tiny, anchor, ${PRESET_NAMES.join(', ')})`);
}

/** --layers, when given, is a positive integer. */
export function checkLayers(layers: number | undefined, who: string): void {
  if (layers !== undefined && !(Number.isInteger(layers) && layers >= 1))
    throw new UsageError(`[${who}] --layers must be a positive integer, got ${layers}`);
}
