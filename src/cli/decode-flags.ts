// decode-flags.ts — flags every command that decodes with a local model shares (chat, serve, eval, bench decode),
// declared once so their names, choices and help read the same everywhere.
import type { FlagSpec } from './args.js';
import { KV_CACHE_DTYPES } from '../model/kv-cache.js';

/** --kv-cache: what the decoding KV cache holds keys and values as (model/kv-cache.ts). */
export const KV_CACHE_FLAG = {
  type: 'string',
  help: 'what the KV cache holds keys and values as: f32, or bf16 (half the cache memory and the bytes each decode step reads; logits move by bf16 rounding)',
  default: 'f32',
  choices: KV_CACHE_DTYPES,
} as const satisfies FlagSpec;
