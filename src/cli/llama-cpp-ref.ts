// llama-cpp-ref.ts — llama.cpp (through node-llama-cpp 3.21.1) as the external reference: the GGUF agreement
// tests and `bench decode` load it from tools/llama-check/node_modules (a dev-only package outside the user's
// `npm install`; see tools/llama-check/README.md) or from $ZJ_NODE_LLAMA_CPP. Absent → null with the reason.
// Only the few calls we use are typed here; nothing of llama.cpp is bundled.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface LlamaCppSequence {
  controlledEvaluate(input: (number | [number, { generateNext?: { probabilities?: boolean; token?: boolean; options?: Record<string, number> } }])[]):
    Promise<({ next?: { probabilities?: Map<number, number>; token?: number } } | undefined)[]>;
  evaluate(tokens: number[], options?: Record<string, unknown>): AsyncGenerator<number, void, unknown>;
  clearHistory(): Promise<void>;
}
export interface LlamaCppContext { getSequence(): LlamaCppSequence; dispose(): Promise<void> }
export interface LlamaCppModel {
  createContext(o: Record<string, unknown>): Promise<LlamaCppContext>;
  tokenize(text: string, specialTokens?: boolean): number[];
  dispose(): Promise<void>;
}
export interface LlamaCpp { loadModel(o: { modelPath: string }): Promise<LlamaCppModel> }

export const NODE_LLAMA_CPP_VERSION = '3.21.1';

function candidates(): string[] {
  const env = process.env.ZJ_NODE_LLAMA_CPP;
  const list = env ? [env] : [];
  // the repository root is the working directory for tests and the CLI; also look beside the installed package
  for (const root of [process.cwd(), resolve(new URL('.', import.meta.url).pathname, '../../..')])
    list.push(join(root, 'tools/llama-check/node_modules/node-llama-cpp'));
  return list;
}

/** getLlama({ gpu: false, build: 'never' }) from the dev-only install, or the reason it is unavailable. */
export async function loadLlamaCpp(): Promise<{ llama: LlamaCpp; path: string } | { llama: null; reason: string }> {
  for (const dir of candidates()) {
    const entry = join(dir, 'dist/index.js');
    if (!existsSync(entry)) continue;
    try {
      const mod = await import(pathToFileURL(entry).href) as { getLlama(o: Record<string, unknown>): Promise<LlamaCpp> };
      const llama = await mod.getLlama({ gpu: false, build: 'never', logLevel: 'error', progressLogs: false });
      return { llama, path: dir };
    } catch (e) {
      return { llama: null, reason: `node-llama-cpp at ${dir} failed to load: ${(e as Error).message}` };
    }
  }
  return { llama: null, reason: `node-llama-cpp ${NODE_LLAMA_CPP_VERSION} is not installed (cd tools/llama-check && npm ci --omit=optional --ignore-scripts), or set ZJ_NODE_LLAMA_CPP` };
}

/** A context with f32 KV cache and no flash attention, so llama.cpp's f32 numerics are comparable to ours. */
export function exactContextOptions(contextSize: number, threads: number): Record<string, unknown> {
  return { contextSize, batchSize: contextSize, threads, sequences: 1, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32', flashAttention: false };
}
