// bench-decode.ts — `zhongjing bench decode`: greedy decoding tokens/s with the KV cache on a model shape (our tiny /
// anchor presets, or a real family's config.json from model/presets.ts, random weights), its prefill tokens/s and
// peak RSS, beside llama.cpp (node-llama-cpp, dev-only) in the same run. One GGUF file is written at the --weights
// format and BOTH engines load and decode that same file (ours through gguf-load.ts), in alternating rounds;
// llama.cpp runs at its better thread count each round. --batch N decodes N prompts together on our side
// (aggregate tok/s; llama.cpp stays at batch 1 for reference); --batch 1,8 decodes at each size in turn every round,
// so the multiple of the first size's rate comes from one run on one file (this machine's speed drifts by ±15 %
// between runs, more than batching's margin). It measures; it does not tune either engine.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatHelp, parseArgs, UsageError } from './args.js';
import { LlamaForCausalLM, type LlamaConfig } from '../model/llama.js';
import { fromHfConfig } from '../model/config.js';
import { PRESET_NAMES } from '../model/presets.js';
import { generate } from '../model/generate.js';
import { formatProfile, startProfile, stopProfile, type ProfileReport } from '../backend/profile.js';
import { writeRandomGguf } from '../model/gguf-random.js';
import { loadGguf } from '../model/gguf-load.js';
import { toDecodeLayout } from '../model/decode-layout.js';
import { bytesByDType } from '../model/weights.js';
import { WEIGHT_FORMATS, type WeightFormat } from '../tensor/dtype.js';
import { backendInfo } from '../backend/index.js';
import { Rng } from '../util/rng.js';
import { benchPreset, checkLayers, median, peakRssMiB } from './bench-util.js';
import { loadLlamaCpp, type LlamaCpp } from './llama-cpp-ref.js';
import type { KvCacheDType } from '../model/kv-cache.js';
import { KV_CACHE_FLAG } from './decode-flags.js';

export const flags = {
  preset: { type: 'string', help: `model shape: tiny, anchor, or a family preset (${PRESET_NAMES.join(', ')})`, default: 'anchor' },
  layers: { type: 'number', help: 'override the number of decoder layers (a cheaper slice of a real shape)' },
  weights: { type: 'string', help: 'tensor type of the matrices in the GGUF file both engines decode (norms stay f32)', default: 'f32', choices: [...WEIGHT_FORMATS] },
  prompt: { type: 'number', help: 'prompt tokens', default: 128 },
  new: { type: 'number', help: 'new tokens to decode', default: 64 },
  batch: { type: 'string', help: 'prompts decoded together on our side (aggregate tok/s), or several sizes (1,8) decoded in turn each round, each with its multiple of the first; llama.cpp stays at 1', default: '1' },
  rounds: { type: 'number', help: 'alternating rounds of ours and llama.cpp', default: 3 },
  'kv-cache': { ...KV_CACHE_FLAG, help: `ours: ${KV_CACHE_FLAG.help}; llama.cpp keeps its default (f16)` },
  'llama-cpp': { type: 'boolean', help: 'also decode the same GGUF file with llama.cpp (node-llama-cpp 3.21.1 from tools/llama-check, or $ZJ_NODE_LLAMA_CPP); skipped with the reason when absent', default: true },
  profile: { type: 'boolean', help: 'time our measured rounds per phase (prefill, layers, attention over the cache, LM head, sampling, log-probs) and per kernel: wall and CPU ms per decode step (same as env ZJ_PROFILE=1)' },
  json: { type: 'boolean', help: 'print one JSON object' },
} as const;

interface Round { decodeTokensPerS: number; prefillTokensPerS: number; tokens: number }

/** --batch: one size or a comma-separated list of distinct sizes (each an integer >= 1). */
export function parseBatches(text: string): number[] {
  const sizes = text.split(',').map((t) => t.trim());
  const bad = sizes.find((t) => !/^[1-9][0-9]*$/.test(t));
  if (bad !== undefined) throw new UsageError(`[bench decode] --batch >= 1: an integer or a list like 1,8, got '${bad}' in '${text}'`);
  const n = sizes.map(Number);
  if (new Set(n).size !== n.length) throw new UsageError(`[bench decode] --batch lists a size twice: '${text}'`);
  return n;
}

