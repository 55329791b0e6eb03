// engine.ts — the main thread's side of generation: one worker thread (worker.ts) that owns the model, a bounded
// FIFO of waiting jobs in front of it, one batch in flight at a time (the jobs waiting when the worker is free, in
// arrival order, as many as fit the batch size and the model's context), cancellation through a per-job shared flag,
// and counters for /health. A crashed worker fails only its batch and is started again. No HTTP, no templates.
import { Worker } from 'node:worker_threads';
import type { WeightsOption } from '../model/weights.js';
import type { KvCacheDType } from '../model/kv-cache.js';
import type { FromWorker, JobSpec, ModelInfo, PoolInfo, ToWorker, WorkerInit } from './messages.js';
import { batchSpan } from './batch-decode.js';

export type JobFinish = 'eos' | 'stop' | 'length' | 'cancelled';

export interface JobSink {
  /** stop- and UTF-8-safe text; `tokens` generated so far */
  onDelta(text: string, tokens: number): void;
  onDone(r: { finish: JobFinish; tokens: number; text: string; queuedMs: number; runMs: number; invalidUtf8?: number }): void;
  onError(message: string): void;
}

export interface JobHandle {
  /** stops a running job after its current token, or drops a waiting one; idempotent */
  cancel(): void;
}

export class QueueFull extends Error {
  constructor(readonly retryAfterS: number) {
    super('[serve engine] the request queue is full');
    this.name = 'QueueFull';
  }
}

export interface EngineOptions {
  modelDir: string;
  /** dtype of the weight matrices (model/weights.ts; default auto) */
  weights?: WeightsOption;
  /** what the decoding KV cache holds keys and values as (model/kv-cache.ts; default f32) */
  kvCache?: KvCacheDType;
  /** jobs allowed to wait behind the running one; more get QueueFull (HTTP 429) */
  maxQueue?: number;
  /** unexpected worker exits tolerated before the engine gives up */
  maxRestarts?: number;
  /** most jobs decoded together (1 = strictly one request at a time) */
  maxBatch?: number;
}

export interface EngineStats {
  state: 'starting' | 'ready' | 'restarting' | 'failed' | 'closed';
  running: number;
  queued: number;
  maxQueue: number;
  maxBatch: number;
  /** batches run, and the jobs they held (their ratio is the mean batch size) */
  batches: number;
  batchedJobs: number;
  completed: number;
  cancelled: number;
  failed: number;
  rejected: number;
  generatedTokens: number;
  restarts: number;
  /** moving average of a batch's run time, the basis of Retry-After */
  avgJobMs: number;
  /** the worker's tensor pool and heap after its last job (flat under load when nothing leaks) */
  workerPool: PoolInfo | null;
  workerHeapUsed: number;
}

interface Job {
  id: number;
  spec: JobSpec;
  sink: JobSink;
  flag: Int32Array;
  cancelBuf: SharedArrayBuffer;
  enqueuedAt: number;
  startedAt: number;
  state: 'waiting' | 'running' | 'over';
}

export class Engine {
  info!: ModelInfo;
  private worker: Worker | null = null;
  /** the current worker has loaded the model */
  private workerReady = false;
  private readonly waiting: Job[] = [];
  private readonly running = new Map<number, Job>();
  /** a batch was sent and its 'idle' has not come back */
  private batchOpen = false;
  private pumpScheduled = false;
  private nextId = 1;
  private closing = false;
  private readonly maxQueue: number;
  private readonly maxRestarts: number;
  private readonly maxBatch: number;
  private readonly st: EngineStats;

  private constructor(private readonly opts: EngineOptions) {
    this.maxQueue = opts.maxQueue ?? 32;
    this.maxRestarts = opts.maxRestarts ?? 3;
    this.maxBatch = Math.max(1, opts.maxBatch ?? 16);
    this.st = {
      state: 'starting', running: 0, queued: 0, maxQueue: this.maxQueue, maxBatch: this.maxBatch, batches: 0, batchedJobs: 0, completed: 0, cancelled: 0, failed: 0, rejected: 0,
      generatedTokens: 0, restarts: 0, avgJobMs: 0, workerPool: null, workerHeapUsed: 0,
    };
  }

  /** Starts the worker and resolves once it has loaded the model (rejects with its load error). */
  static async start(opts: EngineOptions): Promise<Engine> {
    const e = new Engine(opts);
    e.info = await e.spawn();
    e.st.state = 'ready';
    return e;
  }

  private spawn(): Promise<ModelInfo> {
    const init: WorkerInit = {
      modelDir: this.opts.modelDir, ...(this.opts.weights ? { weights: this.opts.weights } : {}),
      ...(this.opts.kvCache ? { kvCache: this.opts.kvCache } : {}),
    };
    const w = new Worker(new URL('./worker.js', import.meta.url), { workerData: init });
    this.worker = w;
    this.workerReady = false;
    return new Promise((ok, fail) => {
      let ready = false;
      w.on('message', (m: FromWorker) => {
        if (m.type === 'ready') { ready = true; this.workerReady = true; this.info = m.info; ok(m.info); this.pump(); return; }
        if (m.type === 'fatal') { if (!ready) fail(new Error(`[serve engine] the model did not load: ${m.message}`)); return; }
        this.onMessage(m);
      });
      w.on('error', (err) => { if (!ready) fail(new Error(`[serve engine] the worker failed: ${err.message}`)); });
      w.on('exit', (code) => {
        if (this.worker === w) { this.worker = null; this.workerReady = false; }
        if (!ready) { fail(new Error(`[serve engine] the worker exited (code ${code}) before the model loaded`)); return; }
        if (!this.closing) this.onCrash(code);
      });
    });
  }

