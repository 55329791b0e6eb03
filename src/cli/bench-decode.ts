// bench-decode.ts — `zhongjing bench decode`: tokens/s of greedy decoding with the KV cache at batch 1
// (256 new tokens after a 128-token prompt by default) on a preset shape, with peak RSS, and llama.cpp
// (node-llama-cpp, dev-only) decoding the same weights exported as GGUF f32 in the same run, in alternating
// rounds. Prefill is timed apart from decoding. It measures; it does not tune either engine.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatHelp, parseArgs, UsageError } from './args.js';
import { LlamaForCausalLM, presets } from '../model/llama.js';
import { generate } from '../model/generate.js';
import { byteLevelVocab, writeModelGguf } from '../model/gguf-export.js';
import { backendInfo } from '../backend/index.js';
import { Rng } from '../util/rng.js';
import { median, peakRssMiB } from './bench-util.js';
import { loadLlamaCpp, type LlamaCpp } from './llama-cpp-ref.js';

const flags = {
  preset: { type: 'string', help: 'model shape', default: 'anchor', choices: ['anchor', 'tiny'] },
  prompt: { type: 'number', help: 'prompt tokens', default: 128 },
  new: { type: 'number', help: 'new tokens to decode', default: 256 },
  rounds: { type: 'number', help: 'alternating rounds of ours and llama.cpp', default: 3 },
  'llama-cpp': { type: 'boolean', help: 'also run llama.cpp (node-llama-cpp from tools/llama-check) on the GGUF f32 export', default: true },
  json: { type: 'boolean', help: 'print one JSON object' },
} as const;

interface Round { decodeTokensPerS: number; prefillTokensPerS: number; tokens: number }

function oursOnce(model: LlamaForCausalLM, prompt: number[], n: number): Round {
  let tFirst = 0;
  const t0 = performance.now();
  const r = generate(model, [prompt], { maxNewTokens: n, onToken: (e) => { if (e.index === 0) tFirst = performance.now(); } });
  const t1 = performance.now();
  const tokens = r.ids[0]!.length;
  // the first token comes out of the prefill; the other n-1 are decode steps
  return { decodeTokensPerS: ((tokens - 1) * 1000) / (t1 - tFirst), prefillTokensPerS: (prompt.length * 1000) / (tFirst - t0), tokens };
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

export async function benchDecode(argv: string[]): Promise<number> {
  const { flags: f } = parseArgs('bench decode', argv, flags);
  if (f.help) {
    console.log(formatHelp('zhongjing bench decode [--preset anchor] [--prompt 128] [--new 256] [--json]',
      'Greedy decoding tokens/s with the KV cache at batch 1, beside llama.cpp on the same weights (GGUF f32).', flags));
    return 0;
  }
  const P = f.prompt!, N = f.new!, rounds = f.rounds!;
  if (!(P >= 1 && N >= 2 && rounds >= 1)) throw new UsageError('[bench decode] --prompt >= 1, --new >= 2, --rounds >= 1');
  const preset = f.preset as 'anchor' | 'tiny';
  const cfg = { ...presets[preset], maxPositions: Math.max(presets[preset].maxPositions, P + N) };
  const model = new LlamaForCausalLM(cfg, 0);
  const rng = new Rng(1);
  const prompt = Array.from({ length: P }, () => rng.int(Math.min(cfg.vocabSize, 256)));
  const info = backendInfo();

  // our peak RSS is read after a full warm-up generation and before llama.cpp is loaded into this process
  oursOnce(model, prompt, N);
  const oursPeakRssMiB = peakRssMiB();
  let llama: LlamaCpp | null = null, reason = 'disabled with --llama-cpp=false';
  let dir = '';
  let ggufPath = '';
  if (f['llama-cpp']) {
    const r = await loadLlamaCpp();
    if (r.llama) {
      llama = r.llama;
      dir = mkdtempSync(join(tmpdir(), 'zj-bench-decode-'));
      ggufPath = join(dir, 'model-f32.gguf');
      writeModelGguf(ggufPath, model, byteLevelVocab(cfg.vocabSize), { type: 'f32' });
    } else reason = r.reason;
  }
  const ours: Round[] = [], theirs: Round[] = [];
  // llama.cpp at its best thread count (as the train bench takes PyTorch's best setting): its spinning barrier
  // can collapse on busy shared cores, so each round runs it with 1 thread and with ours and keeps the faster
  const counts = [...new Set([1, info.threads])];
  const llamaThreadsUsed: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      ours.push(oursOnce(model, prompt, N));
      if (llama) {
        let best: Round | null = null, bestTh = 1;
        for (const th of counts) {
          const r = await llamaOnce(llama, ggufPath, prompt, N, th);
          if (!best || r.decodeTokensPerS > best.decodeTokensPerS) { best = r; bestTh = th; }
        }
        theirs.push(best!);
        llamaThreadsUsed.push(bestTh);
      }
    }
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
  const med = (rs: Round[], k: keyof Round) => median(rs.map((r) => r[k]));
  const out = {
    preset, prompt: P, newTokens: N, rounds, backend: info.name, isa: info.isa, threads: info.threads,
    tokensPerS: med(ours, 'decodeTokensPerS'), prefillTokensPerS: med(ours, 'prefillTokensPerS'),
    llamaCpp: llama ? { tokensPerS: med(theirs, 'decodeTokensPerS'), prefillTokensPerS: med(theirs, 'prefillTokensPerS'), gguf: 'f32', tokens: theirs[0]!.tokens,
      threadsTried: counts, bestThreadsPerRound: llamaThreadsUsed } : { skipped: reason },
    ratio: llama ? med(ours, 'decodeTokensPerS') / med(theirs, 'decodeTokensPerS') : null,
    perRound: { ours: ours.map((r) => +r.decodeTokensPerS.toFixed(1)), llamaCpp: theirs.map((r) => +r.decodeTokensPerS.toFixed(1)) },
    peakRssMiB: oursPeakRssMiB, processPeakRssMiB: peakRssMiB(),
  };
  if (f.json) console.log(JSON.stringify(out));
  else {
    console.log(`bench decode: ${preset} (${model.numParameters().toLocaleString()} parameters), batch 1, ${P}-token prompt + ${N} greedy tokens, ` +
      `${info.name}/${info.isa}, ${info.threads} threads, median of ${rounds} alternating rounds`);
    console.log(`  ours        ${out.tokensPerS.toFixed(1)} tok/s decode   ${out.prefillTokensPerS.toFixed(0)} tok/s prefill`);
    if (llama) console.log(`  llama.cpp   ${out.llamaCpp.tokensPerS!.toFixed(1)} tok/s decode   ${out.llamaCpp.prefillTokensPerS!.toFixed(0)} tok/s prefill   (GGUF f32, same weights, per round the faster of ${counts.join(' or ')} threads: ${llamaThreadsUsed.join(', ')})` +
      `\n  ratio       ${out.ratio!.toFixed(2)}× llama.cpp`);
    else console.log(`  llama.cpp   skipped: ${reason}`);
    console.log(`  peak RSS    ${out.peakRssMiB.toFixed(0)} MiB ours (before llama.cpp is loaded); ${out.processPeakRssMiB.toFixed(0)} MiB whole process at the end`);
  }
  return 0;
}
