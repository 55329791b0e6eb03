// worker.ts — the one generation thread of a serving process: it loads the model directory once, owns the weights
// and (through the backend) the native thread pool, and runs one job at a time, streaming stop-safe text deltas back.
// It checks the job's shared cancellation flag after every token. Queueing, HTTP and the safety guard are elsewhere.
import { parentPort, workerData } from 'node:worker_threads';
import { basename } from 'node:path';
import { loadModelDir } from '../model/model-dir.js';
import { generate, type GenerateOptions } from '../model/generate.js';
import { loadTokenizer } from '../tokenizer/tokenizer-json.js';
import { backendInfo } from '../backend/index.js';
import { poolStats } from '../tensor/pool.js';
import { DeltaStream } from './deltas.js';
import type { FromWorker, JobSpec, ToWorker, WorkerInit } from './messages.js';

const port = parentPort;
if (!port) throw new Error('[serve worker] must run as a worker thread (new Worker(...)), not as a script');
const post = (m: FromWorker) => port.postMessage(m);

class Cancelled extends Error {}

async function main(): Promise<void> {
  const init = workerData as WorkerInit;
  const md = loadModelDir(init.modelDir);
  if (!md.tokenizerPath) throw new Error(`[serve worker] ${md.dir}: no tokenizer.json in the model directory`);
  const tok = await loadTokenizer(md.tokenizerPath);
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

  const run = (id: number, spec: JobSpec, cancel: SharedArrayBuffer): void => {
    const flag = new Int32Array(cancel);
    const deltas = new DeltaStream(spec.stop);
    const t0 = performance.now();
    let tokens = 0, full = '';
    const opts: GenerateOptions = {
      maxNewTokens: spec.maxNewTokens, eosTokenIds: spec.eosTokenIds, seed: spec.seed, doSample: spec.doSample, decode,
      onToken: (e) => {
        tokens = e.index + 1;
        full = e.text ?? '';
        const d = deltas.push(full);
        if (d) post({ type: 'delta', id, text: d, tokens });
        // between tokens is the only place generation can stop early; the flag is set by the main thread
        if (Atomics.load(flag, 0) !== 0) throw new Cancelled();
      },
    };
    if (spec.stop.length) opts.stopStrings = spec.stop;
    if (spec.temperature !== undefined) opts.temperature = spec.temperature;
    if (spec.topP !== undefined) opts.topP = spec.topP;
    if (spec.topK !== undefined) opts.topK = spec.topK;
    if (spec.repetitionPenalty !== undefined) opts.repetitionPenalty = spec.repetitionPenalty;
    let finish: 'eos' | 'stop' | 'length' | 'cancelled';
    try {
      finish = generate(md.model, [spec.ids], opts).finishReasons[0]!;
    } catch (e) {
      if (!(e instanceof Cancelled)) throw e;
      finish = 'cancelled';
    }
    const rest = finish === 'cancelled' ? '' : deltas.finish(full);
    if (rest) post({ type: 'delta', id, text: rest, tokens });
    post({ type: 'done', id, finish, tokens, text: deltas.text, ms: performance.now() - t0, pool: poolStats(), heapUsed: process.memoryUsage().heapUsed });
  };

  port!.on('message', (m: ToWorker) => {
    if (m.type !== 'job') return;
    try {
      run(m.id, m.spec, m.cancel);
    } catch (e) {
      post({ type: 'error', id: m.id, message: `[serve worker] generation failed: ${(e as Error).message}` });
    }
  });
}

main().catch((e) => {
  post({ type: 'fatal', message: (e as Error).message });
  // nothing more can be done here: the engine sees the fatal message, then the exit
  process.exit(1);
});