/** The LlamaConfig of a preset name, with --layers applied and room for prompt + new tokens. */
export function benchConfig(preset: string, layers: number | undefined, positions: number): LlamaConfig {
  const p = benchPreset(preset, 'bench decode');
  const cfg: LlamaConfig = 'ours' in p ? p.ours : fromHfConfig(p.hf, `preset ${preset}`).config;
  checkLayers(layers, 'bench decode');
  if (layers !== undefined) cfg.numLayers = layers;
  cfg.maxPositions = Math.max(cfg.maxPositions, positions);
  return cfg;
}

/**
 * Random weights of `cfg` → one GGUF file at `weights`, streamed a run of rows at a time (gguf-random.ts: no f32
 * model); with `progress`, a line on stderr every few seconds.
 */
export function writeBenchGguf(path: string, cfg: LlamaConfig, weights: WeightFormat, progress = false): string[] {
  let last = performance.now();
  return writeRandomGguf(path, cfg, {
    type: weights, seed: 0,
    ...(progress ? { onProgress: (p: { bytesDone: number; bytesTotal: number }) => {
      if (performance.now() - last < 5000) return;
      last = performance.now();
      process.stderr.write(`bench decode:   ${(p.bytesDone / 2 ** 20).toFixed(0)}/${(p.bytesTotal / 2 ** 20).toFixed(0)} MiB written\n`);
    } } : {}),
  }).fellBackToF16;
}

