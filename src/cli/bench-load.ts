// bench-load.ts — `zhongjing bench load`: how long loading a checkpoint takes and how much memory it needs. A random
// HF directory of the preset's shape (model init's writer: sharded safetensors + model.safetensors.index.json) is
// written once, then loaded in fresh child processes as chat / eval load it (load.ts, weights in the file's own dtype
// unless --weights), after one untimed load that warms the page cache. Reports the median load wall time, each
// child's peak RSS, the file bytes and the bytes held per dtype after load. It measures; it changes no loader.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatHelp, parseArgs, UsageError } from './args.js';
import { toHfConfig } from '../model/config.js';
import { PRESET_NAMES } from '../model/presets.js';
import { withLayers, writeRandomModelDir } from '../model/random-model-dir.js';
import { loadModel } from '../model/load.js';
import { bytesByDType, parseWeightsOption, WEIGHTS_OPTIONS, type WeightsOption } from '../model/weights.js';
import { benchPreset, checkLayers, median } from './bench-util.js';

export const flags = {
  preset: { type: 'string', help: `model shape: tiny, anchor, or a family preset (${PRESET_NAMES.join(', ')})`, default: 'qwen2.5-0.5b' },
  layers: { type: 'number', help: 'override the number of decoder layers (a cheaper slice of a real shape)' },
  dtype: { type: 'string', help: 'safetensors dtype the checkpoint is written in', default: 'bf16', choices: ['bf16', 'f32'] },
  weights: { type: 'string', help: 'dtype the loader is asked for (auto = the file\'s own precision, as chat and eval load)', default: 'auto', choices: [...WEIGHTS_OPTIONS] },
  'shard-mb': { type: 'number', help: 'start a new safetensors shard past this many MiB (the 0.5B bf16 checkpoint is ~1 GB: several shards)', default: 256 },
  rounds: { type: 'number', help: 'timed loads, each in a fresh child process (after one untimed warm-up load)', default: 3 },
  seed: { type: 'number', help: 'seed of the random weights', default: 0 },
  json: { type: 'boolean', help: 'print one JSON object' },
} as const;

type Json = Record<string, unknown>;

/** What one child reports about its load. */
export interface LoadRound {
  loadSeconds: number;
  /** the child's peak RSS over its whole life, and its RSS just before the load began (node + modules) */
  peakRssMiB: number;
  rssBeforeLoadMiB: number;
  parameters: number;
  heldAs: Record<string, { tensors: number; bytes: number }>;
  /** the loader's one-line warnings (formats the kernels lack, and the like) */
  warnings: string[];
}

/** Load `dir` once in this process and report it (the child's side; printed as JSON). */
export function loadOnce(dir: string, weights: WeightsOption): LoadRound {
  const rssBeforeLoadMiB = process.memoryUsage.rss() / 2 ** 20;
  const t0 = performance.now();
  const warnings: string[] = [];
  const md = loadModel(dir, { weights, warn: (l) => warnings.push(l) });
  const loadSeconds = (performance.now() - t0) / 1000;
  const model = md.model;
  return {
    loadSeconds, peakRssMiB: process.resourceUsage().maxRSS / 1024, rssBeforeLoadMiB,
    parameters: model.numParameters(), heldAs: bytesByDType(model.parameters()), warnings,
  };
}

function loadInChild(dir: string, weights: WeightsOption): LoadRound & { processSeconds: number } {
  const code = `const m = await import(${JSON.stringify(import.meta.url)}); ` +
    `process.stdout.write(JSON.stringify(m.loadOnce(${JSON.stringify(dir)}, ${JSON.stringify(weights)})));`;
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const processSeconds = (performance.now() - t0) / 1000;
  if (r.signal) throw new Error(`[bench load] the loading child was killed by ${r.signal} (out of memory?)`);
  if (r.status !== 0) throw new Error(`[bench load] the loading child failed: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-3).join(' | ')}`);
  return { ...(JSON.parse(r.stdout) as LoadRound), processSeconds };
}

/** The HF config.json of a preset name (our tiny / anchor shapes, or a real family's), with --layers applied. */
function presetHf(preset: string, layers: number | undefined): Json {
  const p = benchPreset(preset, 'bench load');
  const hf: Json = 'ours' in p ? toHfConfig(p.ours) : p.hf;
  checkLayers(layers, 'bench load');
  return layers === undefined ? hf : withLayers(hf, layers);
}

