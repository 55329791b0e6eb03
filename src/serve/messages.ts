// messages.ts — the messages between the engine (main thread) and its generation worker. Types only: both sides
// import this file, so a change to the protocol is a compile error on the side that was not updated.
import type { GenerationDefaults } from '../model/config.js';
import type { WeightsOption } from '../model/weights.js';
import type { KvCacheDType } from '../model/kv-cache.js';

export interface WorkerInit {
  modelDir: string;
  /** dtype of the weight matrices (model/weights.ts; default auto) */
  weights?: WeightsOption;
  /** what the decoding KV cache holds keys and values as (model/kv-cache.ts; default f32) */
  kvCache?: KvCacheDType;
  /** the worker empties its tensor pool after a batch that leaves more than this pooled (default 64 MiB) */
  poolKeepBytes?: number;
}

export interface ModelInfo {
  /** the name /v1/models lists: the directory's base name */
  name: string;
  dir: string;
  architecture: string;
  vocabSize: number;
  maxPositions: number;
  eosTokenIds: number[];
  bosTokenId: number | undefined;
  generation: GenerationDefaults;
  parameters: number;
  backend: string;
  threads: number;
}

export interface JobSpec {
  ids: number[];
  maxNewTokens: number;
  eosTokenIds: number[];
  stop: string[];
  seed: number;
  doSample: boolean;
  temperature?: number;
  topP?: number;
  topK?: number;
  repetitionPenalty?: number;
}

/** Jobs decoded together in one batch; each has its own cancellation word. */
export type ToWorker = { type: 'batch'; jobs: { id: number; spec: JobSpec; cancel: SharedArrayBuffer }[] };

export interface PoolInfo { allocated: number; reused: number; released: number; pooledBytes: number }

export type FromWorker =
  | { type: 'ready'; info: ModelInfo }
  | { type: 'fatal'; message: string }
  /** text the client may be sent now (stop-string and UTF-8 safe), and the number of tokens generated so far */
  | { type: 'delta'; id: number; text: string; tokens: number }
  | { type: 'done'; id: number; finish: 'eos' | 'stop' | 'length' | 'cancelled'; tokens: number; text: string; ms: number; pool: PoolInfo; heapUsed: number; invalidUtf8?: number }
  | { type: 'error'; id: number; message: string }
  /** the batch is over (sent after every job's done/error) */
  | { type: 'idle' };
