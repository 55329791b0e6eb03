// worker.ts — the one generation thread of a serving process: it loads the model directory once, owns the weights
// and (through the backend) the native thread pool, and decodes one batch of jobs at a time (batch-decode.ts),
// streaming stop-safe text deltas back. Each job's shared cancellation flag is read before each of its tokens.
// Queueing, batch selection, HTTP and the safety guard are elsewhere.
import { parentPort, workerData } from 'node:worker_threads';
import { basename } from 'node:path';
import { loadModel, tokenizerOf } from '../model/load.js';
import type { SamplingOptions } from '../model/generate.js';
import { backendInfo } from '../backend/index.js';
import { clearPool, poolStats } from '../tensor/pool.js';
import { DeltaStream } from './deltas.js';
import { decodeBatch, type DecodeRow } from './batch-decode.js';
import type { FromWorker, JobSpec, ToWorker, WorkerInit } from './messages.js';

const port = parentPort;
if (!port) throw new Error('[serve worker] must run as a worker thread (new Worker(...)), not as a script');
const post = (m: FromWorker) => port.postMessage(m);

async function main(): Promise<void> {
  const init = workerData as WorkerInit;
  const poolKeepBytes = init.poolKeepBytes ?? 64 * 2 ** 20;
  const md = loadModel(init.modelDir, { forDecode: true, ...(init.weights ? { weights: init.weights } : {}), ...(init.kvCache ? { kvCache: init.kvCache } : {}) });
  const tok = await tokenizerOf(md);
  if (!tok) throw new Error(`[serve worker] ${md.dir}: no tokenizer (tokenizer.json, or tokenizer.ggml.* in a GGUF file)`);
  const decode = (ids: number[]) => tok.decode(ids, { skipSpecialTokens: true });
  const cfg = md.model.config;
  const b = backendInfo();
  post({
    type: 'ready',
    info: {
      name: basename(md.dir), dir: md.dir, architecture: md.architecture, vocabSize: cfg.vocabSize, maxPositions: cfg.maxPositions,
      eosTokenIds: md.generation.eosTokenIds ?? md.eosTokenIds, bosTokenId: cfg.bosTokenId ?? md.generation.bosTokenId,
      generation: md.generation, parameters: md.model.numParameters(), backend: b.name, threads: b.threads,
    },
  });

  const runBatch = (jobs: { id: number; spec: JobSpec; cancel: SharedArrayBuffer }[]): void => {
    const t0 = performance.now();
    const rows: DecodeRow[] = jobs.map(({ id, spec, cancel }) => {
      const flag = new Int32Array(cancel);
      const deltas = new DeltaStream(spec.stop);
      const sampling: SamplingOptions = { doSample: spec.doSample };
      if (spec.temperature !== undefined) sampling.temperature = spec.temperature;
      if (spec.topP !== undefined) sampling.topP = spec.topP;
      if (spec.topK !== undefined) sampling.topK = spec.topK;
      if (spec.repetitionPenalty !== undefined) sampling.repetitionPenalty = spec.repetitionPenalty;
      return {
        ids: spec.ids, maxNewTokens: spec.maxNewTokens, eosTokenIds: spec.eosTokenIds, stop: spec.stop, seed: spec.seed, sampling,
        // set by the main thread when the client goes away; read before each of this row's tokens
        cancelled: () => Atomics.load(flag, 0) !== 0,
        onToken: (text, tokens) => {
          const d = deltas.push(text);
          if (d) post({ type: 'delta', id, text: d, tokens });
        },
        onFinish: (finish, tokens, text) => {
          const rest = finish === 'cancelled' ? '' : deltas.finish(text);
          if (rest) post({ type: 'delta', id, text: rest, tokens });
          post({ type: 'done', id, finish, tokens, text: deltas.text, invalidUtf8: deltas.invalid, ms: performance.now() - t0, pool: poolStats(), heapUsed: process.memoryUsage().heapUsed });
        },
      };
    });
    decodeBatch(md.model, rows, decode, md.padTokenId ?? md.generation.padTokenId ?? md.eosTokenIds[0] ?? 0);
    // the pool keys buffers by exact length, and every batch shape (rows × prompt length) makes new ones: without a
    // bound a long-running server would keep one of each shape it ever saw
    if (poolStats().pooledBytes > poolKeepBytes) clearPool();
  };

  port!.on('message', (m: ToWorker) => {
    if (m.type !== 'batch') return;
    try {
      runBatch(m.jobs);
    } catch (e) {
      // rows already finished have had their done message; the engine ignores errors for them
      for (const j of m.jobs) post({ type: 'error', id: j.id, message: `[serve worker] generation failed: ${(e as Error).message}` });
    }
    post({ type: 'idle' });
  });
}

main().catch((e) => {
  post({ type: 'fatal', message: (e as Error).message });
  // nothing more can be done here: the engine sees the fatal message, then the exit
  process.exit(1);
});
