// engine.ts — the main thread's side of generation: one worker thread (worker.ts) that owns the model, a bounded
// FIFO of waiting jobs in front of it, one job in flight at a time, cancellation through a per-job shared flag, and
// counters for /health. A crashed worker fails only its current job and is started again. No HTTP, no templates.
import { Worker } from 'node:worker_threads';
import type { FromWorker, JobSpec, ModelInfo, PoolInfo, ToWorker, WorkerInit } from './messages.js';

export type JobFinish = 'eos' | 'stop' | 'length' | 'cancelled';

export interface JobSink {
  /** stop- and UTF-8-safe text; `tokens` generated so far */
  onDelta(text: string, tokens: number): void;
  onDone(r: { finish: JobFinish; tokens: number; text: string; queuedMs: number; runMs: number }): void;
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
  /** jobs allowed to wait behind the running one; more get QueueFull (HTTP 429) */
  maxQueue?: number;
  /** unexpected worker exits tolerated before the engine gives up */
  maxRestarts?: number;
}

export interface EngineStats {
  state: 'starting' | 'ready' | 'restarting' | 'failed' | 'closed';
  running: number;
  queued: number;
  maxQueue: number;
  completed: number;
  cancelled: number;
  failed: number;
  rejected: number;
  generatedTokens: number;
  restarts: number;
  /** moving average of a job's run time, the basis of Retry-After */
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
  private current: Job | null = null;
  private nextId = 1;
  private closing = false;
  private readonly maxQueue: number;
  private readonly maxRestarts: number;
  private readonly st: EngineStats;

  private constructor(private readonly opts: EngineOptions) {
    this.maxQueue = opts.maxQueue ?? 32;
    this.maxRestarts = opts.maxRestarts ?? 3;
    this.st = {
      state: 'starting', running: 0, queued: 0, maxQueue: this.maxQueue, completed: 0, cancelled: 0, failed: 0, rejected: 0,
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
    const init: WorkerInit = { modelDir: this.opts.modelDir };
    const w = new Worker(new URL('./worker.js', import.meta.url), { workerData: init });
    this.worker = w;
    this.workerReady = false;
    return new Promise((ok, fail) => {
      let ready = false;
      w.on('message', (m: FromWorker) => {
        if (m.type === 'ready') { ready = true; this.workerReady = true; ok(m.info); this.pump(); return; }
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
    const cur = this.current;
    this.current = null;
    this.st.running = 0;
    if (cur && cur.state === 'running') { cur.state = 'over'; this.st.failed++; cur.sink.onError(`[serve engine] the generation worker stopped (exit code ${code}) during this request`); }
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
    this.pump();
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
    const ms = (this.st.avgJobMs || 1000) * (this.waiting.length + 1);
    return Math.max(1, Math.min(60, Math.ceil(ms / 1000)));
  }

  stats(): EngineStats {
    return { ...this.st };
  }

  private pump(): void {
    if (this.current || !this.worker || !this.workerReady) return;
    const job = this.waiting.shift();
    this.st.queued = this.waiting.length;
    if (!job) return;
    job.state = 'running';
    job.startedAt = performance.now();
    this.current = job;
    this.st.running = 1;
    const m: ToWorker = { type: 'job', id: job.id, spec: job.spec, cancel: job.cancelBuf };
    this.worker.postMessage(m);
  }

  private onMessage(m: FromWorker): void {
    const job = this.current;
    if (!job || !('id' in m) || m.id !== job.id) return;
    if (m.type === 'delta') { job.sink.onDelta(m.text, m.tokens); return; }
    this.current = null;
    this.st.running = 0;
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
      job.sink.onDone({ finish: m.finish, tokens: m.tokens, text: m.text, queuedMs: job.startedAt - job.enqueuedAt, runMs: m.ms });
    }
    this.pump();
  }

  /** Cancels everything and stops the worker; resolves when its thread has exited. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.st.state = 'closed';
    for (const j of this.waiting.splice(0)) { j.state = 'over'; this.st.cancelled++; j.sink.onDone({ finish: 'cancelled', tokens: 0, text: '', queuedMs: 0, runMs: 0 }); }
    this.st.queued = 0;
    const cur = this.current;
    if (cur) { Atomics.store(cur.flag, 0, 1); cur.state = 'over'; cur.sink.onError('[serve engine] the server is shutting down'); }
    this.current = null;
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}
