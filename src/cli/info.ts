// info.ts — `zhongjing info`: which backend, ISA and thread count this process uses, and (with --model PATH)
// the bytes each dtype holds once that model is loaded with --weights; without --model, this process's own
// parameters are none, so only the engine is shown. Loading is the real loader (model/load.ts), not an estimate.
import type { Command } from './command.js';
import { formatHelp, parseArgs, UsageError } from './args.js';
import { backendInfo } from '../backend/index.js';
import { loadModel } from '../model/load.js';
import { bytesByDType, parseWeightsOption, WEIGHTS_OPTIONS } from '../model/weights.js';

const flags = {
  json: { type: 'boolean', help: 'print one JSON object' },
  model: { type: 'string', help: 'also load this model directory or .gguf file and report the bytes held per dtype' },
  weights: { type: 'string', help: 'with --model: dtype of the weight matrices (auto = the file\'s)', default: 'auto', choices: [...WEIGHTS_OPTIONS] },
} as const;

export interface ModelMemory {
  path: string;
  weights: string;
  parameters: number;
  /** dtype → tensors and bytes held */
  dtypes: Record<string, { tensors: number; bytes: number }>;
  totalBytes: number;
  warnings: string[];
}

/** Load PATH as `weights` asks and count what each dtype holds. */
export function modelMemory(path: string, weights: string): ModelMemory {
  const warnings: string[] = [];
  const w = parseWeightsOption(weights, 'info');
  const md = loadModel(path, { weights: w, adapters: true, warn: (l) => warnings.push(l) });
  const tensors = [...md.model.parameters(), ...md.adapters.flatMap((a) => a.parameters()), ...(md.valueHead?.parameters() ?? [])];
  const dtypes = bytesByDType(tensors);
  return { path: md.dir, weights: w, parameters: md.model.numParameters(), dtypes, totalBytes: Object.values(dtypes).reduce((s, d) => s + d.bytes, 0), warnings };
}

export const infoCommand: Command = {
  name: 'info',
  flags,
  summary: 'show the engine (backend, CPU instruction set, threads, kernels that fall back) and, with --model, its memory per dtype',
  async run(argv) {
    const { flags: f } = parseArgs('info', argv, flags);
    if (f.help) {
      console.log(formatHelp('zhongjing info [--model PATH [--weights auto|f32|bf16|q8_0|q4_0]] [--json]', this.summary +
        '\nEnvironment: ZJ_BACKEND=reference|native, ZJ_THREADS=N, ZJ_ISA=scalar|avx2|avx512 (lowers the choice).', flags));
      return 0;
    }
    if (f.weights !== 'auto' && !f.model) throw new UsageError('[info] --weights needs --model PATH');
    const i = backendInfo();
    const mem = f.model ? modelMemory(f.model, f.weights!) : null;
    const out = { version: '0.1.0', node: process.version, ...i, ...(mem ? { model: mem } : {}) };
    if (f.json) console.log(JSON.stringify(out));
    else {
      console.log(`backend   ${i.name}`);
      console.log(`isa       ${i.isa}`);
      console.log(`threads   ${i.threads}`);
      console.log(`fallbacks ${i.fallbacks.length ? i.fallbacks.join(', ') : 'none'}`);
      if (mem) {
        console.log(`model     ${mem.path} (${mem.parameters.toLocaleString()} parameters, --weights ${mem.weights})`);
        for (const [d, e] of Object.entries(mem.dtypes)) console.log(`  ${d.padEnd(5)} ${String(e.tensors).padStart(5)} tensors  ${(e.bytes / 2 ** 20).toFixed(2).padStart(10)} MiB`);
        console.log(`  total             ${(mem.totalBytes / 2 ** 20).toFixed(2).padStart(10)} MiB`);
        for (const w of mem.warnings) console.log(`  ${w}`);
      }
    }
    return 0;
  },
};
