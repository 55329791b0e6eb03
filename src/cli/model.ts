// model.ts — `zhongjing model init`: a randomly initialised model of a real family's shape (a preset or any
// config.json we accept) written as a normal HF model directory: config.json, generation_config.json,
// safetensors (sharded with model.safetensors.index.json past --shard-mb), tokenizer files copied on request.
// Flags and printing only: the writer is src/model/random-model-dir.ts; it trains nothing and downloads nothing.
import { readFileSync } from 'node:fs';
import type { Command } from './command.js';
import { formatHelp, parseArgs, UsageError } from './args.js';
import { groupCommand } from './subcommands.js';
import { PRESET_NAMES, presetConfig } from '../model/presets.js';
import { randomModelDirProblem, withLayers, writeRandomModelDir } from '../model/random-model-dir.js';

const initFlags = {
  preset: { type: 'string', help: `a family's shape: ${PRESET_NAMES.join(', ')}` },
  config: { type: 'string', help: 'or: an HF config.json to take the shape from' },
  layers: { type: 'number', help: 'override num_hidden_layers (e.g. 2 for tests at real width)' },
  dtype: { type: 'string', help: 'safetensors dtype of the weights', default: 'bf16', choices: ['bf16', 'f32'] },
  tokenizer: { type: 'string', help: 'copy tokenizer.json / tokenizer_config.json / … from this directory' },
  seed: { type: 'number', help: 'seed of the random weights (same seed, same bytes)', default: 0 },
  'shard-mb': { type: 'number', help: 'start a new safetensors shard past this many MiB', default: 4096 },
  out: { type: 'string', help: 'directory to write (must be empty or absent unless --force)' },
  force: { type: 'boolean', help: 'write into a directory that already holds files' },
  quiet: { type: 'boolean', help: 'no progress lines' },
  json: { type: 'boolean', help: 'print one JSON object at the end' },
} as const;

type Json = Record<string, unknown>;

function readConfig(path: string): Json {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) { throw new UsageError(`[model init] ${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`); }
  try { return JSON.parse(text) as Json; } catch (e) { throw new UsageError(`[model init] ${path}: not valid JSON (${(e as Error).message})`); }
}

export async function modelInit(argv: string[]): Promise<number> {
  const { flags: f, positional } = parseArgs('model init', argv, initFlags);
  if (f.help) {
    console.log(formatHelp('zhongjing model init (--preset NAME | --config config.json) --out DIR [--layers N] [--dtype bf16|f32]\n' +
      '                            [--tokenizer DIR] [--seed S]',
      'Write a randomly initialised model of a real family\'s shape as an HF model directory (config.json,\n' +
      'generation_config.json, safetensors shards + model.safetensors.index.json). Init: normal std 0.02, residual\n' +
      'projections 0.02/sqrt(2L), norms 1, biases 0. Tensors are generated and written chunk by chunk, so memory\n' +
      'stays small whatever the model size (a 7B bf16 directory is ~15 GB of disk).', initFlags));
    return 0;
  }
  if (positional.length) throw new UsageError(`[model init] unexpected argument '${positional[0]}'`);
  if (!f.out) throw new UsageError('[model init] --out DIR is required');
  if (!!f.preset === !!f.config) throw new UsageError('[model init] give exactly one of --preset NAME or --config config.json');
  let hf: Json;
  if (f.preset) {
    try { hf = presetConfig(f.preset); } catch (e) { throw new UsageError(`[model init] ${(e as Error).message}`); }
  } else hf = readConfig(f.config!);
  if (f.layers !== undefined) {
    if (!Number.isInteger(f.layers) || f.layers <= 0) throw new UsageError(`[model init] --layers must be a positive integer, got ${f.layers}`);
    hf = withLayers(hf, f.layers);
  }
  if (!Number.isInteger(f.seed) || f.seed! < 0) throw new UsageError(`[model init] --seed must be a non-negative integer, got ${f.seed}`);
  if (!(f['shard-mb']! > 0)) throw new UsageError(`[model init] --shard-mb must be positive, got ${f['shard-mb']}`);
  const target = { out: f.out, ...(f.tokenizer ? { tokenizerFrom: f.tokenizer } : {}), force: !!f.force };
  const problem = randomModelDirProblem(target);
  if (problem) throw new UsageError(`[model init] ${problem}`);
  const t0 = performance.now();
  let last = 0;
  const info = writeRandomModelDir({
    ...target, hf, source: f.preset ? `preset ${f.preset}` : f.config!, seed: f.seed!, dtype: f.dtype === 'f32' ? 'f32' : 'bf16',
    maxShardBytes: Math.floor(f['shard-mb']! * 1024 ** 2),
    onProgress: (p) => {
      const now = performance.now();
      if (f.quiet || (now - last < 1000 && p.bytesDone < p.bytesTotal)) return;
      last = now;
      process.stderr.write(`[model init] ${(p.bytesDone / 2 ** 20).toFixed(0)}/${(p.bytesTotal / 2 ** 20).toFixed(0)} MiB (${p.tensor})\n`);
    },
  });
  const out = { ...info, dtype: f.dtype, seconds: (performance.now() - t0) / 1000 };
  if (f.json) console.log(JSON.stringify(out));
  else console.log(`wrote ${info.out}: ${info.architecture}, ${info.layers} layers, ${(info.parameters / 1e6).toFixed(1)}M parameters, ` +
    `${(info.bytes / 2 ** 20).toFixed(1)} MiB of ${f.dtype} in ${info.files.length} file(s)${info.tokenizer.length ? `, tokenizer: ${info.tokenizer.join(', ')}` : ''} ` +
    `(${out.seconds.toFixed(1)} s)`);
  return 0;
}

export const modelCommand: Command = groupCommand('model', {
  summary: 'model directories: init (a random model of a real family\'s shape: Qwen2.5, Qwen3, Llama 3.x, …)',
  about: `presets: ${PRESET_NAMES.join(', ')}`,
  subcommands: {
    init: { summary: 'a randomly initialised model of a preset or config.json shape, written as an HF model directory', flags: initFlags, run: modelInit },
  },
});
