// export.ts — `zhongjing export gguf|merge`: a model directory (with its enabled LoRA adapters merged) to one
// GGUF file for llama.cpp / ollama, or to a plain HF model directory without adapters. No training, no
// tokenizer changes: the tokenizer files are carried as they are.
import type { Command } from './command.js';
import { formatHelp, parseArgs, UsageError } from './args.js';
import { groupCommand } from './subcommands.js';
import { exportModelDirToGguf, GGUF_OUT_TYPES, type GgufOutType } from '../model/gguf-export.js';
import { loadModelDir, saveModelDir } from '../model/model-dir.js';
import type { StDtype } from '../model/safetensors.js';
import { loadConfig } from '../pipeline/config.js';
import { exportRecipe } from '../scaleout/recipe.js';

const ggufFlags = {
  model: { type: 'string', help: 'model directory (docs/model-directory.md)' },
  out: { type: 'string', help: 'GGUF file to write' },
  type: { type: 'string', help: 'tensor type of the matrices (norms stay f32)', default: 'f32', choices: [...GGUF_OUT_TYPES] },
  json: { type: 'boolean', help: 'print one JSON object' },
} as const;

const mergeFlags = {
  model: { type: 'string', help: 'model directory with adapters (adapters.json)' },
  out: { type: 'string', help: 'directory to write the merged model to' },
  dtype: { type: 'string', help: 'safetensors dtype of the weights', default: 'f32', choices: ['f32', 'bf16', 'f16'] },
  json: { type: 'boolean', help: 'print one JSON object' },
} as const;

async function gguf(argv: string[]): Promise<number> {
  const { flags: f } = parseArgs('export gguf', argv, ggufFlags);
  if (f.help) {
    console.log(formatHelp('zhongjing export gguf --model DIR --out FILE [--type f32|f16|bf16|q8_0|q4_0]',
      'Write DIR as one GGUF file (llama.cpp / ollama): enabled adapters merged, tokenizer.json as its vocabulary\n' +
      '(a plain byte-level vocabulary when DIR has none).', ggufFlags));
    return 0;
  }
  if (!f.model || !f.out) throw new UsageError('[export gguf] --model and --out are required');
  const t0 = performance.now();
  const info = exportModelDirToGguf(f.model, f.out, f.type as GgufOutType);
  const out = { out: f.out, type: f.type, ...info, seconds: (performance.now() - t0) / 1000 };
  if (f.json) console.log(JSON.stringify(out));
  else {
    console.log(`wrote ${f.out}: ${info.architecture}, ${info.tensors} tensors, ${(info.bytes / 2 ** 20).toFixed(1)} MiB of ${f.type}` +
      (info.merged.length ? `, merged adapters ${info.merged.join(', ')}` : ''));
    if (info.fellBackToF16.length) console.log(`  stored as f16 (rows not a multiple of 32): ${info.fellBackToF16.join(', ')}`);
    for (const n of info.notes) console.log(`  note: ${n}`);
  }
  return 0;
}

async function merge(argv: string[]): Promise<number> {
  const { flags: f } = parseArgs('export merge', argv, mergeFlags);
  if (f.help) {
    console.log(formatHelp('zhongjing export merge --model DIR --out DIR2 [--dtype f32|bf16|f16]',
      'Fold the enabled adapters of DIR (in adapters.json order) into the weights and write a plain model directory\n' +
      '(disabled adapters are dropped; the value head and tokenizer files are carried over).', mergeFlags));
    return 0;
  }
  if (!f.model || !f.out) throw new UsageError('[export merge] --model and --out are required');
  const md = loadModelDir(f.model, { weights: 'f32' }); // adapters merge into f32 weights
  const merged: string[] = [], dropped: string[] = [];
  for (const a of md.adapters) {
    if (a.enabled) { a.merge(); merged.push(a.name); } else { a.detach(); dropped.push(a.name); }
  }
  const dtype = ({ f32: 'F32', bf16: 'BF16', f16: 'F16' } as const)[f.dtype as 'f32' | 'bf16' | 'f16'] as StDtype;
  saveModelDir(f.out, md.model, {
    architecture: md.architecture, eosTokenIds: md.eosTokenIds, padTokenId: md.padTokenId, generation: md.generation,
    valueHead: md.valueHead, tokenizerFrom: md.dir, dtype,
  });
  if (f.json) console.log(JSON.stringify({ out: f.out, merged, dropped }));
  else console.log(`wrote ${f.out}: merged ${merged.length ? merged.join(', ') : 'no adapters'}${dropped.length ? `; dropped disabled ${dropped.join(', ')}` : ''}`);
  return 0;
}

