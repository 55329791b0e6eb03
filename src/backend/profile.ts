// profile.ts — opt-in timing of decoding and training (env ZJ_PROFILE=1, `bench decode --profile`, `bench train
// --profile`): wall and CPU milliseconds per phase (decode: prefill, the layers, attention over the KV cache, LM head,
// sampling, log-probs; training: forward / backward / recompute / AdamW, see src/train/lm-step.ts) and per backend
// kernel, the matvec keyed by its M×N×K, the GEMM by shape, transpose flags and dtypes. It wraps the backend, so it
// lives beside it: autograd and model code mark phases without depending on each other. CPU time (process.cpuUsage,
// all threads) is the figure to compare on a busy machine, where wall time mostly measures the neighbours. Off, a
// phase costs one null check.
import { backend, setBackend, type Backend } from './index.js';

export interface PhaseTotals { calls: number; wallMs: number; cpuMs: number }

class Profile {
  readonly phases = new Map<string, PhaseTotals>();
  readonly kernels = new Map<string, PhaseTotals>();
  steps = 0;
  /** kernels run inside the prefill are filed apart from the decode steps' */
  tag = '';
  add(map: Map<string, PhaseTotals>, name: string, wallMs: number, cpuMs: number): void {
    const t = map.get(name) ?? { calls: 0, wallMs: 0, cpuMs: 0 };
    t.calls++;
    t.wallMs += wallMs;
    t.cpuMs += cpuMs;
    map.set(name, t);
  }
}

let active: Profile | null = null;
let unwrapped: Backend | null = null;

function cpuMsNow(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const PREFILL_TAG = 'prefill: ';

/**
 * Run fn as the named phase (timed only while a profile is on). Kernels run inside a phase given `kernelTag` (and
 * inside 'prefill') are filed under that prefix, apart from the same kernels elsewhere; so are phases run inside
 * 'prefill' (its attention over the cache is 'prefill: attend', not part of the decode steps' 'attend').
 */
export function phase<T>(name: string, fn: () => T, kernelTag?: string): T {
  const p = active;
  if (!p) return fn();
  const w0 = performance.now(), c0 = cpuMsNow(), tag = p.tag;
  const key = tag === PREFILL_TAG ? PREFILL_TAG + name : name;
  if (name === 'prefill') p.tag = PREFILL_TAG;
  else if (kernelTag !== undefined) p.tag = kernelTag;
  try {
    return fn();
  } finally {
    p.tag = tag;
    p.add(p.phases, key, performance.now() - w0, cpuMsNow() - c0);
  }
}

/** Count one decode step (the unit the report divides by). */
export function profileStep(): void {
  if (active) active.steps++;
}

/** The key a kernel call is filed under: the matvec by its shape (the LM head and each projection apart). */
function kernelKey(name: string, args: unknown[]): string {
  if (name === 'matvec') return `matvec ${args[0]}×${args[1]}×${args[2]} ${args[5]}`;
  if (name === 'gemm') {
    // batch M×N×K, op flags (N plain / T transposed) for A and B, storage of A / B, compute precision
    const st = (x: unknown, f?: unknown) => (typeof f === 'string' && f !== 'f32' ? f : x instanceof Uint16Array ? 'bf16' : 'f32');
    const batch = (args[0] as number) > 1 ? `${args[0]}× ` : '';
    return `gemm ${batch}${args[1]}×${args[2]}×${args[3]} ${args[5] ? 'T' : 'N'}${args[8] ? 'T' : 'N'} ${st(args[4])}·${st(args[7], args[14])}${args[13] ? ' bf16' : ''}`;
  }
  return name;
}

/** Start profiling: timings from now on accumulate, backend kernels included. Env ZJ_PROFILE=1 starts it on import. */
export function startProfile(): void {
  if (active) return;
  active = new Profile();
  const inner = backend();
  unwrapped = inner;
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(inner)) {
    if (typeof fn !== 'function' || name === 'info') { wrapped[name] = fn; continue; }
    wrapped[name] = (...args: unknown[]) => {
      const p = active;
      if (!p) return (fn as (...a: unknown[]) => unknown)(...args);
      const w0 = performance.now(), c0 = cpuMsNow();
      try {
        return (fn as (...a: unknown[]) => unknown)(...args);
      } finally {
        p.add(p.kernels, p.tag + kernelKey(name, args), performance.now() - w0, cpuMsNow() - c0);
      }
    };
  }
  setBackend(wrapped as unknown as Backend);
}

export interface ProfileReport {
  steps: number;
  phases: Record<string, PhaseTotals>;
  kernels: Record<string, PhaseTotals>;
}

/** Stop profiling and return the totals (null when none was running). */
export function stopProfile(): ProfileReport | null {
  const p = active;
  if (!p) return null;
  active = null;
  if (unwrapped) setBackend(unwrapped);
  unwrapped = null;
  const round = (m: Map<string, PhaseTotals>) => Object.fromEntries([...m].sort((a, b) => b[1].cpuMs - a[1].cpuMs)
    .map(([k, t]) => [k, { calls: t.calls, wallMs: +t.wallMs.toFixed(2), cpuMs: +t.cpuMs.toFixed(2) }]));
  return { steps: p.steps, phases: round(p.phases), kernels: round(p.kernels) };
}

/** A terminal table of a report: per phase and the top kernels (12, or $ZJ_PROFILE_TOP), ms per step. */
export function formatProfile(r: ProfileReport, topKernels = Number(process.env.ZJ_PROFILE_TOP) || 12, unit = 'decode'): string {
  const per = (t: PhaseTotals) => `${(t.wallMs / Math.max(1, r.steps)).toFixed(2).padStart(8)} ${(t.cpuMs / Math.max(1, r.steps)).toFixed(2).padStart(8)}`;
  const lines = [`profile over ${r.steps} ${unit} steps: ms per step (wall, cpu of all threads)`];
  const sorted = (o: Record<string, PhaseTotals>) => Object.entries(o).sort((a, b) => b[1].cpuMs - a[1].cpuMs);
  for (const [k, t] of sorted(r.phases)) lines.push(`  ${per(t)}  ${k} (${t.calls} calls)`);
  lines.push('  kernels:');
  for (const [k, t] of sorted(r.kernels).slice(0, topKernels)) lines.push(`  ${per(t)}  ${k} (${t.calls} calls)`);
  return lines.join('\n');
}

if (process.env.ZJ_PROFILE && process.env.ZJ_PROFILE !== '0') {
  startProfile();
  process.on('exit', () => {
    const r = stopProfile();
    if (r) process.stderr.write(formatProfile(r) + '\n');
  });
}