// in a child process: the writer's buffers and the vocabulary it builds stay out of our peak RSS
function writeInChild(path: string, cfg: LlamaConfig, weights: WeightFormat, progress: boolean): string[] {
  const code = `const m = await import(${JSON.stringify(import.meta.url)}); ` +
    `process.stdout.write(JSON.stringify(m.writeBenchGguf(${JSON.stringify(path)}, ${JSON.stringify(cfg)}, ${JSON.stringify(weights)}, ${progress})));`;
  // with progress the child's stderr is ours (its lines, and any error, are printed as they come)
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', progress ? 'inherit' : 'pipe'] });
  if (r.signal) throw new Error(`[bench decode] writing the GGUF file failed: the writer was killed by ${r.signal} (out of memory or disk?)`);
  if (r.status !== 0) throw new Error(`[bench decode] writing the GGUF file failed: ${(r.stderr || r.error?.message || '(its error is printed above)').trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(r.stdout) as string[];
}

function oursOnce(model: LlamaForCausalLM, prompts: number[][], n: number): Round {
  let tFirst = 0;
  const t0 = performance.now();
  const r = generate(model, prompts, { maxNewTokens: n, onToken: (e) => { if (e.index === 0 && tFirst === 0) tFirst = performance.now(); } });
  const t1 = performance.now();
  const tokens = r.ids[0]!.length;
  // the first token of every row comes out of the prefill; the other n-1 steps decode all rows at once
  return { decodeTokensPerS: ((tokens - 1) * prompts.length * 1000) / (t1 - tFirst), prefillTokensPerS: (prompts.length * prompts[0]!.length * 1000) / (tFirst - t0), tokens };
}

async function llamaOnce(llama: LlamaCpp, path: string, prompt: number[], n: number, threads: number): Promise<Round> {
  const model = await llama.loadModel({ modelPath: path });
  const ctx = await model.createContext({ contextSize: prompt.length + n + 8, batchSize: prompt.length, threads, sequences: 1 });
  try {
    const seq = ctx.getSequence();
    let tFirst = 0, tokens = 0;
    const t0 = performance.now();
    for await (const _ of seq.evaluate(prompt, { temperature: 0 })) {
      if (tokens === 0) tFirst = performance.now();
      if (++tokens >= n) break;
    }
    const t1 = performance.now();
    return { decodeTokensPerS: ((tokens - 1) * 1000) / (t1 - tFirst), prefillTokensPerS: (prompt.length * 1000) / (tFirst - t0), tokens };
  } finally {
    await ctx.dispose();
    await model.dispose();
  }
}

/** Sum of two profile reports (rounds are profiled one at a time so llama.cpp's rounds stay outside). */
function mergeProfiles(a: ProfileReport | null, b: ProfileReport): ProfileReport {
  if (!a) return b;
  const sum = (x: ProfileReport['phases'], y: ProfileReport['phases']) => {
    const r = { ...x };
    for (const [k, t] of Object.entries(y)) {
      const o = r[k] ?? { calls: 0, wallMs: 0, cpuMs: 0 };
      r[k] = { calls: o.calls + t.calls, wallMs: o.wallMs + t.wallMs, cpuMs: o.cpuMs + t.cpuMs };
    }
    return r;
  };
  return { steps: a.steps + b.steps, phases: sum(a.phases, b.phases), kernels: sum(a.kernels, b.kernels) };
}

export async function benchDecode(argv: string[]): Promise<number> {
  const { flags: f } = parseArgs('bench decode', argv, flags);
  if (f.help) {
    console.log(formatHelp('zhongjing bench decode [--preset qwen2.5-0.5b] [--layers N] [--weights f32|bf16|q8_0|q4_0] [--llama-cpp] [--batch N | N,M,…] [--prompt 128] [--new 64] [--json]',
      'Greedy decoding (KV cache) and prefill tokens/s of a random-weight model of the preset\'s shape, written once as GGUF at\n' +
      '--weights; with --llama-cpp (default on) llama.cpp decodes the same file in alternating rounds and `ratio` = ours / llama.cpp.', flags));
    return 0;
  }
  const P = f.prompt!, N = f.new!, rounds = f.rounds!, batches = parseBatches(f.batch!), B = batches[0]!;
  if (!(Number.isInteger(P) && P >= 1 && Number.isInteger(N) && N >= 2 && rounds >= 1))
    throw new UsageError('[bench decode] --prompt >= 1, --new >= 2, --rounds >= 1 (integers)');
  if (f.profile && batches.length > 1)
    throw new UsageError('[bench decode] --profile times one batch size (its steps would mix): give --batch a single size');
  const preset = f.preset!;
  const weights = f.weights as WeightFormat;
  const cfg = benchConfig(preset, f.layers, P + N);
  const rng = new Rng(1);
  // batch b decodes the first b of these; llama.cpp the first
  const prompts = Array.from({ length: Math.max(...batches) }, () => Array.from({ length: P }, () => rng.int(Math.min(cfg.vocabSize, 256))));
  const info = backendInfo();

  // one file for both engines: random weights streamed into GGUF at --weights (in a child), then ours loads it
  const dir = mkdtempSync(join(tmpdir(), 'zj-bench-decode-'));
  const ggufPath = join(dir, `model-${weights}.gguf`);
  const ours: Round[][] = batches.map(() => []), theirs: Round[] = [];
  const llamaThreadsUsed: number[] = [];
  const counts = [...new Set([1, info.threads])];
  let llama: LlamaCpp | null = null, reason = 'disabled with --llama-cpp=false';
  let out: Record<string, unknown>;
  try {
    if (!f.json) console.error(`bench decode: writing ${preset}${f.layers ? ` (${cfg.numLayers} layers)` : ''} with random weights as GGUF ${weights} …`);
    const fell = writeInChild(ggufPath, cfg, weights, !f.json);
    if (fell.length) console.error(`bench decode: stored as f16 (rows not a multiple of 32): ${fell.join(', ')}`);
    const warnings: string[] = [];
    const t0 = performance.now();
    const md = loadGguf(ggufPath, { weights: 'auto', warn: (l) => warnings.push(l) });
    toDecodeLayout(md.model);  // as chat / serve / eval load it
    const loadSeconds = (performance.now() - t0) / 1000;
    const model = md.model;
    model.kvCacheDType = f['kv-cache'] as KvCacheDType;
    // our peak RSS is read after a full warm-up generation (at every batch size) and before llama.cpp is loaded
    for (const b of batches) oursOnce(model, prompts.slice(0, b), N);
    const oursPeakRssMiB = peakRssMiB();
    if (f['llama-cpp']) {
      const r = await loadLlamaCpp();
      if (r.llama) llama = r.llama; else reason = r.reason;
    }
    let profile: ProfileReport | null = null;
    for (let i = 0; i < rounds; i++) {
      if (f.profile) startProfile();
      batches.forEach((b, j) => ours[j]!.push(oursOnce(model, prompts.slice(0, b), N)));
      if (f.profile) profile = mergeProfiles(profile, stopProfile()!);
      if (llama) {
        let best: Round | null = null, bestTh = 1;
        for (const th of counts) {
          const r = await llamaOnce(llama, ggufPath, prompts[0]!, N, th);
          if (!best || r.decodeTokensPerS > best.decodeTokensPerS) { best = r; bestTh = th; }
        }
        theirs.push(best!);
        llamaThreadsUsed.push(bestTh);
      }
    }
    const med = (rs: Round[], k: keyof Round) => median(rs.map((r) => r[k]));
    const oursTps = med(ours[0]!, 'decodeTokensPerS');
    const byBatch = batches.map((b, j) => {
      const agg = med(ours[j]!, 'decodeTokensPerS');
      return { batch: b, tokensPerS: agg / b, aggregateTokensPerS: agg, prefillTokensPerS: med(ours[j]!, 'prefillTokensPerS'),
        // aggregate over the first size's, medians of the same rounds
        vsFirst: agg / oursTps, perRound: ours[j]!.map((r) => +r.decodeTokensPerS.toFixed(1)) };
    });
    out = {
      preset, layers: cfg.numLayers, parameters: model.numParameters(), weights, batch: B, prompt: P, newTokens: N, rounds,
      backend: info.name, isa: info.isa, threads: info.threads,
      heldAs: bytesByDType(model.parameters()), fallbacks: warnings, loadSeconds,
      // tokensPerS: per-sequence decode rate; aggregateTokensPerS: all B rows together (equal at batch 1)
      tokensPerS: oursTps / B, aggregateTokensPerS: oursTps, prefillTokensPerS: med(ours[0]!, 'prefillTokensPerS'),
      llamaCpp: llama ? { tokensPerS: med(theirs, 'decodeTokensPerS'), prefillTokensPerS: med(theirs, 'prefillTokensPerS'), gguf: weights, batch: 1,
        tokens: theirs[0]!.tokens, threadsTried: counts, bestThreadsPerRound: llamaThreadsUsed } : { skipped: reason },
      ratio: llama ? oursTps / B / med(theirs, 'decodeTokensPerS') : null,
      perRound: { ours: ours[0]!.map((r) => +(r.decodeTokensPerS / B).toFixed(1)), llamaCpp: theirs.map((r) => +r.decodeTokensPerS.toFixed(1)) },
      // with several sizes: the peak over all of them
      kvCache: model.kvCacheDType, peakRssMiB: oursPeakRssMiB, processPeakRssMiB: peakRssMiB(),
      ...(batches.length > 1 ? { byBatch } : {}),
    };
    if (profile) {
      out.profile = profile;
      if (!f.json) console.error(formatProfile(profile));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (f.json) console.log(JSON.stringify(out));
  else {
    const o = out as { parameters: number; tokensPerS: number; aggregateTokensPerS: number; prefillTokensPerS: number; ratio: number | null; peakRssMiB: number; processPeakRssMiB: number; fallbacks: string[]; llamaCpp: { tokensPerS?: number; prefillTokensPerS?: number } };
    console.log(`bench decode: ${preset}, ${cfg.numLayers} layers (${o.parameters.toLocaleString()} parameters), GGUF ${weights}, batch ${batches.join(', ')}, ${P}-token prompt + ${N} greedy tokens, ` +
      `${info.name}/${info.isa}, ${info.threads} threads, median of ${rounds} alternating rounds`);
    console.log(`  ours        ${o.tokensPerS.toFixed(1)} tok/s decode${B > 1 ? ` per sequence, ${o.aggregateTokensPerS.toFixed(1)} tok/s aggregate` : ''}   ${o.prefillTokensPerS.toFixed(0)} tok/s prefill${batches.length > 1 ? ` (batch ${B})` : ''}`);
    if (batches.length > 1)
      for (const r of (out as { byBatch: { batch: number; tokensPerS: number; aggregateTokensPerS: number; prefillTokensPerS: number; vsFirst: number }[] }).byBatch.slice(1))
        console.log(`  batch ${String(r.batch).padEnd(5)} ${r.tokensPerS.toFixed(1)} tok/s per sequence, ${r.aggregateTokensPerS.toFixed(1)} tok/s aggregate = ${r.vsFirst.toFixed(2)}× batch ${B}   ${r.prefillTokensPerS.toFixed(0)} tok/s prefill`);
    for (const w of o.fallbacks) console.log(`  ${w}`);
    if (llama) console.log(`  llama.cpp   ${o.llamaCpp.tokensPerS!.toFixed(1)} tok/s decode   ${o.llamaCpp.prefillTokensPerS!.toFixed(0)} tok/s prefill   (same GGUF file, batch 1, per round the faster of ${counts.join(' or ')} threads: ${llamaThreadsUsed.join(', ')})` +
      `\n  ratio       ${o.ratio!.toFixed(2)}× llama.cpp (ours per sequence / llama.cpp)`);
    else console.log(`  llama.cpp   skipped: ${reason}`);
    console.log(`  peak RSS    ${o.peakRssMiB.toFixed(0)} MiB ours (before llama.cpp is loaded); ${o.processPeakRssMiB.toFixed(0)} MiB whole process at the end`);
  }
  return 0;
}