const recipeFlags = {
  engine: { type: 'string', help: 'the distributed engine to write for', default: 'llamafactory', choices: ['llamafactory'] },
  config: { type: 'string', help: 'pipeline config (YAML), the same one `zhongjing pipeline` runs' },
  out: { type: 'string', help: 'folder to write the export to' },
  model: { type: 'string', help: 'HF model id or path of the base the engine trains (default scaleout.model)' },
  nodes: { type: 'number', help: 'nodes the batch sizes are computed for (default scaleout.nodes)' },
  gpus: { type: 'number', help: 'GPUs per node the batch sizes are computed for (default scaleout.gpusPerNode)' },
  json: { type: 'boolean', help: 'print one JSON object' },
} as const;

async function recipe(argv: string[]): Promise<number> {
  const { flags: f } = parseArgs('export recipe', argv, recipeFlags);
  if (f.help) {
    console.log(formatHelp('zhongjing export recipe --engine llamafactory --config FILE --out DIR [--model ID] [--nodes N --gpus G]',
      'Write the recipe for LLaMA-Factory v0.9.3 + DeepSpeed: data + dataset_info.json, one YAML per stage, ZeRO configs,\n' +
      'run.sh (--dry-run prints every command), slurm.sh and a README (docs/scale-out.md).', recipeFlags));
    return 0;
  }
  if (!f.config || !f.out) throw new UsageError('[export recipe] --config and --out are required');
  for (const k of ['nodes', 'gpus'] as const)
    if (f[k] !== undefined && !(Number.isInteger(f[k]) && f[k]! >= 1)) throw new UsageError(`[export recipe] --${k} must be a positive integer`);
  const r = await exportRecipe(loadConfig(f.config), { out: f.out, model: f.model, nodes: f.nodes, gpus: f.gpus, quiet: !!f.json });
  if (f.json) console.log(JSON.stringify(r));
  else {
    console.log(`wrote ${r.out}: ${r.steps.length} steps (${r.steps.join(', ')})`);
    console.log(`  data: ${Object.entries(r.counts).map(([k, v]) => `${k} ${v}`).join(', ')}${r.trimmed ? `; ${r.trimmed} dialogues lost a trailing unanswered turn` : ''}`);
    console.log(`  chat template: ${r.template.engine} (${r.template.why})`);
    for (const n of r.notes) console.log(`  note: ${n}`);
    console.log(`  next: ${r.out}/run.sh --dry-run`);
  }
  return 0;
}

export const exportCommand: Command = groupCommand('export', {
  summary: 'export a model directory: gguf (llama.cpp / ollama) or merge (adapters folded into the weights); recipe (LLaMA-Factory + DeepSpeed)',
  subcommands: {
    gguf: { summary: 'one GGUF file (f32/f16/bf16/q8_0/q4_0) with the enabled adapters merged', flags: ggufFlags, run: gguf },
    merge: { summary: 'a plain HF model directory with the enabled adapters folded into the weights', flags: mergeFlags, run: merge },
    recipe: { summary: 'the recipe for LLaMA-Factory + DeepSpeed on GPUs (data, per-stage YAMLs, run.sh)', flags: recipeFlags, run: recipe },
  },
});