  private onCrash(code: number): void {
    const lost = [...this.running.values()];
    this.running.clear();
    this.batchOpen = false;
    this.st.running = 0;
    for (const j of lost) { j.state = 'over'; this.st.failed++; j.sink.onError(`[serve engine] the generation worker stopped (exit code ${code}) during this request`); }
    if (this.st.restarts >= this.maxRestarts) {
      this.st.state = 'failed';
      for (const j of this.waiting.splice(0)) { j.state = 'over'; this.st.failed++; j.sink.onError('[serve engine] the generation worker keeps failing; the server needs a restart'); }
      this.st.queued = 0;
      return;
    }
    this.st.restarts++;
    this.st.state = 'restarting';
    this.spawn().then(() => { if (this.st.state === 'restarting') this.st.state = 'ready'; }, () => { this.st.state = 'failed'; });
  }

  /** Queues a job; throws QueueFull when `maxQueue` jobs are already waiting. */
  submit(spec: JobSpec, sink: JobSink): JobHandle {
    if (this.closing || this.st.state === 'failed') throw new Error(`[serve engine] not accepting jobs (${this.closing ? 'closing' : 'worker failed'})`);
    if (this.waiting.length >= this.maxQueue) {
      this.st.rejected++;
      throw new QueueFull(this.retryAfterS());
    }
    const cancelBuf = new SharedArrayBuffer(4);
    const job: Job = { id: this.nextId++, spec, sink, flag: new Int32Array(cancelBuf), cancelBuf, enqueuedAt: performance.now(), startedAt: 0, state: 'waiting' };
    this.waiting.push(job);
    this.st.queued = this.waiting.length;
    // start on the next turn of the event loop, not now: requests whose bytes arrived together then share a batch
    if (!this.pumpScheduled) {
      this.pumpScheduled = true;
      setImmediate(() => { this.pumpScheduled = false; this.pump(); });
    }
    return {
      cancel: () => {
        if (job.state === 'waiting') {
          this.waiting.splice(this.waiting.indexOf(job), 1);
          this.st.queued = this.waiting.length;
          job.state = 'over';
          this.st.cancelled++;
          job.sink.onDone({ finish: 'cancelled', tokens: 0, text: '', queuedMs: performance.now() - job.enqueuedAt, runMs: 0 });
        } else if (job.state === 'running') Atomics.store(job.flag, 0, 1);
      },
    };
  }

  /** Seconds a client should wait before retrying: the queue ahead of it at the average job time. */
  retryAfterS(): number {
    const ms = (this.st.avgJobMs || 1000) * Math.ceil((this.waiting.length + 1) / this.maxBatch);
    return Math.max(1, Math.min(60, Math.ceil(ms / 1000)));
  }

  stats(): EngineStats {
    return { ...this.st };
  }

  private pump(): void {
    if (this.batchOpen || !this.worker || !this.workerReady || this.waiting.length === 0) return;
    // arrival order; stop at the first job that would push the batch past the context (it leads the next batch)
    const jobs: Job[] = [this.waiting.shift()!];
    while (this.waiting.length && jobs.length < this.maxBatch && batchSpan([...jobs, this.waiting[0]!].map((j) => j.spec)) <= this.info.maxPositions)
      jobs.push(this.waiting.shift()!);
    this.st.queued = this.waiting.length;
    const now = performance.now();
    for (const j of jobs) { j.state = 'running'; j.startedAt = now; this.running.set(j.id, j); }
    this.batchOpen = true;
    this.st.running = this.running.size;
    this.st.batches++;
    this.st.batchedJobs += jobs.length;
    const m: ToWorker = { type: 'batch', jobs: jobs.map((j) => ({ id: j.id, spec: j.spec, cancel: j.cancelBuf })) };
    this.worker.postMessage(m);
  }

  private onMessage(m: FromWorker): void {
    if (m.type === 'idle') {
      this.batchOpen = false;
      this.pump();
      return;
    }
    if (!('id' in m)) return;
    const job = this.running.get(m.id);
    if (!job) return;
    if (m.type === 'delta') { job.sink.onDelta(m.text, m.tokens); return; }
    this.running.delete(m.id);
    this.st.running = this.running.size;
    job.state = 'over';
    if (m.type === 'error') {
      this.st.failed++;
      job.sink.onError(m.message);
    } else if (m.type === 'done') {
      this.st.generatedTokens += m.tokens;
      this.st.workerPool = m.pool;
      this.st.workerHeapUsed = m.heapUsed;
      if (m.finish === 'cancelled') this.st.cancelled++;
      else {
        this.st.completed++;
        this.st.avgJobMs = this.st.avgJobMs ? 0.8 * this.st.avgJobMs + 0.2 * m.ms : m.ms;
      }
      job.sink.onDone({ finish: m.finish, tokens: m.tokens, text: m.text, queuedMs: job.startedAt - job.enqueuedAt, runMs: m.ms, invalidUtf8: m.invalidUtf8 ?? 0 });
    }
  }

  /** Cancels everything and stops the worker; resolves when its thread has exited. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.st.state = 'closed';
    for (const j of this.waiting.splice(0)) { j.state = 'over'; this.st.cancelled++; j.sink.onDone({ finish: 'cancelled', tokens: 0, text: '', queuedMs: 0, runMs: 0 }); }
    this.st.queued = 0;
    for (const j of this.running.values()) { Atomics.store(j.flag, 0, 1); j.state = 'over'; j.sink.onError('[serve engine] the server is shutting down'); }
    this.running.clear();
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}
