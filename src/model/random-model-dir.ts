// random-model-dir.ts — a randomly initialised model of a real family's shape written as a normal HF model directory:
// config.json (the shape given, optionally cut to fewer layers), generation_config.json, safetensors shards streamed
// tensor by tensor (random-init.ts), and the tokenizer files of another directory copied as they are. Behind
// `zhongjing model init`; it trains nothing and downloads nothing.
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { atomicWriteJson } from './atomic.js';
import { fromHfConfig, toHfGenerationConfig } from './config.js';
import { writeRandomCheckpoint, type InitProgress } from './random-init.js';

type Json = Record<string, unknown>;

// what HF tokenizers ship besides tokenizer.json (copied when present, never parsed here)
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.json', 'merges.txt',
  'tokenizer.model', 'added_tokens.json'];

/** The config with num_hidden_layers = n, and the per-layer fields HF keeps beside it cut to match. */
export function withLayers(cfg: Json, n: number): Json {
  const out: Json = { ...cfg, num_hidden_layers: n };
  if (Array.isArray(cfg.layer_types)) out.layer_types = (cfg.layer_types as unknown[]).slice(0, n);
  if (typeof cfg.max_window_layers === 'number') out.max_window_layers = Math.min(cfg.max_window_layers, n);
  return out;
}

export interface RandomModelDirOptions {
  /** an HF config.json object (a preset's, or read from a file) */
  hf: Json;
  /** where the config came from, for error messages */
  source: string;
  out: string;
  seed: number;
  dtype: 'bf16' | 'f32';
  maxShardBytes: number;
  /** copy the tokenizer files of this directory (it must hold tokenizer.json) */
  tokenizerFrom?: string;
  /** write into a directory that already holds files */
  force?: boolean;
  onProgress?: (p: InitProgress) => void;
}

export interface RandomModelDirInfo {
  out: string;
  architecture: string;
  layers: number;
  parameters: number;
  bytes: number;
  files: string[];
  /** tokenizer files copied */
  tokenizer: string[];
}

/** Why the output or tokenizer directory will not do (a usage problem, checked before any work), or null. */
export function randomModelDirProblem(o: Pick<RandomModelDirOptions, 'out' | 'tokenizerFrom' | 'force'>): string | null {
  const dir = resolve(o.out);
  if (existsSync(dir) && readdirSync(dir).length && !o.force) return `${dir} is not empty (use --force to write into it)`;
  if (o.tokenizerFrom && !existsSync(join(o.tokenizerFrom, 'tokenizer.json'))) return `--tokenizer ${o.tokenizerFrom}: no tokenizer.json there`;
  return null;
}

export function writeRandomModelDir(o: RandomModelDirOptions): RandomModelDirInfo {
  // the same checks a downloaded checkpoint gets: what we cannot run, we do not write
  const parsed = fromHfConfig(o.hf, o.source);
  const problem = randomModelDirProblem(o);
  if (problem) throw new Error(`[model init] ${problem}`);
  const dir = resolve(o.out);
  mkdirSync(dir, { recursive: true });
  const dtype = o.dtype === 'f32' ? 'F32' : 'BF16';
  const info = writeRandomCheckpoint(dir, parsed.config, { seed: o.seed, dtype, maxShardBytes: o.maxShardBytes, ...(o.onProgress ? { onProgress: o.onProgress } : {}) });
  atomicWriteJson(join(dir, 'config.json'), { ...o.hf, torch_dtype: dtype === 'BF16' ? 'bfloat16' : 'float32' });
  atomicWriteJson(join(dir, 'generation_config.json'), toHfGenerationConfig({
    ...(parsed.config.bosTokenId !== undefined ? { bosTokenId: parsed.config.bosTokenId } : {}),
    ...(parsed.eosTokenIds.length ? { eosTokenIds: parsed.eosTokenIds } : {}),
  }));
  const copied: string[] = [];
  if (o.tokenizerFrom) for (const name of TOKENIZER_FILES) {
    const src = join(o.tokenizerFrom, name);
    if (existsSync(src)) { copyFileSync(src, join(dir, name)); copied.push(name); }
  }
  return { out: dir, architecture: parsed.architecture, layers: parsed.config.numLayers, parameters: info.parameters, bytes: info.bytes, files: info.files, tokenizer: copied };
}