export async function benchLoad(argv: string[]): Promise<number> {
  const { flags: f } = parseArgs('bench load', argv, flags);
  if (f.help) {
    console.log(formatHelp('zhongjing bench load [--preset qwen2.5-0.5b] [--layers N] [--dtype bf16|f32] [--weights auto|…] [--rounds 3] [--json]',
      'Load time and memory of a checkpoint: a random HF directory of the preset\'s shape is written as sharded\n' +
      'safetensors, then loaded as chat / eval load it in fresh child processes with a warm page cache (one untimed\n' +
      'load first). Prints the median load wall time, the peak RSS of the children, the file bytes and the bytes\n' +
      'held per dtype after load. The directory is deleted at the end.', flags));
    return 0;
  }
  const rounds = f.rounds!, seed = f.seed!, shardMb = f['shard-mb']!;
  if (!(Number.isInteger(rounds) && rounds >= 1)) throw new UsageError(`[bench load] --rounds must be a positive integer, got ${rounds}`);
  if (!(Number.isInteger(seed) && seed >= 0)) throw new UsageError(`[bench load] --seed must be a non-negative integer, got ${seed}`);
  if (!(shardMb > 0)) throw new UsageError(`[bench load] --shard-mb must be positive, got ${shardMb}`);
  const weights = parseWeightsOption(f.weights, 'bench load');
  const preset = f.preset!, dtype = f.dtype as 'bf16' | 'f32';
  const hf = presetHf(preset, f.layers);
  const say = (s: string) => { if (!f.json) console.error(`bench load: ${s}`); };

  const dir = mkdtempSync(join(tmpdir(), 'zj-bench-load-'));
  let out: Json;
  try {
    say(`writing ${preset}${f.layers ? ` (${f.layers} layers)` : ''} with random ${dtype} weights to ${dir} …`);
    const t0 = performance.now();
    let last = 0;
    const info = writeRandomModelDir({
      hf, source: `preset ${preset}`, out: dir, seed, dtype, maxShardBytes: Math.floor(shardMb * 2 ** 20), force: true,
      onProgress: (p) => {
        const now = performance.now();
        if (now - last < 2000) return;
        last = now;
        say(`  ${(p.bytesDone / 2 ** 20).toFixed(0)}/${(p.bytesTotal / 2 ** 20).toFixed(0)} MiB`);
      },
    });
    const writeSeconds = (performance.now() - t0) / 1000;
    const shardBytes = info.files.reduce((s, n) => s + statSync(join(dir, n)).size, 0);
    say(`wrote ${info.files.length} safetensors file(s), ${(shardBytes / 2 ** 20).toFixed(1)} MiB; warm-up load (untimed) …`);
    const warm = loadInChild(dir, weights);
    const rs: (LoadRound & { processSeconds: number })[] = [];
    for (let i = 0; i < rounds; i++) {
      say(`load ${i + 1}/${rounds} in a fresh process …`);
      rs.push(loadInChild(dir, weights));
    }
    for (const r of [warm, ...rs]) if (r.parameters !== info.parameters)
      throw new Error(`[bench load] the loaded model has ${r.parameters} parameters, the checkpoint ${info.parameters}`);
    const heldAs = rs[0]!.heldAs;
    out = {
      preset, layers: info.layers, architecture: info.architecture, parameters: info.parameters, dtype, weights, rounds,
      files: info.files.length, index: info.files.length > 1, fileBytes: shardBytes, fileTensorBytes: info.bytes, writeSeconds,
      loadSeconds: median(rs.map((r) => r.loadSeconds)), processSeconds: median(rs.map((r) => r.processSeconds)),
      warmupLoadSeconds: warm.loadSeconds,
      // the worst child: what a user's machine must have free
      peakRssMiB: Math.max(...rs.map((r) => r.peakRssMiB)), rssBeforeLoadMiB: median(rs.map((r) => r.rssBeforeLoadMiB)),
      heldAs, heldBytes: Object.values(heldAs).reduce((s, e) => s + e.bytes, 0), warnings: rs[0]!.warnings,
      perRound: rs.map((r) => ({ loadSeconds: +r.loadSeconds.toFixed(3), processSeconds: +r.processSeconds.toFixed(3), peakRssMiB: +r.peakRssMiB.toFixed(1) })),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (f.json) console.log(JSON.stringify(out));
  else {
    const o = out as { parameters: number; files: number; fileBytes: number; loadSeconds: number; processSeconds: number; peakRssMiB: number; rssBeforeLoadMiB: number; heldAs: Json; layers: number };
    const held = Object.entries(o.heldAs as Record<string, { tensors: number; bytes: number }>)
      .map(([d, e]) => `${d} ${(e.bytes / 2 ** 20).toFixed(1)} MiB (${e.tensors} tensors)`).join(', ');
    console.log(`bench load: ${preset}, ${o.layers} layers (${o.parameters.toLocaleString()} parameters), ${dtype} safetensors in ${o.files} file(s) ` +
      `(${(o.fileBytes / 2 ** 20).toFixed(1)} MiB), --weights ${weights}, median of ${rounds} fresh processes, warm page cache`);
    console.log(`  load        ${o.loadSeconds.toFixed(2)} s (whole child process ${o.processSeconds.toFixed(2)} s)`);
    console.log(`  peak RSS    ${o.peakRssMiB.toFixed(0)} MiB (${o.rssBeforeLoadMiB.toFixed(0)} MiB before the load began)`);
    console.log(`  held        ${held}`);
    for (const w of out.warnings as string[]) console.log(`  ${w}`);
  }
  return 0;
}
