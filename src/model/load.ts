// load.ts — what every `--model PATH` accepts: a model directory (model-dir.ts) or a llama.cpp GGUF file
// (gguf-load.ts), and the tokenizer that comes with either. Nothing is parsed here; it only dispatches.
import { statSync } from 'node:fs';
import { loadModelDir, type LoadOptions, type ModelDir } from './model-dir.js';
import { loadGguf } from './gguf-load.js';
import { toDecodeLayout } from './decode-layout.js';
import { readGgufHeader } from './gguf.js';
import { tokenizerFromGguf, tokenizerOfGgufJson } from './gguf-tokenizer.js';
import { join } from 'node:path';
import { loadTokenizer, type Tokenizer } from '../tokenizer/index.js';

/** Is PATH a GGUF file: a name ending .gguf, or any existing regular file (a model directory is a directory; the GGUF reader then checks the magic). */
export function isGgufPath(path: string): boolean {
  if (path.toLowerCase().endsWith('.gguf')) return true;
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** A model directory or a GGUF file; with forDecode, its quantized matrices in the decode layout (decode-layout.ts). */
export function loadModel(path: string, opts: LoadOptions = {}): ModelDir {
  const md = isGgufPath(path) ? loadGguf(path, opts) : loadModelDir(path, opts);
  if (opts.forDecode) toDecodeLayout(md.model);
  return md;
}

/** The tokenizer of a model path without loading its weights (a GGUF file's header, or DIR/tokenizer.json). */
export async function tokenizerAt(path: string): Promise<Tokenizer> {
  if (!isGgufPath(path)) return loadTokenizer(join(path, 'tokenizer.json'));
  const t = tokenizerFromGguf(readGgufHeader(path));
  if (!t) throw new Error(`[model] ${path}: the GGUF file carries no tokenizer (tokenizer.ggml.model)`);
  return t;
}

/** The model's tokenizer: tokenizer.json beside it, or the one inside a GGUF file; null when it has none. */
export async function tokenizerOf(md: ModelDir): Promise<Tokenizer | null> {
  if (md.tokenizerPath) return loadTokenizer(md.tokenizerPath);
  if (md.tokenizerJson) return tokenizerOfGgufJson(md.tokenizerJson);
  return null;
}
